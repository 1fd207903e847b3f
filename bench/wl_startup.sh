#!/bin/bash
# wl_startup.sh SYSTEM: starting 2 workers and what they hold when idle
# (issue 5, goal 6: an idle worker under 8 MiB RSS, ready in under 20 ms).
#   start_time  spoolq: from starting 2 qworkers on an idle spool until
#               both have registered (their files in workers/, written
#               before the first claim); dask: LocalCluster(2 workers) and
#               Client until both workers are connected; ipp:
#               Cluster(n=2).start_and_connect_sync() with both engines
#   worker_rss  mean RSS of a worker process after idling (spoolq: 0.5 s)
#   processes   processes in the tree for 2 workers, client included
. "$(dirname "$0")/lib.sh"
[ "${1:-}" = --systems ] && { echo spoolq dask ipp; exit 0; }
w=startup

case ${1:-} in
spoolq)
	spool=$(new_spool startup)
	"$QSUBMIT" --spool "$spool" -- true >/dev/null
	run_workers "$spool" 1 1
	"$BENCH_PY" "$HARNESS" $w spoolq "$QWORKER" "$spool" "$(quick 0.2 0.5)"
	rm -rf "$spool" ;;
dask)
	have_py distributed psutil || { skip $w dask "python3-distributed not installed"; exit 0; }
	"$BENCH_PY" "$HARNESS" $w dask ;;
ipp)
	have_py ipyparallel psutil || { skip $w ipp "python3-ipyparallel not installed"; exit 0; }
	"$BENCH_PY" "$HARNESS" $w ipp ;;
*) die "usage: wl_startup.sh spoolq|dask|ipp|--systems" ;;
esac
