#!/bin/bash
# render.sh SCREENSHOT: the report renders in headless Chromium without
# a JavaScript or SVG error and without a network request, its DOM holds
# every part and every bar, and a screenshot is made (kept at SCREENSHOT,
# under meson-logs/ for CI). Skipped (77) without a chromium that runs.
# A control page with a script error and a remote image must trip both
# checks, so a Chromium that stops logging them fails this test instead
# of passing it blind.
. "$TESTS_DIR/cli/lib.sh"
. "$TESTS_DIR/report/job.sh"
shot=${1:?usage: render.sh SCREENSHOT.png}

CHROMIUM=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
if [ -z "$CHROMIUM" ]; then
	echo "SKIP: no chromium on PATH (Debian: apt-get install chromium)"
	exit 77
fi
# As root Chromium needs --no-sandbox, and a HOME it may write.
export HOME=$T/home
mkdir -p "$HOME"

# chrome NAME ARGS... URL: one headless run with a fresh profile; its
# stdout, stderr and network log in $T/NAME.{out,err,net}.
chrome() {
	local name=$1
	shift
	timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu \
		--no-first-run --disable-background-networking \
		--user-data-dir="$T/prof-$name" --enable-logging=stderr --v=0 \
		--log-net-log="$T/$name.net" "$@" \
		> "$T/$name.out" 2> "$T/$name.err"
}

# js_errors NAME: what the page logged to the console (the report has no
# script, so any line is an error: an uncaught exception, or Blink
# rejecting an SVG attribute).
js_errors() { grep -E 'CONSOLE|Uncaught' "$T/$1.err"; }

# page_requests NAME: the URLs the page itself asked the network for
# (Chromium's own background requests belong to no file:// page).
page_requests() {
	python3 - "$T/$1.net" <<'PY'
import json, sys
text = open(sys.argv[1]).read().rstrip().rstrip(',')
try:
    log = json.loads(text)
except ValueError:          # a log cut short: close it
    log = json.loads(text + ']}')
urls = set()
for e in log.get('events', []):
    p = e.get('params') or {}
    url, key = p.get('url', ''), p.get('network_isolation_key', '')
    if url and key.startswith('file://') and not url.startswith(('file:', 'data:')):
        urls.add(url)
print('\n'.join(sorted(urls)))
PY
}

# The control: both checks must see its faults.
cat > "$T/control.html" <<'HTML'
<!DOCTYPE html><html><head><meta charset="utf-8"><title>control</title></head>
<body><p id="control">control</p><img src="http://127.0.0.1:9/none.png">
<script>not_defined_anywhere();</script></body></html>
HTML
if ! chrome control --virtual-time-budget=3000 --dump-dom "file://$T/control.html" ||
	! grep -q 'id="control"' "$T/control.out"; then
	echo "SKIP: chromium cannot render a page here:"
	tail -n 5 "$T/control.err"
	exit 77
fi
check "control: the script error is seen" test -n "$(js_errors control)"
check "control: the remote image is seen" test -n "$(page_requests control)"

# The report.
job=$(make_job) || finish
page=$T/report.html
"$QSTATUS" "$job" --report "$page"
check "--report exits 0" test $? -eq 0

t0=$EPOCHREALTIME
chrome dom --virtual-time-budget=5000 --dump-dom "file://$page"
rc=$?
secs=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
echo "chromium --dump-dom of the report: ${secs}s"
expect_eq "dump-dom exits 0" 0 $rc
expect_eq "no console error" "" "$(js_errors dom)"
expect_eq "no network request" "" "$(page_requests dom)"
for id in gantt progress graph summary failed utilisation; do
	check "the DOM has id=\"$id\"" grep -q "id=\"$id\"" "$T/dom.out"
done
expect_eq "every <rect> parsed into the DOM" \
	"$(grep -o '<rect' "$page" | wc -l)" "$(grep -o '<rect' "$T/dom.out" | wc -l)"
check "the stderr tail is text in the DOM, not an element" \
	grep -qF 'tail &lt;/script&gt;&lt;img src=x onerror=alert(1)&gt; &amp; done' "$T/dom.out"

mkdir -p "$(dirname "$shot")"
rm -f "$shot"
chrome shot --screenshot="$shot" --window-size=1400,2000 "file://$page"
expect_eq "screenshot exits 0" 0 $?
expect_eq "no console error while drawing" "" "$(js_errors shot)"
check "the screenshot is a PNG" test "$(head -c 8 "$shot" 2>/dev/null | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a
size=$(stat -c %s "$shot" 2>/dev/null || echo 0)
check "the screenshot is not blank ($size bytes)" test "$size" -gt 30000
echo "screenshot: $shot ($size bytes)"

finish
