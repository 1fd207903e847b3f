#!/bin/bash
# exactly_once.sh: 4 workers x 2000 command tasks: every task runs
# exactly once (a side-effect log shows each index once) and qcollect
# returns every result, in order.
. "$TESTS_DIR/cli/lib.sh"

N=2000
job=$("$QSUBMIT" --array 0..$((N - 1)) -- sh -c "echo {i} >> '$T/log'; echo result-{i}")
for w in 1 2 3 4; do
	start_worker --exit-when-idle --cpus 2
done
workers_gone() { ! kill -0 "${PIDS[@]}" 2>/dev/null; }
check "workers finish within the deadline" wait_for 240 workers_gone

expect_eq "side effects" "$N" "$(wc -l < "$T/log")"
expect_eq "each index exactly once" "$(seq 0 $((N - 1)))" "$(sort -n "$T/log")"
expect_eq "results in submission order" "$(seq 0 $((N - 1)) | sed 's/^/result-/')" "$("$QCOLLECT" "$job")"
check "every task done once" python3 -c '
import json, sys
d = json.load(sys.stdin)
c = d["jobs"][0]["counts"]
assert c["done"] == int(sys.argv[1]) and c["failed"] == 0, c
assert all(t["attempts"] == 1 for t in d["jobs"][0]["task_list"])
' "$N" < <("$QSTATUS" "$job" --json --tasks)
hosts=$("$QSTATUS" "$job" --tasks --json | python3 -c '
import json, sys
print(len({t["worker"] for t in json.load(sys.stdin)["jobs"][0]["task_list"]}))')
check "the work was shared by several workers ($hosts)" test "$hosts" -ge 2
finish
