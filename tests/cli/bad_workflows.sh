#!/bin/bash
# bad_workflows.sh: every kind of bad workflow file is refused by qsubmit
# (and qrun, and qsubmit --check) with exit status 2, a message naming the
# file, line and column where there is one, and the spool unchanged.
. "$TESTS_DIR/cli/lib.sh"
W=$T/w
mkdir -p "$W"
CASES=0

# A spool with one job in it, which no bad workflow may change.
"$QSUBMIT" --name keep -- true > /dev/null

# bad CASE REGEX FILE [qsubmit options...]: qsubmit FILE exits 2 with a
# stderr line matching REGEX, nothing on stdout, the spool unchanged; so
# do qsubmit --check FILE and qrun FILE.
bad() {
	local name=$1 regex=$2 file=$3
	shift 3
	CASES=$((CASES + 1))
	local before after rc
	before=$(spool_snapshot)
	for cmd in submit check run; do
		case $cmd in
		submit) timeout -k 5 60 "$QSUBMIT" "$file" "$@" ;;
		check) timeout -k 5 60 "$QSUBMIT" --check "$file" "$@" ;;
		run) timeout -k 5 60 "$QRUN" "$file" --quiet "$@" ;;
		esac > "$T/out" 2> "$T/err" < /dev/null
		rc=$?
		if [ $rc -ne 2 ]; then
			fail "$name ($cmd): exit status $rc, expected 2"
			sed 's/^/    /' "$T/err" >&2
		elif ! grep -Eq -- "$regex" "$T/err"; then
			fail "$name ($cmd): stderr does not match /$regex/:"
			sed 's/^/    /' "$T/err" >&2
		elif [ -s "$T/out" ]; then
			fail "$name ($cmd): wrote on stdout"
		else
			pass
		fi
	done
	after=$(spool_snapshot)
	if [ "$before" == "$after" ]; then pass; else
		fail "$name: the spool changed"
		diff <(echo "$before") <(echo "$after") >&2
	fi
}

# wf NAME: write stdin to $W/NAME.yaml and print its path.
wf() {
	cat > "$W/$1.yaml"
	echo "$W/$1.yaml"
}

P="cannot read '[^']*"   # the start of every message about a file

# The issue's list.
bad "empty file" "$P\\.yaml': the file is empty" "$(wf empty < /dev/null)"
bad "not a mapping" "$P': line 1, column 1: the top level must be a mapping" \
	"$(printf -- '- a\n- b\n' | wf list)"
bad "tab-indented" "$P': line 3, column 1: .*tab" \
	"$(printf 'tasks:\n  a:\n\t cmd: x\n' | wf tabs)"
head -c 4096 /dev/urandom > "$W/binary.yaml"
bad "binary file" "$P': it contains NUL bytes|$P': line [0-9]+, column [0-9]+: " "$W/binary.yaml"
truncate -s 100M "$W/huge.yaml"
bad "100 MB file" "$P': it is 104857600 bytes, more than the limit" "$W/huge.yaml"
rm -f "$W/huge.yaml"
python3 -c 'print("tasks: " + "[" * 10000 + "]" * 10000)' > "$W/deep.yaml"
bad "10,000 levels" "$P': line 1, column [0-9]+: nested deeper than 64 levels" "$W/deep.yaml"
python3 - > "$W/bomb.yaml" <<'PY'
print("a: &a [x,x,x,x,x,x,x,x,x,x]")
for i, c in enumerate("bcdefghij"):
    prev = "abcdefghij"[i]
    print(f"{c}: &{c} [" + ",".join([f"*{prev}"] * 10) + "]")
print("tasks: {t: {cmd: x}}")
PY
bad "alias bomb" "$P': line [0-9]+, column [0-9]+: the document expands to more than" "$W/bomb.yaml"
printf 'tasks: {a: {cmd: x}}\nplugins: [/etc/passwd]\n' > "$W/notso.yaml"
bad "plugin that is not a shared object" "$P': line 2, column 11: .*'/etc/passwd'" "$W/notso.yaml"
printf 'plugins: [%s]\ntasks: {a: {cmd: x}}\n' "$QBAD_PLUGINS/libbad_wrong_abi.so" > "$W/abi.yaml"
bad "plugin with the wrong ABI" "$P': line 1, column 11: .*ABI" "$W/abi.yaml"

# Every validation case of item 3.
bad "unknown key" "$P': line 4, column 5: unknown key 'afer' in task 'b' \\(did you mean 'after'\\?\\)" \
	"$(printf 'tasks:\n  a: {cmd: x}\n  b:\n    afer: [a]\n    cmd: y\n' | wf key)"
bad "wrong type" "$P': line 2, column 24: threads must be a whole number, got 'many'" \
	"$(printf 'tasks:\n  a: {cmd: x, threads: many}\n' | wf type)"
bad "both kernel and cmd" "$P': line 2, column 24: task 'a' has both kernel: and cmd:" \
	"$(printf 'tasks:\n  a: {kernel: pi, cmd: x}\n' | wf both)"
bad "neither kernel nor cmd" "$P': line 2, column 3: task 'a' needs kernel: NAME or cmd: COMMAND" \
	"$(printf 'tasks:\n  a: {threads: 2}\n' | wf neither)"
bad "unknown dependency" "$P': line 2, column 23: task 'a' depends on 'nope', which is not a task" \
	"$(printf 'tasks:\n  a: {cmd: x, after: [nope]}\n' | wf dep)"
bad "element-wise across lengths" "$P': line 3, column 33: .*arrays of the same length" \
	"$(printf 'tasks:\n  a: {cmd: x, array: 10}\n  b: {cmd: x, array: 5, after: ["a[{i}]"]}\n' | wf each)"
bad "cycle" "$P': line [0-9]+, column [0-9]+: .*cycle: a -> c -> b -> a" \
	"$(printf 'tasks:\n  a: {cmd: x, after: [c]}\n  b: {cmd: x, after: [a]}\n  c: {cmd: x, after: [b]}\n' | wf cycle)"
bad "duplicate task names" "$P': line 3, column 3: key 'a' appears twice \\(first at line 2\\)" \
	"$(printf 'tasks:\n  a: {cmd: x}\n  a: {cmd: y}\n' | wf dup)"
bad "unknown kernel" "$P': line 2, column 15: unknown kernel 'sqare'" \
	"$(printf 'tasks:\n  a: {kernel: sqare}\n' | wf kernel)"
bad "YAML syntax error" "$P': line 2, column [0-9]+: " \
	"$(printf 'tasks:\n  a: {cmd: [x, y}\n' | wf syntax)"
bad "task count limit" "$P': .*more than 1000000 task definitions" \
	"$(python3 -c 'print("tasks:"); [print(f"  t{i}: {{cmd: x}}") for i in range(1000001)]' | wf many)"
bad "bad task name" "$P': line 2, column 3: invalid task name 'a/b'" \
	"$(printf 'tasks:\n  a/b: {cmd: x}\n' | wf name)"
bad "a workflow file that does not exist" "workflow file '$W/missing.yaml' does not exist" "$W/missing.yaml"

echo "$CASES bad workflows"
check "the spool still has its one job" grep -q '"tasks": 1,' <("$QSTATUS" --json)
finish
