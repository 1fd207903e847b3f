#!/bin/bash
# events.sh: qstatus JOB --events lists every attempt of every task: the
# final ones from the records, and the ones that left no record (a retry,
# a hand-back by a stopping worker, a worker killed with SIGKILL) from
# the event logs; --no-events turns the logs off; a damaged log is
# reported with its path and line, and the rest still read.
. "$TESTS_DIR/cli/lib.sh"
W=$T/wf
mkdir -p "$W"

# field JSONLINES FILTER...: python over the --events lines: each line a
# dict `e`, in order; prints what FILTER prints.
events_py() {
	python3 -c '
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
print(eval(sys.argv[2]))' "$@"
}

# Retries: each of 3 items fails once, then succeeds; a dependent runs
# once. 3 retry attempts (from the log) + 4 final ones (from records).
cat > "$W/flaky.yaml" <<YAML
name: flaky
tasks:
  flaky:
    cmd: 'if [ -e "$T/m{i}" ]; then echo ok {i}; else touch "$T/m{i}"; echo bad >&2; exit 3; fi'
    array: 0..2
    retries: 2
  after: {cmd: echo x, after: [flaky]}
YAML
job=$("$QSUBMIT" "$W/flaky.yaml")
"$QWORKER" --exit-when-idle --cpus 2 2>/dev/null
"$QSTATUS" "$job" --events > "$T/ev.json"
check "--events exits 0" test $? -eq 0
expect_eq "one line per attempt" 7 "$(wc -l < "$T/ev.json")"
expect_eq "every line is JSON with the fields" True "$(events_py "$T/ev.json" 'all(set(e) >= {"job","item","task","index","attempt","outcome","state","exit","reused","worker","host","slot","claimed","start","end","reason"} for e in ev)')"
expect_eq "the retries: attempt 1, failed, exit 3, why" "[('flaky[0]', 1, 'failed', 3, 'exit status 3'), ('flaky[1]', 1, 'failed', 3, 'exit status 3'), ('flaky[2]', 1, 'failed', 3, 'exit status 3')]" \
	"$(events_py "$T/ev.json" '[(e["task"], e["attempt"], e["state"], e["exit"], e["reason"]) for e in ev if e["outcome"] == "retry"]')"
expect_eq "the finals: attempt 2 for the flaky ones" "[('flaky[0]', 2), ('flaky[1]', 2), ('flaky[2]', 2), ('after', 1)]" \
	"$(events_py "$T/ev.json" '[(e["task"], e["attempt"]) for e in ev if e["outcome"] == "final" and e["state"] == "done"]')"
expect_eq "item order, each retry before its final" "[0, 0, 1, 1, 2, 2, 3]" "$(events_py "$T/ev.json" '[e["item"] for e in ev]')"
expect_eq "times in order within each attempt" True "$(events_py "$T/ev.json" 'all(e["claimed"] <= e["start"] <= e["end"] for e in ev)')"
expect_eq "host and worker named" True "$(events_py "$T/ev.json" 'all(e["host"] and e["worker"].startswith(e["host"] + ".") for e in ev)')"
check "one log, named after the worker" test "$(ls "$QSPOOL/jobs/$job/events" | wc -l)" -eq 1

# --no-events: the same run logs nothing; --events shows the finals only.
rm -f "$T"/m?
job2=$("$QSUBMIT" "$W/flaky.yaml")
"$QWORKER" --exit-when-idle --cpus 2 --no-events 2>/dev/null
check "--no-events: no event log" test ! -e "$QSPOOL/jobs/$job2/events"
expect_eq "--no-events: the final attempts still listed" "[2, 2, 2, 1]" \
	"$("$QSTATUS" "$job2" --events > "$T/ev2.json" && events_py "$T/ev2.json" '[e["attempt"] for e in ev]')"

# A hand-back: a worker stopped with no grace gives its running task back;
# the log says so, and the next worker's attempt is the final one.
job3=$("$QSUBMIT" --name stopped -- sh -c "echo \$Q_ATTEMPT >> '$T/stopped'; [ -e '$T/stop.done' ] || { touch '$T/stop.done'; sleep 60; }; echo finished")
"$QWORKER" --cpus 1 --grace 0 2>/dev/null &
w=$!
started() { [ -s "$T/stopped" ]; }
check "the task starts" wait_for 20 started
kill -TERM $w
wait $w 2>/dev/null
"$QWORKER" --exit-when-idle --cpus 1 2>/dev/null
"$QSTATUS" "$job3" --events > "$T/ev3.json"
expect_eq "stopped: a hand-back, then the final" "[('handback', 'cancelled', 'stopped by the worker'), ('final', 'done', None)]" \
	"$(events_py "$T/ev3.json" '[(e["outcome"], e["state"], e["reason"]) for e in ev]')"

# A worker killed with SIGKILL: the repair that requeues its task logs the
# attempt as lost, naming the dead worker and when it claimed the task.
job4=$("$QSUBMIT" --name victim -- sh -c "echo \$\$ > '$T/victim.pgid'; echo \$Q_ATTEMPT >> '$T/victim'; [ \$Q_ATTEMPT -ge 2 ] || sleep 60; echo survived")
"$QWORKER" --lease 60 2>/dev/null &
victim=$!
vstarted() { [ -s "$T/victim" ]; }
check "the victim starts" wait_for 20 vstarted
dead=$(ls "$QSPOOL/workers")
kill -9 $victim
wait $victim 2>/dev/null
kill -9 -- -"$(cat "$T/victim.pgid")" 2>/dev/null
"$QSTATUS" --repair >/dev/null 2>&1
"$QWORKER" --exit-when-idle 2>/dev/null
"$QSTATUS" "$job4" --events > "$T/ev4.json"
expect_eq "lost, then final on attempt 2" "[('lost', 1, 'running'), ('final', 2, 'done')]" \
	"$(events_py "$T/ev4.json" '[(e["outcome"], e["attempt"], e["state"]) for e in ev]')"
expect_eq "the lost attempt names the dead worker" "$dead" "$(events_py "$T/ev4.json" 'ev[0]["worker"]')"
expect_eq "and when it was claimed and found lost" True "$(events_py "$T/ev4.json" '0 < ev[0]["claimed"] <= ev[0]["end"] <= ev[1]["claimed"]')"

# A damaged log: a bad line is reported with its path and line number and
# the rest of that log skipped; a torn last line (a crash mid-append) is
# not an event yet, silently. The command still succeeds.
log=$(ls "$QSPOOL/jobs/$job/events/"*)
printf 'a 0 1 retry 0 failed 3 0 1 2 3 w h -\na 1 1 retry 1 failed 3 0 1 2 3 w h -\n' > "$T/good-lines"
cp "$log" "$T/log.orig"
printf 'a 99999 1 retry 0 failed 3 0 1 2 3 w h -\n' >> "$log"
cat "$T/good-lines" >> "$log"
"$QSTATUS" "$job" --events > "$T/ev5.json" 2> "$T/ev5.err"
check "damaged: still exit 0" test $? -eq 0
check "damaged: says where" grep -q "events/$(basename "$log")' line 5: damaged event" "$T/ev5.err"
expect_eq "damaged: the lines before it still count" 7 "$(wc -l < "$T/ev5.json")"
cp "$T/log.orig" "$log"
printf 'a 0 1 retry 0 fai' >> "$log"
"$QSTATUS" "$job" --events > "$T/ev6.json" 2> "$T/ev6.err"
expect_eq "torn last line: ignored" 7 "$(wc -l < "$T/ev6.json")"
expect_eq "torn last line: no warning" "" "$(cat "$T/ev6.err")"
printf 'not-an-event-log 1\n' > "$QSPOOL/jobs/$job/events/intruder"
"$QSTATUS" "$job" --events > "$T/ev7.json" 2> "$T/ev7.err"
check "a foreign file: reported" grep -q "intruder' line 1: not a spoolq event log" "$T/ev7.err"
expect_eq "a foreign file: skipped" 7 "$(wc -l < "$T/ev7.json")"

# Usage: one job, and not with --json or --tasks or --dot.
"$QSTATUS" --events > /dev/null 2> "$T/u1.err"
expect_eq "no JOB: usage error" 2 $?
check "no JOB: says how" grep -q "give exactly one JOB (qstatus JOB --events)" "$T/u1.err"
"$QSTATUS" "$job" --events --json > "$T/u2.json"
expect_eq "--events --json: the same lines (it is JSON already)" "$(cat "$T/ev.json")" "$(cat "$T/u2.json")"
"$QSTATUS" "$job" --events --tasks > /dev/null 2> "$T/u2.err"
expect_eq "--events --tasks: usage error" 2 $?
"$QSTATUS" "$job" --events --dot > /dev/null 2> "$T/u3.err"
expect_eq "--events --dot: usage error" 2 $?
check "--events --dot: says why" grep -q "go one at a time" "$T/u3.err"

finish
