#!/bin/bash
# slurm_env.sh: qworker inside a Slurm job, with Slurm's variables set by
# hand (tests/slurm runs the real thing): the worker records its Slurm
# job, step, task and node and qstatus shows them; it exits when no work
# is left unless told --no-exit-when-idle; outside Slurm it waits.
. "$TESTS_DIR/cli/lib.sh"

slurm_env=(SLURM_JOB_ID=4242 SLURM_STEP_ID=3 SLURM_PROCID=5
	SLURMD_NODENAME=cn017 SLURM_CPUS_PER_TASK=1)

job=$("$QSUBMIT" --array 0..3 -- echo hi)

# The default under Slurm: run the work, then exit by itself.
env "${slurm_env[@]}" timeout 60 "$QWORKER" --verbose 2> "$T/w1.err"
expect_eq "the worker exits when idle under Slurm" 0 $?
check "it says why" grep -q "inside Slurm job 4242: exiting when no work is left" "$T/w1.err"
expect_eq "and the work was done" 4 "$("$QCOLLECT" "$job" --no-wait | grep -c hi)"

# --no-exit-when-idle: it stays, and qstatus shows where it runs.
env "${slurm_env[@]}" "$QWORKER" --no-exit-when-idle 2> "$T/w2.err" &
w=$!
PIDS+=($w)
registered() { grep -q alive <("$QSTATUS"); }
check "the staying worker registers" wait_for 20 registered
check "text: Slurm job, step, task and node" \
	grep -q "alive  slurm job 4242.3 task 5 on cn017" <("$QSTATUS")
"$QSTATUS" --json > "$T/status.json"
check "JSON: the slurm object" python3 -c '
import json, sys
w = json.load(open(sys.argv[1]))["workers"][0]
assert w["slurm"] == {"job": "4242", "step": "3", "task": "5", "node": "cn017"}, w
assert w["slurm_job"] == "4242"' "$T/status.json"
job2=$("$QSUBMIT" -- echo later)
expect_eq "it still takes new work" later "$(timeout 60 "$QCOLLECT" "$job2")"
check "it is still there after the job" kill -0 $w
kill -TERM $w
gone() { ! kill -0 $w 2>/dev/null; }
check "SIGTERM stops it" wait_for 20 gone

# The batch script itself: no step id, no task id; the node still shows.
env SLURM_JOB_ID=77 SLURMD_NODENAME=cn001 "$QWORKER" --no-exit-when-idle \
	2>/dev/null &
w=$!
PIDS+=($w)
check "a worker in the batch script registers" wait_for 20 registered
check "text: job, task 0, node" grep -q "slurm job 77 task 0 on cn001" <("$QSTATUS")
kill -TERM $w
check "it stops" wait_for 20 gone

# Outside Slurm the default is to wait for work.
"$QWORKER" 2>/dev/null &
w=$!
PIDS+=($w)
check "outside Slurm a worker registers" wait_for 20 registered
job3=$("$QSUBMIT" -- echo again)
expect_eq "and takes work" again "$(timeout 60 "$QCOLLECT" "$job3")"
check "and stays after it" kill -0 $w
check "no slurm shown outside Slurm" bash -c "! '$QSTATUS' | grep -q slurm"
kill -TERM $w
check "SIGTERM stops it" wait_for 20 gone

# Both given: the last one wins, as for any on/off pair.
env "${slurm_env[@]}" timeout 60 "$QWORKER" --no-exit-when-idle --exit-when-idle 2>/dev/null
expect_eq "--no-exit-when-idle then --exit-when-idle exits" 0 $?
finish
