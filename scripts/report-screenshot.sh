#!/bin/bash
# report-screenshot.sh [BUILD_DIR] [OUT.png]: the README's picture of
# qstatus --report (docs/report.md). Runs examples/pi.yaml (64 pi kernel
# tasks, a sum, a report command) on a fresh spool with 3 local workers of
# 2 cores each, writes the job's report, and has headless Chromium
# screenshot it (1400 px wide: the summary, the task stream and the
# progress). Defaults: build-dev, docs/images/report-pi.png. Needs
# chromium (Debian: apt-get install chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
build=$(cd "${1:-build-dev}" && pwd)
out=${2:-docs/images/report-pi.png}
chromium=$(command -v chromium || command -v chromium-browser || true)
[ -n "$chromium" ] || { echo "report-screenshot.sh: chromium is not installed (apt-get install chromium)" >&2; exit 1; }
for tool in cmd/qsubmit cmd/qstatus workers/qworker; do
	[ -x "$build/$tool" ] || { echo "report-screenshot.sh: no $build/$tool: build spoolq first (ninja -C $build)" >&2; exit 1; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/spoolq-shot.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
export QSPOOL=$tmp/spool HOME=$tmp/home
mkdir -p "$HOME"

job=$("$build/cmd/qsubmit" examples/pi.yaml)
pids=()
for _ in 1 2 3; do
	"$build/workers/qworker" --exit-when-idle --cpus 2 2>/dev/null &
	pids+=($!)
done
wait "${pids[@]}"
# A worker that left early cannot strand the last dependents: one more
# pass, then the job must be done.
"$build/workers/qworker" --exit-when-idle --cpus 2 2>/dev/null
"$build/cmd/qstatus" --wait=0 "$job" >/dev/null ||
	{ echo "report-screenshot.sh: the pi job did not finish cleanly" >&2; exit 1; }
"$build/cmd/qstatus" "$job" --report "$tmp/pi.html"
"$chromium" --headless --no-sandbox --disable-gpu --no-first-run \
	--disable-background-networking --user-data-dir="$tmp/prof" \
	--hide-scrollbars --screenshot="$tmp/pi.png" --window-size=1400,1450 \
	"file://$tmp/pi.html" 2>/dev/null
mkdir -p "$(dirname "$out")"
cp "$tmp/pi.png" "$out"
echo "report-screenshot.sh: $out ($(stat -c %s "$out") bytes) from job $job"
