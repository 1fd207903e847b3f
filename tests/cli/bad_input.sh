#!/bin/bash
# bad_input.sh: every kind of bad input is refused with exit status 2, a
# message on stderr that quotes the bad value and says how to fix it, nothing
# on stdout, and the spool left exactly as it was (or still absent).
#
# The qsubmit input cases run twice: once before any spool exists (nothing
# may be created, not even a half-built spool beside it) and once against a
# spool holding a job (nothing may be written into it).
source "$TESTS_DIR/cli/lib.sh"

CAP="$T/capture"        # stdout and stderr of the command under test
mkdir "$CAP"
CASES=0

# snapshot: the spool as spool_snapshot sees it, the file itself when the
# spool path is a plain file, and the names beside the spool (a failed
# create must not leave a temporary spool next to it).
snapshot() {
	spool_snapshot 2>&1
	if [ -f "$QSPOOL" ]; then md5sum "$QSPOOL"; fi
	ls -A "$(dirname "$QSPOOL")"
}

# bad CASE REGEX -- COMMAND...: run COMMAND (stdin empty, at most 30 s) and
# check that (1) it exits with status 2, (2) a line of its stderr matches
# the extended REGEX, and (3) the spool at $QSPOOL is unchanged. It must
# also write nothing on stdout. Each failed check names CASE.
bad() {
	local name=$1 regex=$2
	shift 2
	if [ "${1-}" != "--" ]; then
		fail "$name: test bug: write bad CASE REGEX -- COMMAND..."
		return
	fi
	shift
	CASES=$((CASES + 1))
	local before after rc ok=1
	before=$(snapshot)
	timeout -k 5 30 "$@" >"$CAP/out" 2>"$CAP/err" </dev/null
	rc=$?
	after=$(snapshot)
	if [ "$rc" -eq 2 ]; then pass; else
		fail "$name: exit status $rc, expected 2"
		ok=0
	fi
	if grep -Eq -- "$regex" "$CAP/err"; then pass; else
		fail "$name: stderr does not match /$regex/"
		ok=0
	fi
	if [ "$before" == "$after" ]; then pass; else
		fail "$name: the spool changed:"
		diff <(echo "$before") <(echo "$after") | sed 's/^/    /' >&2
		ok=0
	fi
	if [ -s "$CAP/out" ]; then
		fail "$name: wrote on stdout: $(head -c 200 "$CAP/out")"
		ok=0
	fi
	if [ "$ok" -eq 0 ]; then
		echo "  command: $*" >&2
		sed 's/^/  stderr| /' "$CAP/err" >&2
	fi
}

# Input files for --tasks.
: >"$T/empty.txt"
printf '\n   \n# a comment\n\t# an indented comment\n\n' >"$T/blank.txt"
mkdir "$T/tasks.d"
printf 'echo one\necho t\0wo\necho three\n' >"$T/nul.txt"
printf 'not a spool\n' >"$T/plainfile"

# The bad input qsubmit must refuse before touching the spool. $1 tags the
# case names with the state of the spool.
qsubmit_cases() {
	local s=" ($1)"

	# Unknown options, with a suggestion when one is close.
	bad "qsubmit unknown option$s" \
		"^qsubmit: unknown option '--afer' \(did you mean '--after'\?\)" \
		-- "$QSUBMIT" --afer 1 -- true
	bad "qsubmit unknown short option$s" "^qsubmit: unknown option '-x'" \
		-- "$QSUBMIT" -x -- true
	bad "qsubmit option without its value$s" \
		"^qsubmit: option '--array' needs a value" -- "$QSUBMIT" --array
	bad "qsubmit usage hint$s" "^Try 'qsubmit --help'" \
		-- "$QSUBMIT" --afer 1 -- true

	# What to run.
	bad "missing '--' before the command$s" \
		"^qsubmit: missing '--' before the command 'echo' \(write: qsubmit \[options\] -- echo" \
		-- "$QSUBMIT" echo hi
	bad "'--' with nothing after it$s" "^qsubmit: missing command after '--'" \
		-- "$QSUBMIT" --
	bad "nothing to run$s" \
		"^qsubmit: nothing to run: give a command after '--', --kernel NAME or --tasks FILE" \
		-- "$QSUBMIT"
	bad "a command and a kernel$s" "^qsubmit: give only one of" \
		-- "$QSUBMIT" --kernel pi -- true

	# --array.
	bad "--array 5..2$s" \
		"^qsubmit: --array 5\.\.2 is empty: the end \(2\) is before the start \(5\); write A\.\.B with A <= B" \
		-- "$QSUBMIT" --array 5..2 -- true
	bad "--array a..b$s" \
		"^qsubmit: --array needs A\.\.B with whole numbers \(for example 0\.\.99\), got 'a\.\.b'" \
		-- "$QSUBMIT" --array a..b -- true
	bad "--array 1.5..3$s" \
		"^qsubmit: --array needs A\.\.B with whole numbers .*got '1\.5\.\.3'" \
		-- "$QSUBMIT" --array 1.5..3 -- true
	bad "--array 3$s" \
		"^qsubmit: --array needs A\.\.B with whole numbers .*got '3'" \
		-- "$QSUBMIT" --array 3 -- true

	# Kernels and their arguments.
	bad "unknown kernel$s" \
		"^qsubmit: unknown kernel 'nosuch' \(qsubmit --list-kernels shows them\)" \
		-- "$QSUBMIT" --kernel nosuch
	bad "kernel typo$s" \
		"^qsubmit: unknown kernel 'pii' \(did you mean 'pi'\? qsubmit --list-kernels" \
		-- "$QSUBMIT" --kernel pii
	bad "--arg without '='$s" \
		"^qsubmit: --arg 'samples' has no '=': write --arg KEY=VALUE" \
		-- "$QSUBMIT" --kernel pi --arg samples
	bad "--arg without --kernel$s" \
		"^qsubmit: --arg is for kernels; a command takes its arguments after '--'" \
		-- "$QSUBMIT" --arg samples=100 -- true

	# Names: they become directory entries, so nothing path-like.
	local rule="\(use 1 to 64 letters, digits"
	bad "name with '/'$s" \
		"^qsubmit: invalid name 'a/b': '/' is not allowed $rule" \
		-- "$QSUBMIT" --name a/b -- true
	bad "name with '..'$s" \
		"^qsubmit: invalid name 'a\.\.b': '\.\.' is not allowed $rule" \
		-- "$QSUBMIT" --name a..b -- true
	bad "name '..'$s" \
		"^qsubmit: invalid name '\.\.': it must not start with '\.' $rule" \
		-- "$QSUBMIT" --name .. -- true
	bad "name with a space$s" \
		"^qsubmit: invalid name 'a b': a space is not allowed $rule" \
		-- "$QSUBMIT" --name 'a b' -- true
	bad "name with a control character$s" \
		"^qsubmit: invalid name 'a.b': control character 0x09 is not allowed $rule" \
		-- "$QSUBMIT" --name $'a\tb' -- true
	bad "name of digits only$s" \
		"^qsubmit: invalid name '123': a name made of digits only would read as a job id \(add a letter\)" \
		-- "$QSUBMIT" --name 123 -- true
	bad "empty name$s" "^qsubmit: empty name $rule" \
		-- "$QSUBMIT" --name '' -- true

	# --tasks files.
	bad "--tasks file that does not exist$s" \
		"^qsubmit: tasks file '[^']*/nosuch\.txt' does not exist \(.*one command per line" \
		-- "$QSUBMIT" --tasks "$T/nosuch.txt"
	bad "empty --tasks file$s" \
		"^qsubmit: tasks file '[^']*/empty\.txt' has no commands \(one command per line" \
		-- "$QSUBMIT" --tasks "$T/empty.txt"
	bad "--tasks file of blank lines and comments$s" \
		"^qsubmit: tasks file '[^']*/blank\.txt' has no commands \(one command per line; blank lines and lines starting with # are skipped\)" \
		-- "$QSUBMIT" --tasks "$T/blank.txt"
	bad "--tasks file that is a directory$s" \
		"^qsubmit: tasks file '[^']*/tasks\.d' is a directory \(.*one command per line" \
		-- "$QSUBMIT" --tasks "$T/tasks.d"
	bad "--tasks file with a NUL byte$s" \
		"^qsubmit: tasks file '[^']*/nul\.txt', line 2: contains a NUL byte" \
		-- "$QSUBMIT" --tasks "$T/nul.txt"

	# Numbers.
	bad "--threads 0$s" \
		"^qsubmit: --threads needs a whole number from 1 to [0-9]+, got '0'" \
		-- "$QSUBMIT" --threads 0 -- true
	bad "--threads abc$s" \
		"^qsubmit: --threads needs a whole number from 1 to [0-9]+, got 'abc'" \
		-- "$QSUBMIT" --threads abc -- true
	bad "--chunk 0$s" \
		"^qsubmit: --chunk needs a whole number from 1 to [0-9]+, got '0'" \
		-- "$QSUBMIT" --chunk 0 -- true
	bad "--retries -1$s" \
		"^qsubmit: --retries needs a whole number from 0 to 1000, got '-1'" \
		-- "$QSUBMIT" --retries -1 -- true
	bad "--timeout 0$s" \
		"^qsubmit: --timeout '0': give a time above 0 \(leave it out for none\)" \
		-- "$QSUBMIT" --timeout 0 -- true
	bad "--timeout 5x$s" \
		"^qsubmit: --timeout needs a duration up to a year, such as 30, 30s, 5m or 2h, got '5x'" \
		-- "$QSUBMIT" --timeout 5x -- true
	bad "--priority high$s" \
		"^qsubmit: --priority 'high': give a whole number from -1000000 to 1000000" \
		-- "$QSUBMIT" --priority high -- true

	# An empty dependency (say, from an empty shell variable) must not
	# quietly become no dependency at all.
	bad "--after ''$s" \
		"^qsubmit: --after '' names an empty dependency: write --after DEP\[,DEP\.\.\.\]" \
		-- "$QSUBMIT" --after '' -- true
	bad "--after with an empty item$s" \
		"^qsubmit: --after '7,,8' names an empty dependency" \
		-- "$QSUBMIT" --after 7,,8 -- true
}

# The other commands' option errors, which come before the spool is opened.
other_option_cases() {
	local s=" ($1)"
	bad "qworker unknown option$s" \
		"^qworker: unknown option '--exit-when-iddle' \(did you mean '--exit-when-idle'\?\)" \
		-- "$QWORKER" --exit-when-iddle
	bad "qworker unexpected argument$s" "^qworker: unexpected argument 'foo'" \
		-- "$QWORKER" foo
	bad "qworker --cpus 0$s" \
		"^qworker: --cpus needs a whole number from 1 to [0-9]+, got '0'" \
		-- "$QWORKER" --cpus 0
	bad "qstatus unknown option$s" \
		"^qstatus: unknown option '--wiat' \(did you mean '--wait'\?\)" \
		-- "$QSTATUS" --wiat
	bad "qstatus unknown option, no suggestion$s" \
		"^qstatus: unknown option '--frobnicate'$" -- "$QSTATUS" --frobnicate
	bad "qcollect unknown option$s" \
		"^qcollect: unknown option '--folow' \(did you mean '--follow'\?\)" \
		-- "$QCOLLECT" --folow 1
	bad "qcancel unknown option$s" \
		"^qcancel: unknown option '--spol' \(did you mean '--spool'\?\)" \
		-- "$QCANCEL" --spol x 1
	bad "qcollect without a job$s" "^qcollect: which job\? \(qcollect JOB\)" \
		-- "$QCOLLECT"
	bad "qcancel without a job$s" "^qcancel: which job\? \(qcancel JOB" \
		-- "$QCANCEL"
}

# --help and --version: status 0, on stdout, and no spool is created.
VERSION=$(sed -n "s/^ *version: '\([^']*\)',\$/\1/p" "$TESTS_DIR/../meson.build" |
	head -n 1)
check "the project version is readable from meson.build" test -n "$VERSION"
for bin in "$QSUBMIT" "$QWORKER" "$QSTATUS" "$QCOLLECT" "$QCANCEL"; do
	prog=$(basename "$bin")
	out=$("$bin" --help 2>"$CAP/err")
	expect_eq "$prog --help exit status" 0 $?
	check "$prog --help prints 'usage: $prog'" grep -q "^usage: $prog " <<<"$out"
	check "$prog --help writes nothing on stderr" test ! -s "$CAP/err"
	out=$("$bin" --version 2>"$CAP/err")
	expect_eq "$prog --version exit status" 0 $?
	expect_eq "$prog --version" "$prog (spoolq) $VERSION" "$out"
done
expect_eq "--help and --version leave no spool" absent "$(spool_snapshot)"

# Before any spool exists.
qsubmit_cases "no spool"
other_option_cases "no spool"
bad "--after with no spool" \
	"^qsubmit: dependency '99': there is no spool at '[^']*' yet, so no job to wait for \(submit that job first" \
	-- "$QSUBMIT" --after 99 -- true
bad "qstatus with no spool" \
	"^qstatus: no spool at '[^']*' \(submit a job to create it, or give --spool DIR or QSPOOL\)" \
	-- "$QSTATUS"
bad "qcollect with no spool" "^qcollect: no spool at '[^']*'" -- "$QCOLLECT" 1
bad "qcancel with no spool" "^qcancel: no spool at '[^']*'" -- "$QCANCEL" 1
bad "qworker with no spool" "^qworker: no spool at '[^']*'" \
	-- "$QWORKER" --exit-when-idle
QSPOOL="$T/plainfile" bad "--spool is a regular file (qsubmit)" \
	"^qsubmit: spool path '[^']*/plainfile' is not a directory \(give another path with --spool\)" \
	-- "$QSUBMIT" --spool "$T/plainfile" -- true
QSPOOL="$T/plainfile" bad "--spool is a regular file (qstatus)" \
	"^qstatus: spool path '[^']*/plainfile' is not a directory \(give another path with --spool\)" \
	-- "$QSTATUS" --spool "$T/plainfile"
expect_eq "still no spool after the bad input" absent "$(spool_snapshot)"

# A spool with one array job.
job=$("$QSUBMIT" --name sweep --array 0..9 -- echo '{i}')
expect_eq "qsubmit of the array job" 0 $?
check "the job id is a number" grep -Eq '^[1-9][0-9]*$' <<<"$job"

qsubmit_cases "spool"
other_option_cases "spool"

# Dependencies that cannot be met.
bad "--after a job that does not exist" \
	"^qsubmit: dependency '99': no job 99 in spool '[^']*' \(qstatus lists the jobs\)" \
	-- "$QSUBMIT" --after 99 -- true
bad "--after a job name that does not exist" \
	"^qsubmit: dependency 'nosuch': no job named 'nosuch'" \
	-- "$QSUBMIT" --after nosuch -- true
bad "--after a task that does not exist" \
	"^qsubmit: dependency '$job:nosuch': job $job has no task 'nosuch' \(qstatus $job --tasks lists them\)" \
	-- "$QSUBMIT" --after "$job:nosuch" -- true
bad "--after an index outside the array" \
	"^qsubmit: dependency '$job:sweep\[999\]': task 'sweep' of job $job has indexes 0\.\.9" \
	-- "$QSUBMIT" --after "$job:sweep[999]" -- true
bad "--after an index outside the array, by job name" \
	"^qsubmit: dependency 'sweep\[999\]': task 'sweep' of job $job has indexes 0\.\.9" \
	-- "$QSUBMIT" --after 'sweep[999]' -- true
bad "--after a path" \
	"^qsubmit: dependency '\.\./x': '\.\./x' is neither a job id nor a job name" \
	-- "$QSUBMIT" --after ../x -- true
bad "--after one good and one bad dependency" \
	"^qsubmit: dependency '99': no job 99" -- "$QSUBMIT" --after "$job,99" -- true

# Jobs and tasks that do not exist.
for bin in "$QCOLLECT" "$QCANCEL" "$QSTATUS"; do
	prog=$(basename "$bin")
	bad "$prog with a job that does not exist" \
		"^$prog: no job 99 in spool '[^']*' \(qstatus lists the jobs\)" \
		-- "$bin" 99
	bad "$prog with a job name that does not exist" \
		"^$prog: no job named 'nosuch' in spool" -- "$bin" nosuch
done
bad "qcollect with two jobs" "^qcollect: one job at a time, got '$job' and '99'" \
	-- "$QCOLLECT" "$job" 99
bad "qcancel of a task that does not exist" \
	"^qcancel: job $job has no task 'nosuch' \(qstatus $job --tasks lists them\)" \
	-- "$QCANCEL" "$job" nosuch
bad "qcancel of an index outside the array" \
	"^qcancel: task 'sweep\[999\]' is outside 'sweep' \(indexes 0\.\.9\)" \
	-- "$QCANCEL" "$job" 'sweep[999]'
bad "qcancel of one good and one bad task" "^qcancel: job $job has no task 'nosuch'" \
	-- "$QCANCEL" "$job" sweep nosuch

# A spool that cannot be written. The tests run as root, which may write
# anywhere, so make it read-only with a bind mount in a private mount
# namespace. (The single-quoted scripts expand $QSPOOL and the tool paths,
# exported by meson and lib.sh, in the inner shell.)
# shellcheck disable=SC2016
ro_probe() {
	unshare --mount --propagation private bash -c \
		'mount --bind -o ro "$QSPOOL" "$QSPOOL" && test ! -w "$QSPOOL"' \
		2>/dev/null
}
# shellcheck disable=SC2016
if ro_probe; then
	bad "read-only spool (qsubmit)" \
		"^qsubmit: cannot write to spool '[^']*' \(use a spool you can write with --spool\): Read-only file system" \
		-- unshare --mount --propagation private bash -c \
		'mount --bind -o ro "$QSPOOL" "$QSPOOL" && exec "$QSUBMIT" -- true'
	bad "read-only spool (qcancel)" "^qcancel: cannot write to spool '[^']*'" \
		-- unshare --mount --propagation private bash -c \
		'mount --bind -o ro "$QSPOOL" "$QSPOOL" && exec "$QCANCEL" "$1"' \
		_ "$job"
else
	echo "SKIP: read-only spool cases: 'unshare --mount' with a read-only" \
		"bind mount is not permitted here"
fi

# A spool of a format this spoolq does not know.
QSPOOL="$T/spool7" "$QSUBMIT" -- true >/dev/null
expect_eq "qsubmit creates a second spool" 0 $?
printf 'spoolq-spool 7\n' >"$T/spool7/format"
fmt7="^PROG: spool '[^']*/spool7' has format version 7, but this spoolq \([^)]*\) reads version [0-9]+ \(use the spoolq that made it, or a new spool\)"
for bin in "$QSUBMIT" "$QSTATUS" "$QWORKER" "$QCOLLECT"; do
	prog=$(basename "$bin")
	case $prog in
	qsubmit) args=(-- true) ;;
	qworker) args=(--exit-when-idle) ;;
	qcollect) args=(1) ;;
	*) args=() ;;
	esac
	QSPOOL="$T/spool7" bad "spool format version 7 ($prog)" \
		"${fmt7//PROG/$prog}" -- "$bin" "${args[@]}"
done

# A spool everyone may write to: anyone could make the workers run their
# commands, so it is refused.
QSPOOL="$T/spoolw" "$QSUBMIT" -- true >/dev/null
expect_eq "qsubmit creates a third spool" 0 $?
chmod 0777 "$T/spoolw"
for bin in "$QSUBMIT" "$QSTATUS" "$QWORKER"; do
	prog=$(basename "$bin")
	case $prog in
	qsubmit) args=(-- true) ;;
	qworker) args=(--exit-when-idle) ;;
	*) args=() ;;
	esac
	QSPOOL="$T/spoolw" bad "world-writable spool ($prog)" \
		"^$prog: refusing spool '[^']*/spoolw': it is writable by everyone \(mode 0777\).*\(fix: chmod o-w " \
		-- "$bin" "${args[@]}"
done
check "the world-writable spool keeps its mode" \
	test "$(stat -c %a "$T/spoolw")" == 777

# The spool still holds exactly the one job, untouched by all of the above.
out=$("$QSTATUS" --json)
expect_eq "qstatus after the bad input" 0 $?
check "the spool lists only job $job" \
	test "$(grep -Ec '^ +\{"id": ' <<<"$out")" -eq 1
check "job $job has its 10 ready tasks" \
	grep -Eq "\"id\": $job, \"name\": \"sweep\".*\"tasks\": 10.*\"ready\": 10" <<<"$out"

echo "$CASES bad-input cases"
finish
