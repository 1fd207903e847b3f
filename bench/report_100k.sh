#!/bin/bash
# report_100k.sh [N]: what qstatus JOB --report costs on a big job (issue
# 8): an array of N (default 100,000) kernel tasks of 1 ms each
# (`sleep seconds=0.001`, so the task stream has something to show) run
# by 4 workers of 2 cores (8 rows), then
#   write_time   seconds of `qstatus JOB --report FILE.html` (reading every
#                record and drawing; the task stream is aggregated),
#   size         the page's bytes,
#   render_time  headless Chromium's seconds to load and screenshot the
#                page at 1400x2000, less the same for an empty page (the
#                browser's own start), median of 3 of each; and the
#                dump-dom time the same way.
# Prints RESULT lines like the wl_*.sh workloads (bench/lib.sh); it is
# not one of them (run.sh does not run it): run it by hand.
#   BENCH_BIN=build-bench bench/report_100k.sh     (the default build)
#   REPORT_KEEP=DIR  keeps the page and its screenshot in DIR.
#   REPORT_WORKERS, REPORT_CPUS: the workers (default 4 x 2 cores).
. "$(dirname "$0")/lib.sh"
w=report
n=${1:-100000}
workers=${REPORT_WORKERS:-4}
cpus=${REPORT_CPUS:-2}
[ -x "$QSTATUS" ] || die "no $QSTATUS: build spoolq in $BENCH_BIN first (or set BENCH_BIN)"

spool=$(new_spool report)
"$QSUBMIT" --spool "$spool" --name report100k --kernel sleep \
	--arg seconds=0.001 --array "0..$((n - 1))" >/dev/null
t0=$(now)
run_workers "$spool" "$workers" "$cpus"
echo "bench: $n tasks ran in $(since "$t0") s on $workers x $cpus cores" >&2
check_done "$spool" "$n"

out=$BENCH_TMP/report-$n.html
t0=$(now)
"$QSTATUS" --spool "$spool" report100k --report "$out"
write_s=$(since "$t0")
size=$(stat -c %s "$out")
result $w spoolq write_time "$write_s" s lower n="$n"
result $w spoolq size "$size" bytes lower n="$n"
grep -q '<b>aggregated</b>' "$out" && echo "bench: the task stream is aggregated" >&2

chromium=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$chromium" ]; then
	skip $w render "chromium not installed"
	exit 0
fi
export HOME=$BENCH_TMP/home
mkdir -p "$HOME"
echo '<!DOCTYPE html><title>empty</title>' > "$BENCH_TMP/empty.html"

# chrome_s WHAT PAGE: seconds of one headless run (WHAT: dom or shot),
# fresh profile; fails on a console message (the page has no script, so
# any is an error).
run=0
chrome_s() {
	local what=$1 page=$2 t0 args
	run=$((run + 1))
	if [ "$what" = dom ]; then
		args=(--dump-dom)
	else
		args=(--screenshot="$BENCH_TMP/shot.png" --window-size=1400,2000)
	fi
	t0=$(now)
	timeout 300 "$chromium" --headless --no-sandbox --disable-gpu \
		--no-first-run --disable-background-networking \
		--user-data-dir="$BENCH_TMP/prof$run" --enable-logging=stderr \
		--v=0 "${args[@]}" "file://$page" > "$BENCH_TMP/out" \
		2> "$BENCH_TMP/err" || die "chromium failed on $page"
	since "$t0"
	! grep -E 'CONSOLE|Uncaught' "$BENCH_TMP/err" >&2 ||
		die "console errors rendering $page"
}

median3() { printf '%s\n' "$@" | sort -g | sed -n 2p; }

for what in dom shot; do
	base=() page=()
	for _ in 1 2 3; do
		base+=("$(chrome_s $what "$BENCH_TMP/empty.html")")
		page+=("$(chrome_s $what "$out")")
	done
	b=$(median3 "${base[@]}")
	p=$(median3 "${page[@]}")
	metric=render_time
	[ "$what" = dom ] && metric=dump_dom_time
	result $w chromium "$metric" "$(calc "$p - $b")" s lower n="$n" \
		total="$p" empty_page="$b"
done
if [ -n "${REPORT_KEEP:-}" ]; then
	mkdir -p "$REPORT_KEEP"
	cp "$out" "$BENCH_TMP/shot.png" "$REPORT_KEEP/"
	echo "bench: kept $REPORT_KEEP/$(basename "$out") and shot.png" >&2
fi
rm -rf "$spool"
