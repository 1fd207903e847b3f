#!/bin/bash
# security.sh: a spool that others could write to, or that holds what
# spoolq never writes, is refused with a message; nothing outside the
# spool is touched (docs/security.md).
#
# 1. Ownership and modes: a spool or one of its top-level directories
#    writable by everyone, owned by another user (refused for root too),
#    or of another group in a group spool.
# 2. Symbolic links planted in every directory of a spool with jobs in
#    every state, pointing at a canary outside: every tool ignores or
#    refuses them, none crashes or hangs, the canary is unchanged.
# 3. An output file replaced by a FIFO or a 10 GB sparse file: qcollect
#    and a dependent task refuse it, naming it; nothing hangs or reads it.
# 4. Names with traversal in qcollect, qstatus and qcancel arguments and
#    in workflow files (qsubmit's own options: bad_input.sh).
# 5. The environment a command task sees (docs/security.md).
# Runtime: about 5 s.
. "$TESTS_DIR/cli/lib.sh"

CAP=$T/cap
mkdir -p "$CAP"

# refused CASE REGEX -- COMMAND...: exit status 2, a stderr line matching
# REGEX, nothing on stdout.
refused() {
	local name=$1 regex=$2
	shift 3
	timeout -k 5 30 "$@" > "$CAP/out" 2> "$CAP/err" < /dev/null
	local rc=$?
	if [ $rc -ne 2 ]; then
		fail "$name: exit status $rc, expected 2"
		sed 's/^/    /' "$CAP/err" >&2
	elif ! grep -Eq -- "$regex" "$CAP/err"; then
		fail "$name: stderr does not match /$regex/:"
		sed 's/^/    /' "$CAP/err" >&2
	elif [ -s "$CAP/out" ]; then
		fail "$name: wrote on stdout"
	else
		pass
	fi
}

# ---- 1. ownership and modes ----

S=$T/perm
QSPOOL=$S "$QSUBMIT" --name one -- true > /dev/null
"$QSUBMIT" --spool "$S" --kernel hello > /dev/null      # makes cache/ when run
QSPOOL=$S "$QWORKER" --exit-when-idle 2> /dev/null
check "the spool is created 0700" test "$(stat -c %a "$S")" == 700
for d in tmp jobs workers cache; do
	check "$d/ exists and is 0700" test "$(stat -c %a "$S/$d")" == 700
	chmod o+w "$S/$d"
	for bin in "$QSTATUS" "$QSUBMIT" "$QWORKER" "$QCOLLECT" "$QCANCEL"; do
		prog=$(basename "$bin")
		case $prog in
		qsubmit) args=(-- true) ;;
		qworker) args=(--exit-when-idle) ;;
		qcollect | qcancel) args=(1) ;;
		*) args=() ;;
		esac
		QSPOOL=$S refused "world-writable $d/ ($prog)" \
			"^$prog: refusing spool '$S': '$S/$d/' is writable by everyone \(mode 0702\), .*\(fix: chmod o-w '$S/$d'\)" \
			-- "$bin" "${args[@]}"
	done
	check "$d/ keeps its mode" test "$(stat -c %a "$S/$d")" == 702
	chmod o-w "$S/$d"

	chmod g+w "$S/$d"
	QSPOOL=$S refused "group-writable $d/ in a private spool" \
		"^qstatus: refusing spool '$S': '$S/$d/' is writable by group [^ ]+ \(mode 0720\) but the spool is not group-shared \(fix: chmod g-w '$S/$d'\)" \
		-- "$QSTATUS"
	chmod g-w "$S/$d"

	chown 12345 "$S/$d"
	QSPOOL=$S refused "$d/ owned by another user" \
		"^qworker: refusing spool '$S': '$S/$d/' belongs to uid 12345, not to you, .*\(fix: .*chown -R 0 '$S/$d'\)" \
		-- "$QWORKER" --exit-when-idle
	chown 0 "$S/$d"
done

# root is not special: another user's spool is refused, even to root.
chown 12345 "$S"
for bin in "$QSTATUS" "$QWORKER"; do
	prog=$(basename "$bin")
	args=()
	[ "$prog" == qworker ] && args=(--exit-when-idle)
	QSPOOL=$S refused "a spool of uid 12345 ($prog as root)" \
		"^$prog: refusing spool '$S': '$S' belongs to uid 12345, not to you, root \(uid 0\), and the spool is not group-shared \(fix: run as uid 12345, or have uid 12345 share it with a group" \
		-- "$bin" "${args[@]}"
done
chown 0 "$S"

# A group spool: fine for a member (root is in group 0); a directory of
# another group, or a spool of a group the caller is not in, is refused.
chmod 2770 "$S"
expect_eq "a group spool of a group we are in" 0 \
	"$(QSPOOL=$S "$QSTATUS" > /dev/null 2>&1; echo $?)"
other=$(getent group nogroup | cut -d: -f3)
other=${other:-65534}
chgrp "$other" "$S/jobs"
QSPOOL=$S refused "group spool: jobs/ of another group" \
	"^qstatus: refusing spool '$S': '$S/jobs/' has group [^ ]+, not the spool's group root \(fix: chgrp root '$S/jobs'\)" \
	-- "$QSTATUS"
chgrp 0 "$S/jobs"
chgrp "$other" "$S"
QSPOOL=$S refused "group spool of a group we are not in" \
	"^qstatus: refusing spool '$S': it is shared with group [^ ]+ \(mode 2770\) and you, root \(uid 0\), are not a member" \
	-- "$QSTATUS"
chgrp 0 "$S"
chmod 700 "$S"
expect_eq "the spool works again once fixed" 0 \
	"$(QSPOOL=$S "$QSTATUS" > /dev/null 2>&1; echo $?)"

# Under a umask of 022, every directory a group spool gains later (jobs
# and their insides, cancel/, cache/) keeps group write and setgid: other
# members rename and remove entries there.
G=$T/group-spool
(
	umask 022
	export QSPOOL=$G
	a=$("$QSUBMIT" --group --name first --array 0..3 -- true)
	"$QSUBMIT" --name second --after "$a" -- true > /dev/null
	"$QCANCEL" "$a" 2> /dev/null
	"$QSUBMIT" --name pure --kernel hello > /dev/null
	"$QWORKER" --exit-when-idle 2> /dev/null
)
expect_eq "group spool directories made under umask 022 keep mode 2770" "" \
	"$(find "$G" -mindepth 1 -type d ! -perm -2770)"

# ---- 2. symbolic links planted everywhere ----

CANARY=$T/canary
mkdir -p "$CANARY/dir"
echo secret > "$CANARY/file"
echo secret > "$CANARY/dir/file"
chmod 0600 "$CANARY/file"
canary_state() {
	(cd "$CANARY" && find . -printf '%p %y %m %s %T@ %U %G\n' | LC_ALL=C sort &&
		find . -type f -exec md5sum {} + | LC_ALL=C sort)
}
canary_before=$(canary_state)

# A spool with jobs in every state: finished (a big output in its own
# file, a pure kernel in cache/), ready, waiting (watch/), cancelled.
export QSPOOL=$T/links
"$QSUBMIT" --name big -- sh -c 'head -c 100000 /dev/zero' > /dev/null
"$QSUBMIT" --name pure --kernel hello > /dev/null
"$QWORKER" --exit-when-idle 2> /dev/null
ready=$("$QSUBMIT" --name ready --array 0..3 -- echo '{i}')
"$QSUBMIT" --name waiting --after "$ready" -- true > /dev/null
gone=$("$QSUBMIT" --name gone -- true)
"$QCANCEL" "$gone" > /dev/null 2>&1

# In every directory: a link with a name that parses like its siblings'
# (the first entry's name with a 9 appended, a directory link for a
# directory, a file link for a file) and one that does not.
planted=0
while IFS= read -r d; do
	first=$(ls -A "$d" | head -n 1)
	if [ -n "$first" ]; then
		if [ -d "$d/$first" ]; then target=$CANARY/dir; else target=$CANARY/file; fi
		ln -s "$target" "$d/${first}9" && planted=$((planted + 1))
	fi
	ln -s "$CANARY/dir" "$d/zz-planted" && planted=$((planted + 1))
done < <(find "$QSPOOL" -mindepth 1 -type d)
# And entries spoolq reads, replaced by links: a finished job's job file
# (not the ready job's: the job waiting for it could then never run, and
# the worker below would rightly never be idle) and the big job's output.
for f in jobs/2/job "$(cd "$QSPOOL" && find jobs/1/out -name '*.out' | head -n 1)"; do
	mv "$QSPOOL/$f" "$QSPOOL/$f.moved"
	ln -s "$CANARY/file" "$QSPOOL/$f"
done
check "links were planted in many directories ($planted)" test "$planted" -ge 40

# Every tool: no crash, no hang (exit status below 124), a message when
# it fails.
run_tool() {
	local what=$1
	shift
	timeout -k 5 60 "$@" > "$CAP/out" 2> "$CAP/err" < /dev/null
	local rc=$?
	if [ $rc -ge 124 ]; then
		fail "$what with planted links: exit status $rc (crash or hang)"
		sed 's/^/    /' "$CAP/err" | head -20 >&2
	elif [ $rc -ne 0 ] && ! grep -Eq "^q[a-z]+: " "$CAP/err"; then
		fail "$what with planted links: exit status $rc without a message"
	else
		pass
	fi
}
run_tool "qstatus" "$QSTATUS"
run_tool "qstatus --tasks" "$QSTATUS" --tasks
run_tool "qstatus --json" "$QSTATUS" --json
run_tool "qstatus --repair" "$QSTATUS" --repair
run_tool "qsubmit" "$QSUBMIT" --name more -- true
run_tool "qsubmit --after" "$QSUBMIT" --after "$ready" -- true
# Entries planted in todo/ keep a job unfinished forever (an entry there
# means "not done"); with nothing ready or running in it, the worker
# says so and leaves.
run_tool "qworker" "$QWORKER" --exit-when-idle --lease 5
check "the worker names the job that cannot go on" \
	grep -q "^qworker: job [0-9]* cannot go on: nothing in it is ready or running" "$CAP/err"
run_tool "qcollect (link instead of the output file)" "$QCOLLECT" 1
check "qcollect names the link" grep -q "refusing '$QSPOOL/jobs/1/out/0/[^']*\.out': it is a symbolic link" "$CAP/err"
run_tool "qcollect" "$QCOLLECT" "$ready"
run_tool "qcollect of a job with a link for its job file" "$QCOLLECT" 2
check "qcollect names it" grep -q "jobs/2/job" "$CAP/err"
run_tool "qcancel" "$QCANCEL" "$ready"
run_tool "qstatus --repair, again" "$QSTATUS" --repair
canary_after=$(canary_state)
expect_eq "the canary is untouched" "$canary_before" "$canary_after"
check "the links are still links" test -L "$QSPOOL/jobs/2/job"
unset QSPOOL
export QSPOOL=$T/spool

# ---- 3. a FIFO or a 10 GB sparse file instead of an output ----

big=$("$QSUBMIT" --name big -- sh -c 'head -c 100000 /dev/zero | tr "\0" x')
"$QWORKER" --exit-when-idle 2> /dev/null
out=$(cd "$QSPOOL" && find "jobs/$big/out" -name '*.out')
check "the big output has its own file" test -f "$QSPOOL/$out"
rm "$QSPOOL/$out"
mkfifo "$QSPOOL/$out"
refused "qcollect of a FIFO" \
	"^qcollect: refusing '$QSPOOL/$out': it is a FIFO, not a regular file" \
	-- "$QCOLLECT" "$big"
refused "qcollect --json of a FIFO" \
	"^qcollect: refusing '$QSPOOL/$out': it is a FIFO" \
	-- "$QCOLLECT" "$big" --json
# A dependent command would block reading it: the worker refuses to pass it.
dep=$("$QSUBMIT" --name reader --after "$big" -- sh -c 'wc -c < "$Q_INPUT_0"')
kdep=$("$QSUBMIT" --name kreader --after "$big" --kernel hello)
timeout -k 5 60 "$QWORKER" --exit-when-idle 2> "$CAP/err"
expect_eq "the worker finishes" 0 $?
check "the dependent command failed, naming the FIFO" \
	grep -q "reader .*failed .*cannot pass the inputs: refusing '$QSPOOL/$out': it is a FIFO" \
	<("$QSTATUS" "$dep" --tasks)
expect_eq "qstatus --repair with a FIFO output" 0 \
	"$("$QSTATUS" --repair > /dev/null 2>&1; echo $?)"
rm "$QSPOOL/$out"
truncate -s 10G "$QSPOOL/$out"
refused "qcollect of a 10 GB sparse file" \
	"^qcollect: refusing '$QSPOOL/$out': it holds 10737418240 bytes but its record says 100000" \
	-- "$QCOLLECT" "$big"
check "the sparse file was not read (no blocks allocated)" \
	test "$(stat -c %b "$QSPOOL/$out")" -eq 0
dep2=$("$QSUBMIT" --name reader2 --after "$big" -- sh -c 'wc -c < "$Q_INPUT_0"')
timeout -k 5 60 "$QWORKER" --exit-when-idle 2> /dev/null
check "the dependent command failed, naming the sparse file" \
	grep -q "reader2 .*failed .*refusing '$QSPOOL/$out': it holds 10737418240 bytes" \
	<("$QSTATUS" "$dep2" --tasks)
: "$kdep"

# ---- 4. names with traversal ----

for arg in ../x ../../etc/passwd . .. a/b "$(printf 'a\tb')" \
	"$(head -c 300 /dev/zero | tr '\0' a)"; do
	for bin in "$QCOLLECT" "$QSTATUS" "$QCANCEL"; do
		prog=$(basename "$bin")
		refused "$prog '$arg'" "^$prog: " -- "$bin" "$arg"
	done
	refused "qcancel $big '$arg' (task)" "^qcancel: " -- "$QCANCEL" "$big" "$arg"
done
W=$T/wf
mkdir -p "$W"
n=0
for name in '../x' '..' '.' 'a/b' '"a\tb"' "$(head -c 65 /dev/zero | tr '\0' a)"; do
	n=$((n + 1))
	printf 'tasks:\n  %s: {cmd: "true"}\n' "$name" > "$W/bad$n.yaml"
	refused "workflow task name $name" \
		"^qsubmit: .*bad$n\.yaml': line 2, column 3: (invalid )?task name" \
		-- "$QSUBMIT" "$W/bad$n.yaml"
done
printf 'tasks:\n  a: {cmd: "true", after: ["../x"]}\n' > "$W/after.yaml"
refused "workflow after: ../x" "^qsubmit: .*after\.yaml': line 2, column [0-9]+: " \
	-- "$QSUBMIT" "$W/after.yaml"
printf 'name: ../x\ntasks:\n  a: {cmd: "true"}\n' > "$W/jobname.yaml"
refused "workflow job name ../x" "^qsubmit: .*jobname\.yaml': line 1, column [0-9]+: " \
	-- "$QSUBMIT" "$W/jobname.yaml"

# ---- 5. the environment of a command task ----

env_job=$(QSPOOL_EXTRA=kept Q_JOB=stale "$QSUBMIT" \
	--name envy --env MY_VAR=mine --env Q_TASK=fake -- env)
SPOOLQ_TEST_KNOB=1 FROM_WORKER=yes Q_JOB=stale Q_INPUT_3=/etc/passwd \
	"$QWORKER" --exit-when-idle 2> /dev/null
"$QCOLLECT" "$env_job" > "$CAP/env"
check "the worker's environment is inherited" grep -qx "FROM_WORKER=yes" "$CAP/env"
check "the task's env: is set" grep -qx "MY_VAR=mine" "$CAP/env"
check "spoolq's variables win over the task's env:" grep -qx "Q_TASK=envy" "$CAP/env"
check "a stale Q_JOB is replaced" grep -qx "Q_JOB=$env_job" "$CAP/env"
check "no SPOOLQ_ variable reaches a task" test "$(grep -c '^SPOOLQ_' "$CAP/env")" -eq 0
check "no stale input variable" test "$(grep -c '^Q_INPUT_3=' "$CAP/env")" -eq 0
check "OMP_NUM_THREADS is set" grep -qx "OMP_NUM_THREADS=1" "$CAP/env"
check "the submitter's environment is not passed" test "$(grep -c '^QSPOOL_EXTRA=' "$CAP/env")" -eq 0
check "Q_SPOOL is the worker's spool" grep -qx "Q_SPOOL=$QSPOOL" "$CAP/env"
check "each Q_ variable once" \
	test "$(grep -E '^Q_[A-Z_0-9]*=' "$CAP/env" | cut -d= -f1 | sort | uniq -d | wc -l)" -eq 0

finish
