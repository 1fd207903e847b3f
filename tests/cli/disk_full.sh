#!/bin/bash
# disk_full.sh: a full disk and an exceeded quota (issue 4, part 5).
#
# The spool lives on a real, small file system: a 1 MiB tmpfs mounted in a
# private mount namespace (invisible to other processes, gone when the
# test ends), filled with a filler file. The test needs root for that and
# fails, rather than skips, where it cannot have it.
#
#   (a) qsubmit into a full spool: a clear message, exit status 3, and the
#       spool exactly as before (no job, nothing left in tmp/).
#   (b) a worker whose writes hit ENOSPC mid-run (a command's stdout and
#       stderr, then a kernel's result): each task goes back to ready/
#       with its attempt unchanged, the worker backs off (1 s, then 2 s:
#       no spinning) with one line per back-off saying what, where and
#       what to do; once the filler is deleted the same worker finishes
#       everything, with the right results and every attempt still 1.
#   (c) EDQUOT, which tmpfs cannot produce: qsubmit with the k-th
#       spool-changing call failing (SPOOLQ_FAULT, every k), and a worker
#       whose write(2) calls fail with EDQUOT for a while (libfiu, turned
#       on and off at run time with fiu-ctrl).
#   (d) afterwards `qstatus --repair` finds nothing to fix.
#
# Runtime: about 8 s, mostly the back-offs being waited out.

if [ -z "${DISK_FULL_NAMESPACE:-}" ]; then
	# Re-run inside a private mount namespace, where mounting a tmpfs
	# touches nothing outside.
	DISK_FULL_NAMESPACE=1 exec unshare --mount --propagation private \
		bash "$0" "$@"
	echo "FAIL: cannot run unshare --mount (the test needs root)" >&2
	exit 1
fi

. "$TESTS_DIR/cli/lib.sh"

FS=$T/fs
mkdir -p "$FS"
if ! mount -t tmpfs -o size=1m,mode=0700 tmpfs "$FS"; then
	echo "FAIL: cannot mount a tmpfs on '$FS' (the test needs root)" >&2
	exit 1
fi
# The workers go first: a busy mount cannot be unmounted.
trap 'for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done; wait 2>/dev/null
      umount "$FS" 2>/dev/null; rm -rf "$T"' EXIT
export QSPOOL=$FS/spool

fill() {
	# Small blocks, so that not even one page is left.
	dd if=/dev/zero of="$FS/filler" bs=4k 2>/dev/null
	! dd if=/dev/zero of="$FS/probe" bs=4k count=1 2>/dev/null
}
free_space() {
	rm -f "$FS/filler" "$FS/probe"
}
tmp_is_empty() {
	[ -z "$(ls -A "$QSPOOL/tmp")" ]
}
attempts_of() {
	"$QSTATUS" "$1" --tasks --json | grep -o '"attempts": [0-9]*' | sort -u
}
finished() {
	grep -q '"state": "finished"' <("$QSTATUS" "$1" --json)
}
done_count() {
	"$QSTATUS" "$1" --json | grep -o '"done": [0-9]*' | grep -o '[0-9]*$'
}

# Six tasks: the first two run at once, the others wait for a gate file
# outside the small file system; every run leaves its index in $T/runs.
job=$("$QSUBMIT" --name gated --array 0..5 -- sh -c "echo \$Q_INDEX >> '$T/runs'
	[ \$Q_INDEX -lt 2 ] || while [ ! -e '$T/gate' ]; do sleep 0.02; done
	echo result-\$Q_INDEX; echo log-\$Q_INDEX >&2")
expect_eq "first job" 1 "$job"

# (a) qsubmit into a full spool.
check "the tmpfs is full" fill
before=$(spool_snapshot)
"$QSUBMIT" --array 0..99 -- echo x > "$T/out" 2> "$T/err"
expect_eq "qsubmit exit status on a full disk" 3 $?
expect_eq "qsubmit's message on a full disk" "qsubmit: cannot write job to spool '$QSPOOL': No space left on device (free space or raise the quota, then submit again); nothing was submitted" "$(cat "$T/err")"
expect_eq "no job id printed" "" "$(cat "$T/out")"
check "the spool is as it was (no job, no staging left in tmp/)" \
	test "$before" == "$(spool_snapshot)"
free_space

# (b) A worker's writes fail mid-run. Every commit makes a file of its
# own here: appended to an open one, a small record may still fit in the
# file's last page on a full disk (libq/segment.c).
SPOOLQ_SEGMENT_REGIONS=1 "$QWORKER" --cpus 1 2> "$T/worker.err" &
W=$!
PIDS+=($W)
two_done() { [ "$(done_count "$job")" = 2 ]; }
check "the first two tasks finish" wait_for 20 two_done
check "the tmpfs is full again" fill
touch "$T/gate"
backoffs() { grep -c "full or over quota" "$T/worker.err"; }
backed_off() { [ "$(backoffs)" -ge "$1" ]; }
check "the worker backs off" wait_for 20 backed_off 1
t1=$(date +%s.%N)
check "and tries again" wait_for 20 backed_off 2
t2=$(date +%s.%N)
check "not at once: at least 0.9 s between the tries ($t1 .. $t2)" \
	awk "BEGIN { exit !($t2 - $t1 >= 0.9) }"
expect_eq "task 2 ran twice so far (no spinning)" 2 "$(grep -c '^2$' "$T/runs")"
check "the back-off line says what, where and what to do" grep -qxF \
	"qworker: job $job gated[2]: cannot store its output in '$QSPOOL/tmp': No space left on device; chunk 2 handed back, attempt 1 kept; the spool '$QSPOOL' is full or over quota: free space or raise the quota; claiming again in 1 s" \
	"$T/worker.err"
check "the back-off doubles" grep -q "claiming again in 2 s$" "$T/worker.err"
check "the task is ready again, not failed" \
	grep -q '"ready": 4, "running": 0, "done": 2, "failed": 0' \
	<("$QSTATUS" "$job" --json)
free_space
check "once space is back the same worker finishes the job" \
	wait_for 30 finished "$job"
expect_eq "results complete and in order" "$(printf 'result-%s\n' 0 1 2 3 4 5)" \
	"$("$QCOLLECT" "$job")"
expect_eq "logs complete" "$(printf 'log-%s\n' 0 1 2 3 4 5)" \
	"$("$QCOLLECT" "$job" --stderr)"
expect_eq "no attempt used up by the full disk" '"attempts": 1' \
	"$(attempts_of "$job")"
expect_eq "runs: task 2 three times, the others once" "0 1 2 2 2 3 4 5" \
	"$(sort -n "$T/runs" | tr '\n' ' ' | sed 's/ $//')"
check "no temporaries left in tmp/" tmp_is_empty
expect_eq "back-off lines: one per back-off" 2 "$(backoffs)"

# A kernel's result: the job is submitted while the worker is stopped,
# and the disk filled before it can claim it.
kill -STOP $W
kjob=$("$QSUBMIT" --kernel hello --array 0..1)
check "the tmpfs is full a third time" fill
kill -CONT $W
kernel_backed_off() {
	grep -q "job $kjob hello\[0\]: cannot store its result in '$QSPOOL/tmp': No space left on device; chunk 0 handed back, attempt 1 kept; .* claiming again in 1 s$" "$T/worker.err"
}
check "a kernel that cannot write its result is handed back (the back-off restarts at 1 s after a commit)" \
	wait_for 20 kernel_backed_off
free_space
check "and then finished" wait_for 30 finished "$kjob"
expect_eq "two kernel results" 2 "$("$QCOLLECT" "$kjob" | grep -c '^hello from')"
expect_eq "kernel attempts" '"attempts": 1' "$(attempts_of "$kjob")"
kill -TERM $W
wait $W
expect_eq "the worker exits cleanly" 0 $?
check "nothing left in tmp/ after the worker" tmp_is_empty

# (d) Nothing to repair.
"$QSTATUS" --repair > /dev/null 2> "$T/repair"
expect_eq "qstatus --repair exit status" 0 $?
expect_eq "qstatus --repair has nothing to fix" "" "$(cat "$T/repair")"

# (c) EDQUOT. First qsubmit, its k-th spool-changing call failing, for
# every k until it succeeds: each failure says what to do and changes
# nothing; a failure after the publishing rename says the job exists.
export QSPOOL=$T/quota-spool
"$QSUBMIT" -- true > /dev/null
k=1
before=$(spool_snapshot)
while :; do
	out=$(SPOOLQ_FAULT=fail:$k:EDQUOT "$QSUBMIT" --name q --array 0..3 \
		-- echo '{i}' 2> "$T/err")
	rc=$?
	[ $rc -eq 0 ] && break
	if grep -q "was published" "$T/err"; then
		expect_eq "k=$k: exit status after publishing" 3 $rc
		before=$(spool_snapshot)
	else
		expect_eq "k=$k: qsubmit's message over quota" "qsubmit: cannot write job to spool '$QSPOOL': Disk quota exceeded (free space or raise the quota, then submit again); nothing was submitted" "$(cat "$T/err")"
		expect_eq "k=$k: exit status" 3 $rc
		check "k=$k: the spool is unchanged" test "$before" == "$(spool_snapshot)"
	fi
	k=$((k + 1))
	if [ $k -gt 200 ]; then
		fail "qsubmit never succeeded"
		break
	fi
done
check "many failure points tried ($k)" test $k -gt 10
qjob=$out

# Then a worker whose writes fail with EDQUOT until the quota is
# "raised": libfiu's preload makes write(2) fail while enabled. Its tasks
# wait for a gate, opened once the fault is on; they run without the
# preload (their env: LD_PRELOAD empty).
ejob=$("$QSUBMIT" --name e --array 0..2 --env LD_PRELOAD= -- sh -c \
	"while [ ! -e '$T/egate' ]; do sleep 0.02; done; echo e\$Q_INDEX")
FIU_LIBS="/usr/lib/fiu/fiu_run_preload.so /usr/lib/fiu/fiu_posix_preload.so"
for f in $FIU_LIBS; do
	[ -e "$f" ] || { fail "libfiu is missing ($f): run scripts/deps.sh test"; finish; }
done
# An ASan build wants its runtime first in the list. libfiu's control
# thread does not block signals, so this worker is not stopped with one:
# it exits when idle.
asan=$(ldd "$QWORKER" | awk '/libasan/ { print $3 }')
LD_PRELOAD="$asan $FIU_LIBS" FIU_CTRL_FIFO=$T/fiu "$QWORKER" --cpus 1 \
	--exit-when-idle 2> "$T/quota.err" &
W=$!
PIDS+=($W)
controllable() { [ -p "$T/fiu-$W.in" ]; }
check "libfiu's control pipe appears" wait_for 20 controllable
others_finished() {
	! "$QSTATUS" --json | grep '"id": [0-9]' | grep -v "\"id\": $ejob," |
		grep -vq '"state": "finished"'
}
check "the earlier jobs finish first" wait_for 30 others_finished
fiu-ctrl -f "$T/fiu" -c "enable name=posix/io/rw/write,failinfo=$(
	python3 -c 'import errno; print(errno.EDQUOT)')" $W
expect_eq "fiu-ctrl enable" 0 $?
touch "$T/egate"
quota_backed_off() {
	grep -q "^qworker: job $ejob e\[0\]: cannot store its output in '$QSPOOL/tmp': Disk quota exceeded; chunk 0 handed back, attempt 1 kept; the spool '$QSPOOL' is full or over quota: free space or raise the quota; claiming again in 1 s$" "$T/quota.err"
}
check "over quota: handed back, and the worker backs off" \
	wait_for 20 quota_backed_off
fiu-ctrl -f "$T/fiu" -c "disable name=posix/io/rw/write" $W
expect_eq "fiu-ctrl disable" 0 $?
wait $W
expect_eq "once the quota is raised the worker finishes and exits" 0 $?
expect_eq "results after the quota" "$(printf 'e%s\n' 0 1 2)" \
	"$("$QCOLLECT" "$ejob")"
expect_eq "attempts after the quota" '"attempts": 1' "$(attempts_of "$ejob")"
expect_eq "the fault-walk job's results" "$(printf '%s\n' 0 1 2 3)" \
	"$("$QCOLLECT" "$qjob")"
check "no temporaries left in tmp/ (quota)" tmp_is_empty
"$QSTATUS" --repair > /dev/null 2> "$T/repair"
expect_eq "nothing to repair (quota)" "" "$(cat "$T/repair")"

finish
