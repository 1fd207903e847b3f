#!/bin/bash
# mpi_options.sh: qworker's MPI options refuse bad values clearly (exit
# status 2, nothing changed in the spool), and qworker --mpi started on
# its own is a world of one rank: it holds results and writes them to
# the spool when it exits.
. "$TESTS_DIR/mpi/lib.sh"

"$QSUBMIT" --name seed -- true > /dev/null
before=$(spool_snapshot)
bad() {
	local what=$1 expect=$2
	shift 2
	"$QWORKER" "$@" --exit-when-idle > /dev/null 2> "$T/err"
	expect_eq "$what: exit status" 2 $?
	check "$what: says '$expect'" grep -q -- "$expect" "$T/err"
}
bad "threshold below the inline size" "--mpi-threshold needs a size in bytes from 65537" \
	--mpi --mpi-threshold 1000
bad "a size with a bad unit" "optionally with K, M, G or T" --mpi --mpi-mem 4X
bad "a size that is not a number" "got 'lots'" --mpi --mpi-mem lots
bad "a budget below 1 MiB" "from 1048576" --mpi --mpi-mem 1K
bad "MPI options without --mpi" "go with --mpi" --mpi-threshold 2M
expect_eq "the spool is unchanged" "$before" "$(spool_snapshot)"

cat > "$T/wf.yaml" <<YAML
name: alone
tasks:
  make:
    kernel: blob
    args: {mib: 3}
  check:
    kernel: blob_check
    after: [make]
    args: {expect_bytes: 3145728}
YAML
"$QSUBMIT" "$T/wf.yaml" > /dev/null
"$QWORKER" --mpi --mpi-threshold 2M --mpi-mem 16M --exit-when-idle \
	--verbose 2> "$T/alone.err"
expect_eq "a world of one: exit status" 0 $?
check "a world of one: rank 0 of 1" grep -q "MPI rank 0 of 1" "$T/alone.err"
expect_eq "a world of one: held, then written at exit" 1 \
	"$(cat "$QSPOOL"/jobs/2/done/*/* | grep -a '^held ' | sort -u | wc -l)"
"$QCOLLECT" 2 --output "$T/out" > /dev/null
expect_eq "a world of one: qcollect" 0 $?
expect_eq "a world of one: the result" 3145728 "$(stat -c %s "$T/out/make.out")"
check "a world of one: the consumer read it" \
	grep -q "^inputs 1 bytes 3145728 " "$T/out/check.out"
finish
