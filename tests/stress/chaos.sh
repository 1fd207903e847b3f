#!/bin/bash
# chaos.sh: workers killed with SIGKILL while they work (issue 4).
#
# W workers (--exit-when-idle, a short lease) run N short command tasks
# while a random worker is killed with SIGKILL every INTERVAL seconds and
# replaced by a fresh one, for DURATION seconds; then the survivors
# finish. It checks the lease protocol end to end:
#   - every task done, none lost, none failed (qstatus --json);
#   - qcollect returns all N results, each byte for byte as expected
#     (some of them big enough to live in out/ files, not in the record);
#   - each task's side-effect log: the run its record names (worker,
#     attempt) really happened, and every other run of that task was made
#     by a worker that was killed: duplicates only where a kill explains
#     them, never two runs by workers that lived.
# and prints the figures: tasks, kills, duplicates, lost, wall time.
#
#   tests/stress/chaos.sh --build build [--workers 4] [--tasks 3000]
#       [--duration 20] [--interval 0.2] [--lease 2] [--cpus 2] [--isolate]
#
# --isolate starts each worker in a pid namespace of its own (unshare,
# root), as if on a node of its own: a reclaimer cannot see that its
# process is gone (libq/proc.c), so only its lease tells, and its
# commands die with it, as on a node that fails.
#
# Under meson (tests/cli/chaos.sh) the tool paths come from the
# environment; by hand, --build DIR points at a build directory.
#
# Each task sleeps a little (SLEEP below), so the work outlasts the
# chaos phase whatever the machine: the kills must hit live work. The
# test checks that they did (the job is unfinished when the kills stop).
set -u

WORKERS=4 TASKS=3000 DURATION=20 INTERVAL=0.2 LEASE=2 CPUS=2 BUILD=
ISOLATE=()
usage() {
	sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
	exit 2
}
while [ $# -gt 0 ]; do
	case $1 in
	--workers) WORKERS=$2 ;;
	--tasks) TASKS=$2 ;;
	--duration) DURATION=$2 ;;
	--interval) INTERVAL=$2 ;;
	--lease) LEASE=$2 ;;
	--cpus) CPUS=$2 ;;
	--build) BUILD=$2 ;;
	--isolate) ISOLATE=(unshare --pid --fork --kill-child --); shift; continue ;;
	-h | --help) usage ;;
	*) echo "chaos.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
	esac
	[ $# -ge 2 ] || { echo "chaos.sh: '$1' needs a value" >&2; exit 2; }
	shift 2
done
for v in WORKERS TASKS CPUS LEASE DURATION; do
	if ! [[ ${!v} =~ ^[1-9][0-9]*$ ]]; then
		echo "chaos.sh: --${v,,} must be a positive integer, got '${!v}'" >&2
		exit 2
	fi
done
if ! [[ $INTERVAL =~ ^[0-9]*\.?[0-9]+$ ]] || [ "${INTERVAL//[0.]/}" = "" ]; then
	echo "chaos.sh: --interval must be a positive number of seconds," \
		"got '$INTERVAL'" >&2
	exit 2
fi
if [ -n "$BUILD" ]; then
	for tool in cmd/qsubmit cmd/qstatus cmd/qcollect workers/qworker; do
		[ -x "$BUILD/$tool" ] || { echo "chaos.sh: no '$BUILD/$tool':" \
			"build first (ninja -C $BUILD)" >&2; exit 2; }
	done
	B=$(realpath "$BUILD")
	export QSUBMIT=$B/cmd/qsubmit QSTATUS=$B/cmd/qstatus
	export QCOLLECT=$B/cmd/qcollect QWORKER=$B/workers/qworker
fi
if [ -z "${QSUBMIT:-}" ]; then
	echo "chaos.sh: say where the tools are: --build DIR" >&2
	exit 2
fi
TESTS_DIR=${TESTS_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
. "$TESTS_DIR/cli/lib.sh"

now_us() { echo "${EPOCHREALTIME//[.,]/}"; }
us_of() { awk -v s="$1" 'BEGIN { printf "%d", s * 1000000 }'; }
INTERVAL_US=$(us_of "$INTERVAL")
# The work's pure sleeping time is 1.1 x the chaos phase (all slots busy).
SLEEP=$(awk -v d="$DURATION" -v w="$WORKERS" -v c="$CPUS" -v n="$TASKS" \
	'BEGIN { printf "%.3f", 1.1 * d * w * c / n }')
BIG_EVERY=100   # index % 100 == 7: a 140 KB result, an out/ file

# The task: log the run (the worker's serial number in this test, which
# it inherits from the worker's environment, its worker id, index,
# attempt), sleep, then a result only its index determines. Retries: a task's worker may die
# several times; with the default max(retries + 1, 3) attempts a task
# killed with its worker three times would be failed by bad luck, not by
# a protocol bug, so it gets 50 (this test checks the protocol, not the
# poison-task limit; tests/cli/leases.sh checks that).
cat > "$T/chaos.yaml" <<YAML
tasks:
  chaos:
    array: 0..$((TASKS - 1))
    retries: 50
    cmd: >-
      echo "\$CHAOS_WORKER \$Q_WORKER \$Q_INDEX \$Q_ATTEMPT" >> "$T/runs";
      sleep $SLEEP;
      n=40; [ \$((Q_INDEX % $BIG_EVERY)) -eq 7 ] && n=2000;
      yes "\$Q_INDEX abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ" | head -n \$n;
      echo "end \$Q_INDEX \$n"
YAML
job=$("$QSUBMIT" "$T/chaos.yaml") || { fail "qsubmit"; finish; }

# Worker number k (1, 2, ...) writes its messages to $T/w.k.err, the
# first of them (--verbose) naming its worker id.
declare -a slot serial_of
serials=0
spawn() {
	serials=$((serials + 1))
	CHAOS_WORKER=$serials "${ISOLATE[@]}" "$QWORKER" --verbose \
		--exit-when-idle --lease "$LEASE" --cpus "$CPUS" \
		2> "$T/w.$serials.err" &
	slot[$1]=$!
	serial_of[$1]=$serials
	PIDS+=($!)
}
t_start=$(now_us)
for ((i = 0; i < WORKERS; i++)); do spawn $i; done

# Every live worker must look alive to a reclaimer, or its tasks would
# run twice without a kill: a sampler notes the id of every worker the
# registry calls not alive; each must be one that was killed (checked at
# the end). It runs beside the kill loop so as not to delay the kills.
: > "$T/samples"
: > "$T/not_alive"
(
	while [ ! -e "$T/chaos_over" ]; do
		"$QSTATUS" --json 2>/dev/null |
			sed -n 's/.*"id": "\([^"]*\)".*"alive": false.*/\1/p' \
			>> "$T/not_alive"
		echo >> "$T/samples"
		sleep "$INTERVAL"
	done
) &
sampler=$!
PIDS+=($sampler)
# The chaos: a kill every INTERVAL on a fixed schedule (the sleeps pace
# the kills; nothing waits on them for a result).
kills=0
: > "$T/killed"
end_us=$((t_start + DURATION * 1000000))
next=$((t_start + INTERVAL_US))
while [ "$next" -le "$end_us" ]; do
	wait_us=$((next - $(now_us)))
	[ $wait_us -gt 0 ] && sleep "$(printf '%d.%06d' $((wait_us / 1000000)) $((wait_us % 1000000)))"
	i=$((RANDOM % WORKERS))
	kill -9 "${slot[$i]}" 2>/dev/null
	wait "${slot[$i]}" 2>/dev/null
	echo "${serial_of[$i]}" >> "$T/killed"
	kills=$((kills + 1))
	spawn $i
	next=$((next + INTERVAL_US))
done
touch "$T/chaos_over"
wait $sampler
samples=$(wc -l < "$T/samples")
chaos_s=$(awk -v a="$t_start" -v b="$(now_us)" 'BEGIN { printf "%.1f", (b - a) / 1e6 }')
left_at_end=$("$QSTATUS" "$job" --json | python3 -c '
import json, sys
c = json.load(sys.stdin)["jobs"][0]["counts"]
print(c["waiting"] + c["ready"] + c["running"])')

# The survivors finish (they exit when the job is finished) and requeue
# what the last victims held (lease expired, or process gone: lease.c).
survivors_gone() { ! kill -0 "${slot[@]}" 2>/dev/null; }
if ! wait_for $((120 + TASKS / 100)) survivors_gone; then
	fail "the survivors did not finish the job"
	"$QSTATUS" "$job" >&2
fi
t_end=$(now_us)

"$QCOLLECT" --json "$job" > "$T/results" 2> "$T/collect.err"
collect_status=$?
"$QSTATUS" "$job" --json --tasks > "$T/status"

# The worker id of each serial number, from its first message.
for ((k = 1; k <= serials; k++)); do
	sed -n "1s/^qworker: worker \([^ ]*\) with .*/$k \1/p" "$T/w.$k.err"
done > "$T/ids"

# Every check in one pass over the status, the results and the run log.
python3 - "$TASKS" "$BIG_EVERY" "$T" > "$T/verdict" <<'PY'
import json, sys
from collections import defaultdict
n, big, d = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
status = json.load(open(d + "/status"))["jobs"][0]
results = [json.loads(l) for l in open(d + "/results") if l.strip()]
killed = {int(l) for l in open(d + "/killed") if l.strip()}
serial_of = {}
for l in open(d + "/ids"):
    k, wid = l.split()
    serial_of[wid] = int(k)
problems = []
problem = problems.append
runs = defaultdict(list)
bad_runs = []
for line in open(d + "/runs"):
    f = line.split()
    try:
        serial, wid, index, attempt = int(f[0]), f[1], int(f[2]), int(f[3])
    except (IndexError, ValueError):
        bad_runs.append(line.strip())
        continue
    if len(f) != 4 or serial_of.get(wid, serial) != serial:
        bad_runs.append(line.strip())
        continue
    runs[index].append((serial, wid, attempt))
if bad_runs:
    problem("%d bad lines in the run log, first %r" % (len(bad_runs),
            bad_runs[0]))
# A live worker the registry called not alive. An id no worker named is
# one killed before it could say (it had registered, not claimed).
looked_dead = {w for w in open(d + "/not_alive").read().split()
               if w in serial_of and serial_of[w] not in killed}
for w in sorted(looked_dead):
    problem("worker %s (number %d) was never killed but looked dead"
            % (w, serial_of[w]))
c = status["counts"]
tasks = status["task_list"]
done = [t for t in tasks if t["state"] == "done"]
lost = n - len(done)
if status["state"] != "finished":
    problem("job state %s, counts %s" % (status["state"], c))
dup_tasks = extra_runs = requeued = 0
for t in tasks:
    i = t["index"]
    r = runs.get(i, [])
    if t["state"] != "done":
        problem("task %d is %s: %s" % (i, t["state"], t["reason"]))
        continue
    won = [x for x in r if x[1] == t["worker"] and x[2] == t["attempts"]]
    if len(won) != 1:
        problem("task %d: its record names worker %s attempt %d; runs %s"
                % (i, t["worker"], t["attempts"], r))
    if t["attempts"] > 1:
        requeued += 1
    if len(r) > 1:
        dup_tasks += 1
        extra_runs += len(r) - 1
    for x in r:
        if x not in won and x[0] not in killed:
            problem("task %d ran again, but worker %s (number %d, attempt "
                    "%d) was never killed: runs %s" % (i, x[1], x[0], x[2],
                                                       r))
for i in set(runs) - {t["index"] for t in tasks}:
    problem("runs of an unknown index %d" % i)
def expected(i):
    k = 2000 if i % big == 7 else 40
    line = "%d abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ\n" % i
    return line * k + "end %d %d\n" % (i, k)
if len(results) != n:
    problem("qcollect returned %d results, expected %d" % (len(results), n))
seen = set()
for r in results:
    i = r.get("index")
    seen.add(i)
    got = r.get("result")
    if got is None and r.get("result_path"):
        # A big result is its own file in out/ (named by the attempt and
        # worker that won); qcollect --json gives its path.
        try:
            got = open(r["result_path"]).read()
        except OSError as e:
            problem("result of task %s: %s" % (i, e))
    if got != expected(i):
        problem("result of task %s: %d bytes, expected %d" %
                (i, len(got or ""), len(expected(i))))
if seen != set(range(n)):
    problem("qcollect: %d distinct indexes" % len(seen))
print("done=%d lost=%d failed=%d duplicated_tasks=%d extra_runs=%d "
      "requeued_tasks=%d runs=%d looked_dead=%d problems=%d" % (
      len(done), lost, c["failed"], dup_tasks, extra_runs, requeued,
      sum(len(v) for v in runs.values()), len(looked_dead), len(problems)))
for p in problems[:20]:
    print("PROBLEM: " + p)
PY
verdict_status=$?
grep PROBLEM "$T/verdict" >&2
figures=$(head -1 "$T/verdict")
get() { sed -n "s/.*\\b$1=\\([0-9]*\\).*/\\1/p" <<< "$figures"; }

expect_eq "the checker ran" 0 "$verdict_status"
check "the kills went on for ${DURATION} s (took ${chaos_s} s)" \
	awk -v a="$chaos_s" -v d="$DURATION" 'BEGIN { exit !(a >= d) }'
expected_kills=$(awk -v d="$DURATION" -v i="$INTERVAL" 'BEGIN { printf "%d", d / i + 1e-9 }')
expect_eq "one kill every ${INTERVAL} s" "$expected_kills" "$kills"
expect_eq "live workers that looked dead ($samples samples)" 0 \
	"$(get looked_dead)"
check "the kills hit live work ($left_at_end tasks left when they stopped)" \
	test "${left_at_end:-0}" -gt 0
check "some tasks were requeued after their worker died" \
	test "$(get requeued_tasks)" -gt 0
expect_eq "tasks done" "$TASKS" "$(get done)"
expect_eq "tasks lost" 0 "$(get lost)"
expect_eq "qcollect's exit status" 0 "$collect_status"
expect_eq "problems found in status, results and runs" 0 "$(get problems)"

wall=$(awk -v a="$t_start" -v b="$t_end" 'BEGIN { printf "%.1f", (b - a) / 1e6 }')
echo "chaos: workers=$WORKERS cpus=$CPUS lease=$LEASE s${ISOLATE:+ isolated}" \
	"tasks=$TASKS" \
	"kills=$kills every ${INTERVAL} s for ${chaos_s} s, $left_at_end tasks left;" \
	"$figures;" \
	"wall=${wall} s"
if [ "$FAILS" -gt 0 ]; then
	echo "worker messages other than task lines (last 20):" >&2
	cat "$T"/w.*.err | grep -v '^qworker: job\|^qworker: worker' | tail -20 >&2
fi
finish
