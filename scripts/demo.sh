#!/bin/bash
# demo.sh: the README's first command. Installs what is missing, builds
# spoolq (release), then runs a real workflow end to end with qrun on a
# local spool with two local workers: examples/pi.yaml, pi from 64
# Monte-Carlo kernel tasks reduced by a `sum` task, reported by a command
# with its error against M_PI.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh build
if [ ! -f build-release/build.ninja ]; then
	meson setup build-release --buildtype=release >/dev/null
fi
ninja -C build-release >/dev/null
bin=$PWD/build-release

spool=$(mktemp -d "${TMPDIR:-/tmp}/spoolq-demo.XXXXXX")
trap 'rm -rf "$spool"' EXIT
export QSPOOL=$spool/spool

echo "\$ cat examples/pi.yaml"
grep -v '^#' examples/pi.yaml
echo "\$ qrun examples/pi.yaml --workers 2"
"$bin/workers/qrun" examples/pi.yaml --workers 2
echo "\$ qstatus"
"$bin/cmd/qstatus"
# The picture of what ran where: kept next to the build, as the spool goes.
report=$PWD/build-release/pi-report.html
echo "\$ qstatus pi --report $report"
"$bin/cmd/qstatus" pi --report "$report"
echo "open $report in a browser: the task stream per worker, progress, the slowest tasks"
