#!/bin/bash
# dot.sh: qstatus JOB --dot prints a task graph Graphviz accepts, with
# arrays folded, states as colours and earlier jobs as dashed nodes; and
# refuses anything but exactly one job.
. "$TESTS_DIR/cli/lib.sh"

gen=$("$QSUBMIT" --name gen.v1 --array 0..9 -- sh -c 'exit $(( {i} == 3 ))')
use=$("$QSUBMIT" --name use+it --after "$gen:gen.v1[0-4]" -- true)
"$QSTATUS" "$use" --dot > "$T/waiting.dot"
expect_eq "qstatus --dot exit status" 0 $?
"$QWORKER" --exit-when-idle
"$QSTATUS" "$gen" --dot > "$T/gen.dot"
"$QSTATUS" "$use" --dot > "$T/use.dot"

check "array folded, failure red" grep -qF \
	'"gen.v1" [label="gen.v1 [10]\n9 done, 1 failed", fillcolor="tomato"];' \
	"$T/gen.dot"
check "dependent cancelled, grey" grep -qF \
	'"use+it" [label="use+it", fillcolor="lightgrey"];' "$T/use.dot"
check "waiting before the run" grep -qF \
	'"use+it" [label="use+it", fillcolor="white"];' "$T/waiting.dot"
check "earlier job as a dashed node, coloured by its state" grep -qF \
	"\"$gen:gen.v1\" [label=\"gen.v1 [10]\\njob $gen\\n9 done, 1 failed\", fillcolor=\"tomato\", style=\"rounded,filled,dashed\"];" \
	"$T/use.dot"
check "dashed edge labelled with the job and range" grep -qF \
	"\"$gen:gen.v1\" -> \"use+it\" [style=dashed, label=\"job $gen [0-4]\"];" \
	"$T/use.dot"

# Graphviz reads it (scripts/deps.sh test installs it); without it, a
# structural check of the statements.
for f in waiting gen use; do
	if command -v dot > /dev/null; then
		check "dot -Tsvg accepts $f.dot" sh -c \
			'dot -Tsvg "$1" > "$1.svg" && grep -q "<svg" "$1.svg"' \
			sh "$T/$f.dot"
	else
		check "$f.dot is well formed" python3 -c '
import re, sys
q = r"\"(?:[^\"\\]|\\.)*\""
val = r"(?:%s|\w+)" % q
alist = r"\[\w+=%s(?:, \w+=%s)*\]" % (val, val)
stmt = re.compile(r"  (?:%s(?: -> %s)?(?: %s)?|\w+=%s|(?:node|edge) %s);"
                  % (q, q, alist, val, alist))
lines = open(sys.argv[1]).read().splitlines()
assert re.fullmatch(r"digraph %s \{" % q, lines[0]), lines[0]
assert lines[-1] == "}", lines[-1]
for l in lines[1:-1]:
    assert stmt.fullmatch(l), l
' "$T/$f.dot"
	fi
done

# Exactly one job, and not with --json or --tasks: usage errors (exit 2).
usage() {
	local what=$1 pattern=$2
	shift 2
	"$@" > "$T/out" 2> "$T/err"
	expect_eq "$what: exit status" 2 $?
	check "$what: message" grep -q "$pattern" "$T/err"
	check "$what: nothing on stdout" test ! -s "$T/out"
}
usage "--dot without a job" "^qstatus: --dot shows one job: give exactly one JOB (qstatus JOB --dot)" \
	"$QSTATUS" --dot
usage "--dot with two jobs" "^qstatus: --dot shows one job" \
	"$QSTATUS" "$gen" "$use" --dot
usage "--dot with --json" "^qstatus: --dot does not go with --json" \
	"$QSTATUS" "$gen" --dot --json
usage "--dot with --tasks" "^qstatus: --dot does not go with --tasks" \
	"$QSTATUS" --tasks "$gen" --dot
"$QSTATUS" 99 --dot > "$T/out" 2> "$T/err"
expect_eq "--dot with an unknown job" 2 $?
check "--dot is in --help" grep -q -- "--dot" <("$QSTATUS" --help)
finish
