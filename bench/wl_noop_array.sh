#!/bin/bash
# wl_noop_array.sh SYSTEM: N empty kernel tasks as one array, 2 workers
# (issue 5, goal 1: at least 1000x Dask's no-op throughput).
#   spoolq  qsubmit --kernel sleep --arg seconds=0 --array 0..N-1, then 2 x
#           qworker --exit-when-idle --cpus 1; timed from qsubmit to the
#           last worker's exit, results durable (the default). There is
#           no true no-op kernel: sleep with seconds=0 returns after two
#           clock reads. N = 1,000,000, the goal's size (throughput
#           grows with N: a bigger array has bigger chunks, claimed in
#           bundles), in about 10 s; 500 in quick mode.
#   dask    LocalCluster(n_workers=2, threads_per_worker=1),
#           client.map(noop, range(N)) + gather; cluster start not timed.
#   ipp     ipyparallel Cluster(n=2), a load-balanced apply_async per task,
#           then every result; cluster start not timed. Not in quick mode.
. "$(dirname "$0")/lib.sh"
[ "${1:-}" = --systems ] && { echo spoolq dask ipp; exit 0; }
w=noop_array

one() { time_array "$1" noop --kernel sleep --arg seconds=0; }

case ${1:-} in
spoolq)
	if [ "$BENCH_QUICK" = 1 ]; then n=500; else n=1000000; fi
	t=$(one "$n")
	result $w spoolq throughput "$(calc "$n / $t")" tasks/s higher n="$n" ;;
dask)
	have_py distributed || { skip $w dask "python3-distributed not installed"; exit 0; }
	"$BENCH_PY" "$HARNESS" $w dask "$(quick 300 5000)" ;;
ipp)
	[ "$BENCH_QUICK" = 0 ] || { skip $w ipp "quick mode: ipyparallel takes about 10 s to start; wl_startup.sh still runs it"; exit 0; }
	have_py ipyparallel || { skip $w ipp "python3-ipyparallel not installed"; exit 0; }
	"$BENCH_PY" "$HARNESS" $w ipp 2000 ;;
*) die "usage: wl_noop_array.sh spoolq|dask|ipp|--systems" ;;
esac
