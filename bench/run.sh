#!/bin/bash
# run.sh: spoolq and its peers side by side on this machine (issue 5).
#
# Usage: bench/run.sh [--quick] [--runs N] [--only WORKLOAD[,WORKLOAD...]]
#                     [--output FILE]
#
# Builds spoolq (release, in build-bench/), installs the peers from Debian
# when they are missing and we are root (else prints the apt-get line and
# runs without them), then runs every workload bench/wl_<name>.sh: for
# each run, spoolq and each peer in turn (alternately, so that the
# machine's mood hits all of them alike), RUNS runs each (default 3;
# --quick: 1 run of small sizes, under 2 minutes, what CI runs to keep
# the scripts working; without --runs, wl_mpi.sh runs 5 times). Prints
# each workload's medians, min-max and the spoolq/peer ratios, and writes
# the table with the machine and versions to bench/RESULTS.md (a full run
# of every workload) or to build-bench/RESULTS.md (--quick or --only), or
# FILE; the raw RESULT lines go beside it (RESULTS.txt).
#
# Environment: BENCH_DIR, where the spools go (default build-bench/, the
# checkout's file system: metadata speed differs between file systems,
# and the table names the one measured).
#
# Exit status: 0 when every workload ran (however slowly: benchmarks
# assert nothing about speed), 1 when one broke, 2 on bad usage.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
all="noop_array workflow_100k cmd_true chain scale pi array_chunked startup mpi events"
# Workloads that run more often than RUNS unless --runs or --quick says:
# wl_mpi.sh times handoffs of tens of milliseconds on a noisy machine, and
# an odd count gives true medians.
declare -A default_runs=([mpi]=5)
py=/usr/bin/python3
apt_line="apt-get -o DPkg::Lock::Timeout=600 install -y python3-distributed python3-dask python3-ipyparallel python3-numpy parallel"

usage() {
	echo "usage: bench/run.sh [--quick] [--runs N] [--only WORKLOAD[,WORKLOAD...]] [--output FILE]" >&2
	echo "workloads: $all" >&2
	exit 2
}
bad() { echo "bench/run.sh: $*" >&2; usage; }

quick=0 runs='' only='' output=''
while [ $# -gt 0 ]; do
	case $1 in
	--quick) quick=1 ;;
	--runs)
		[ $# -ge 2 ] || bad "--runs needs a number"
		[[ $2 =~ ^[1-9][0-9]?$ ]] || bad "--runs '$2': give a whole number from 1 to 99"
		runs=$2
		shift ;;
	--only)
		[ $# -ge 2 ] || bad "--only needs a workload name"
		for w in ${2//,/ }; do
			[[ " $all " == *" $w "* ]] || bad "--only: unknown workload '$w'"
		done
		only=${2//,/ }
		shift ;;
	--output)
		[ $# -ge 2 ] || bad "--output needs a file name"
		output=$2
		shift ;;
	-h|--help) usage ;;
	*) bad "unknown argument '$1'" ;;
	esac
	shift
done
runs_given=$runs
[ -n "$runs" ] || runs=$([ $quick = 1 ] && echo 1 || echo 3)
# runs_of WORKLOAD: how many runs it gets.
runs_of() {
	if [ -n "$runs_given" ] || [ $quick = 1 ]; then
		echo "$runs"
	else
		echo "${default_runs[$1]:-$runs}"
	fi
}
workloads=${only:-$all}
if [ -z "$output" ]; then
	if [ $quick = 0 ] && [ -z "$only" ]; then
		output=bench/RESULTS.md
	else
		output=build-bench/RESULTS.md
	fi
fi
start=$EPOCHREALTIME

# 1. spoolq, release build.
echo "== building spoolq (release, build-bench/)" >&2
build_log=$(mktemp)
if ! { [ -f build-bench/build.ninja ] || meson setup build-bench --buildtype=release; } > "$build_log" 2>&1 ||
   ! ninja -C build-bench >> "$build_log" 2>&1; then
	tail -n 30 "$build_log" >&2
	rm -f "$build_log"
	echo "bench/run.sh: building spoolq in build-bench/ failed (above)" >&2
	exit 1
fi
rm -f "$build_log"

# 2. The peers, from Debian (their Python is /usr/bin/python3).
peers_ok() {
	[ -x "$py" ] && "$py" -c "import dask, distributed, ipyparallel, numpy, psutil" 2>/dev/null &&
		command -v parallel >/dev/null
}
if ! peers_ok; then
	if [ "$(id -u)" = 0 ]; then
		echo "== installing the peers: $apt_line" >&2
		DEBIAN_FRONTEND=noninteractive $apt_line >/dev/null ||
			echo "bench/run.sh: installing the peers failed; running without the missing ones" >&2
	else
		echo "bench/run.sh: the peers are missing; as root, run:" >&2
		echo "  $apt_line" >&2
		echo "bench/run.sh: running without them (their rows say skipped)" >&2
	fi
fi

# 3. Scratch space: the spools of every run.
mkdir -p "${BENCH_DIR:-build-bench}"
BENCH_TMP=$(mktemp -d "$(cd "${BENCH_DIR:-build-bench}" && pwd)/bench.XXXXXX")
trap 'rm -rf "$BENCH_TMP"' EXIT
export BENCH_BIN=$root/build-bench BENCH_TMP BENCH_STATE=$BENCH_TMP/state \
	BENCH_QUICK=$quick BENCH_PY=$py
mkdir -p "$BENCH_STATE"
lines=$BENCH_TMP/results.txt
: > "$lines"

# 4. The machine and the versions, for the table.
meta=$BENCH_TMP/meta.txt
pyver() { "$py" -c "import $1; print($1.__version__)" 2>/dev/null || echo "not installed"; }
{
	echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
	more=''
	for w in $workloads; do
		[ "$(runs_of "$w")" = "$runs" ] || more+="${more:+, }$w: $(runs_of "$w")"
	done
	echo "mode: $([ $quick = 1 ] && echo quick || echo full), $runs run(s) per system${more:+ ($more)}, workloads: $workloads"
	echo "nproc: $(nproc)"
	echo "CPU: $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
	echo "memory: $(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
	echo "kernel: $(uname -sr)"
	echo "spool file system: $(findmnt -n -o FSTYPE -T "$BENCH_TMP" 2>/dev/null || stat -f -c %T "$BENCH_TMP") on $(findmnt -n -o SOURCE -T "$BENCH_TMP" 2>/dev/null || echo "?") ($BENCH_TMP)"
	echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "spoolq: $(git describe --always --dirty --tags 2>/dev/null || echo unknown) (meson release build)"
	echo "Python (peers): $("$py" --version 2>&1 || echo none)"
	echo "dask: $(pyver dask)"
	echo "distributed: $(pyver distributed)"
	echo "ipyparallel: $(pyver ipyparallel)"
	echo "numpy: $(pyver numpy)"
	echo "GNU parallel: $(parallel --version 2>/dev/null | awk 'NR == 1 { print $3 }' || true)"
	echo "xargs: $(xargs --version 2>/dev/null | awk 'NR == 1 { print $NF }')"
	echo "gcc: $(gcc -dumpfullversion 2>/dev/null || echo unknown)"
	echo "Open MPI: $(mpirun --version 2>/dev/null | awk 'NR == 1 { print $NF }' || echo "not installed")"
} > "$meta"
sed 's/^/   /' "$meta" >&2

# 5. The workloads: for each run, every system in turn.
failed=0
for w in $workloads; do
	script=bench/wl_$w.sh
	systems=$("$script" --systems)
	wruns=$(runs_of "$w")
	echo "== $w: $systems ($wruns run(s) each)" >&2
	for r in $(seq "$wruns"); do
		for s in $systems; do
			log=$BENCH_TMP/$w.$s.$r.log
			t0=$EPOCHREALTIME
			if "$script" "$s" > "$log.out" 2> "$log"; then
				grep -E '^(RESULT|SKIP) ' "$log.out" >> "$lines" || true
				summary=$(awk '/^RESULT/ { for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
					printf "%s%s %s %s", sep, f["metric"], f["value"], f["unit"]; sep = ", " }
					/^SKIP/ { printf "%sskipped: %s", sep, $NF; sep = ", " }' "$log.out")
				printf '   run %d %-9s %-60s (%.1f s)\n' "$r" "$s" "$summary" \
					"$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { print b - a }')" >&2
			else
				rc=$?
				failed=1
				echo "FAIL workload=$w system=$s reason=exit_status_$rc" >> "$lines"
				echo "   run $r $s FAILED (exit status $rc); its stderr ends:" >&2
				tail -n 15 "$log" | sed 's/^/     /' >&2
			fi
		done
	done
done

# 6. The table.
elapsed=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')
{
	echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "total time: $elapsed s"
} >> "$meta"
report=(bench/report.py "$lines" "$meta" "$output")
if [ -x "$py" ]; then "$py" "${report[@]}"; else python3 "${report[@]}"; fi
# The raw lines beside the table: later runs can be merged or compared.
cp "$lines" "${output%.md}.txt"
echo "bench/run.sh: $elapsed s; table written to $output (raw lines: ${output%.md}.txt)" >&2
[ $failed = 0 ] || echo "bench/run.sh: some workloads failed (see FAIL above)" >&2
exit $failed
