# lib.sh: shared helpers for the command-line tests. Source it first.
#
# Each test script gets a fresh directory ($T) with a spool path ($QSPOOL,
# not yet created) and removes it on exit. Helpers fail the test with a
# message naming what was expected; no helper sleeps as synchronisation:
# waits poll a condition with a deadline.

set -u
: "${QSUBMIT:?run through meson test}"
# Tests choose the workers' options themselves: a suite run inside a
# Slurm job (salloc, sbatch) must not change qworker's defaults there.
unset "${!SLURM_@}"
T=$(mktemp -d "${TMPDIR:-/tmp}/spoolq-test.XXXXXX")
export QSPOOL="$T/spool"
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

FAILS=0
CHECKS=0

fail() {
	echo "FAIL: $*" >&2
	FAILS=$((FAILS + 1))
}

pass() {
	CHECKS=$((CHECKS + 1))
}

# check DESCRIPTION CONDITION-COMMAND...
check() {
	local what=$1
	shift
	if "$@"; then pass; else fail "$what"; fi
}

# expect_eq WHAT EXPECTED ACTUAL
expect_eq() {
	if [ "$2" == "$3" ]; then
		pass
	else
		fail "$1: expected '$2', got '$3'"
	fi
}

# wait_for SECONDS COMMAND...: poll COMMAND until it succeeds.
wait_for() {
	local deadline=$((SECONDS + $1))
	shift
	local delay=0.005
	while ! "$@"; do
		if [ $SECONDS -ge $deadline ]; then
			return 1
		fi
		sleep $delay
		case $delay in 0.005) delay=0.02 ;; 0.02) delay=0.1 ;; esac
	done
	return 0
}

# spool_snapshot: every path, type, size and content hash under the spool
# (or "absent"), to check that bad input leaves it unchanged.
spool_snapshot() {
	if [ -e "$QSPOOL" ]; then
		(cd "$QSPOOL" && find . -printf '%p %y %s\n' | LC_ALL=C sort &&
			find . -type f -exec md5sum {} + | LC_ALL=C sort)
	else
		echo absent
	fi
}

# start_worker ARGS...: a background worker, killed at exit.
start_worker() {
	"$QWORKER" "$@" &
	PIDS+=($!)
}

finish() {
	echo "$CHECKS checks passed, $FAILS failed"
	[ "$FAILS" -eq 0 ]
	exit $?
}
