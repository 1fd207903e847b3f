#!/bin/bash
# broadcast.sh: a job's broadcast input without MPI. Kernels read it with
# q_ctx_broadcast (bcast_slice), commands find it in $Q_BROADCAST; bad
# input (a missing file, a directory, a workflow's broadcast: that is not
# a file, two of them) is refused clearly with the spool unchanged; a
# file changed after submission fails the tasks that read it, saying so.
. "$TESTS_DIR/cli/lib.sh"

head -c 1000003 /dev/urandom > "$T/in.bin"
mkdir "$T/dir"
job=$("$QSUBMIT" --broadcast "$T/in.bin" --kernel bcast_slice --array 0..3 \
	--arg slice={i} --arg of=4)
cmd=$("$QSUBMIT" --broadcast "$T/in.bin" -- sh -c 'cksum < "$Q_BROADCAST"')
"$QWORKER" --cpus 2 --exit-when-idle
"$QCOLLECT" "$job" > "$T/slices"
expect_eq "kernel: every slice done" 0 $?
expect_eq "kernel: 4 slices of the whole input" 4 \
	"$(grep -c ' total 1000003$' "$T/slices")"
expect_eq "kernel: the slices add up" 1000003 \
	"$(awk '{ n += $6 } END { print n }' "$T/slices")"
expect_eq "command: \$Q_BROADCAST is the file" "$(cksum < "$T/in.bin")" \
	"$("$QCOLLECT" "$cmd")"

before=$(spool_snapshot)
bad() {
	local what=$1 expect=$2
	shift 2
	"$QSUBMIT" "$@" > /dev/null 2> "$T/err"
	expect_eq "$what: exit status" 2 $?
	check "$what: says '$expect'" grep -q -- "$expect" "$T/err"
}
bad "a missing file" "broadcast input '$T/nope': cannot find it" \
	--broadcast "$T/nope" -- true
bad "a directory" "is not a regular file" --broadcast "$T/dir" -- true
printf 'name: w\nbroadcast: [a, b]\ntasks:\n  t: {cmd: "true"}\n' > "$T/list.yaml"
bad "a workflow's broadcast: list" "list.yaml': line 2, column 12: broadcast (a file) must be a single value" \
	"$T/list.yaml"
printf 'name: w\nbroadcast: nope.bin\ntasks:\n  t: {cmd: "true"}\n' > "$T/missing.yaml"
bad "a workflow's missing broadcast file" "missing.yaml': line 2, column 12: broadcast input .*: cannot find it" \
	"$T/missing.yaml"
printf 'name: w\nbroadcast: in.bin\ntasks:\n  t: {cmd: "true"}\n' > "$T/both.yaml"
bad "a workflow's and --broadcast" "give one of them" \
	"$T/both.yaml" --broadcast "$T/in.bin"
expect_eq "bad input leaves the spool unchanged" "$before" "$(spool_snapshot)"

# The file changes after submission: the tasks that read it fail, and
# say why; nothing reads other bytes than were submitted.
late=$("$QSUBMIT" --broadcast "$T/in.bin" --kernel bcast_slice)
printf 'spoolq-changed!!' | dd of="$T/in.bin" bs=1 seek=5 conv=notrunc status=none
"$QWORKER" --exit-when-idle
"$QCOLLECT" "$late" > /dev/null 2>&1
expect_eq "a changed file: the task failed" 1 $?
check "a changed file: the log says so" grep -q "changed after it was submitted" \
	<("$QCOLLECT" "$late" --stderr 2>/dev/null)

# The input's content is part of a pure task's key: the same task with
# another broadcast input runs again instead of reusing the result.
head -c 1000 /dev/zero > "$T/a.bin"
head -c 1000 /dev/zero | tr '\0' 'x' > "$T/b.bin"
a=$("$QSUBMIT" --broadcast "$T/a.bin" --kernel bcast_slice)
"$QWORKER" --exit-when-idle
b=$("$QSUBMIT" --broadcast "$T/b.bin" --kernel bcast_slice)
"$QWORKER" --exit-when-idle
check "another input: not reused" \
	test "$("$QCOLLECT" "$a")" != "$("$QCOLLECT" "$b")"
finish
