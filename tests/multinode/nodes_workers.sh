#!/bin/bash
# nodes_workers.sh: workers on three simulated nodes (nodes.sh: network
# namespaces with hostnames h1, h2, h3, one shared spool in $T) share a
# job exactly once, and a node that fails mid-job loses nothing.
#
#  1. 2 workers per node, 2,400 small command tasks: every task done
#     once (attempts 1), its side effect logged once, qcollect returns
#     every result in order, and each task's result names the host that
#     qstatus says ran it; every node ran some.
#  2. 2 workers per node with a 2 s lease, 300 tasks of 20 ms, except
#     that on h3 a task hangs (so that the failure surely hits running
#     work): node h3 "fails" (kill -9 of its workers' pid namespace, which
#     kills its workers and their commands at once) while both its workers
#     run a task. The other nodes' workers requeue its claims once its
#     lease has expired, not sooner, and finish the job: every result
#     once, in order; a task ran twice only where its first run was on h3.
#
# Simulation: each node's workers run in a pid namespace of their own,
# so another node cannot see that they are gone and must wait out their
# lease, the protocol between real nodes (libq/proc.c). Real nodes also
# differ in what this does not simulate: here all nodes share one local
# file system (no NFS attribute or dentry caching, close-to-open, or file
# server semantics), one clock (no skew), one kernel and boot id. With
# workers sharing one pid namespace (as nsrsh alone gives) a reclaimer
# on another "node" would prove a dead worker gone at once, which a real
# node cannot.
. "$TESTS_DIR/cli/lib.sh"
. "$TESTS_DIR/multinode/nodes.sh"

nodes_gone() { ! kill -0 "${NODE_PID[@]}" 2>/dev/null; }

# 1. Exactly once across nodes.
N=2400
job=$("$QSUBMIT" --array 0..$((N - 1)) -- sh -c \
	"h=\$(uname -n); echo \"{i} \$h\" >> '$T/runs1'; echo \"{i} \$h\"")
for h in "${MN_HOSTS[@]}"; do
	node_workers $h 2 --exit-when-idle --cpus 1
done
check "1: the nodes' workers finish the job" wait_for 120 nodes_gone
"$QCOLLECT" "$job" > "$T/results1"
"$QSTATUS" "$job" --tasks --json > "$T/status1"
check "1: every task done once, on the host its result names, by every node" \
	python3 - "$N" "$T/status1" "$T/results1" "$T/runs1" <<'PY'
import json, sys
from collections import Counter
n = int(sys.argv[1])
job = json.load(open(sys.argv[2]))["jobs"][0]
ok = True
def bad(msg):
    global ok
    ok = False
    print("  " + msg, file=sys.stderr)
c = job["counts"]
if c["done"] != n or c["failed"] != 0:
    bad(f"counts {c}")
tasks = sorted(job["task_list"], key=lambda t: t["index"])
if [t["index"] for t in tasks] != list(range(n)):
    bad("the task list is not indices 0..n-1")
if any(t["attempts"] != 1 for t in tasks):
    bad(f"{sum(t['attempts'] != 1 for t in tasks)} tasks ran more than once")
results = [l.split() for l in open(sys.argv[3])]
if [int(r[0]) for r in results] != list(range(n)):
    bad("qcollect's results are not each index once, in order")
elif any(r[1] != t["host"] for r, t in zip(results, tasks)):
    bad("a result names another host than qstatus")
runs = Counter(l.split()[0] for l in open(sys.argv[4]))
if sorted(map(int, runs)) != list(range(n)) or set(runs.values()) != {1}:
    bad("the side-effect log does not show each index exactly once")
hosts = Counter(t["host"] for t in tasks)
print(f"  tasks per host: {dict(sorted(hosts.items()))}", file=sys.stderr)
if set(hosts) != {"h1", "h2", "h3"}:
    bad(f"not every node ran tasks: {dict(hosts)}")
sys.exit(0 if ok else 1)
PY

# 2. A node fails mid-job.
M=300
LEASE=2
: > "$T/runs2"
job=$("$QSUBMIT" --array 0..$((M - 1)) -- sh -c \
	"h=\$(uname -n); echo \"{i} \$h \$Q_ATTEMPT\" >> '$T/runs2';
	if [ \$h = h3 ]; then sleep 120; else sleep 0.02; fi; echo result-{i}")
for h in "${MN_HOSTS[@]}"; do
	node_workers $h 2 --exit-when-idle --cpus 1 --lease $LEASE
done
# Both of h3's workers run a task, and the others have done some.
h3_busy() {
	[ "$(cut -d' ' -f2 "$T/runs2" | grep -c h3)" -eq 2 ] &&
		[ "$(wc -l < "$T/runs2")" -ge 30 ]
}
check "2: h3's workers are running tasks" wait_for 60 h3_busy
disown "${NODE_PID[h3]}"   # no "Killed" message from bash
kill -9 "${NODE_PID[h3]}"
killed_at=${EPOCHREALTIME/,/.}
h3_gone() { [ -z "$(ip netns pids "$(cat "$MN_NODES/h3.netns")")" ]; }
check "2: every process of h3's workers is gone" wait_for 10 h3_gone
check "2: the other nodes' workers finish the job" wait_for 120 nodes_gone
"$QCOLLECT" "$job" > "$T/results2"
"$QSTATUS" "$job" --tasks --json > "$T/status2"
expect_eq "2: every result once, in order" \
	"$(seq 0 $((M - 1)) | sed 's/^/result-/')" "$(cat "$T/results2")"
check "2: reruns only of tasks h3 ran when it failed, after its lease" \
	python3 - "$M" "$T/status2" "$T/runs2" "$killed_at" "$LEASE" <<'PY'
import json, sys
from collections import defaultdict
n, killed_at, lease = int(sys.argv[1]), float(sys.argv[4]), int(sys.argv[5])
job = json.load(open(sys.argv[2]))["jobs"][0]
ok = True
def bad(msg):
    global ok
    ok = False
    print("  " + msg, file=sys.stderr)
c = job["counts"]
if c["done"] != n or c["failed"] != 0:
    bad(f"counts {c}")
runs = defaultdict(list)
for l in open(sys.argv[3]):
    i, host, attempt = l.split()
    runs[int(i)].append((host, int(attempt)))
if sorted(runs) != list(range(n)):
    bad("some task never ran")
rerun = 0
delays = []
for t in job["task_list"]:
    r = runs[t["index"]]
    final = (t["host"], t["attempts"])
    if r.count(final) != 1:
        bad(f"task {t['index']}: its recorded run {final} is not in the log once: {r}")
    others = [x for x in r if x != final]
    if any(h != "h3" for h, _ in others):
        bad(f"task {t['index']} ran again without a failure: {r}")
    if others:
        rerun += 1
        if t["host"] == "h3":
            bad(f"task {t['index']} finished on the failed node: {r}")
        # Requeued only once h3's heartbeat was older than the lease;
        # it beat every lease/4, so no sooner than 3/4 of the lease
        # after the kill (less 0.5 s for the time stamps' rounding).
        if t["claimed"] < killed_at + lease * 3 / 4 - 0.5:
            bad(f"task {t['index']} was reclaimed before h3's lease expired")
        delays.append(t["claimed"] - killed_at)
print(f"  {rerun} tasks of h3 ran again, claimed "
      f"{min(delays, default=0):.2f}-{max(delays, default=0):.2f} s after the kill",
      file=sys.stderr)
if rerun != 2:
    bad(f"{rerun} tasks of h3 ran again, not the 2 it was running")
sys.exit(0 if ok else 1)
PY
check "2: qstatus shows h3's workers lost" \
	test "$("$QSTATUS" | grep -c ' h3 .*lost')" -eq 2
finish
