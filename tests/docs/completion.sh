#!/bin/bash
# completion.sh: the bash completion, driven the way bash drives it
# (COMP_WORDS, COMP_CWORD, then the function, then COMPREPLY), against
# real spools: job ids and names, task names for qcancel, --spool DIR and
# --spool=DIR before $QSPOOL before ./qspool, options, and files where an
# option takes one. Run twice: sourced alone, and after bash-completion's
# own script when it is installed (which users have).
source "$TESTS_DIR/cli/lib.sh"
SCRIPT=$SPOOLQ_SOURCE_DIR/cmd/completion/spoolq.bash

# Two jobs in the spool of $QSPOOL: 'alpha' (one command) and the workflow
# 'beta-sweep' (tasks prep and run).
cat >"$T/beta.yaml" <<'YAML'
name: beta-sweep
tasks:
  prep: {cmd: "true"}
  run: {cmd: "true", array: 0..2, after: [prep]}
YAML
expect_eq "job 1" 1 "$("$QSUBMIT" --name alpha -- true)"
expect_eq "job 2" 2 "$("$QSUBMIT" "$T/beta.yaml")"
# Another spool with one job, 'gamma', for --spool.
expect_eq "other spool's job 1" 1 \
	"$("$QSUBMIT" --spool "$T/other" --name gamma -- true)"
# ./qspool, the default when neither --spool nor $QSPOOL is given.
mkdir "$T/cwd"
expect_eq "./qspool's job 1" 1 \
	"$(cd "$T/cwd" && "$QSUBMIT" --spool qspool --name delta -- true)"
# Files for the options that take one.
mkdir "$T/files" "$T/files/sub"
touch "$T/files/flow.yaml" "$T/files/flow2.yml" "$T/files/notes.txt" \
	"$T/files/libk.so" "$T/files/page.html"

# complete_words PRELUDE WORD...: the sorted completions of the command
# line WORD... with the cursor in the last word, in a fresh bash (in the
# current directory, with the current environment) that sourced PRELUDE (a
# file, or "" for none) and the script. Words are given as bash splits
# them: "--spool=DIR" is "--spool" "=" "DIR".
complete_words() {
	local prelude=$1
	shift
	(bash -c '
		prelude=$1 script=$2
		shift 2
		[ -n "$prelude" ] && source "$prelude"
		source "$script" || exit 1
		COMP_WORDS=("$@")
		COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		COMP_LINE="$*" COMP_POINT=${#COMP_LINE}
		_spoolq "$1" "${COMP_WORDS[COMP_CWORD]}" \
			"${COMP_WORDS[COMP_CWORD-1]}"
		printf "%s\n" "${COMPREPLY[@]}"' _ "$prelude" "$SCRIPT" "$@") |
		LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//'
}

run_checks() {
	local p=$1 mode=$2
	# expect WHAT EXPECTED WORD...: exactly these completions.
	expect() {
		local what=$1 want=$2
		shift 2
		expect_eq "$mode: $what" "$want" "$(complete_words "$p" "$@")"
	}
	# expect_has WHAT WANTED WORD...: this one among the completions.
	expect_has() {
		local what=$1 want=$2 got
		shift 2
		got=" $(complete_words "$p" "$@") "
		check "$mode: $what: '$want' in '$got'" \
			test "${got/ $want /}" != "$got"
	}
	cd "$T/files" || exit 1
	expect "job ids and names" "1 2 alpha beta-sweep" qstatus ""
	expect "a name by its start" "beta-sweep" qstatus be
	expect "an id by its start" "1" qstatus 1
	expect "more jobs after a job" "1 2 alpha beta-sweep" qstatus 1 ""
	expect "--spool DIR wins over QSPOOL" "1 gamma" \
		qstatus --spool "$T/other" ""
	expect "--spool=DIR (split at '=') wins" "1 gamma" \
		qstatus --spool = "$T/other" ""
	expect "--spool after the job" "1 gamma" \
		qcollect --json --spool "$T/other" ""
	expect "one job for qcollect" "" qcollect alpha ""
	expect "qcancel: jobs first" "1 2 alpha beta-sweep" qcancel ""
	expect "qcancel: then the job's tasks" "prep run" qcancel beta-sweep ""
	expect "qcancel: tasks of a job by id" "run" qcancel 2 r
	expect "qcancel: tasks with --spool" "gamma" \
		qcancel --spool "$T/other" gamma ""
	expect "no such spool: nothing" "" qstatus --spool "$T/nowhere" ""
	expect "options" "--wait --watch" qstatus --wa
	expect "options of qworker" "--mpi --mpi-mem --mpi-prefault --mpi-threshold" \
		qworker --mp
	expect "no operands for qworker" "" qworker ""
	expect "--spool takes a directory" "sub" qworker --spool s
	expect "--spool=DIR takes a directory" "sub" qworker --spool = s
	expect "--output takes a directory" "sub" qcollect 1 --output ""
	expect "--tasks takes a file" "flow.yaml flow2.yml" \
		qsubmit --tasks fl
	expect "--check takes a workflow" "flow.yaml flow2.yml sub" \
		qsubmit --check ""
	expect "--plugin takes a shared object" "libk.so sub" \
		qworker --plugin ""
	expect "--report takes an HTML file" "page.html sub" \
		qstatus 2 --report ""
	expect "a workflow file for qsubmit" "flow.yaml flow2.yml sub" \
		qsubmit ""
	expect "a workflow file for qrun" "flow.yaml flow2.yml sub" qrun ""
	expect "options after qrun's file" "--workers" qrun flow.yaml --w
	expect "the option's value is not the workflow" \
		"flow.yaml flow2.yml sub" qrun --workers 2 ""
	expect_has "--kernel from --list-kernels" "pi" "$QSUBMIT" --kernel p
	expect "--after: jobs" "1 2 alpha beta-sweep" qsubmit --after ""
	expect "--after: the last of a list" "1,alpha" qsubmit --after 1,al
	expect "--after: --spool" "1 gamma" \
		qsubmit --spool "$T/other" --after ""
	expect_has "a command after --" "true" qsubmit --name x -- tru
	expect "its arguments are files" "notes.txt" qsubmit -- cat no
	expect "--wait=SECONDS: nothing to offer" "" qstatus --wait = ""
	# Without --spool and $QSPOOL: ./qspool of the current directory.
	cd "$T/cwd" || exit 1
	expect_eq "$mode: ./qspool when QSPOOL is empty" "1 delta" \
		"$(QSPOOL='' complete_words "$p" qstatus "")"
	expect_eq "$mode: ./qspool when QSPOOL is unset" "1 delta" \
		"$(unset QSPOOL; complete_words "$p" qstatus "")"
}

run_checks "" "alone"
BASH_COMPLETION=/usr/share/bash-completion/bash_completion
if [ -r "$BASH_COMPLETION" ]; then
	run_checks "$BASH_COMPLETION" "with bash-completion"
else
	echo "note: $BASH_COMPLETION not installed; checked the script alone"
fi
finish
