#!/bin/bash
# pi_demo.sh: the README's demo: pi from 64 `pi` kernel tasks collected
# and reduced by `sum`, with 2 local workers; the estimate is within 5
# standard deviations of M_PI.
. "$TESTS_DIR/cli/lib.sh"

pi=$("$QSUBMIT" --name pi --kernel pi --array 0..63 --threads 1 --arg samples=1e6)
total=$("$QSUBMIT" --name total --kernel sum --after "$pi")
start_worker --exit-when-idle --cpus 1
start_worker --exit-when-idle --cpus 1
workers_gone() { ! kill -0 "${PIDS[@]}" 2>/dev/null; }
check "workers finish" wait_for 120 workers_gone
read -r _ hits samples <<< "$("$QCOLLECT" "$total")"
expect_eq "all samples counted" 64000000 "$samples"
check "estimate close to pi" python3 -c '
import math, sys
hits, n = int(sys.argv[1]), int(sys.argv[2])
est = 4 * hits / n
sigma = 4 * math.sqrt((math.pi / 4) * (1 - math.pi / 4) / n)
assert abs(est - math.pi) < 5 * sigma, (est, sigma)
' "$hits" "$samples"
# Each task's result is its own estimate, hits and samples.
expect_eq "64 results" 64 "$("$QCOLLECT" "$pi" | wc -l)"
# The same seed gives the same result whatever the thread count.
a=$("$QSUBMIT" --kernel pi --arg samples=1e6 --arg seed=7 --threads 1)
b=$("$QSUBMIT" --kernel pi --arg samples=1e6 --arg seed=7 --threads 2)
"$QWORKER" --exit-when-idle --cpus 2
expect_eq "thread count does not change the result" "$("$QCOLLECT" "$a")" "$("$QCOLLECT" "$b")"
finish
