#!/bin/bash
# wl_pi.sh SYSTEM: Monte-Carlo pi, S samples, in samples/s (issue 5,
# goal 5: the pi kernel within 5% of a plain C + OpenMP loop).
#   spoolq  one pi task (samples=S seed=0) with 1 thread on a 1-core
#           worker, and with 2 threads on a 2-core worker; from qsubmit to
#           the worker's exit. Its hit count must equal pi_plain's.
#   plain   bench/pi_plain: the kernel's own loop and generator in a plain
#           C + OpenMP program, 1 and 2 threads.
#   dask    numpy's generator in 20 tasks on 2 single-thread workers.
. "$(dirname "$0")/lib.sh"
[ "${1:-}" = --systems ] && { echo spoolq plain dask; exit 0; }
w=pi
S=$(quick 20000000 200000000)
metric() { if [ "$1" = 1 ]; then echo pi_1thread; else echo pi_2threads; fi; }

# The hits every system's loop must find (pi_plain's, computed once).
want_hits() {
	local f=$BENCH_STATE/pi-$S.hits
	[ -f "$f" ] || "$BENCH_BIN/bench/pi_plain" "$S" 2 | awk '/^hits/ { print $2 }' > "$f"
	cat "$f"
}

case ${1:-} in
spoolq)
	want=$(want_hits)
	for threads in 1 2; do
		spool=$(new_spool pi)
		t0=$(now)
		job=$("$QSUBMIT" --spool "$spool" --kernel pi --threads "$threads" \
			--arg samples="$S" --arg seed=0)
		run_workers "$spool" 1 "$threads"
		t=$(since "$t0")
		check_done "$spool" 1
		got=$("$BENCH_BIN/cmd/qcollect" --spool "$spool" "$job" | awk '{ print $2 }')
		[ "$got" = "$want" ] || die "pi kernel: $got hits, pi_plain: $want"
		rm -rf "$spool"
		result $w spoolq "$(metric $threads)" "$(calc "$S / $t")" samples/s higher n="$S"
	done ;;
plain)
	for threads in 1 2; do
		out=$("$BENCH_BIN/bench/pi_plain" "$S" "$threads")
		v=$(echo "$out" | awk '/^samples_per_s/ { print $2 }')
		result $w plain "$(metric $threads)" "$v" samples/s higher n="$S"
	done ;;
dask)
	have_py distributed || { skip $w dask "python3-distributed not installed"; exit 0; }
	have_py numpy || { skip $w dask "python3-numpy not installed"; exit 0; }
	"$BENCH_PY" "$HARNESS" $w dask "$S" ;;
*) die "usage: wl_pi.sh spoolq|plain|dask|--systems" ;;
esac
