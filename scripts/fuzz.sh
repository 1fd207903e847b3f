#!/bin/bash
# fuzz.sh: long fuzzing runs of one target of tests/fuzz (CI runs each
# target for 60 s; run this for hours before a release or after changing
# a parser).
#
#   scripts/fuzz.sh TARGET [SECONDS [JOBS]]
#
# TARGET is fuzz_workflow (the YAML workflow loader) or fuzz_record (the
# spool's own files: records, job files, heartbeats, entry names).
# SECONDS defaults to 3600, JOBS (parallel fuzzing processes) to the
# number of CPUs. The build is build-fuzz (clang, -Dfuzz=true); the corpus
# grows in build-fuzz/fuzz-corpus/TARGET and is kept between runs; the
# seeds in tests/fuzz/corpus/TARGET are only read. Inputs that crash,
# leak, hit undefined behaviour, take over 5 s or 1 GiB are kept in
# build-fuzz/fuzz-artifacts/TARGET. Prints the executions and the
# crashes; the exit status is 1 when there were crashes.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
	echo "usage: scripts/fuzz.sh fuzz_workflow|fuzz_record [SECONDS [JOBS]]" >&2
	exit 2
}
[ $# -ge 1 ] && [ $# -le 3 ] || usage
target=$1 seconds=${2:-3600} jobs=${3:-$(nproc)}
case $target in fuzz_workflow | fuzz_record) ;; *) usage ;; esac
[[ $seconds =~ ^[1-9][0-9]*$ && $jobs =~ ^[1-9][0-9]*$ ]] || usage

scripts/deps.sh test
dir=build-fuzz
# Runs of both targets may start together: one builds at a time.
mkdir -p $dir
exec 9>$dir/.fuzz-build.lock
flock 9
if [ ! -f $dir/build.ninja ]; then
	CC=clang meson setup $dir -Dfuzz=true \
		--buildtype=debugoptimized >/dev/null
fi
if ! ninja -C $dir tests/fuzz/$target >$dir/fuzz-ninja.log 2>&1; then
	tail -30 $dir/fuzz-ninja.log >&2
	echo "fuzz.sh: building $target failed" >&2
	exit 1
fi
flock -u 9

corpus=$PWD/$dir/fuzz-corpus/$target
artifacts=$PWD/$dir/fuzz-artifacts/$target
logs=$PWD/$dir/fuzz-logs/$target
mkdir -p "$corpus" "$artifacts" "$logs"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/scripts/lsan.supp}

before=$(find "$artifacts" -type f | wc -l)
echo "fuzzing $target for $seconds s with $jobs jobs (log: $logs/main.log)" >&2
# -fork: JOBS child processes, the corpus merged as they go;
# -ignore_crashes etc.: keep fuzzing after a crash and keep every input.
rc=0
root=$PWD
(cd "$logs" && "$root/$dir/tests/fuzz/$target" "$corpus" \
	"$root/tests/fuzz/corpus/$target" \
	-fork="$jobs" -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
	-max_total_time="$seconds" -timeout=5 -rss_limit_mb=1024 \
	-artifact_prefix="$artifacts/" -print_final_stats=1) \
	>"$logs/main.log" 2>&1 || rc=$?

# Fork mode's status lines: "#EXECS: cov: ... oom/timeout/crash: O/T/C".
execs=$(sed -n 's/^#\([0-9]*\): cov:.*/\1/p' "$logs/main.log" | tail -1)
found=$(find "$artifacts" -type f | wc -l)
echo "$target: ${execs:-?} executions in $seconds s with $jobs jobs;" \
     "corpus $(ls "$corpus" | wc -l) inputs;" \
     "$((found - before)) new failing inputs ($found kept)"
find "$artifacts" -type f | sort | sed 's/^/  /'
if [ $rc -ne 0 ] && [ "$found" -eq "$before" ]; then
	tail -20 "$logs/main.log" >&2
	echo "$target: libFuzzer failed (exit status $rc)" >&2
	exit 1
fi
[ "$found" -eq "$before" ]
