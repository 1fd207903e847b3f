#!/bin/bash
# core.sh: the core figures of issue 2, on this machine, medians of RUNS:
#   - 10,000 empty command tasks (`true`) with 2 workers
#   - 10,000 `sleep 0` kernel tasks with 2 workers
#   - the pi kernel's samples per second with 1 and 2 threads
# Each workload runs on a fresh spool in a temporary directory; times are
# from the workers' start to their exit (the queue is submitted first).
# Usage: bench/core.sh [RUNS]   (builds build-release if needed)
# The spools go under $BENCH_DIR (default: build-release/, the file system
# of the checkout). Metadata speed can differ between directories: on the
# CI VM a create under /tmp costs several times more than under /work.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
[ -f build-release/build.ninja ] || meson setup build-release --buildtype=release >/dev/null
ninja -C build-release >/dev/null
bin=$PWD/build-release
tmp=$(mktemp -d "${BENCH_DIR:-$PWD/build-release}/spoolq-bench.XXXXXX")
echo "spools under $tmp ($runs runs each; medians)"
echo "create+unlink of an empty file there: $(build-release/bench/createcost "$tmp" 2000) us"
trap 'rm -rf "$tmp"' EXIT

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
now() { date +%s.%N; }

# run_workers N CPUS: start N workers with --cpus CPUS, wait, print seconds.
run_workers() {
	local t0 t1 pids=()
	t0=$(now)
	for _ in $(seq "$1"); do
		"$bin/workers/qworker" --exit-when-idle --cpus "$2" &
		pids+=($!)
	done
	wait "${pids[@]}"
	t1=$(now)
	echo "$t1 - $t0" | bc -l
}

# bench NAME WORKERS CPUS SUBMIT-ARGS...: print the median seconds.
bench() {
	local name=$1 workers=$2 cpus=$3
	shift 3
	local times=()
	for r in $(seq "$runs"); do
		export QSPOOL=$tmp/spool-$name-$r
		"$bin/cmd/qsubmit" "$@" >/dev/null
		times+=("$(run_workers "$workers" "$cpus")")
		rm -rf "$QSPOOL"
	done
	printf '%s\n' "${times[@]}" | median
}

n=10000
t=$(bench cmd 2 1 --array 0..$((n - 1)) -- true)
printf '%-44s %8.2f s  %8.0f tasks/s\n' "$n empty command tasks, 2 workers" "$t" "$(echo "$n / $t" | bc -l)"
t=$(bench sleep 2 1 --kernel sleep --arg seconds=0 --array 0..$((n - 1)))
printf '%-44s %8.2f s  %8.0f tasks/s\n' "$n sleep-0 kernel tasks, 2 workers" "$t" "$(echo "$n / $t" | bc -l)"
samples=200000000
for threads in 1 2; do
	t=$(bench pi$threads 1 "$threads" --kernel pi --threads "$threads" --array 0..3 --arg samples=$samples)
	printf '%-44s %8.2f s  %8.3g samples/s\n' "pi, 4 x $samples samples, $threads thread(s)" "$t" "$(echo "4 * $samples / $t" | bc -l)"
done
