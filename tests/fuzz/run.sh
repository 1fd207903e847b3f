#!/bin/bash
# run.sh: one fuzz target as a test (meson suite 'fuzz').
#
#   run.sh TARGET SEED_CORPUS SECONDS ARTIFACT_DIR
#
# Runs TARGET for SECONDS on the seed corpus. New inputs go to a scratch
# corpus that is removed afterwards, so the repository never grows; the
# seeds are only read. Passes when the target ran the whole time without
# a crash, leak, UBSan report, timeout or out-of-memory; otherwise prints
# the path of the input that failed (kept in ARTIFACT_DIR) and fails.
set -uo pipefail
if [ $# -ne 4 ]; then
	echo "usage: run.sh TARGET SEED_CORPUS SECONDS ARTIFACT_DIR" >&2
	exit 2
fi
target=$1 seeds=$2 seconds=$3 artifacts=$4
name=$(basename "$target")

# scripts/test.sh sets these; keep a direct `meson test` as strict.
: "${ASAN_OPTIONS:=detect_leaks=1:abort_on_error=1}"
: "${UBSAN_OPTIONS:=halt_on_error=1:print_stacktrace=1}"
export ASAN_OPTIONS UBSAN_OPTIONS

scratch=$(mktemp -d "${TMPDIR:-/tmp}/$name.XXXXXX") || exit 1
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$artifacts" "$scratch/corpus" || exit 1
log=$scratch/log

# -timeout: one input taking seconds is a denial of service on qsubmit or
# a worker, so it counts as a failure. -rss_limit_mb likewise for memory.
"$target" "$scratch/corpus" "$seeds" -max_total_time="$seconds" \
	-timeout=5 -rss_limit_mb=1024 -print_final_stats=1 \
	-artifact_prefix="$artifacts/" >"$log" 2>&1
rc=$?

execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
if [ $rc -eq 0 ]; then
	corpus=$(ls "$scratch/corpus" | wc -l)
	echo "$name: ${execs:-?} executions in ${seconds} s, 0 crashes" \
	     "($corpus new inputs found)"
	exit 0
fi
tail -60 "$log"
echo "$name: FAILED (exit status $rc) after ${execs:-?} executions"
for f in $(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | sort -u); do
	echo "$name: the failing input is $f"
	echo "  reproduce: $target $f"
done
exit 1
