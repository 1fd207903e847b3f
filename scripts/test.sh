#!/bin/bash
# test.sh: the README's second command: the whole test suite.
#
# Installs what is missing, then builds spoolq twice and runs every test
# in each build: once with -Werror (warnings are errors), once with
# AddressSanitizer and UndefinedBehaviorSanitizer (all but the Slurm
# suite and suite 'once', which run in the first only; see below); then
# runs each fuzz target for 60 s (a third, clang build), with the Slurm
# suite beside them. Ends with one line, "N passed,
# N failed", counting every test case of all three (a fuzz target counts
# as one).
set -uo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh test || exit 1

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
# LeakSanitizer cannot follow threads libgomp keeps parked; suppress only
# libgomp's own allocations.
export LSAN_OPTIONS=suppressions=$PWD/scripts/lsan.supp

status=0
logs=()
for cfg in werror asan; do
	dir=build-test-$cfg
	case $cfg in
	werror) opts=(-Dwerror=true --buildtype=debugoptimized) ;;
	asan) opts=(-Db_sanitize=address,undefined -Db_lundef=false --buildtype=debug) ;;
	esac
	if [ ! -f $dir/build.ninja ]; then
		meson setup $dir "${opts[@]}" >/dev/null || { status=1; continue; }
	fi
	echo "== build: $cfg" >&2
	if ! ninja -C $dir >$dir/ninja.log 2>&1; then
		tail -40 $dir/ninja.log >&2
		echo "build $cfg failed" >&2
		status=1
		continue
	fi
	echo "== tests: $cfg" >&2
	# The Slurm suite runs once, in the -Werror build: it spends a
	# minute or more waiting for Slurm's time limit, and the programs it
	# drives are the ones the other suites check under ASan. So do the
	# tests in suite 'once', which check text or tools rather than
	# spoolq's code: man pages, completion and option lists (the job
	# references they drive are unit-tested under ASan), the JSON
	# validator itself, and Chromium's render of a report (whose writing
	# tests/report checks under ASan).
	# The Slurm suite itself runs at the end, beside the fuzzers (below).
	skip=(--no-suite slurm)
	[ $cfg = asan ] && skip+=(--no-suite once)
	meson test -C $dir --print-errorlogs --num-processes 2 "${skip[@]}" ||
		status=1
	logs+=($dir/meson-logs/testlog.json)
done

# The Slurm suite (in the -Werror build) spends most of its minute and a
# half waiting for a real time limit to pass, so it runs while the fuzz
# build compiles and the fuzzers run (fixed-time, CPU-bound: they only
# make fewer executions), not beside the timing-sensitive tests above.
slurm_pid=
if [ -f build-test-werror/build.ninja ]; then
	echo "== tests: slurm (in the background)" >&2
	meson test -C build-test-werror --no-rebuild --suite slurm \
		--print-errorlogs --logbase slurmlog \
		>build-test-werror/slurm-test.out 2>&1 &
	slurm_pid=$!
	logs+=(build-test-werror/meson-logs/slurmlog.json)
fi

# Third: the fuzz targets (tests/fuzz), built with clang's libFuzzer and
# ASan+UBSan, each run for 60 s on its seed corpus (suite 'fuzz'; new
# inputs go to a scratch directory). Only the targets are built here: the
# two builds above already test everything else. scripts/fuzz.sh does
# long runs.
dir=build-test-fuzz
if [ ! -f $dir/build.ninja ]; then
	CC=clang meson setup $dir -Dfuzz=true --buildtype=debugoptimized \
		>/dev/null || status=1
fi
echo "== build: fuzz" >&2
if ! ninja -C $dir tests/fuzz/fuzz_workflow tests/fuzz/fuzz_record \
	>$dir/ninja.log 2>&1; then
	tail -40 $dir/ninja.log >&2
	echo "build fuzz failed" >&2
	status=1
else
	echo "== tests: fuzz (60 s per target)" >&2
	meson test -C $dir --no-rebuild --suite fuzz --print-errorlogs \
		--num-processes 2 || status=1
	logs+=($dir/meson-logs/testlog.json)
fi
if [ -n "$slurm_pid" ]; then
	wait "$slurm_pid" || status=1
	echo "== tests: slurm" >&2
	cat build-test-werror/slurm-test.out >&2
fi
python3 scripts/testsummary.py "${logs[@]}" || status=1
exit $status
