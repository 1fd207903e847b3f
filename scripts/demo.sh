#!/bin/bash
# demo.sh: the README's first command. Installs what is missing, builds
# spoolq (release), then runs a real job end to end on a local spool with
# two local workers: pi from 64 Monte-Carlo kernel tasks, reduced by a
# `sum` task that depends on them, printed with its error against M_PI.
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
tasks=64 samples=10000000

echo "spool: $QSPOOL"
echo "\$ qsubmit --name pi --kernel pi --array 0..$((tasks - 1)) --arg samples=$samples"
pi=$("$bin/cmd/qsubmit" --name pi --kernel pi --array 0..$((tasks - 1)) --arg samples=$samples)
echo "job $pi"
echo "\$ qsubmit --name total --kernel sum --after $pi"
total=$("$bin/cmd/qsubmit" --name total --kernel sum --after "$pi")
echo "job $total"
echo "\$ qworker --exit-when-idle --cpus 1 &   (twice: two local workers)"
start=$(date +%s.%N)
"$bin/workers/qworker" --exit-when-idle --cpus 1 &
w1=$!
"$bin/workers/qworker" --exit-when-idle --cpus 1 &
w2=$!
wait $w1 $w2
end=$(date +%s.%N)
echo "\$ qstatus"
"$bin/cmd/qstatus"
echo "\$ qcollect $total"
result=$("$bin/cmd/qcollect" "$total")
echo "$result"
read -r _ hits n <<< "$result"
awk -v h="$hits" -v n="$n" -v t0="$start" -v t1="$end" -v k="$tasks" 'BEGIN {
	pi = 4 * h / n; truth = atan2(0, -1)
	printf "pi = %.10f  (M_PI = %.10f, error %.2e, 1 sigma = %.1e)\n",
		pi, truth, pi - truth, 4 * sqrt(truth / 4 * (1 - truth / 4) / n)
	printf "%d tasks, %.3g samples in %.2f s on 2 workers: %.3g samples/s\n",
		k, n, t1 - t0, n / (t1 - t0)
}'
