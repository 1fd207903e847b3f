#!/bin/bash
# wl_array_chunked.sh SYSTEM: the chunked-array example,
# (sin(x) + cos(x.T)).sum() on an n x n array in b x b blocks (20000 and
# 2000; quick: 2000 and 200), seconds, every result checked against the
# plain loop's to 1e-9 (issue 5, goal 5: at least 2x faster than Dask).
#   plain   bench/sincos_plain: one thread, the whole array (the reference
#           total; not a peer in the goal, it shows the work's size)
#   spoolq  qrun examples/sincos.yaml --workers 2 (100 block tasks, a tree
#           of sums), fresh spool
#   dask    a dask.array of the same x (the same generator, in numpy) in
#           the same chunks, on 2 single-thread workers (LocalCluster,
#           processes); the cluster's start is outside the timed part,
#           spoolq's workers' start is inside it
. "$(dirname "$0")/lib.sh"
[ "${1:-}" = --systems ] && { echo plain spoolq dask; exit 0; }
w=array_chunked
n=$(quick 2000 20000)
b=$(quick 200 2000)

# The plain loop's total, computed once (plain runs first).
want_total() {
	local f=$BENCH_STATE/sincos-$n.total
	[ -f "$f" ] || "$BENCH_BIN/bench/sincos_plain" "$n" | awk '/^total/ { print $2 }' > "$f"
	cat "$f"
}
# same A B: equal to 1e-9 relative?
same() { awk -v a="$1" -v b="$2" 'BEGIN { d = a - b; if (d < 0) d = -d; m = b < 0 ? -b : b; exit !(a != "" && d <= 1e-9 * m) }'; }

case ${1:-} in
plain)
	out=$("$BENCH_BIN/bench/sincos_plain" "$n")
	echo "$out" | awk '/^total/ { print $2 }' > "$BENCH_STATE/sincos-$n.total"
	t=$(echo "$out" | awk '/^seconds/ { print $2 }')
	result $w plain time "$t" s lower n="$n" block="$b" threads=1 ;;
spoolq)
	want=$(want_total)
	f=$BENCH_STATE/sincos-$n.yaml
	sed "s/n: 20000, block: 2000/n: $n, block: $b/" "$BENCH_ROOT/examples/sincos.yaml" > "$f"
	grep -q "n: $n, block: $b" "$f" || die "examples/sincos.yaml changed: cannot set n and block"
	spool=$(new_spool sincos)
	t0=$(now)
	got=$("$QRUN" "$f" --workers 2 --quiet --spool "$spool" \
		--plugin "$BENCH_BIN/examples/kernels/libqexample.so")
	t=$(since "$t0")
	rm -rf "$spool"
	same "$got" "$want" || die "sincos: qrun's total $got, the plain loop's $want"
	result $w spoolq time "$t" s lower n="$n" block="$b" check=ok ;;
dask)
	have_py dask distributed numpy || { skip $w dask "python3-dask or python3-numpy not installed"; exit 0; }
	"$BENCH_PY" "$HARNESS" $w dask "$n" "$b" "$(want_total)" ;;
*) die "usage: wl_array_chunked.sh plain|spoolq|dask|--systems" ;;
esac
