#!/bin/bash
# pi.sh: pi from TASKS Monte-Carlo kernel tasks of SAMPLES samples each,
# reduced by a `sum` task that waits for all of them.
set -euo pipefail
tasks=${1:-64} samples=${2:-1e7}
pi=$(qsubmit --name pi --kernel pi --array 0..$((tasks - 1)) --arg samples="$samples")
total=$(qsubmit --name total --kernel sum --after "$pi")
qworker --exit-when-idle
read -r _ hits n <<< "$(qcollect "$total")"
awk -v h="$hits" -v n="$n" 'BEGIN {
	pi = 4 * h / n; truth = atan2(0, -1)
	printf "pi = %.10f from %d samples (error %.2e)\n", pi, n, pi - truth }'
