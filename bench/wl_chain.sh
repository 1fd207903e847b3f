#!/bin/bash
# wl_chain.sh SYSTEM: a chain of K dependent no-op tasks, 2 workers; ms per
# link (issue 5, goal 3: at most 0.5 ms per link for K = 1000).
#   spoolq  a YAML workflow t0 <- t1 <- ... (after: [t<i-1>]), kernel sleep
#           seconds=0, pure: false; from qsubmit to the last worker's
#           exit. K grows until a run takes about 10 s (max 1000).
#   dask    client.submit(inc, previous) K times, then the last result.
#   ipp     load-balanced apply_async(noop) K times, each after the
#           previous (ipyparallel's `after` dependency). Not in quick mode.
. "$(dirname "$0")/lib.sh"
[ "${1:-}" = --systems ] && { echo spoolq dask ipp; exit 0; }
w=chain

chain() {
	local f=$BENCH_STATE/chain-$1.yaml
	[ -f "$f" ] || awk -v n="$1" 'BEGIN {
		print "name: chain\ndefaults: {pure: false}\ntasks:"
		print "  t0: {kernel: sleep, args: {seconds: 0}}"
		for (i = 1; i < n; i++)
			printf "  t%d: {kernel: sleep, args: {seconds: 0}, after: [t%d]}\n", i, i - 1
	}' > "$f"
	echo "$f"
}

one() {
	local k=$1 spool f t0 t
	f=$(chain "$k")
	spool=$(new_spool chain)
	t0=$(now)
	"$QSUBMIT" --spool "$spool" "$f" >/dev/null
	run_workers "$spool" 2 1
	t=$(since "$t0")
	check_done "$spool" "$k"
	rm -rf "$spool"
	echo "$t"
}

case ${1:-} in
spoolq)
	if [ "$BENCH_QUICK" = 1 ]; then k=20; else k=$(sized $w 50 1000 10 one); fi
	t=$(one "$k")
	result $w spoolq per_link "$(calc "$t / $k * 1000")" ms lower n="$k" ;;
dask)
	have_py distributed || { skip $w dask "python3-distributed not installed"; exit 0; }
	"$BENCH_PY" "$HARNESS" $w dask "$(quick 50 1000)" ;;
ipp)
	[ "$BENCH_QUICK" = 0 ] || { skip $w ipp "quick mode: ipyparallel takes about 10 s to start; wl_startup.sh still runs it"; exit 0; }
	have_py ipyparallel || { skip $w ipp "python3-ipyparallel not installed"; exit 0; }
	"$BENCH_PY" "$HARNESS" $w ipp 300 ;;
*) die "usage: wl_chain.sh spoolq|dask|ipp|--systems" ;;
esac
