#!/bin/bash
# crash_points.sh: issue 4's crash points, through the real binaries.
#
# SPOOLQ_FAULT=crash:K makes a process exit (status 99, like a SIGKILL)
# just before its K-th spool-changing system call (libq/sysio.c). For
# every K until the process completes without crashing:
#
#  (a) qsubmit WORKFLOW.yaml crashes at K; `qstatus --repair`; the spool
#      holds the whole job (the same tree as an uninterrupted submission)
#      or nothing, and tmp/ is empty; if nothing was published the
#      workflow is submitted again; a worker runs it to the end.
#  (b) qworker --exit-when-idle crashes at K while running the submitted
#      workflow (claims, task completion, dependency release, barrier,
#      a failure and its cancel cascade); `qstatus --repair` requeues what
#      the dead worker held at once (its process is gone: libq/proc.c),
#      and a clean worker finishes the job.
#
# Then, every time: qcollect's output and every task's state, exit status
# and reason equal an uninterrupted reference run; a second
# `qstatus --repair` has nothing to do; tmp/ is empty; each task ran
# exactly once, except in (b) the one task the dead worker had in hand,
# which may run once more (a side-effect log says who ran what).
#
# Each K gets its own spool (on tmpfs when there is one: hundreds of
# spools), three K at a time. 83 + 175 crash points; runtime on the
# 2-core machine: 16 s (-Werror build) and 30 s (ASan build, 56 s of CPU)
# when idle, 30 s and 55 s under a load average of 8; most of it is the
# tasks' and tools' process starts.
. "$TESTS_DIR/cli/lib.sh"

BASE=$T
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
	BASE=$(mktemp -d /dev/shm/spoolq-crash.XXXXXX)
	trap 'rm -rf "$BASE"; cleanup' EXIT
fi
PAR=3        # each K is mostly waiting for its tasks' processes
MAXK=2000    # a bound, far above the calls any of these runs makes

# Every task appends "<task> <worker>" to the log next to its spool.
WF=$T/crashwf.yaml
cat > "$WF" <<'YAML'
name: crashwf
tasks:
  gen:
    array: 0..1
    cmd: 'echo "$Q_TASK_LABEL $Q_WORKER" >> "$Q_SPOOL/../log"; echo g{i}'
  sq:
    array: 0..1
    after: ["gen[{i}]"]
    cmd: 'echo "$Q_TASK_LABEL $Q_WORKER" >> "$Q_SPOOL/../log"; echo "s$(cat "$Q_INPUT_0")"'
  total:
    array: 0..1
    after: [sq]
    cmd: 'echo "$Q_TASK_LABEL $Q_WORKER" >> "$Q_SPOOL/../log"; echo "t{i}:" $(cat {inputs})'
  bad:
    cmd: 'echo "$Q_TASK_LABEL $Q_WORKER" >> "$Q_SPOOL/../log"; exit 3'
  victim:
    after: [bad]
    cmd: 'echo "$Q_TASK_LABEL $Q_WORKER" >> "$Q_SPOOL/../log"; echo never'
  victim2:
    after: [victim, total]
    cmd: 'echo "$Q_TASK_LABEL $Q_WORKER" >> "$Q_SPOOL/../log"; echo never'
YAML

# The layout of a spool's jobs/ (names and types, not contents).
shape() { (cd "$1/jobs" && find . -printf '%P %y\n' | LC_ALL=C sort); }
# One line per task: name, state, exit status, reason.
states() {
	QSPOOL=$1 "$QSTATUS" 1 --tasks --json |
		sed -nE 's/.*"task": "([^"]*)".*"state": "([^"]*)".*"exit": ([^,]*),.*"reason": ("([^"\\]|\\.)*"|null)[,}].*/\1 \2 \3 \4/p'
}
collect() { QSPOOL=$1 "$QCOLLECT" 1 --no-wait 2>&1; }
tasks_run() { cut -d' ' -f1 "$1" | LC_ALL=C sort; }

# The reference: an uninterrupted submission and run.
REF=$BASE/ref
mkdir -p "$REF"
QSPOOL=$REF/spool "$QSUBMIT" "$WF" > /dev/null || fail "reference qsubmit"
cp -a "$REF/spool" "$BASE/submitted"       # (b) starts from here
cp -a "$REF/spool" "$BASE/empty"           # (a) starts from here
rm -rf "$BASE/empty/jobs/1"
REF_SHAPE=$(shape "$REF/spool")
QSPOOL=$REF/spool "$QWORKER" --exit-when-idle --cpus 1 2> "$REF/worker.err" ||
	fail "reference run: $(cat "$REF/worker.err")"
REF_COLLECT=$(collect "$REF/spool")
REF_STATES=$(states "$REF/spool")
REF_RUN=$(tasks_run "$REF/log")
expect_eq "reference: 9 tasks" 9 "$(echo "$REF_STATES" | wc -l)"
check "reference: bad failed, victims cancelled" grep -q \
	"victim2 cancelled null \"dependency 'victim' was cancelled\"" <<< "$REF_STATES"
check "reference: the barrier's dependents ran" grep -q "t1: sg0 sg1" <<< "$REF_COLLECT"

# bad K WHAT...: note a failure of crash point K in its directory.
bad() { echo "$*" >> "$D/fail"; }

# finish_and_compare: run a clean worker, then compare with the reference.
finish_and_compare() {
	# A bound, not a wait: a job the repair left unfinishable would keep
	# an --exit-when-idle worker waiting for ever.
	QSPOOL=$D/spool timeout 60 "$QWORKER" --exit-when-idle --cpus 4 2>> "$D/worker.err" ||
		bad "the clean worker failed or never finished: $(tail -3 "$D/worker.err")"
	[ "$(collect "$D/spool")" == "$REF_COLLECT" ] ||
		bad "qcollect differs: $(collect "$D/spool" | head -5)"
	[ "$(states "$D/spool")" == "$REF_STATES" ] ||
		bad "task states differ: $(diff <(echo "$REF_STATES") <(states "$D/spool") | head -5)"
	[ -z "$(ls -A "$D/spool/tmp")" ] ||
		bad "tmp/ not empty at the end: $(ls "$D/spool/tmp")"
}

# repair_twice: qstatus --repair, then again: the second has nothing to do.
repair_twice() {
	QSPOOL=$D/spool "$QSTATUS" --repair > /dev/null 2> "$D/repair.err" ||
		bad "qstatus --repair failed: $(cat "$D/repair.err")"
	QSPOOL=$D/spool "$QSTATUS" --repair > /dev/null 2> "$D/repair2.err" ||
		bad "second qstatus --repair failed"
	[ ! -s "$D/repair2.err" ] ||
		bad "the second repair did something: $(cat "$D/repair2.err")"
	[ -z "$(ls -A "$D/spool/tmp")" ] ||
		bad "tmp/ not empty after repair: $(ls "$D/spool/tmp")"
}

# (a) qsubmit crashed at K.
submit_at() {
	local k=$1
	D=$BASE/a$k
	mkdir -p "$D"
	cp -a "$BASE/empty" "$D/spool"
	SPOOLQ_FAULT=crash:$k QSPOOL=$D/spool "$QSUBMIT" "$WF" > "$D/id" 2> "$D/submit.err"
	local rc=$?
	echo $rc > "$D/rc"
	[ $rc -eq 0 ] || [ $rc -eq 99 ] || { bad "qsubmit exit $rc: $(cat "$D/submit.err")"; return; }
	repair_twice
	case "$(ls "$D/spool/jobs")" in
	"")
		[ $rc -eq 99 ] || bad "qsubmit succeeded but published nothing"
		QSPOOL=$D/spool "$QSUBMIT" "$WF" > /dev/null 2>> "$D/submit.err" ||
			bad "resubmission failed" ;;
	1)
		[ "$(shape "$D/spool")" == "$REF_SHAPE" ] ||
			bad "a partial job: $(diff <(echo "$REF_SHAPE") <(shape "$D/spool") | head -5)" ;;
	*)
		bad "jobs/ holds $(ls "$D/spool/jobs" | tr '\n' ' ')" ;;
	esac
	finish_and_compare
	[ "$(tasks_run "$D/log")" == "$REF_RUN" ] ||
		bad "tasks did not run exactly once: $(tasks_run "$D/log" | uniq -c | tr '\n' ' ')"
}

# (b) qworker crashed at K.
worker_at() {
	local k=$1
	D=$BASE/b$k
	mkdir -p "$D"
	cp -a "$BASE/submitted" "$D/spool"
	SPOOLQ_FAULT=crash:$k QSPOOL=$D/spool timeout 60 "$QWORKER" --exit-when-idle --cpus 1 2> "$D/worker.err"
	local rc=$?
	echo $rc > "$D/rc"
	[ $rc -eq 0 ] || [ $rc -eq 99 ] || { bad "qworker exit $rc: $(cat "$D/worker.err")"; return; }
	# The dead worker held its claims with a fresh heartbeat and a 60 s
	# lease: only fast reclaim gets them back now.
	repair_twice
	touch "$D/log"
	local before
	before=$(wc -l < "$D/log")
	finish_and_compare
	local first second
	first=$(head -n "$before" "$D/log" | cut -d' ' -f1 | LC_ALL=C sort)
	second=$(tail -n +"$((before + 1))" "$D/log" | cut -d' ' -f1 | LC_ALL=C sort)
	[ -z "$(uniq -d <<< "$first")" ] || bad "ran twice on the crashed worker"
	[ -z "$(uniq -d <<< "$second")" ] || bad "ran twice on the clean worker"
	[ "$(tasks_run "$D/log" | uniq)" == "$REF_RUN" ] ||
		bad "the set of tasks run differs: $(tasks_run "$D/log" | tr '\n' ' ')"
	local again
	again=$(LC_ALL=C comm -12 <(echo "$first") <(echo "$second") | grep -c .)
	[ "$again" -le 1 ] ||
		bad "$again tasks ran again; only the one in hand at the crash may"
}

# walk NAME FUNCTION: K = 1, 2, ... in batches of $PAR until a run
# completes without crashing. Sets CRASHES to the number of crash points.
walk() {
	local name=$1 fn=$2 k=1 done=0 crashes=0
	while [ $done -eq 0 ] && [ $k -le $MAXK ]; do
		local batch=()
		for ((j = 0; j < PAR; j++)); do
			( $fn $((k + j)) ) &
			batch+=($!)
		done
		wait "${batch[@]}"
		for ((j = 0; j < PAR; j++)); do
			local d=$BASE/$name$((k + j))
			if [ -s "$d/fail" ]; then
				fail "$name: crash point $((k + j)): $(head -3 "$d/fail")"
			else
				pass
			fi
			case "$(cat "$d/rc" 2>/dev/null)" in
			0) done=1 ;;
			99) crashes=$((crashes + 1)) ;;
			esac
		done
		# Keep the directories of failures only.
		for ((j = 0; j < PAR; j++)); do
			[ -s "$BASE/$name$((k + j))/fail" ] || rm -rf "$BASE/$name$((k + j))"
		done
		k=$((k + PAR))
	done
	check "$name: a run completed without crashing" test $done -eq 1
	CRASHES=$crashes
}

t0=$SECONDS
walk a submit_at
n_submit=$CRASHES
check "qsubmit: more than 20 crash points" test "$n_submit" -gt 20
walk b worker_at
n_worker=$CRASHES
check "qworker: more than 50 crash points" test "$n_worker" -gt 50
echo "crash points tested: qsubmit $n_submit, qworker (completion, release, cancel) $n_worker, in $((SECONDS - t0)) s"
finish
