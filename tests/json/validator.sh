#!/bin/bash
# validator.sh: the checker the JSON tests rely on does fail: on a wrong
# type, a missing field, a bad enum value, a time not written as
# q_json_time writes it, duplicate keys, broken JSON and broken JSON
# lines, documents that do not show every variant (--cover), and a stale
# --allow-unseen. And it accepts an unknown field (docs/json.md:
# consumers ignore them). Without this, outputs.sh could pass because
# validate.py accepts anything.
#
# The cases are files in $T/cases; validate.py checks all the bad ones
# of a schema in one run (Python with jsonschema takes ~0.3 s to start)
# and each must get its own message, naming the file.
. "$TESTS_DIR/cli/lib.sh"
V=$TESTS_DIR/json/validate.py
S=$TESTS_DIR/../docs/schema
if ! python3 -c 'import jsonschema' 2>/dev/null; then
	echo "SKIP: python3 has no jsonschema module (Debian: apt install" \
		"python3-jsonschema)"
	exit 77
fi
C=$T/cases
mkdir -p "$C"

# sub TEXT OLD NEW: TEXT with the first OLD (literal) replaced by NEW.
sub() {
	local s=$1
	printf '%s' "${s/"$2"/"$3"}"
}

# bad NAME TEXT PATTERN [N]: a case that must fail with PATTERN in its
# message, and with N messages in all (default 1: it fails for that
# reason alone).
BAD=()
PATTERNS=()
MESSAGES=0
bad() {
	printf '%s' "$2" > "$C/$1"
	BAD+=("$C/$1")
	PATTERNS+=("$3")
	MESSAGES=$((MESSAGES + ${4:-1}))
}

# run_bad SCHEMA [OPTIONS...]: every case so far fails, each for its reason.
run_bad() {
	local schema=$1
	shift
	python3 "$V" "$@" "$S/$schema" "${BAD[@]}" > "$T/v.out" 2> "$T/v.err"
	expect_eq "$schema: the bad cases fail" 1 $?
	for i in "${!BAD[@]}"; do
		local name=${BAD[$i]##*/}
		check "$schema: $name: '${PATTERNS[$i]}'" \
			grep -qF -- "$C/$name:" <(grep -F -- "${PATTERNS[$i]}" "$T/v.err")
	done
	local n
	n=$(grep -c . "$T/v.err")
	expect_eq "$schema: the messages of the bad cases" "$MESSAGES" "$n"
	[ "$n" == "$MESSAGES" ] || cat "$T/v.err" >&2
	BAD=()
	PATTERNS=()
	MESSAGES=0
}

# expect_valid SCHEMA TEXT [OPTIONS...]
expect_valid() {
	local schema=$1
	printf '%s' "$2" > "$C/good"
	shift 2
	python3 "$V" "$@" "$S/$schema" "$C/good" > "$T/v.out" 2> "$T/v.err"
	expect_eq "$schema: valid: $(head -c 60 "$C/good")" 0 $?
	check "$schema: valid: no message" test ! -s "$T/v.err"
}

# ---- spoolq.status/1 ----
good='{"schema": "spoolq.status/1", "spool": "/s", "jobs": [{"id": 1, "name": "a", "submitted": 1700000000.000001, "tasks": 1, "counts": {"waiting": 0, "ready": 1, "running": 0, "done": 0, "failed": 0, "cancelled": 0, "cached": 0}, "state": "ready", "moved": {"mpi_bytes": 0, "file_bytes": 0}}], "workers": []}'
task='{"task": "a", "item": 0, "index": 0, "state": "ready", "attempts": 0, "host": null, "worker": null, "exit": null, "claimed": null, "start": null, "end": null, "reason": null, "slot": null, "reused": false}'
with_task() { sub "$good" '"file_bytes": 0}' "\"file_bytes\": 0}, \"task_list\": [$1]"; }
worker='{"id": "h.1.a", "host": "h", "pid": 1, "cpus": 2, "lease": 60, "started": 1.000000, "heartbeat": 2.000000, "slurm_job": "7", "slurm": {"job": "7", "step": null, "task": "0", "node": null}, "alive": true}'
with_worker() { sub "$good" '"workers": []' "\"workers\": [$1]"; }
expect_valid status-1.schema.json "$good"
expect_valid status-1.schema.json "$(sub "$good" '"spool"' '"later_field": [1], "spool"')"
expect_valid status-1.schema.json "$(with_task "$task")"
expect_valid status-1.schema.json "$(with_worker "$worker")"
bad id_string "$(sub "$good" '"id": 1' '"id": "1"')" \
	"at jobs[0].id: '1' is not of type 'integer'"
bad no_workers "$(sub "$good" ', "workers": []' '')" \
	"'workers' is a required property"
bad job_state "$(sub "$good" '"state": "ready"' '"state": "finishd"')" \
	"at jobs[0].state: 'finishd' is not one of"
bad schema_id "$(sub "$good" 'status/1' 'status/2')" \
	"at schema: 'spoolq.status/1' was expected"
bad time_3_decimals "$(sub "$good" '1700000000.000001' '1700000000.001')" \
	"at jobs[0].submitted: time 1700000000.001 is not written as seconds with exactly 6 decimals"
bad time_integer "$(sub "$good" '1700000000.000001' '1700000000')" \
	"at jobs[0].submitted: time 1700000000 is not written"
bad time_exponent "$(sub "$good" '1700000000.000001' '1.7e9')" \
	"at jobs[0].submitted: time 1.7e9 is not written"
bad time_negative "$(sub "$good" '1700000000.000001' '-1.000000')" \
	"at jobs[0].submitted: -1.0 is less than the minimum of 0"
bad time_string "$(sub "$good" '1700000000.000001' '"1700000000.000001"')" \
	"is not of type 'number', 'null'"
bad count_negative "$(sub "$good" '"ready": 1' '"ready": -1')" \
	"at jobs[0].counts.ready: -1 is less than the minimum of 0"
bad duplicate_key "$(sub "$good" '"spool": "/s"' '"spool": "/s", "spool": "/t"')" \
	"duplicate key 'spool'"
bad nan "$(sub "$good" '"mpi_bytes": 0' '"mpi_bytes": NaN')" \
	"'NaN' is not JSON"
bad truncated "${good:0:40}" "not JSON"
bad two_documents "$good$good" "not JSON: Extra data"
bad not_utf8 "$(sub "$good" '"a"' $'"\xff"')" "not UTF-8"
bad ready_with_exit "$(with_task "$(sub "$task" '"exit": null' '"exit": 0')")" \
	"at jobs[0].task_list[0].exit: 0 is not of type 'null'"
bad failed_no_reason "$(with_task "$(sub "$task" '"ready"' '"failed"')")" \
	"at jobs[0].task_list[0].reason: None is not of type 'string'"
bad task_state "$(with_task "$(sub "$task" '"ready"' '"queued"')")" \
	"at jobs[0].task_list[0].state: 'queued' is not one of"
bad slurm_task_number "$(with_worker "$(sub "$worker" '"task": "0"' '"task": 0')")" \
	"at workers[0].slurm.task: 0 is not of type 'string'"
bad alive_string "$(with_worker "$(sub "$worker" '"alive": true' '"alive": "yes"')")" \
	"at workers[0].alive: 'yes' is not of type 'boolean'"
run_bad status-1.schema.json

# Coverage: one document cannot show every variant, and a stale
# exception is refused.
printf '%s' "$good" > "$C/one"
python3 "$V" --cover "$S/status-1.schema.json" "$C/one" > /dev/null 2> "$T/v.err"
expect_eq "--cover on one document" 1 $?
check "--cover names what is missing" \
	grep -qF 'not covered by any document: jobs[].state="finished"' "$T/v.err"
check "--cover: a time never null" \
	grep -qF 'not covered by any document: jobs[].submitted:null' "$T/v.err"
check "--cover: an optional field never there" \
	grep -qF 'not covered by any document: jobs[].task_list:present' "$T/v.err"
check "--cover: a boolean never false" \
	grep -qF 'not covered by any document: workers[].alive=false' "$T/v.err"
python3 "$V" --cover --allow-unseen 'jobs[].nope:null' \
	"$S/status-1.schema.json" "$C/one" > /dev/null 2> "$T/v.err"
expect_eq "a stale --allow-unseen" 1 $?
check "it is named" grep -qF "validate.py: --allow-unseen 'jobs[].nope:null': the schema has no such variant" "$T/v.err"

# ---- spoolq.collect/1 (JSON lines) ----
line='{"job": 1, "task": "a", "label": "a", "index": 0, "item": 0, "state": "done", "exit": 0, "host": "h", "worker": "h.1.a", "start": 1.000000, "end": 2.000000, "attempts": 1, "reason": null, "result": "x\n"}'
expect_valid collect-1.schema.json "$line"$'\n'"$line"$'\n' --lines
expect_valid collect-1.schema.json "" --lines
expect_valid collect-1.schema.json "$(sub "$line" '"x\n"' 'null, "result_path": "/p"')"$'\n' --lines
bad no_newline "$line" "the last line has no newline"
bad empty_line "$line"$'\n\n' ":2: an empty line"
bad pretty "$(sub "$line" ', "task"' $',\n"task"')"$'\n' ":1: not JSON" 2
bad null_result "$(sub "$line" '"x\n"' 'null')"$'\n' \
	"'result_path' is a required property"
bad path_and_result "$(sub "$line" '"x\n"' '"x", "result_path": "/p"')"$'\n' \
	"at result: 'x' is not of type 'null'"
bad running "$(sub "$line" '"done"' '"running"')"$'\n' \
	"at state: 'running' is not one of"
bad second_line "$line"$'\n'"$(sub "$line" '"job": 1' '"job": 0')"$'\n' \
	":2: at job: 0 is less than the minimum of 1"
bad array_line '[1]'$'\n' "at (top): [1] is not of type 'object'"
run_bad collect-1.schema.json --lines

# ---- spoolq.events/1 (JSON lines) ----
event='{"job": 1, "item": 0, "task": "a", "index": 0, "attempt": 1, "outcome": "running", "state": "running", "exit": null, "reused": false, "worker": "h.1.a", "host": "h", "slot": 0, "claimed": 1.000000, "start": null, "end": null, "reason": null}'
final=$(sub "$(sub "$event" '"running", "state": "running"' '"final", "state": "done"')" '"start": null, "end": null' '"start": 1.000000, "end": 2.000000')
expect_valid events-1.schema.json "$event"$'\n'"$final"$'\n' --lines
bad running_exit "$(sub "$event" '"exit": null' '"exit": 3')"$'\n' \
	"at exit: 3 is not of type 'null'"
bad reused_failed "$(sub "$(sub "$final" '"done"' '"failed"')" '"reused": false' '"reused": true')"$'\n' \
	"at state: 'done' was expected"
bad retry_done "$(sub "$final" '"final"' '"retry"')"$'\n' \
	"at state: 'failed' was expected"
bad outcome "$(sub "$final" '"final"' '"finished"')"$'\n' \
	"at outcome: 'finished' is not one of"
bad attempt_zero "$(sub "$final" '"attempt": 1' '"attempt": 0')"$'\n' \
	"at attempt: 0 is less than the minimum of 1"
run_bad events-1.schema.json --lines

# ---- crosscheck.py: the outputs must agree ----
X=$TESTS_DIR/json/crosscheck.py
status='{"schema": "spoolq.status/1", "spool": "/s", "jobs": [{"id": 1, "name": "a", "submitted": 1.000000, "tasks": 1, "counts": {"waiting": 0, "ready": 0, "running": 0, "done": 1, "failed": 0, "cancelled": 0, "cached": 0}, "state": "finished", "moved": {"mpi_bytes": 0, "file_bytes": 0}, "task_list": [{"task": "a", "item": 0, "index": 0, "state": "done", "attempts": 1, "host": "h", "worker": "h.1.a", "exit": 0, "claimed": 1.000000, "start": 1.000000, "end": 2.000000, "reason": null, "slot": 0, "reused": false}]}], "workers": []}'
final='{"job": 1, "item": 0, "task": "a", "index": 0, "attempt": 1, "outcome": "final", "state": "done", "exit": 0, "reused": false, "worker": "h.1.a", "host": "h", "slot": 0, "claimed": 1.000000, "start": 1.000000, "end": 2.000000, "reason": null}'
# crosscheck WHAT STATUS COLLECT-LINE EVENT-LINE WANT [PATTERN]
crosscheck() {
	rm -rf "$T/x" && mkdir -p "$T/x/c" "$T/x/e"
	printf '%s' "$2" > "$T/x/status.json"
	printf '%s\n' "$3" > "$T/x/c/a.jsonl"
	[ -z "$4" ] || printf '%s\n' "$4" > "$T/x/e/a.jsonl"
	python3 "$X" "$T/x/status.json" "$T/x/c" "$T/x/e" > /dev/null 2> "$T/x/err"
	expect_eq "crosscheck: $1" "$5" $?
	[ -z "${6:-}" ] || check "crosscheck: $1: says '$6'" grep -qF -- "$6" "$T/x/err"
}
crosscheck "agreeing outputs" "$status" "$line" "$final" 0
crosscheck "another exit status" "$status" "$(sub "$line" '"exit": 0' '"exit": 2')" "$final" 1 \
	"job 1 item 0: exit 2, qstatus --tasks says 0"
crosscheck "no --events output for a done task" "$status" "$line" "" 1 \
	"job 1: a was claimed but no --events output has its attempts"
crosscheck "no attempt for a done task" "$status" "$line" \
	"$(sub "$final" '"item": 0' '"item": 1')" 1 "a (done) has no attempt"
check "crosscheck: and names the stray item" \
	grep -qF "attempts of items the job does not have: [1]" "$T/x/err"
crosscheck "a reused attempt not counted as cached" "$status" "$line" \
	"$(sub "$final" '"reused": false' '"reused": true')" 1 \
	"1 reused attempts, qstatus counts 0 cached"
crosscheck "counts that do not add up" "$(sub "$status" '"done": 1' '"done": 2')" \
	"$line" "$final" 1 "do not add up to 1"
crosscheck "a job state its counts contradict" \
	"$(sub "$status" '"state": "finished"' '"state": "running"')" "$line" "$final" 1 \
	"state running, counts say finished"
crosscheck "times out of order" "$(sub "$status" '"start": 1.000000, "end": 2.000000' '"start": 3.000000, "end": 2.000000')" \
	"$(sub "$line" '"start": 1.000000' '"start": 3.000000')" \
	"$(sub "$final" '"start": 1.000000' '"start": 3.000000')" 1 "times out of order"

# Usage, a bad schema, and a missing jsonschema module.
python3 "$V" "$S/status-1.schema.json" 2>/dev/null
expect_eq "no file: usage" 2 $?
python3 "$V" --bogus "$S/status-1.schema.json" "$C/good" 2>/dev/null
expect_eq "an unknown option" 2 $?
echo '{"type": 12}' > "$T/bad.schema.json"
python3 "$V" "$T/bad.schema.json" "$C/good" 2> "$T/v.err"
expect_eq "a bad schema" 2 $?
check "names the bad schema" grep -qF "bad schema '$T/bad.schema.json'" "$T/v.err"
mkdir "$T/nojs"
echo 'raise ImportError("hidden by validator.sh")' > "$T/nojs/jsonschema.py"
PYTHONPATH=$T/nojs python3 "$V" "$S/status-1.schema.json" "$C/good" 2> "$T/v.err"
expect_eq "no jsonschema module: skipped" 77 $?
check "says what to install" grep -q "install python3-jsonschema" "$T/v.err"
finish
