#!/bin/bash
# leases.sh: retries with back-off, timeouts, and workers that die: their
# tasks are requeued at once when the worker died on this node (its
# process is gone), else once their lease expires (judged by the file
# server's clock), and finished by others; a task that kills its worker
# every time is failed after exactly its attempts.
. "$TESTS_DIR/cli/lib.sh"
W=$T/wf
mkdir -p "$W"
workers_gone() { ! kill -0 "${PIDS[@]}" 2>/dev/null; }

# Retries: fails twice, then succeeds; attempts are 3.
cat > "$W/flaky.yaml" <<YAML
tasks:
  flaky:
    retries: 2
    cmd: 'n=\$(cat "$T/count" 2>/dev/null || echo 0); echo \$((n + 1)) > "$T/count"; [ \$n -ge 2 ] && echo made it'
YAML
job=$("$QSUBMIT" "$W/flaky.yaml")
t0=$SECONDS
"$QWORKER" --exit-when-idle 2> "$T/flaky.err"
expect_eq "third attempt's result" "made it" "$("$QCOLLECT" "$job")"
expect_eq "three runs" 3 "$(cat "$T/count")"
check "attempts recorded" grep -Eq '"attempts": 3' <("$QSTATUS" "$job" --tasks --json)
check "the back-off waited (1 s, then 2 s)" test $((SECONDS - t0)) -ge 3
check "the worker said so" grep -q "attempt 1 of 3 failed (exit status 1); again in 1 s" "$T/flaky.err"

# The same settings from the command line: --retries, --timeout and
# --priority (the higher first among ready tasks).
rm -f "$T/count"
job=$("$QSUBMIT" --retries 1 -- sh -c 'n=$(cat "$0/count" 2>/dev/null || echo 0); echo $((n + 1)) > "$0/count"; [ $n -ge 1 ] && echo second' "$T")
slow=$("$QSUBMIT" --timeout 1s -- sleep 60)
low=$("$QSUBMIT" --name low -- sh -c "echo low >> '$T/order'")
high=$("$QSUBMIT" --name high --priority 5 -- sh -c "echo high >> '$T/order'")
"$QWORKER" --exit-when-idle --cpus 1 2>/dev/null
expect_eq "--retries 1: the second attempt's result" second "$("$QCOLLECT" "$job")"
check "--timeout 1s stopped it" grep -q "timed out after 1 s" <("$QSTATUS" "$slow" --tasks)
expect_eq "--priority 5 ran first" "high
low" "$(cat "$T/order")"

# Out of retries: failed, with the last reason.
cat > "$W/never.yaml" <<'YAML'
tasks:
  never: {cmd: "echo nope >&2; exit 5", retries: 1}
  after: {cmd: "true", after: [never]}
YAML
job=$("$QSUBMIT" "$W/never.yaml")
"$QWORKER" --exit-when-idle 2>/dev/null
check "failed after 2 attempts" grep -Eq '"task": "never".*"state": "failed", "attempts": 2, .*"exit": 5' <("$QSTATUS" "$job" --tasks --json | tr -d '\n')
check "its dependent cancelled" grep -q "dependency 'never' failed" <("$QSTATUS" "$job" --tasks)

# Timeouts stop a command and a kernel, promptly.
cat > "$W/slow.yaml" <<'YAML'
tasks:
  cmd: {cmd: "sleep 60", timeout: 1}
  kernel: {kernel: sleep, args: {seconds: 60}, timeout: 1}
YAML
job=$("$QSUBMIT" "$W/slow.yaml")
t0=$SECONDS
"$QWORKER" --exit-when-idle --cpus 2 2>/dev/null
check "both stopped within seconds" test $((SECONDS - t0)) -lt 10
expect_eq "both timed out" 2 "$("$QSTATUS" "$job" --tasks | grep -c 'timed out after 1 s')"

# A worker killed with SIGKILL on this node: its heartbeat names its
# process (boot id, pid namespace, start time), so the next repair sees
# the process gone and requeues its task at once, long before its 60 s
# lease, and another worker finishes it.
job=$("$QSUBMIT" --name victim -- sh -c "echo \$\$ > '$T/victim.pgid'; echo \$Q_ATTEMPT >> '$T/victim'; [ \$Q_ATTEMPT -ge 2 ] || sleep 60; echo survived")
"$QWORKER" --lease 60 2>/dev/null &
victim=$!
started() { [ -s "$T/victim" ]; }
check "the task starts" wait_for 20 started
check "the heartbeat names the process" grep -q "^start_ticks [1-9]" "$QSPOOL"/workers/*
kill -9 $victim
wait $victim 2>/dev/null
# Its orphaned command: the task's own process group (by its id, so no
# other test's processes are touched).
kill -9 -- -"$(cat "$T/victim.pgid")" 2>/dev/null
t0=$SECONDS
check "the repair requeues it at once" grep -q "1 claims of dead workers requeued" <("$QSTATUS" --repair 2>&1 >/dev/null)
start_worker --exit-when-idle
check "another worker finishes it" wait_for 60 workers_gone
check "well within the lease" test $((SECONDS - t0)) -lt 30
expect_eq "the second attempt's result" survived "$("$QCOLLECT" "$job")"
expect_eq "attempts 1 then 2" "1
2" "$(cat "$T/victim")"
check "the dead worker shows as lost" grep -q " lost" <("$QSTATUS")

# The lease path: a heartbeat without those fields (a worker on another
# node, in another pid namespace, or an older qworker) is judged by its
# lease alone: the same kill is only requeued once the 4 s lease expired.
PIDS=()
rm -f "$QSPOOL"/workers/* "$T/victim"
job=$("$QSUBMIT" --name victim2 -- sh -c "echo \$\$ > '$T/victim.pgid'; echo \$Q_ATTEMPT >> '$T/victim'; [ \$Q_ATTEMPT -ge 2 ] || sleep 60; echo survived")
"$QWORKER" --lease 4 2>/dev/null &
victim=$!
check "the task starts" wait_for 20 started
sed -i '/^boot_id /d; /^pid_ns /d; /^start_ticks /d' "$QSPOOL"/workers/*
kill -9 $victim
wait $victim 2>/dev/null
kill -9 -- -"$(cat "$T/victim.pgid")" 2>/dev/null
t0=$SECONDS
requeued() { grep -q "claims of dead workers requeued" <("$QSTATUS" --repair 2>&1 >/dev/null); }
check "not requeued while its lease runs" test -z "$("$QSTATUS" --repair 2>&1 >/dev/null | grep "claims of dead")"
check "requeued once the lease expired" wait_for 30 requeued
check "and not before (4 s lease, heartbeat every 1 s)" test $((SECONDS - t0)) -ge 2
start_worker --exit-when-idle
check "another worker finishes it" wait_for 60 workers_gone
expect_eq "the second attempt's result" survived "$("$QCOLLECT" "$job")"

# A poison task kills its worker every time: failed after exactly
# max(retries + 1, 3) claims, and nothing else is lost (the tasks that
# shared a worker with it are requeued).
cat > "$W/poison.yaml" <<YAML
tasks:
  poison: {cmd: 'echo x >> "$T/poison"; kill -9 \$PPID', retries: 1}
  fine: {cmd: "echo fine", array: 0..9}
YAML
PIDS=()
job=$("$QSUBMIT" "$W/poison.yaml")
finished() { grep -q '"state": "finished' <("$QSTATUS" "$job" --json); }
# Workers die one after another; a fresh one (1 s lease) takes over each
# time, and its repair sweep requeues what the dead one held. One core
# each, so the poison runs alone: a task sharing a worker with it dies
# with it and uses up attempts too (documented).
for round in 1 2 3 4 5 6; do
	finished && break
	"$QWORKER" --exit-when-idle=3 --lease 1 --cpus 1 2>/dev/null
done
"$QSTATUS" --repair > /dev/null 2>&1
expect_eq "the poison ran exactly 3 times" 3 "$(wc -l < "$T/poison")"
# Its workers died on this node: judged by their pid, not their lease.
check "then failed with the reason" grep -q "stopped (process gone) on attempt 3 of 3" <("$QSTATUS" "$job" --tasks)
expect_eq "the others all done" 10 "$("$QCOLLECT" "$job" 2>/dev/null | grep -c fine)"
finish
