#!/usr/bin/env python3
"""Count test cases in meson testlog.json files and print "N passed, N failed".

A Criterion test program (TAP) counts each of its tests; a command-line
test script counts each check it reports ("N checks passed, N failed");
a program that crashed or timed out before reporting counts as one
failure. A fuzz target counts as one test (a crash fails it) and its
executions are printed. Skipped tests are reported but not counted as
passed.
"""
import json
import re
import sys

passed = failed = skipped = 0
for path in sys.argv[1:]:
    try:
        f = open(path)
    except OSError as e:
        # A suite that did not even start (its log is missing) fails.
        print(f"testsummary: {path}: {e.strerror}: counted as 1 failure",
              file=sys.stderr)
        failed += 1
        continue
    with f:
        for line in f:
            t = json.loads(line)
            out = t.get("stdout") or ""
            res = t["result"]
            tap_ok = len(re.findall(r"^ok ", out, re.M))
            tap_bad = len(re.findall(r"^not ok ", out, re.M))
            checks = re.search(r"^(\d+) checks passed, (\d+) failed$", out, re.M)
            if res == "SKIP":
                skipped += 1
                continue
            if tap_ok or tap_bad:
                passed += tap_ok
                failed += tap_bad
                if res not in ("OK", "EXPECTEDFAIL") and tap_bad == 0:
                    failed += 1
            elif checks:
                passed += int(checks.group(1))
                failed += int(checks.group(2))
                if res != "OK" and int(checks.group(2)) == 0:
                    failed += 1
            elif res == "OK":
                passed += 1
                # A fuzz target (tests/fuzz/run.sh) says how much it ran.
                fuzz = re.search(r"^(\S+): (\d+) executions in", out, re.M)
                if fuzz:
                    print(f"fuzz: {fuzz.group(1)}: {fuzz.group(2)} "
                          "executions, 0 crashes", file=sys.stderr)
            else:
                failed += 1
            if res not in ("OK", "SKIP"):
                print(f"failed: {t['name']} ({res}) in {path}", file=sys.stderr)
if skipped:
    print(f"({skipped} test programs skipped)", file=sys.stderr)
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed or not passed else 0)
