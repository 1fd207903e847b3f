#!/bin/bash
# clock_skew.sh: workers whose clocks are an hour ahead or behind
# (libfaketime) neither expire live workers' claims nor are expired while
# alive; once killed, their claims are reclaimed after their lease.
#
# Leases are judged by file mtimes, which the file server (here the
# kernel) stamps, never by a worker's own clock (docs/spool-format.md).
# Each worker runs in its own pid namespace, as if on its own node: the
# same-node shortcut (a dead pid proves a dead worker) then never applies
# and every judgement goes through the lease. Two spools run side by side:
#
#   spool 1: a normal worker runs two tasks; skewed idle workers (+1 h,
#            -1 h) sweep and must not reclaim either while it lives. Then
#            it is killed and the -1 h worker alone must reclaim its task:
#            a sweeper that trusted its own clock would wait an hour.
#   spool 2: the skewed workers run a task each while a normal worker
#            sweeps; neither is reclaimed. Then the +1 h worker is killed
#            holding a task, and a normal worker must reclaim it after the
#            lease: a heartbeat that carried the worker's own time would
#            look alive for an hour.
#
# Tasks run 10 s (over 3 leases of 3 s; a sweeper sweeps every lease/2
# after its first 3 s). The lease leaves room for a loaded machine: a
# worker starved of CPU for a whole lease is rightly presumed dead. About
# 16 s in all.
. "$TESTS_DIR/cli/lib.sh"

LEASE=3
FT_LIB=
for f in /usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1 \
	 /usr/lib/*/faketime/libfaketime.so.1 /usr/lib/faketime/libfaketime.so.1; do
	[ -f "$f" ] && FT_LIB=$f && break
done
if [ -z "$FT_LIB" ]; then
	echo "clock_skew: libfaketime is not installed (Debian package" \
	     "'faketime'; scripts/deps.sh test installs it)" >&2
	exit 1
fi
if ! unshare --pid --fork --kill-child --mount-proc true 2>/dev/null; then
	echo "clock_skew: skipped: cannot make a pid namespace" \
	     "(unshare --pid needs root)" >&2
	exit 77
fi

S1=$T/spool1 S2=$T/spool2
W=$T/wf
mkdir -p "$W"

# worker_in_ns OFFSET SPOOL ARGS...: a worker in its own pid namespace
# (so killing it kills its tasks too), its clock OFFSET off ("" for the
# real clock). Sets $ns_pid (unshare's pid, to wait for).
#
# Only the clock is faked, as on a node whose clock is off: libfaketime
# 0.9.10 by default also rewrites utimensat(UTIME_NOW) into the fake time
# and shifts what stat() returns, as a file system that stamped the
# client's time would. FAKE_UTIME=1 and NO_FAKE_STAT=1 turn both off
# (measured: the mtime is then the kernel's, i.e. the file server's).
# ASan must be told that libfaketime is preloaded before it.
worker_in_ns() {
	local off=$1 spool=$2
	shift 2
	local fake=()
	if [ -n "$off" ]; then
		fake=(env LD_PRELOAD="$FT_LIB" FAKETIME="$off"
		      FAKETIME_DONT_FAKE_MONOTONIC=1 FAKE_UTIME=1 NO_FAKE_STAT=1
		      ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0")
	fi
	unshare --pid --fork --kill-child --mount-proc "${fake[@]}" \
		"$QWORKER" --spool "$spool" --lease $LEASE "$@" \
		2>> "$T/workers.log" &
	ns_pid=$!
	PIDS+=($ns_pid)
}

# The worker process itself: unshare's only child.
worker_of() { pgrep -P "$1"; }

# skew_seen SPOOL SECONDS: some worker of SPOOL recorded a start time
# SECONDS (within 2 minutes) off the real clock: libfaketime works on it.
skew_seen() {
	local now f s d
	now=$(date +%s)
	for f in "$1"/workers/*; do
		s=$(sed -n 's/^started \([0-9]*\)[0-9]\{9\}$/\1/p' "$f" 2>/dev/null)
		[ -n "$s" ] || continue
		d=$((s - now - $2))
		[ $d -gt -120 ] && [ $d -lt 120 ] && return 0
	done
	return 1
}

lines() { [ -f "$1" ] && [ "$(wc -l < "$1")" -ge "$2" ]; }
exists() { [ -e "$1" ]; }

# task LOG: a command that logs "<index> <attempt>", then runs 10 s on
# attempt 1 of index 0 and hangs on attempt 1 of any other index (until
# its worker is killed), and finishes at once on later attempts.
task() {
	echo "echo {i} \$Q_ATTEMPT >> '$1'; if [ \$Q_ATTEMPT -gt 1 ]; then echo again {i};" \
	     "elif [ {i} = 0 ]; then sleep 10; touch '$1.done'; echo ran {i};" \
	     "else sleep 600; fi"
}

# record_offsets SPOOL JOB...: per task, its record's start time minus
# now in hours (rounded), as the worker that ran it saw it; sorted.
record_offsets() {
	local spool=$1 now job
	shift
	now=$(date +%s)
	for job in "$@"; do
		"$QCOLLECT" --spool "$spool" "$job" --json --no-wait 2>/dev/null
	done | sed -n 's/.*"start": \([0-9]*\)\.[0-9]*.*/\1/p' |
		while read -r s; do
			echo $(( (s - now + 1800 + 7200) / 3600 - 2 ))
		done | sort -n | tr '\n' ' '
}

# ---- start: spool 1 has a normal worker, spool 2 two skewed ones ----
# (a worker refuses a spool that does not exist yet: submit first)
job1=$("$QSUBMIT" --spool "$S1" --name normal --array 0..1 -- sh -c "$(task "$T/runs1")")
worker_in_ns "" "$S1" --cpus 2
n1=$ns_pid
job2=$("$QSUBMIT" --spool "$S2" --name skewed --array 0..0 -- sh -c "$(task "$T/runs2")")
job2b=$("$QSUBMIT" --spool "$S2" --name skewed2 -- sh -c "echo 0 \$Q_ATTEMPT >> '$T/runs2b'; sleep 10; touch '$T/runs2b.done'; echo ran")
worker_in_ns "+1h" "$S2" --cpus 1
w2p=$ns_pid
worker_in_ns "-1h" "$S2" --cpus 1
w2m=$ns_pid
check "the normal worker runs both its tasks" wait_for 20 lines "$T/runs1" 2
check "the skewed workers run a task each" wait_for 20 lines "$T/runs2" 1
check "  (and the second)" wait_for 20 lines "$T/runs2b" 1

# ---- sweepers: skewed ones in spool 1, a normal one in spool 2 ----
worker_in_ns "+1h" "$S1" --cpus 1
w1p=$ns_pid
worker_in_ns "-1h" "$S1" --cpus 1
w1m=$ns_pid
start_worker --spool "$S2" --lease $LEASE --cpus 1 2>> "$T/workers.log"
s2=$!

# libfaketime really moves their clocks (else this test proves nothing).
check "spool 1: a worker's clock is 1 h ahead" wait_for 10 skew_seen "$S1" 3600
check "spool 1: a worker's clock is 1 h behind" wait_for 10 skew_seen "$S1" -3600
check "spool 2: a worker's clock is 1 h ahead" wait_for 10 skew_seen "$S2" 3600
check "spool 2: a worker's clock is 1 h behind" wait_for 10 skew_seen "$S2" -3600

# ---- 10 s of sweeping: no live claim is taken ----
check "spool 1: the long task finishes" wait_for 20 exists "$T/runs1.done"
check "spool 2: the skewed workers finish" wait_for 20 exists "$T/runs2.done"
check "  (both)" wait_for 20 exists "$T/runs2b.done"
expect_eq "spool 1: each task started once, attempt 1" "0 1
1 1" "$(sort "$T/runs1")"
expect_eq "spool 2: each task ran once, attempt 1" "0 1 | 0 1" \
	"$(cat "$T/runs2") | $(cat "$T/runs2b")"
"$QCOLLECT" --spool "$S2" "$job2" > /dev/null 2>&1
"$QCOLLECT" --spool "$S2" "$job2b" > /dev/null 2>&1
expect_eq "spool 2: the tasks ran on the skewed workers (record start, hours off)" \
	"-1 1 " "$(record_offsets "$S2" "$job2" "$job2b")"
expect_eq "spool 2: one attempt each" 2 "$(for j in "$job2" "$job2b"; do
	"$QCOLLECT" --spool "$S2" "$j" --json; done | grep -c '"attempts": 1')"

# ---- deaths ----
# Spool 1: only the -1 h sweeper stays; the normal worker dies holding
# task 1. Spool 2: only the +1 h worker stays and takes a task that
# hangs; then it dies and a normal worker comes.
kill -TERM "$(worker_of $w1p)" "$s2" "$(worker_of $w2m)"
wait $w1p $s2 $w2m 2>/dev/null
kill -9 "$(worker_of $n1)"
t_kill1=$SECONDS
job3=$("$QSUBMIT" --spool "$S2" --name doomed --array 1..1 -- sh -c "$(task "$T/runs3")")
check "spool 2: the +1 h worker takes the task" wait_for 20 lines "$T/runs3" 1
kill -9 "$(worker_of $w2p)"
start_worker --spool "$S2" --lease $LEASE --cpus 2 --exit-when-idle 2>> "$T/workers.log"

out1=$(timeout 30 "$QCOLLECT" --spool "$S1" "$job1" 2>&1)
expect_eq "spool 1: the dead worker's task is reclaimed and runs again" \
	"ran 0
again 1" "$out1"
check "  after its lease, not before" test $((SECONDS - t_kill1)) -ge $((LEASE - 1))
expect_eq "spool 1: attempts" "0 1
1 1
1 2" "$(sort "$T/runs1")"
expect_eq "spool 1: the -1 h worker reran it (hours off)" "-1 0 " \
	"$(record_offsets "$S1" "$job1")"
out3=$(timeout 30 "$QCOLLECT" --spool "$S2" "$job3" 2>&1)
expect_eq "spool 2: the dead +1 h worker's task is reclaimed and runs again" \
	"again 1" "$out3"
expect_eq "spool 2: attempts" "1 1
1 2" "$(cat "$T/runs3")"
expect_eq "spool 2: a normal worker reran it (hours off)" "0 " \
	"$(record_offsets "$S2" "$job3")"
if [ $FAILS -gt 0 ]; then
	for f in "$T"/runs*; do echo "--- $f:"; cat "$f"; done >&2
	for sp in "$S1" "$S2"; do
		echo "--- $sp:"
		"$QSTATUS" --spool "$sp" --tasks 2>&1
	done >&2
	echo "--- workers' stderr:" >&2
	cat "$T/workers.log" >&2
	uptime >&2
fi
finish
