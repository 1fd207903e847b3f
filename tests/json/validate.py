#!/usr/bin/env python3
"""validate.py: check spoolq's JSON outputs against docs/schema/.

usage: validate.py [--lines] [--cover] [--allow-unseen KEY]... SCHEMA FILE...

Each FILE holds one JSON document, or with --lines JSON lines (one object
per line, every line ending in a newline; an empty file has no lines).
Every document is checked against SCHEMA (JSON Schema draft 2020-12)
and, beyond what a schema can say:
  - the text is strict JSON: no duplicate keys, no NaN or Infinity;
  - every time (a value whose schema is {"$ref": "#/$defs/time"}) is
    null or written as q_json_time writes it: digits, a point, exactly
    six digits (docs/json.md).
With --cover, the documents together must also show every variant the
schema allows: each type of a field that may have several (a time that
is null and one that is not), each value of an enum, true and false of a
boolean, and each optional field at least once. KEY names one that need
not be shown (as printed when it is missing), for cases a test cannot
produce; a KEY the schema does not have is an error, so the list cannot
go stale.

Exit status: 0 when everything is valid (and covered), 1 when not (each
problem on stderr as FILE:LINE: at PATH: what), 2 for bad usage, 77 when
the jsonschema module is missing (meson's "skipped").
"""
import json
import re
import sys

try:
    import jsonschema
except ImportError:
    print("validate.py: the Python module jsonschema is missing; install "
          "python3-jsonschema (Debian, Ubuntu) or 'pip install jsonschema' "
          "to run the JSON schema tests", file=sys.stderr)
    sys.exit(77)

TIME_REF = "#/$defs/time"
TIME_TEXT = re.compile(r"[0-9]+\.[0-9]{6}")


class Problem(Exception):
    pass


class LexFloat(float):
    """A float that remembers how it was written."""

    def __new__(cls, text):
        value = super().__new__(cls, text)
        value.text = text
        return value


def no_duplicates(pairs):
    obj = {}
    for key, value in pairs:
        if key in obj:
            raise Problem(f"duplicate key '{key}'")
        obj[key] = value
    return obj


def no_constants(name):
    raise Problem(f"'{name}' is not JSON")


def parse(text):
    try:
        return json.loads(text, parse_float=LexFloat,
                          object_pairs_hook=no_duplicates,
                          parse_constant=no_constants)
    except json.JSONDecodeError as e:
        raise Problem(f"not JSON: {e}") from None


def resolve(root, node):
    """Follow $ref (local ones only: our schemas have no other)."""
    seen = 0
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        if not ref.startswith("#/"):
            raise SystemExit(f"validate.py: unsupported $ref '{ref}'")
        node = root
        for part in ref[2:].split("/"):
            node = node[part]
        seen += 1
        if seen > 32:
            raise SystemExit(f"validate.py: $ref loop at '{ref}'")
    return node


def types_of(node):
    t = node.get("type")
    if t is None:
        return []
    return t if isinstance(t, list) else [t]


def json_type(value, allowed):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer" if "integer" in allowed or "number" not in allowed \
            else "number"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def requirements(root, node, path, required, out, depth=0):
    """Every coverage key the schema asks for, below `path`."""
    if depth > 16:
        return
    node = resolve(root, node)
    if path and not required:
        out.add(f"{path}:present")
    types = types_of(node)
    if len(types) > 1:
        for t in types:
            out.add(f"{path}:{t}")
    for v in node.get("enum", []):
        out.add(f"{path}={json.dumps(v)}")
    if types == ["boolean"]:
        out.add(f"{path}=true")
        out.add(f"{path}=false")
    req = set(node.get("required", []))
    for name, sub in node.get("properties", {}).items():
        requirements(root, sub, f"{path}.{name}" if path else name,
                     name in req, out, depth + 1)
    if "items" in node:
        requirements(root, node["items"], f"{path}[]", True, out, depth + 1)


def walk(root, node, value, key, where, seen, problems):
    """Record the variants `value` shows (under its coverage key, the
    path without indices); check the times' text (`where` has them)."""
    is_time = isinstance(node, dict) and node.get("$ref") == TIME_REF
    node = resolve(root, node)
    types = types_of(node)
    t = json_type(value, types)
    seen.add(f"{key}:present")
    seen.add(f"{key}:{t}")
    if "enum" in node or t == "boolean":
        seen.add(f"{key}={json.dumps(value)}")
    # A time of another type or below 0 is the schema's to report.
    if is_time and t in ("integer", "number") and value >= 0:
        text = getattr(value, "text", None)
        shown = text if text is not None else json.dumps(value)
        if text is None or not TIME_TEXT.fullmatch(text):
            problems.append(f"at {where}: time {shown} is not written as "
                            "seconds with exactly 6 decimals")
    if isinstance(value, dict):
        props = node.get("properties", {})
        for name, sub in value.items():
            if name in props:
                walk(root, props[name], sub, f"{key}.{name}".lstrip("."),
                     f"{where}.{name}".lstrip("."), seen, problems)
    elif isinstance(value, list) and "items" in node:
        for i, sub in enumerate(value):
            walk(root, node["items"], sub, f"{key}[]", f"{where}[{i}]",
                 seen, problems)


def error_path(error):
    parts = []
    for p in error.absolute_path:
        parts.append(f"[{p}]" if isinstance(p, int) else f".{p}")
    return "".join(parts).lstrip(".") or "(top)"


def documents(name, lines):
    """(line number, text) of each document in the file."""
    with open(name, "rb") as f:
        data = f.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        yield 1, Problem(f"not UTF-8: {e}")
        return
    if not lines:
        yield 1, text
        return
    if text and not text.endswith("\n"):
        yield text.count("\n") + 1, Problem("the last line has no newline")
        text += "\n"
    for n, line in enumerate(text.split("\n")[:-1], 1):
        if not line.strip():
            yield n, Problem("an empty line")
        else:
            yield n, line


def main(argv):
    lines = cover = False
    allowed = []
    args = []
    it = iter(argv)
    for a in it:
        if a == "--lines":
            lines = True
        elif a == "--cover":
            cover = True
        elif a == "--allow-unseen":
            key = next(it, None)
            if key is None:
                print("validate.py: --allow-unseen needs a KEY",
                      file=sys.stderr)
                return 2
            allowed.append(key)
        elif a.startswith("--"):
            print(f"validate.py: unknown option '{a}'\n{__doc__}",
                  file=sys.stderr)
            return 2
        else:
            args.append(a)
    if len(args) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    schema_file, files = args[0], args[1:]
    try:
        with open(schema_file) as f:
            schema = json.load(f)
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
    except (OSError, ValueError, jsonschema.SchemaError) as e:
        print(f"validate.py: bad schema '{schema_file}': {e}", file=sys.stderr)
        return 2
    validator = cls(schema)

    bad = 0
    ndocs = 0
    seen = set()
    for name in files:
        for n, doc in documents(name, lines):
            where = f"{name}:{n}"
            problems = []
            if isinstance(doc, Problem):
                problems.append(str(doc))
            else:
                try:
                    value = parse(doc)
                except Problem as e:
                    problems.append(str(e))
                else:
                    ndocs += 1
                    for e in sorted(validator.iter_errors(value),
                                    key=lambda e: list(map(str, e.path))):
                        problems.append(f"at {error_path(e)}: {e.message}")
                    walk(schema, schema, value, "", "", seen, problems)
            for p in problems:
                print(f"{where}: {p}", file=sys.stderr)
            bad += len(problems)

    if cover:
        wanted = set()
        requirements(schema, schema, "", True, wanted)
        stale = [k for k in allowed if k not in wanted]
        for k in stale:
            print(f"validate.py: --allow-unseen '{k}': the schema has no "
                  "such variant", file=sys.stderr)
        missing = sorted(wanted - seen - set(allowed))
        for k in missing:
            print(f"not covered by any document: {k}", file=sys.stderr)
        bad += len(stale) + len(missing)
    what = "lines" if lines else "documents"
    print(f"{schema_file}: {ndocs} {what} checked, {bad} problems"
          + (f", {len(seen)} variants seen" if cover else ""))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
