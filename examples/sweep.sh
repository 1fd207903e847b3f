#!/bin/bash
# sweep.sh: a parameter sweep. Each task computes something from its index
# ({i}, also $Q_INDEX); a summary task runs after all of them and reads
# their results from the files qcollect wrote.
set -euo pipefail
out=${1:-sweep-results}
sweep=$(qsubmit --name square --array 1..20 -- sh -c 'echo "{i} $(( {i} * {i} ))"')
summary=$(qsubmit --name summary --after "$sweep" -- sh -c \
	"qcollect $sweep | awk '{ s += \$2 } END { print \"sum of squares:\", s }'")
qworker --exit-when-idle
qcollect "$sweep" --output "$out"
qcollect "$summary"
echo "per-task results in $out/ (square.1.out ... square.20.out)"
