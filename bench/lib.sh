# shellcheck shell=bash disable=SC2034
# lib.sh: helpers shared by the workload scripts bench/wl_*.sh (sourced).
#
# A workload script is called by bench/run.sh as `wl_NAME.sh SYSTEM` once
# per run and system (spoolq and its peers alternately), or as
# `wl_NAME.sh --systems` to list its systems. It prints lines
#   RESULT workload=W system=S metric=M value=V unit=U better=higher|lower [k=v...]
#   SKIP workload=W system=S reason=WORDS_WITHOUT_SPACES
# on stdout and anything else on stderr; bench/report.py reads the lines.
# A non-zero exit status is a broken benchmark, not a slow one: benchmarks
# assert nothing about speed.
#
# The runner sets (a workload script run by hand gets these defaults):
#   BENCH_BIN    spoolq's release build directory (build-bench)
#   BENCH_TMP    a scratch directory for spools, on the file system measured
#   BENCH_STATE  where sizes found on a workload's first run are kept, so
#                every run of a workload uses the same N
#   BENCH_QUICK  1 for small sizes (CI keeps the scripts working with it)
#   BENCH_PY     the Python that has the peers (Debian's /usr/bin/python3)
set -euo pipefail

BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
: "${BENCH_BIN:=$BENCH_ROOT/build-bench}"
: "${BENCH_QUICK:=0}"
: "${BENCH_PY:=/usr/bin/python3}"
if [ -z "${BENCH_TMP:-}" ]; then
	BENCH_TMP=$(mktemp -d "$BENCH_BIN/wl.XXXXXX")
	trap 'rm -rf "$BENCH_TMP"' EXIT
fi
: "${BENCH_STATE:=$BENCH_TMP/state}"
mkdir -p "$BENCH_STATE"
export BENCH_BIN BENCH_TMP BENCH_STATE BENCH_QUICK BENCH_PY
QSUBMIT=$BENCH_BIN/cmd/qsubmit
QSTATUS=$BENCH_BIN/cmd/qstatus
QWORKER=$BENCH_BIN/workers/qworker
QRUN=$BENCH_BIN/workers/qrun
HARNESS=$BENCH_ROOT/bench/harness.py

die() { echo "bench: $*" >&2; exit 1; }

# quick Q FULL: Q in quick mode, FULL otherwise.
quick() { if [ "$BENCH_QUICK" = 1 ]; then echo "$1"; else echo "$2"; fi; }

# Wall-clock seconds without a fork: bash's $EPOCHREALTIME.
now() { echo "$EPOCHREALTIME"; }
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.6f\n", b - a }'; }
calc() { awk "BEGIN { printf \"%.6g\n\", $* }"; }

# result WORKLOAD SYSTEM METRIC VALUE UNIT BETTER [k=v...]
result() {
	local w=$1 s=$2 m=$3 v=$4 u=$5 b=$6
	shift 6
	echo "RESULT workload=$w system=$s metric=$m value=$v unit=$u better=$b${*:+ $*}"
}

# skip WORKLOAD SYSTEM REASON: the system cannot run here (e.g. a peer is
# not installed); the runner says so in the table instead of failing.
skip() { echo "SKIP workload=$1 system=$2 reason=${3// /_}"; }

# have_py MODULE...: 0 when BENCH_PY has every MODULE (found, not
# imported: importing Dask alone takes a second).
have_py() {
	"$BENCH_PY" -c 'import importlib.util as u, sys
sys.exit(not all(u.find_spec(m) for m in sys.argv[1:]))' "$@" 2>/dev/null
}

# new_spool NAME: a fresh spool path (not created: qsubmit creates it).
new_spool() { mktemp -u "$BENCH_TMP/$1.XXXXXX"; }

# run_workers SPOOL N CPUS: N workers with --cpus CPUS (and the options in
# the array WORKER_OPTS, if any) until the spool is idle; fails when one
# fails.
WORKER_OPTS=()
run_workers() {
	local spool=$1 n=$2 cpus=$3 pids=() rc=0
	for _ in $(seq "$n"); do
		"$QWORKER" --spool "$spool" --exit-when-idle --cpus "$cpus" ${WORKER_OPTS[@]+"${WORKER_OPTS[@]}"} &
		pids+=($!)
	done
	for p in "${pids[@]}"; do
		wait "$p" || rc=$?
	done
	[ "$rc" = 0 ] || die "a qworker on $spool exited with status $rc"
}

# check_done SPOOL N: every one of the spool's N tasks ran and succeeded
# (none failed, none reused from the cache), else fail: a benchmark that
# skipped work would report nonsense.
check_done() {
	local json ndone failed cached
	json=$("$QSTATUS" --spool "$1" --json)
	ndone=$(echo "$json" | grep -o '"done": [0-9]*' | awk '{ s += $2 } END { print s + 0 }')
	failed=$(echo "$json" | grep -o '"failed": [0-9]*' | awk '{ s += $2 } END { print s + 0 }')
	cached=$(echo "$json" | grep -o '"cached": [0-9]*' | awk '{ s += $2 } END { print s + 0 }')
	if [ "$ndone" != "$2" ] || [ "$failed" != 0 ] || [ "$cached" != 0 ]; then
		die "spool $1: expected $2 tasks done, got done=$ndone failed=$failed cached=$cached"
	fi
}

# time_array N NAME QSUBMIT-ARGS...: an N-item array submitted to a fresh
# spool with QSUBMIT-ARGS (--array is added), run to the end by 2 one-core
# workers and checked; prints the seconds from qsubmit to the last exit.
time_array() {
	local n=$1 spool t0 t
	spool=$(new_spool "$2")
	shift 2
	t0=$(now)
	"$QSUBMIT" --spool "$spool" --array "0..$((n - 1))" "$@" >/dev/null
	run_workers "$spool" 2 1
	t=$(since "$t0")
	check_done "$spool" "$n"
	rm -rf "$spool"
	echo "$t"
}

# sized NAME PROBE MAX BUDGET FN: the N to use for a spoolq workload whose
# runs should take about BUDGET seconds, at most MAX. FN N runs the
# workload once with N items and prints its seconds. The first call probes
# (PROBE items, then 10x more while a run takes under a tenth of the
# budget) and keeps the answer in BENCH_STATE, so every run of the
# workload has the same N. The probes double as a warm-up.
sized() {
	local name=$1 n=$2 max=$3 budget=$4 fn=$5 t file=$BENCH_STATE/$1.n
	if [ -f "$file" ]; then
		cat "$file"
		return
	fi
	while :; do
		t=$("$fn" "$n")
		if awk -v t="$t" -v b="$budget" 'BEGIN { exit !(t >= b / 10) }' ||
		   [ "$n" -ge "$max" ]; then
			break
		fi
		n=$((n * 10 > max ? max : n * 10))
	done
	# Scale to the budget, then round down to 1, 2 or 5 times a power of 10.
	n=$(awk -v n="$n" -v t="$t" -v b="$budget" -v max="$max" 'BEGIN {
		m = n * b / (t > 0 ? t : 1e-9); if (m > max) m = max; if (m < n) m = n
		p = 1; while (p * 10 <= m) p *= 10
		r = (m >= 5 * p) ? 5 * p : (m >= 2 * p) ? 2 * p : p
		if (r < n) r = n
		printf "%d\n", r }')
	echo "$n" > "$file"
	echo "bench: $name: N=$n (runs of about ${budget}s at most)" >&2
	echo "$n"
}
