#!/bin/bash
# outputs.sh: every JSON output of the read commands, on a real spool
# that shows every state and field, validated against docs/schema/ and
# checked against each other (crosscheck.py):
#   qstatus --json (no job, JOB..., --tasks; with workers alive and dead,
#     under Slurm and not), qstatus JOB --events,
#   qcollect --json (in order, --follow, --stderr, --no-wait).
# The jobs: done, failed with a reason, retried, timed out, cancelled by
# qcancel and by a failed dependency, waiting and ready while no worker
# runs, reused (cached), an array, a --tasks file, kernels, a big result
# given by its path, text that needs escaping, a task run on every
# worker, and one task (the gate) that is handed back by a stopping
# worker, then lost with a killed one, then finished.
. "$TESTS_DIR/cli/lib.sh"
V=$TESTS_DIR/json/validate.py
S=$TESTS_DIR/../docs/schema
if ! python3 -c 'import jsonschema' 2>/dev/null; then
	echo "SKIP: python3 has no jsonschema module (Debian: apt install" \
		"python3-jsonschema)"
	exit 77
fi
O=$T/out
mkdir -p "$O/status" "$O/collect" "$O/events"

# ---- helpers ----

# snap_status NAME ARGS...: qstatus ARGS --json into $O/status/NAME.json.
snap_status() {
	local name=$1
	shift
	"$QSTATUS" "$@" --json > "$O/status/$name.json"
	expect_eq "qstatus $* --json: exit status" 0 $?
}
# snap_collect NAME STATUS ARGS...: qcollect ARGS --json into
# $O/collect/NAME.jsonl; STATUS is its expected exit status.
snap_collect() {
	local name=$1 want=$2
	shift 2
	timeout 60 "$QCOLLECT" "$@" --json > "$O/collect/$name.jsonl" 2> "$T/collect.err"
	expect_eq "qcollect $* --json: exit status" "$want" $?
}
# snap_events NAME JOB: qstatus JOB --events into $O/events/NAME.jsonl.
snap_events() {
	"$QSTATUS" "$2" --events > "$O/events/$1.jsonl"
	expect_eq "qstatus $2 --events: exit status" 0 $?
}
# assert_json WHAT FILE PYTHON: PYTHON runs with `d`, the document in
# FILE (or with --lines `L`, its lines); it must not raise.
assert_json() {
	local what=$1 file=$2 code=$3
	check "$what" python3 -c '
import json, sys
text = open(sys.argv[1]).read()
if sys.argv[3] == "lines":
    L = [json.loads(l) for l in text.splitlines()]
else:
    d = json.loads(text)
def job(i):
    return next(j for j in d["jobs"] if j["id"] == i)
def task(i, label):
    return next(t for t in job(i)["task_list"] if t["task"] == label)
exec(sys.argv[2])' "$file" "$code" "${4:-doc}"
}
finished() {
	"$QSTATUS" --wait=0 "$@" > /dev/null
	[ $? != 4 ]
}
running() {
	grep -q '"state": "running"' <("$QSTATUS" "$1" --json)
}
# workers_alive N: N workers registered and alive.
workers_alive() {
	[ "$(grep -c '"alive": true' <("$QSTATUS" --json))" -eq "$1" ]
}
gate_runs() {
	[ -e "$T/gate.pids" ] && [ "$(wc -l < "$T/gate.pids")" -ge "$1" ] &&
		running "$gate"
}
# worker_pid ID: the pid of a worker, from its id (host.pid.random).
worker_pid() {
	local rest=${1#*.}
	echo "${rest%%.*}"
}
gate_worker() {
	python3 -c 'import json, sys
d = json.load(sys.stdin)
print(d["jobs"][0]["task_list"][0]["worker"])' < <("$QSTATUS" "$gate" --tasks --json)
}

# ---- phase A: jobs submitted, no worker yet ----
text=$("$QSUBMIT" --name text -- sh -c 'printf "h\303\251llo \342\234\223 tab\there \001 quote\" back\\\\ \377\n"')
bad=$("$QSUBMIT" --name bad -- sh -c 'echo partial; echo oops >&2; exit 3')
arr=$("$QSUBMIT" --name arr --array 3..5 -- sh -c 'echo "item {i}"; echo "err {i}" >&2')
printf 'echo first\necho second\n' > "$T/lines"
lines=$("$QSUBMIT" --tasks "$T/lines")
pi=$("$QSUBMIT" --kernel pi --array 0..1 --arg samples=1000)
retry=$("$QSUBMIT" --name retry --retries 1 -- sh -c 'echo "try $Q_ATTEMPT" >&2; exit 1')
slow=$("$QSUBMIT" --name slow --timeout 1 -- sleep 60)
big=$("$QSUBMIT" --kernel blob --arg bytes=70000)
each=$("$QSUBMIT" --name each --each-worker -- sh -c 'echo "each on $Q_WORKER"')
doomed=$("$QSUBMIT" --name doomed -- true)
orphan=$("$QSUBMIT" --name orphan --after "$bad" -- echo never)
gate=$("$QSUBMIT" --name gate -- sh -c 'echo $$ >> "$0/gate.pids"; while [ ! -e "$0/release" ]; do sleep 0.05; done; echo "released on attempt $Q_ATTEMPT"' "$T")
waiter=$("$QSUBMIT" --name waiter --after "$gate" -- echo after)
"$QCANCEL" "$doomed" 2> /dev/null
expect_eq "qcancel before any worker" 0 $?

snap_status a_all
snap_status a_tasks --tasks
snap_status a_some "$text" "$waiter" --tasks
assert_json "before any worker: waiting, ready and cancelled" "$O/status/a_tasks.json" "
assert job($waiter)['state'] == 'waiting', job($waiter)
assert task($waiter, 'waiter')['state'] == 'waiting'
assert job($text)['state'] == 'ready', job($text)
t = task($text, 'text')
assert t['attempts'] == 0 and t['worker'] is None and t['claimed'] is None, t
assert job($doomed)['state'] == 'finished-with-failures'
t = task($doomed, 'doomed')
assert t['state'] == 'cancelled' and t['reason'] == 'cancelled by qcancel', t
assert d['workers'] == [], d['workers']"
assert_json "JOB... shows those jobs, in that order" "$O/status/a_some.json" "
assert [j['id'] for j in d['jobs']] == [$text, $waiter], d['jobs']"
snap_events early-text "$text"
check "no attempt yet: no event" test ! -s "$O/events/early-text.jsonl"
snap_collect early-text 1 "$text" --no-wait
check "nothing finished: no line" test ! -s "$O/collect/early-text.jsonl"

# ---- phase B: one worker runs everything but the gate ----
start_worker --no-exit-when-idle --cpus 2 --grace 0
w1=$!
check "the gate starts" wait_for 60 gate_runs 1
check "everything else but the waiter finishes" wait_for 60 finished \
	"$text" "$bad" "$arr" "$lines" "$pi" "$retry" "$slow" "$big" "$each" \
	"$doomed" "$orphan"
# The same kernel, arguments and indices again: reused, not run.
cached=$("$QSUBMIT" --kernel pi --array 0..1 --arg samples=1000)
check "the cached job finishes" wait_for 60 finished "$cached"
# Workers under Slurm (a job step, and a batch script: no step, no
# node name) and one that is killed: shown as not alive.
env SLURM_JOB_ID=4242 SLURM_STEP_ID=3 SLURM_PROCID=5 SLURMD_NODENAME=cn017 \
	SLURM_CPUS_PER_TASK=1 "$QWORKER" --no-exit-when-idle 2>/dev/null &
PIDS+=($!)
env SLURM_JOB_ID=77 SLURM_CPUS_PER_TASK=1 "$QWORKER" --no-exit-when-idle \
	2>/dev/null &
PIDS+=($!)
"$QWORKER" --no-exit-when-idle --cpus 1 2>/dev/null &
doomed_worker=$!
PIDS+=($doomed_worker)
check "four workers register" wait_for 60 workers_alive 4
kill -9 "$doomed_worker"
{ wait "$doomed_worker"; } 2>/dev/null
check "the killed one is not alive" wait_for 60 workers_alive 3

snap_status b_all
snap_status b_tasks --tasks
snap_status b_two "$arr" "$gate"
assert_json "a running task's claim time is when its worker claimed it" \
	"$O/status/b_tasks.json" "
t = task($gate, 'gate')
w = next(w for w in d['workers'] if w['id'] == t['worker'])
assert t['claimed'] >= w['started'], ('claimed', t['claimed'], 'by a worker started at', w['started'])"
assert_json "while the gate runs" "$O/status/b_tasks.json" "
assert job($gate)['state'] == 'running', job($gate)
t = task($gate, 'gate')
assert t['state'] == 'running' and t['attempts'] == 1 and t['claimed'], t
assert job($cached)['counts']['cached'] == 2, job($cached)
assert job($pi)['counts']['cached'] == 0, job($pi)
t = task($retry, 'retry')
assert (t['state'], t['attempts'], t['exit'], t['reason']) == ('failed', 2, 1, 'exit status 1'), t
t = task($slow, 'slow')
assert t['state'] == 'failed' and t['exit'] == -15 and t['reason'] == 'timed out after 1 s', t
t = task($orphan, 'orphan')
assert t['state'] == 'cancelled' and 'failed' in t['reason'], t
assert [t['task'] for t in job($arr)['task_list']] == ['arr[3]', 'arr[4]', 'arr[5]']
assert [t['index'] for t in job($arr)['task_list']] == [3, 4, 5]
assert [t['task'] for t in job($lines)['task_list']] == ['lines[0]', 'lines[1]']
w = d['workers']
assert sorted(x['alive'] for x in w) == [False, True, True, True], w
slurm = sorted((x['slurm'] for x in w if x['slurm']), key=lambda s: s['job'])
assert slurm == [{'job': '4242', 'step': '3', 'task': '5', 'node': 'cn017'},
                 {'job': '77', 'step': None, 'task': '0', 'node': None}], slurm
assert all(x['slurm_job'] == (x['slurm'] or {}).get('job') for x in w), w"

for j in text bad arr lines pi retry slow big each doomed orphan cached; do
	id=${!j}
	want=0
	case $j in bad|retry|slow|doomed|orphan) want=1 ;; esac
	snap_collect "$j" $want "$id"
	snap_collect "$j.follow" $want "$id" --follow
	snap_collect "$j.stderr" $want "$id" --stderr
	snap_events "$j" "$id"
done
snap_collect early-gate 1 "$gate" --no-wait
check "a running task: no line" test ! -s "$O/collect/early-gate.jsonl"
snap_events early-gate "$gate"
assert_json "the running attempt" "$O/events/early-gate.jsonl" "
assert [(e['outcome'], e['state'], e['attempt']) for e in L] == [('running', 'running', 1)], L" lines
assert_json "text is escaped, bytes that are not UTF-8 become U+FFFD" \
	"$O/collect/text.jsonl" "
assert L[0]['result'] == 'h\u00e9llo \u2713 tab\there \x01 quote\" back\\\\ \ufffd\n', L[0]" lines
check "escapes written as JSON escapes" grep -qF 'tab\there \u0001 quote\" back\\ \ufffd\n' "$O/collect/text.jsonl"
assert_json "a failed task's line" "$O/collect/bad.jsonl" "
assert (L[0]['state'], L[0]['exit'], L[0]['reason'], L[0]['result']) == ('failed', 3, 'exit status 3', 'partial\n'), L" lines
assert_json "its stderr" "$O/collect/bad.stderr.jsonl" "
assert L[0]['result'] == 'oops\n', L" lines
assert_json "an array's lines" "$O/collect/arr.jsonl" "
assert [(l['task'], l['label'], l['index'], l['item'], l['result']) for l in L] == [
    ('arr', 'arr[3]', 3, 0, 'item 3\n'), ('arr', 'arr[4]', 4, 1, 'item 4\n'),
    ('arr', 'arr[5]', 5, 2, 'item 5\n')], L" lines
assert_json "a big result is given by its path" "$O/collect/big.jsonl" "
import os
l = L[0]
assert l['result'] is None and os.path.isabs(l['result_path']), l
assert os.path.getsize(l['result_path']) == 70000, l" lines
assert_json "the retried task: one retry, then its final failure" \
	"$O/events/retry.jsonl" "
assert [(e['attempt'], e['outcome'], e['state'], e['exit']) for e in L] == [
    (1, 'retry', 'failed', 1), (2, 'final', 'failed', 1)], L" lines
assert_json "the cached job: reused results" "$O/events/cached.jsonl" "
assert [(e['outcome'], e['reused'], e['state']) for e in L] == [('final', True, 'done')] * 2, L" lines

# ---- phase C: the gate is handed back, then lost, then finished ----
kill -TERM "$w1"
w1_gone() { ! kill -0 "$w1" 2>/dev/null; }
check "the first worker stops" wait_for 60 w1_gone
check "another worker takes the gate" wait_for 60 gate_runs 2
owner=$(gate_worker)
owner_pid=$(worker_pid "$owner")
check "the gate's worker is one of ours" kill -0 "$owner_pid"
kill -9 "$owner_pid"
{ wait "$owner_pid"; } 2>/dev/null
kill -9 -- -"$(tail -n 1 "$T/gate.pids")" 2>/dev/null
"$QSTATUS" --repair > /dev/null 2>&1
check "the last worker takes the gate" wait_for 60 gate_runs 3
touch "$T/release"
check "the gate and its waiter finish" wait_for 60 finished "$gate" "$waiter"

snap_status c_tasks --tasks
snap_status c_all
snap_events gate "$gate"
snap_events waiter "$waiter"
for j in gate waiter; do
	snap_collect "$j" 0 "${!j}"
	snap_collect "$j.follow" 0 "${!j}" --follow
	snap_collect "$j.stderr" 0 "${!j}" --stderr
done
assert_json "the gate's attempts: handed back, lost, final" "$O/events/gate.jsonl" "
got = sorted((e['outcome'], e['state'], e['exit'], e['reason']) for e in L)
assert got == [('final', 'done', 0, None),
               ('handback', 'cancelled', -15, 'stopped by the worker'),
               ('lost', 'running', None, None)], L
assert len(set(e['worker'] for e in L)) == 3, L
assert [e['attempt'] for e in L] == [1, 1, 2], L
lost = next(e for e in L if e['outcome'] == 'lost')
assert lost['start'] is None and lost['end'] is not None, lost" lines
assert_json "the gate's attempts in the order they were claimed" "$O/events/gate.jsonl" "
assert [e['outcome'] for e in L] == ['handback', 'lost', 'final'], [
    (e['outcome'], e['claimed']) for e in L]" lines
assert_json "the gate's result" "$O/collect/gate.jsonl" "
assert L[0]['result'].startswith('released on attempt '), L" lines

# ---- every document and line against its schema ----
# Variants no run here can show (each says why):
#   submitted, started, heartbeat: null only for files written without
#     them (older writers); a record's start and end, likewise;
#   collect and events carry no "schema" field (yet: docs/json.md);
#   an attempt's claim time, worker and host are null only when the
#     spool does not say (a claim that vanished while being read, a
#     damaged event log).
python3 "$V" --cover \
	--allow-unseen 'jobs[].submitted:null' \
	--allow-unseen 'workers[].started:null' \
	--allow-unseen 'workers[].heartbeat:null' \
	"$S/status-1.schema.json" "$O"/status/*.json
expect_eq "qstatus --json: valid, every variant shown" 0 $?
python3 "$V" --lines --cover \
	--allow-unseen 'schema:present' \
	--allow-unseen 'start:null' --allow-unseen 'end:null' \
	"$S/collect-1.schema.json" "$O"/collect/*.jsonl
expect_eq "qcollect --json: valid, every variant shown" 0 $?
python3 "$V" --lines --cover \
	--allow-unseen 'schema:present' --allow-unseen 'claimed:null' \
	--allow-unseen 'worker:null' --allow-unseen 'host:null' \
	"$S/events-1.schema.json" "$O"/events/*.jsonl
expect_eq "qstatus --events: valid, every variant shown" 0 $?

# ---- qrun --json: the same lines as qcollect --json, on its own spool;
# the final task's, and every task's that did not succeed ----
mkdir -p "$O/qrun"
cat > "$T/qrun.yaml" <<'YAML'
name: qrunjson
tasks:
  prep: {cmd: "echo prep"}
  flaky: {cmd: "echo half; exit 4", after: [prep]}
  side: {cmd: "echo side", after: [prep]}
YAML
timeout 120 "$QRUN" "$T/qrun.yaml" --spool "$T/qrun-spool" --workers 2 --quiet --json > "$O/qrun/run.jsonl" 2> "$T/qrun.err"
expect_eq "qrun --json: exit 1 (a task failed)" 1 $?
assert_json "qrun --json: the final tasks, the failed one too, in order" "$O/qrun/run.jsonl" "
assert [(l['task'], l['state'], l['exit'], l['result']) for l in L] == [
    ('flaky', 'failed', 4, 'half\\n'), ('side', 'done', 0, 'side\\n')], L" lines
python3 "$V" --lines "$S/collect-1.schema.json" "$O"/qrun/*.jsonl
expect_eq "qrun --json: valid spoolq.collect/1" 0 $?
"$QRUN" "$T/qrun.yaml" --json --output "$T/o" > /dev/null 2> "$T/qrun2.err"
expect_eq "qrun --json --output: usage error" 2 $?
check "qrun --json --output: says to choose" grep -q "choose one" "$T/qrun2.err"

# ---- qsubmit --check --json and --list-kernels --json ----
mkdir -p "$O/check" "$O/kernels"
"$QSUBMIT" --check "$T/qrun.yaml" --json > "$O/check/qrun.json"
expect_eq "qsubmit --check --json: exit 0" 0 $?
assert_json "the check: 3 tasks, 3 definitions, depth 2" "$O/check/qrun.json" "
assert (d['file'], d['tasks'], d['definitions'], d['depth']) == ('$T/qrun.yaml', 3, 3, 2), d" doc
python3 "$V" "$S/check-1.schema.json" "$O/check/qrun.json"
expect_eq "qsubmit --check --json: valid spoolq.check/1" 0 $?
printf 'tasks:\n  a: {cmd: true, after: [nope]}\n' > "$T/bad.yaml"
"$QSUBMIT" --check "$T/bad.yaml" --json > "$T/bad.out" 2> "$T/bad.err"
expect_eq "a bad workflow: exit 2" 2 $?
expect_eq "a bad workflow: no JSON on stdout" "" "$(cat "$T/bad.out")"
"$QSUBMIT" --list-kernels --json --plugin "$QEXAMPLE_PLUGIN" > "$O/kernels/all.jsonl"
expect_eq "qsubmit --list-kernels --json: exit 0" 0 $?
assert_json "built-ins without origin, the plugin's with its file" "$O/kernels/all.jsonl" "
names = [l['name'] for l in L]
assert 'pi' in names and 'sum' in names, names
assert all(l['origin'] is None for l in L if l['name'] in ('pi', 'sum', 'hello')), L
assert any(l['origin'] and l['origin'].endswith('.so') for l in L), L" lines
python3 "$V" --lines "$S/kernels-1.schema.json" "$O/kernels/all.jsonl"
expect_eq "qsubmit --list-kernels --json: valid spoolq.kernels/1" 0 $?
"$QSUBMIT" --json -- true > /dev/null 2> "$T/json-submit.err"
expect_eq "qsubmit --json for a submission: usage error" 2 $?
check "says what --json goes with" grep -q "goes with --list-kernels or --check" "$T/json-submit.err"

# ---- the outputs agree with each other ----
python3 "$TESTS_DIR/json/crosscheck.py" --each-worker "$each" \
	"$O/status/c_tasks.json" "$O/collect" "$O/events"
expect_eq "qstatus, qcollect and --events agree" 0 $?
finish
