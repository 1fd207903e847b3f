#!/bin/bash
# lifecycle.sh: the report of attempts that did not simply finish: one
# still running when the report is written (an orange bar up to now, the
# running count), one handed back by a worker stopped with no grace, one
# lost with a worker killed with SIGKILL (found by the repair sweep); each
# drawn as docs/report.md says and listed with how it ended.
. "$TESTS_DIR/cli/lib.sh"

# A task that runs until $T/go exists (its first attempt), then finishes.
job=$("$QSUBMIT" --name stopped -- sh -c "echo \$Q_ATTEMPT >> '$T/stopped'; [ \$Q_ATTEMPT -ge 2 ] || while [ ! -e '$T/go' ]; do sleep 0.05; done; echo finished")
"$QWORKER" --cpus 1 --grace 0 2>/dev/null &
w=$!
PIDS+=($w)
started() { [ -s "$T/stopped" ]; }
check "the task starts" wait_for 20 started
"$QSTATUS" "$job" --report "$T/running.html"
check "running: report exits 0" test $? -eq 0
expect_eq "running: an orange bar" 1 "$(grep -c 'class="g0 u"><title>stopped, attempt 1: running (running)' "$T/running.html")"
check "running: counted" grep -q '<div><b>1</b>running</div>' "$T/running.html"
# Stop the worker with no grace: the task is handed back.
kill -TERM $w
wait $w 2>/dev/null
touch "$T/go"
"$QWORKER" --exit-when-idle --cpus 1 2>/dev/null
"$QSTATUS" "$job" --report "$T/stopped.html"
check "handback: report exits 0" test $? -eq 0
expect_eq "handback: a dashed grey bar" 1 "$(grep -c 'class="g0 h"><title>stopped, attempt 1: cancelled (handback)' "$T/stopped.html")"
# (A handed-back attempt's number is used again by the next claim.)
expect_eq "handback: then the final bar" 1 "$(grep -c 'class="g0"><title>stopped, attempt 1: done' "$T/stopped.html")"
check "handback: listed" grep -q '<td>stopped</td><td class="n">1</td><td>handback</td>' "$T/stopped.html"
check "handback: counted" grep -q '<div class="bad"><b>1</b>handed back</div>' "$T/stopped.html"

# A worker killed with SIGKILL: the repair requeues its task as lost.
job2=$("$QSUBMIT" --name victim -- sh -c "echo \$\$ > '$T/victim.pid'; echo \$Q_ATTEMPT >> '$T/victim'; [ \$Q_ATTEMPT -ge 2 ] || sleep 60; echo survived")
"$QWORKER" --lease 60 2>/dev/null &
victim=$!
PIDS+=($victim)
vstarted() { [ -s "$T/victim" ] && [ -s "$T/victim.pid" ]; }
check "the victim starts" wait_for 20 vstarted
kill -9 $victim
wait $victim 2>/dev/null
kill -9 -- -"$(cat "$T/victim.pid")" "$(cat "$T/victim.pid")" 2>/dev/null
"$QSTATUS" --repair >/dev/null 2>&1
"$QWORKER" --exit-when-idle 2>/dev/null
"$QSTATUS" "$job2" --report "$T/lost.html"
check "lost: report exits 0" test $? -eq 0
expect_eq "lost: a hatched bar" 1 "$(grep -c 'class="g0 l"><title>victim, attempt 1: running (lost)' "$T/lost.html")"
expect_eq "lost: then the final bar" 1 "$(grep -c 'class="g0"><title>victim, attempt 2: done' "$T/lost.html")"
check "lost: listed" grep -q '<td>victim</td><td class="n">1</td><td>lost</td>' "$T/lost.html"
check "lost: counted" grep -q '<div class="bad"><b>1</b>lost with a worker</div>' "$T/lost.html"

finish
