#!/bin/bash
# inputs.sh: a command task gets its dependencies' results as files:
# Q_INPUTS, Q_INPUT_<k>, {inputs} (argv and --tasks lines), big results
# by their own path, inline ones as temporary files removed afterwards,
# and Q_INPUTS_FILE beyond the limit.
. "$TESTS_DIR/cli/lib.sh"

# Inputs in `after` order, through the environment.
a=$("$QSUBMIT" --name gen --array 0..2 -- sh -c 'echo a{i}')
b=$("$QSUBMIT" --name pick --after "$a" -- \
	sh -c 'cat "$Q_INPUT_0" "$Q_INPUT_2"; echo $Q_INPUTS')
# {inputs} as a whole argument: one argument per path.
c=$("$QSUBMIT" --name cat --after "$a" -- cat {inputs})
# {inputs} inside a longer argument: the paths joined by spaces.
d=$("$QSUBMIT" --name words --after "$a" -- sh -c 'echo {inputs} | wc -w')
# Inline results are temporary files in the spool's tmp/.
e=$("$QSUBMIT" --name where --after "$a" -- \
	sh -c 'case $Q_INPUT_1 in "$QSPOOL"/tmp/*) echo tmp ;; *) echo "$Q_INPUT_1" ;; esac')
# Several dependencies: their inputs in the order of --after.
f=$("$QSUBMIT" --name order --after "$a:gen[2],$a:gen[0]" -- cat {inputs})
# No dependencies: Q_INPUTS=0 and {inputs} expands to nothing.
g=$("$QSUBMIT" --name none -- sh -c 'echo "n=$Q_INPUTS [{inputs}]"')
# Neither the task's env nor the worker's environment can fake inputs.
h=$("$QSUBMIT" --name fake --env Q_INPUT_0=/etc/passwd --env Q_INPUTDIR=kept \
	--after "$a:gen[1]" -- \
	sh -c 'cat "$Q_INPUT_0"; echo "${Q_INPUT_7-unset} $Q_INPUTS $Q_INPUTDIR"')
Q_INPUT_7=/etc/passwd Q_INPUTS=99 start_worker --exit-when-idle
Q_INPUT_7=/etc/passwd Q_INPUTS=99 start_worker --exit-when-idle
workers_gone() { ! kill -0 "${PIDS[@]}" 2>/dev/null; }
check "first round finishes" wait_for 60 workers_gone
expect_eq "Q_INPUT_0, Q_INPUT_2, Q_INPUTS" "a0
a2
3" "$("$QCOLLECT" "$b")"
expect_eq "{inputs} as arguments" "a0
a1
a2" "$("$QCOLLECT" "$c")"
expect_eq "{inputs} inside an argument" 3 "$("$QCOLLECT" "$d" | tr -d ' ')"
expect_eq "inline input in tmp/" tmp "$("$QCOLLECT" "$e")"
expect_eq "inputs in --after order" "a2
a0" "$("$QCOLLECT" "$f")"
expect_eq "no inputs" "n=0 []" "$("$QCOLLECT" "$g")"
expect_eq "only the task's own inputs" "a1
unset 1 kept" "$("$QCOLLECT" "$h")"

# A big result (over 64 KiB: a file of its own) is passed by its own path
# under the spool's jobs/ and read whole.
big=$("$QSUBMIT" --name big -- sh -c 'head -c 100000 /dev/zero | tr "\0" x')
use=$("$QSUBMIT" --name usebig --after "$big" -- \
	sh -c 'echo "$Q_INPUT_0"; wc -c < "$Q_INPUT_0"; tr -d x < "$Q_INPUT_0" | wc -c')
"$QWORKER" --exit-when-idle
out=$("$QCOLLECT" "$use")
path=$(sed -n 1p <<< "$out")
case $path in
"$QSPOOL"/jobs/"$big"/out/*) pass ;;
*) fail "big input by its own path: got '$path'" ;;
esac
expect_eq "big input read whole" "100000 0" "$(sed -n '2,3p' <<< "$out" | tr -d ' ' | paste -sd ' ')"

# --tasks lines: $Q_INPUT_0 and {inputs} quoted for the shell, with a
# spool path that needs quoting; a relative spool path and --cwd elsewhere
# still give paths the task can open.
QSPOOL="$T/a spool's dir"
a2=$("$QSUBMIT" --name gen --array 0..1 -- sh -c 'echo "b{i}"')
cat > "$T/lines" <<'LINES'
cat "$Q_INPUT_0"
cat {inputs} | tr '\n' +
LINES
t=$("$QSUBMIT" --tasks "$T/lines" --after "$a2")
"$QWORKER" --exit-when-idle
expect_eq "--tasks with \$Q_INPUT_0 and {inputs}" "b0
b0+b1+" "$("$QCOLLECT" "$t")"
check "no temporary files left (quoted spool)" \
	test -z "$(ls -A "$QSPOOL/tmp")"
QSPOOL="$T/spool"
rel=$(cd "$T" && QSPOOL=spool "$QSUBMIT" --cwd / --after "$a:gen[1]" -- \
	sh -c 'cat "$Q_INPUT_0" {inputs}')
(cd "$T" && QSPOOL=spool "$QWORKER" --exit-when-idle)
expect_eq "relative spool path, other cwd" "a1
a1" "$("$QCOLLECT" "$rel")"

# Beyond the limit (here: the bytes of 2000 paths), only Q_INPUTS and
# Q_INPUTS_FILE; {inputs} fails with a reason that says what to use.
many=$("$QSUBMIT" --name many --array 1..2000 --chunk 250 -- echo {i})
sum=$("$QSUBMIT" --name listed --after "$many" -- sh -c \
	'echo $Q_INPUTS; wc -l < "$Q_INPUTS_FILE"; echo "${Q_INPUT_0-unset}"; cat $(tail -n 1 "$Q_INPUTS_FILE")')
over=$("$QSUBMIT" --name over --after "$many" -- cat {inputs})
PIDS=()
start_worker --exit-when-idle
start_worker --exit-when-idle
check "many inputs finish" wait_for 120 workers_gone
expect_eq "Q_INPUTS_FILE beyond the limit" "2000 2000 unset 2000" \
	"$("$QCOLLECT" "$sum" | tr -d ' ' | paste -sd ' ')"
check "{inputs} beyond the limit fails and says why" python3 -c '
import json, sys
o = json.loads(sys.argv[1])
assert o["state"] == "failed", o
assert "too many for {inputs}" in o["reason"], o
assert "$Q_INPUTS_FILE" in o["reason"], o
' "$("$QCOLLECT" "$over" --json 2>/dev/null)"

# Every temporary input file is gone once the workers have exited.
check "no temporary files left" test -z "$(ls -A "$QSPOOL/tmp")"
finish
