#!/bin/bash
# cancel.sh: qcancel stops running tasks (commands and kernels) and
# cancels waiting and ready ones.
. "$TESTS_DIR/cli/lib.sh"

job=$("$QSUBMIT" --name long --array 0..19 -- sh -c "echo {i} >> '$T/started'; sleep 60")
waiter=$("$QSUBMIT" --name after --after "$job" -- touch "$T/must-not-run")
start_worker --exit-when-idle --cpus 2
running_two() { [ -f "$T/started" ] && [ "$(wc -l < "$T/started")" = 2 ]; }
check "two tasks start" wait_for 30 running_two
t0=$SECONDS
"$QCANCEL" "$job" 2> "$T/msg"
expect_eq "qcancel exit status" 0 $?
check "qcancel says how many" grep -q "cancelled 20 tasks of job $job" "$T/msg"
workers_gone() { ! kill -0 "${PIDS[@]}" 2>/dev/null; }
check "the worker stops the running tasks and exits" wait_for 20 workers_gone
check "promptly (well before the 60 s sleeps end)" test $((SECONDS - t0)) -lt 15
check "no other task started" test "$(wc -l < "$T/started")" = 2
check "dependent did not run" test ! -e "$T/must-not-run"
check "counts" python3 -c '
import json, sys
jobs = {j["id"]: j for j in json.load(sys.stdin)["jobs"]}
c = jobs[int(sys.argv[1])]["counts"]
assert c["cancelled"] == 20 and c["done"] == 0, c
assert jobs[int(sys.argv[2])]["counts"]["cancelled"] == 1
' "$job" "$waiter" < <("$QSTATUS" --json)
check "running ones say so" grep -q "cancelled by qcancel while running" <("$QSTATUS" "$job" --tasks)

# Cancelling some tasks of an array, and a running kernel.
arr=$("$QSUBMIT" --name part --array 0..9 -- echo x)
"$QCANCEL" "$arr" 'part[2-4]' 'part[9]' 2>/dev/null
"$QWORKER" --exit-when-idle
expect_eq "the others ran" 6 "$("$QCOLLECT" "$arr" 2>/dev/null | wc -l)"
k=$("$QSUBMIT" --kernel sleep --arg seconds=60)
PIDS=()
start_worker --exit-when-idle
running_kernel() { "$QSTATUS" "$k" --json | grep -q '"running": 1'; }
check "kernel starts" wait_for 20 running_kernel
"$QCANCEL" "$k" 2>/dev/null
check "the kernel stops at its next check" wait_for 20 workers_gone
check "kernel cancelled" grep -q "cancelled" <("$QSTATUS" "$k" --tasks)
finish
