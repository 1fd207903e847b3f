#!/bin/bash
# job_refs.sh: job references through the real commands (the rule is in
# libq/include/spoolq/job.h, q_job_resolve): an exact id or name always
# wins; a unique start of a name means that name; an ambiguous one is an
# error listing the names; digits are ids, never prefixes.
source "$TESTS_DIR/cli/lib.sh"

# expect_fail WHAT STATUS PATTERN COMMAND...: COMMAND exits with STATUS,
# and its stderr matches the extended regular expression PATTERN.
expect_fail() {
	local what=$1 want=$2 pattern=$3 status
	shift 3
	"$@" >"$T/out" 2>"$T/err"
	status=$?
	expect_eq "$what: exit status" "$want" "$status"
	check "$what: stderr matches '$pattern' (got: $(cat "$T/err"))" \
		grep -qE -- "$pattern" "$T/err"
}

# The JOB column of qstatus JOB...: which jobs a reference meant.
shown_jobs() {
	"$QSTATUS" "$@" | awk 'NR > 1 && /^[0-9]/ { print $1 }' |
		tr '\n' ' ' | sed 's/ $//'
}

# Jobs 1..12 named task-1..task-12 (so "1" and "task-1" also start the
# id and name of jobs 10..12), then job 13 named other-thing.
for i in $(seq 1 12); do
	expect_eq "submit job $i" "$i" "$("$QSUBMIT" --name "task-$i" -- true)"
done
expect_eq "submit job 13" 13 "$("$QSUBMIT" --name other-thing -- true)"

expect_eq "an exact id wins over longer ids" "1" "$(shown_jobs 1)"
expect_eq "an exact name wins over longer names" "1" "$(shown_jobs task-1)"
expect_eq "ids and names together" "12 1 13" "$(shown_jobs 12 task-1 oth)"
expect_eq "a unique start of a name" "13" "$(shown_jobs other)"

expect_fail "an ambiguous start of a name" 2 \
	"^qstatus: job 'task' is ambiguous in spool '[^']*': no job is named so, and it starts the names 'task-12' \(job 12\), 'task-11' \(job 11\), 'task-10' \(job 10\), 'task-9' \(job 9\), 'task-8' \(job 8\) and 7 more; give more of the name, or the job id \(qstatus lists the jobs\)$" \
	"$QSTATUS" task
expect_fail "a start that no name has" 2 \
	"^qstatus: no job named 'thing' in spool '[^']*', and no name starts so" \
	"$QSTATUS" thing

# Job 1 removed by hand: "1" is not job 10, 11 or 12, and with 11 and 12
# gone too, not job 10, the only id left that starts with 1.
rm -rf "$QSPOOL/jobs/1" "$QSPOOL/jobs/11" "$QSPOOL/jobs/12"
expect_fail "a missing id is no prefix" 2 \
	"^qstatus: no job 1 in spool '[^']*' \(qstatus lists the jobs\)$" \
	"$QSTATUS" 1
expect_eq "job 10 is still there" "10" "$(shown_jobs 10)"

# The other commands take references the same way.
# Dependencies name their job exactly: a start of a name is refused, so a
# script's --after never binds to another job that starts so.
expect_fail "qsubmit --after: a start of a name is no dependency" 2 \
	"^qsubmit: dependency 'oth': no job named 'oth' in spool '[^']*' \(a dependency names its job exactly" \
	"$QSUBMIT" --after oth -- true
dep=$("$QSUBMIT" --after other-thing -- true)
expect_eq "qsubmit --after the whole name" 14 "$dep"
check "job 14 waits for job 13" \
	grep -q '^after 13 ' "$QSPOOL/jobs/14/spec"
"$QCANCEL" oth >"$T/out" 2>"$T/err"
expect_eq "qcancel by a unique start" \
	"qcancel: cancelled 1 task of job 13" "$(cat "$T/err")"
expect_fail "qcollect by a unique start (its task was cancelled)" 1 \
	"^qcollect: job 13 task other-thing cancelled" "$QCOLLECT" oth
expect_fail "qcancel: an ambiguous start" 2 \
	"^qcancel: job 'task' is ambiguous" "$QCANCEL" task
expect_fail "qcollect: an ambiguous start" 2 \
	"^qcollect: job 'task' is ambiguous" "$QCOLLECT" task
expect_fail "qsubmit --after: an ambiguous start is no dependency either" 2 \
	"^qsubmit: dependency 'task': no job named 'task'" \
	"$QSUBMIT" --after task -- true
finish
