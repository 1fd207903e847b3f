#!/bin/bash
# wl_cmd_true.sh SYSTEM: N empty command tasks (`true`), 2 at a time
# (issue 5, goal 2: at least 90% of xargs -P2, at least 4x GNU parallel).
#   spoolq    qsubmit --array 0..N-1 -- true, 2 x qworker --cpus 1; from
#             qsubmit to the last exit, results durable. N grows until a
#             run takes about 10 s (max 1e6).
#   xargs     seq N | xargs -P2 -n1 true (the fork+exec limit).
#   parallel  seq N | parallel -j2 true (GNU parallel).
. "$(dirname "$0")/lib.sh"
[ "${1:-}" = --systems ] && { echo spoolq xargs parallel; exit 0; }
w=cmd_true

one() { time_array "$1" cmd -- true; }

case ${1:-} in
spoolq)
	if [ "$BENCH_QUICK" = 1 ]; then n=200; else n=$(sized $w 1000 1000000 10 one); fi
	t=$(one "$n")
	result $w spoolq throughput "$(calc "$n / $t")" jobs/s higher n="$n" ;;
xargs)
	n=$(quick 500 10000)
	t0=$(now)
	seq "$n" | xargs -P2 -n1 true
	t=$(since "$t0")
	result $w xargs throughput "$(calc "$n / $t")" jobs/s higher n="$n" ;;
parallel)
	command -v parallel >/dev/null || { skip $w parallel "GNU parallel not installed"; exit 0; }
	n=$(quick 100 2000)
	t0=$(now)
	seq "$n" | parallel --will-cite -j2 true
	t=$(since "$t0")
	result $w parallel throughput "$(calc "$n / $t")" jobs/s higher n="$n" ;;
*) die "usage: wl_cmd_true.sh spoolq|xargs|parallel|--systems" ;;
esac
