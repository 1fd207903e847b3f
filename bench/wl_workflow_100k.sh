#!/bin/bash
# wl_workflow_100k.sh SYSTEM: a YAML workflow of N distinct independent
# no-op tasks, 2 workers (issue 5, goal 1: at least 100x Dask).
#   spoolq  t0..tN-1, each {kernel: sleep, args: {seconds: 0}}, with
#           pure: false (the tasks are alike, so pure ones would be reused
#           from the first one's result, like Dask's delayed(pure=False));
#           timed from `qsubmit FILE` to the last worker's exit; the submit
#           alone is a second figure. N = 100,000, the goal's size (200
#           in quick mode).
#   dask    N dask.delayed(noop, pure=False)(i), dask.compute on a
#           LocalCluster of 2 single-thread workers.
. "$(dirname "$0")/lib.sh"
[ "${1:-}" = --systems ] && { echo spoolq dask; exit 0; }
w=workflow_100k

# workflow N: the file (made once per N).
workflow() {
	local f=$BENCH_STATE/distinct-$1.yaml
	[ -f "$f" ] || awk -v n="$1" 'BEGIN {
		print "name: distinct\ndefaults: {pure: false}\ntasks:"
		for (i = 0; i < n; i++)
			printf "  t%d: {kernel: sleep, args: {seconds: 0}}\n", i
	}' > "$f"
	echo "$f"
}

one() {
	local n=$1 spool f t0 t submit_s
	f=$(workflow "$n")
	spool=$(new_spool wf)
	t0=$(now)
	"$QSUBMIT" --spool "$spool" "$f" >/dev/null
	submit_s=$(since "$t0")
	run_workers "$spool" 2 1
	t=$(since "$t0")
	check_done "$spool" "$n"
	rm -rf "$spool"
	echo "$t $submit_s"
}

case ${1:-} in
spoolq)
	if [ "$BENCH_QUICK" = 1 ]; then n=200; else n=100000; fi
	r=$(one "$n")
	read -r t s <<<"$r"
	result $w spoolq throughput "$(calc "$n / $t")" tasks/s higher n="$n"
	result $w spoolq submit_time "$s" s lower n="$n" ;;
dask)
	have_py distributed || { skip $w dask "python3-distributed not installed"; exit 0; }
	"$BENCH_PY" "$HARNESS" $w dask "$(quick 200 5000)" ;;
*) die "usage: wl_workflow_100k.sh spoolq|dask|--systems" ;;
esac
