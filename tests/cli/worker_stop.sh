#!/bin/bash
# worker_stop.sh: SIGTERM lets running tasks finish within the grace
# period and hands back the rest; a second signal hands back at once.
# Nothing is lost: another worker finishes the job.
. "$TESTS_DIR/cli/lib.sh"

short=$("$QSUBMIT" --name short -- sh -c "echo started >> '$T/short'; sleep 1; echo done")
long=$("$QSUBMIT" --name long -- sh -c "echo started >> '$T/long'
	if [ -e '$T/quick' ]; then echo finished; else sleep 30; fi")
"$QWORKER" --cpus 2 --grace 3 2> "$T/worker.err" &
w=$!
PIDS+=($w)
both_running() { [ -s "$T/short" ] && [ -s "$T/long" ]; }
check "both tasks start" wait_for 20 both_running
kill -TERM $w
t0=$SECONDS
gone() { ! kill -0 $w 2>/dev/null; }
check "worker exits after the grace period" wait_for 20 gone
wait $w
expect_eq "clean exit status" 0 $?
check "it took about the grace period" test $((SECONDS - t0)) -le 8
check "the worker explained" grep -q "no new tasks" "$T/worker.err"
expect_eq "the short task finished" done "$("$QCOLLECT" "$short" --no-wait)"
check "the long task is ready again" grep -q '"ready": 1' <("$QSTATUS" "$long" --json)
check "the worker left the registry" grep -q "no workers" <("$QSTATUS")

# A second signal: hand back at once. Then another worker finishes it.
rm -f "$T/long"
"$QWORKER" --cpus 1 --grace 60 2>/dev/null &
w=$!
PIDS+=($w)
long_running() { [ -s "$T/long" ]; }
check "long task restarts" wait_for 20 long_running
kill -TERM $w
kill -INT $w
t0=$SECONDS
check "second signal stops it now" wait_for 15 gone
check "well before the 60 s grace" test $((SECONDS - t0)) -lt 10
check "handed back again" grep -q '"ready": 1' <("$QSTATUS" "$long" --json)

# Nothing was lost: a third worker finishes the long task.
touch "$T/quick"
"$QWORKER" --exit-when-idle 2>/dev/null
expect_eq "the handed-back task completes" finished "$("$QCOLLECT" "$long")"

# A batch system's stop (Slurm's time limit, scancel): SIGTERM to the
# worker and its command at once. The command dies of it, but that is an
# interruption, not the task's failure: it is handed back, attempt kept.
both=$("$QSUBMIT" --name both -- sh -c "echo \$\$ > '$T/both.pid'; sleep 30")
"$QWORKER" --cpus 1 --grace 20 2> "$T/both.err" &
w=$!
PIDS+=($w)
both_started() { [ -s "$T/both.pid" ]; }
check "the task starts" wait_for 20 both_started
kill -TERM $w "$(cat "$T/both.pid")"
check "the worker exits at once, not after its grace" wait_for 10 gone
check "the task is ready again, not failed" \
	grep -q '"ready": 1, "running": 0, "done": 0, "failed": 0' <("$QSTATUS" "$both" --json)
expect_eq "and no attempt used up" 0 "$("$QSTATUS" "$both" --tasks --json | python3 -c '
import json, sys
print(json.load(sys.stdin)["jobs"][0]["task_list"][0]["attempts"])')"
"$QCANCEL" "$both" > /dev/null

# A command that dies of SIGTERM while its worker runs on is a failure.
rm -f "$T/both.pid"
alone=$("$QSUBMIT" --name alone -- sh -c "echo \$\$ > '$T/both.pid'; sleep 30")
"$QWORKER" --cpus 1 --exit-when-idle 2> /dev/null &
w=$!
PIDS+=($w)
check "it starts" wait_for 20 both_started
kill -TERM "$(cat "$T/both.pid")"
check "that worker finishes the job" wait_for 20 gone
check "the task failed, killed by signal 15" \
	grep -q "killed by signal 15" <("$QSTATUS" "$alone" --tasks)

# SIGTERM to an idle worker: immediate clean exit.
"$QWORKER" 2>/dev/null &
w=$!
PIDS+=($w)
registered() { grep -q alive <("$QSTATUS"); }
check "idle worker registers" wait_for 10 registered
kill -TERM $w
check "idle worker exits" wait_for 10 gone
finish
