#!/bin/bash
# dependencies.sh: a chain of 200 jobs, a fan-in of 500, and a failed
# dependency cancelling its dependents, through the real commands.
. "$TESTS_DIR/cli/lib.sh"

# Chain: each link appends its number; they must appear in order.
prev=$("$QSUBMIT" --name link -- sh -c "echo 0 >> '$T/chain'")
first=$prev
for i in $(seq 1 199); do
	prev=$("$QSUBMIT" --name link --after "$prev" -- sh -c "echo $i >> '$T/chain'")
done
start_worker --exit-when-idle
start_worker --exit-when-idle
workers_gone() { ! kill -0 "${PIDS[@]}" 2>/dev/null; }
check "chain finishes" wait_for 120 workers_gone
expect_eq "chain ran in order, each link once" "$(seq 0 199)" "$(cat "$T/chain")"
"$QSTATUS" --wait "$first" "$prev" > /dev/null
expect_eq "chain all succeeded" 0 $?

# Fan-in: 500 tasks, then one task that must see all 500 side effects.
PIDS=()
fan=$("$QSUBMIT" --name fan --array 1..500 -- sh -c "echo {i} >> '$T/fan'")
total=$("$QSUBMIT" --name total --after "$fan" -- sh -c "wc -l < '$T/fan'")
start_worker --exit-when-idle
start_worker --exit-when-idle
check "fan-in finishes" wait_for 120 workers_gone
expect_eq "the fan-in task ran after all 500" 500 "$("$QCOLLECT" "$total" | tr -d ' ')"
expect_eq "it ran once" 500 "$(wc -l < "$T/fan")"

# Dependencies on single tasks and ranges of an array.
part=$("$QSUBMIT" --name part --after "$fan:fan[10-19],$fan:fan[250]" -- echo ok)
PIDS=()
"$QWORKER" --exit-when-idle
expect_eq "range dependency" ok "$("$QCOLLECT" "$part")"

# A failed dependency cancels its dependents, transitively, with reasons.
bad=$("$QSUBMIT" --name setup -- sh -c 'exit 4')
mid=$("$QSUBMIT" --name analyse --after "$bad" -- sh -c "touch '$T/must-not-run'")
end=$("$QSUBMIT" --name report --after "$mid" -- sh -c "touch '$T/must-not-run'")
"$QWORKER" --exit-when-idle
check "dependents did not run" test ! -e "$T/must-not-run"
"$QSTATUS" --wait "$end" > /dev/null
expect_eq "qstatus --wait reports failure" 1 $?
check "the dependent says why" grep -q "dependency job $bad 'setup' failed" \
	<("$QSTATUS" "$mid" --tasks)
check "transitively" grep -q "dependency job $mid 'analyse' was cancelled" \
	<("$QSTATUS" "$end" --tasks)
check "counted as cancelled" python3 -c '
import json, sys
jobs = {j["id"]: j for j in json.load(sys.stdin)["jobs"]}
assert jobs[int(sys.argv[1])]["counts"]["failed"] == 1
assert jobs[int(sys.argv[2])]["counts"]["cancelled"] == 1
assert jobs[int(sys.argv[3])]["counts"]["cancelled"] == 1
' "$bad" "$mid" "$end" < <("$QSTATUS" --json)

# A chain of 50 links with two workers, one of them --no-fsync: each
# link runs once, in order (a finisher runs the link it released itself,
# workers/runner.c note 9), and the results are the same.
links=$(for i in $(seq 0 49); do
	if [ "$i" = 0 ]; then
		printf '  l0: {cmd: [sh, -c, "echo 0 >> %s/chain50"]}\n' "$T"
	else
		printf '  l%d: {cmd: [sh, -c, "echo %d >> %s/chain50"], after: [l%d]}\n' \
			"$i" "$i" "$T" $((i - 1))
	fi
done)
printf 'name: chain\ndefaults: {pure: false}\ntasks:\n%s\n' "$links" > "$T/chain.yaml"
chain=$("$QSUBMIT" "$T/chain.yaml")
"$QWORKER" --exit-when-idle --cpus 1 --no-fsync &
CW=$!
"$QWORKER" --exit-when-idle --cpus 1
wait $CW
expect_eq "a chain: every link once, in order" "$(seq 0 49)" "$(cat "$T/chain50")"
check "the chain finished" grep -q '"state": "finished"' \
	<("$QSTATUS" "$chain" --json)

# Depending on a job that already finished: ready at once.
late=$("$QSUBMIT" --after "$fan" -- echo late)
"$QWORKER" --exit-when-idle
expect_eq "dependency on a finished job" late "$("$QCOLLECT" "$late")"

# Depending on a job that got damaged before it ran: the dependent can
# never run, and --exit-when-idle leaves (after a repair sweep) instead of
# waiting forever, naming it. The waiting job itself is left as it was.
first=$("$QSUBMIT" --name doomed -- true)
stuck=$("$QSUBMIT" --name stuck --after "$first" -- touch "$T/stuck-ran")
printf 'garbage\n' > "$QSPOOL/jobs/$first/job"
timeout 60 "$QWORKER" --exit-when-idle 2> "$T/stuck.err"
expect_eq "the worker leaves" 0 $?
check "naming the job that cannot go on" \
	grep -q "^qworker: job $stuck cannot go on" "$T/stuck.err"
check "which did not run" test ! -e "$T/stuck-ran"
check "and still waits" test -d "$QSPOOL/jobs/$stuck/wait"
finish
