#!/bin/bash
# mpi_reuse.sh: a rank's receive memory is reused from pull to pull and
# task to task (libq/bigbuf.c), its own held results are lent to its own
# consumers rather than copied, and a small --mpi-mem makes held results,
# kept buffers and lendings share the budget while results are spilled
# under them. Whatever the memory's history, every consumer reads exactly
# the bytes a plain worker's consumer reads.
. "$TESTS_DIR/mpi/lib.sh"

MIB5=5242880
# 12 producers of 5 MiB, each read by one consumer of its own (on the
# producer's rank, mostly: lent), and three consumers of all of them: on
# 2 ranks of one core, one rank runs two of those in turn, the second
# pulling into memory the first released (when the first pulled at all).
cat > "$T/wf.yaml" <<YAML
name: reuse
tasks:
  make:
    kernel: blob
    array: 0..11
    args: {mib: 5, seed: "{i}"}
  check:
    kernel: blob_check
    array: 0..11
    after: ["make[{i}]"]
    args: {expect_bytes: $MIB5}
  all:
    kernel: blob_check
    array: 0..2
    after: [make]
    args: {expect_bytes: $((12 * MIB5))}
YAML

# The consumers' lines without their ready times, in task order.
results() {
	"$QCOLLECT" 1 --output "$1" > /dev/null
	for f in "$1"/check.*.out "$1"/all.*.out; do
		echo "$(basename "$f"): $(sed 's/ ready_ns .*//' "$f")"
	done | sort
}

QSPOOL="$T/files" "$QSUBMIT" "$T/wf.yaml" > /dev/null
QSPOOL="$T/files" "$QWORKER" --cpus 2 --exit-when-idle
expect_eq "plain workers: every task done" 27 "$(QSPOOL="$T/files" job_count 1 done)"
files=$(QSPOOL="$T/files" results "$T/files.out")
check "plain workers: the last consumer read all 12 inputs" \
	grep -q "^all.2.out: inputs 12 bytes $((12 * MIB5)) sum" <<< "$files"

run() {
	local name=$1
	shift
	export QSPOOL="$T/$name"
	"$QSUBMIT" "$T/wf.yaml" > /dev/null
	mpi_workers 2 -- --exit-when-idle --verbose "$@" 2> "$T/$name.err"
	expect_eq "$name: the MPI job ended cleanly" 0 $?
	expect_eq "$name: every task done" 27 "$(job_count 1 done)"
	expect_eq "$name: the consumers read what the plain workers' read" \
		"$files" "$(results "$T/$name.out")"
	local pulls
	pulls=$(grep -c "pulled $MIB5 bytes from MPI rank" "$T/$name.err")
	check "$name: inputs were pulled over MPI" test "$pulls" -gt 0
	check "$name: the pull lines say how long the memory took" \
		grep -q "pulled $MIB5 bytes .*; memory [0-9.]* ms), checked in" "$T/$name.err"
	expect_eq "$name: no checksum was ever wrong" 0 \
		"$(grep -c "checksum mismatch" "$T/$name.err")"
	unset QSPOOL
}

# The default budget: every rank keeps what it received for the next pull.
run roomy
# 64 MiB faulted in at start: the first pulls take their memory from it.
run reserve --mpi-prefault 64M
check "reserve: pulls took memory faulted in at start" \
	grep -q "[1-9][0-9]* of [0-9]* big receive buffers were kept memory" "$T/reserve.err"
# 24 MiB: at most four 5 MiB results held per rank (in 6 MiB buffers,
# the kept ones too), so results are spilled, kept buffers given back and
# lendings outlive the spills of what they lend; 12 MiB faulted in at
# start and split among the first pulls.
run tight --mpi-mem 24M --mpi-prefault 12M
check "tight: the small budget spilled held results" \
	test -n "$(ls "$T/tight"/jobs/1/out/*/ 2>/dev/null)"
check "tight: --mpi-prefault faulted memory in at start" \
	grep -q "faulted in 12 MiB for receiving" "$T/tight.err"
finish
