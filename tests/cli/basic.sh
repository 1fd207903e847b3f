#!/bin/bash
# basic.sh: the everyday paths of every command: submit, run, collect,
# status, in text and JSON, with arrays, --tasks files and kernels.
. "$TESTS_DIR/cli/lib.sh"

# --array with {i} in the command and Q_* in the environment.
job=$("$QSUBMIT" --name echo --array 3..7 -- sh -c \
	'echo "i={i} index=$Q_INDEX job=$Q_JOB task=$Q_TASK omp=$OMP_NUM_THREADS"')
expect_eq "first job id" 1 "$job"
"$QWORKER" --exit-when-idle
expect_eq "worker exit status" 0 $?
out=$("$QCOLLECT" "$job")
expect_eq "collected in order" "i=3 index=3 job=1 task=echo omp=1
i=4 index=4 job=1 task=echo omp=1
i=5 index=5 job=1 task=echo omp=1
i=6 index=6 job=1 task=echo omp=1
i=7 index=7 job=1 task=echo omp=1" "$out"

# A --tasks file: one command per line, comments and blanks skipped.
cat > "$T/cmds" <<'CMDS'
# a comment
echo first

echo "second with  spaces"
printf 'third\n'
CMDS
job=$("$QSUBMIT" --tasks "$T/cmds")
"$QWORKER" --exit-when-idle
expect_eq "--tasks results" "first
second with  spaces
third" "$("$QCOLLECT" "$job")"
expect_eq "--tasks from stdin" 2 "$(printf 'true\ntrue\n' | "$QSUBMIT" --tasks - >/dev/null; "$QSTATUS" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["jobs"][-1]["tasks"])')"

# A failing command keeps its exit status and stderr; the job reports it.
fail=$("$QSUBMIT" --name boom -- sh -c 'echo partial; echo oops >&2; exit 3')
"$QWORKER" --exit-when-idle
"$QCOLLECT" "$fail" > "$T/out" 2> "$T/err"
expect_eq "qcollect exit status with a failed task" 1 $?
check "qcollect names the failure" grep -q "boom failed: exit status 3" "$T/err"
expect_eq "stderr kept" "oops" "$("$QCOLLECT" "$fail" --stderr 2>/dev/null)"
"$QSTATUS" --wait "$fail" > /dev/null
expect_eq "qstatus --wait with a failure" 1 $?
"$QSTATUS" --wait 1 > /dev/null
expect_eq "qstatus --wait all good" 0 $?
line=$("$QCOLLECT" "$fail" --json 2>/dev/null)
check "json result of failed task" python3 -c '
import json, sys
o = json.loads(sys.argv[1])
assert o["state"] == "failed" and o["exit"] == 3, o
assert o["result"] == "partial\n", o
assert o["reason"] == "exit status 3", o
' "$line"

# A command that does not exist fails with 127 and says so.
nope=$("$QSUBMIT" -- /nonexistent/program)
"$QWORKER" --exit-when-idle
check "missing program reported" python3 -c '
import json, sys
o = json.loads(sys.argv[1])
assert o["exit"] == 127 and "No such file" in o["reason"], o
' "$("$QCOLLECT" "$nope" --json 2>/dev/null)"

# Kernels: hello reports host and threads.
hello=$("$QSUBMIT" --kernel hello --threads 2)
"$QWORKER" --exit-when-idle --cpus 2
out=$("$QCOLLECT" "$hello")
check "hello names the host" grep -q "host $(hostname)" <<< "$out"
expect_eq "hello thread lines" 2 "$(grep -c 'thread [01]/2 on cpu' <<< "$out")"

# qstatus: text and JSON agree; --tasks lists every task.
"$QSTATUS" > "$T/status"
check "qstatus lists job 1" grep -Eq '^1 +echo +5 ' "$T/status"
check "qstatus says no workers" grep -q "no workers" "$T/status"
check "qstatus --json" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["schema"] == "spoolq.status/1"
j = d["jobs"][0]
assert j["id"] == 1 and j["counts"]["done"] == 5 and j["state"] == "finished", j
' <("$QSTATUS" --json)
expect_eq "qstatus --tasks rows" 5 "$("$QSTATUS" 1 --tasks | grep -c ' done ')"
check "qstatus --tasks --json" python3 -c '
import json, sys
d = json.load(sys.stdin)
tl = d["jobs"][0]["task_list"]
assert [t["index"] for t in tl] == [3, 4, 5, 6, 7], tl
assert all(t["exit"] == 0 and t["attempts"] == 1 for t in tl), tl
' < <("$QSTATUS" 1 --tasks --json)

# qcollect --output writes one file per task; --follow streams them all.
"$QCOLLECT" 1 --output "$T/res"
expect_eq "--output file" "i=5 index=5 job=1 task=echo omp=1" "$(cat "$T/res/echo.5.out")"
expect_eq "--follow gets every result" 5 "$("$QCOLLECT" 1 --follow | wc -l)"
expect_eq "job by name" "$("$QCOLLECT" 1)" "$("$QCOLLECT" echo)"

# A worker given a relative spool tells tasks its absolute path: a task
# may run in another directory.
mkdir -p "$T/rel/elsewhere"
(
	cd "$T/rel"
	export QSPOOL=relspool
	cat > wf.yaml <<'YAML'
tasks:
  where: {cmd: 'echo "$Q_SPOOL"', cwd: elsewhere}
YAML
	j=$("$QSUBMIT" wf.yaml)
	"$QWORKER" --exit-when-idle 2> /dev/null
	"$QCOLLECT" "$j" > out
)
expect_eq "Q_SPOOL is absolute" "$T/rel/relspool" "$(cat "$T/rel/out")"

# A command name is looked up in the task's own PATH (workers/command.c
# note 5 remembers the last lookup): two tasks naming the same program,
# each with another PATH, each run their own, and one not on its PATH
# fails with 127.
mkdir -p "$T/bin1" "$T/bin2"
printf '#!/bin/sh\necho one\n' > "$T/bin1/which-one"
printf '#!/bin/sh\necho two\n' > "$T/bin2/which-one"
chmod +x "$T/bin1/which-one" "$T/bin2/which-one"
p1=$("$QSUBMIT" --env "PATH=$T/bin1:/usr/bin:/bin" -- which-one)
p2=$("$QSUBMIT" --env "PATH=$T/bin2:/usr/bin:/bin" -- which-one)
p3=$("$QSUBMIT" --env "PATH=/usr/bin:/bin" -- which-one)
"$QWORKER" --exit-when-idle --cpus 1 2> /dev/null
expect_eq "the first PATH's program" one "$("$QCOLLECT" "$p1")"
expect_eq "the second PATH's program" two "$("$QCOLLECT" "$p2")"
check "not on its PATH: exit 127" grep -q '"exit": 127' \
	<("$QSTATUS" "$p3" --tasks --json)

# --wait=SECONDS: a bounded wait; 4 when the job is not finished by then.
pending=$("$QSUBMIT" -- echo later)
"$QSTATUS" --wait=0 "$pending" > /dev/null
expect_eq "qstatus --wait=0 on an unfinished job" 4 $?
t0=$SECONDS
"$QSTATUS" --wait=1 "$pending" > /dev/null
expect_eq "qstatus --wait=1 on an unfinished job" 4 $?
check "it waited no more than about a second" test $((SECONDS - t0)) -le 3
"$QWORKER" --exit-when-idle 2> /dev/null
"$QSTATUS" --wait=0 "$pending" > /dev/null
expect_eq "qstatus --wait=0 on a finished job" 0 $?
"$QSTATUS" --wait=0 "$fail" > /dev/null
expect_eq "qstatus --wait=0 on a failed job" 1 $?
"$QSTATUS" --wait=soon 2> "$T/wait.err" > /dev/null
expect_eq "qstatus --wait=soon is a usage error" 2 $?
check "it names the option" grep -q "^qstatus: --wait needs a duration" "$T/wait.err"

# The spool is private.
expect_eq "spool mode" 700 "$(stat -c %a "$QSPOOL")"
finish
