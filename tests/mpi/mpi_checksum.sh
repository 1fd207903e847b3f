#!/bin/bash
# mpi_checksum.sh: a result damaged on its way over MPI is asked for
# again, never used (SPOOLQ_MPI_CORRUPT flips a byte in a rank's first
# reply); a spilled file damaged afterwards is refused by name.
. "$TESTS_DIR/mpi/lib.sh"

MIB8=8388608
cat > "$T/wf.yaml" <<YAML
name: damaged
tasks:
  make:
    kernel: blob
    array: 0..3
    args: {mib: 8, seed: "{i}"}
  check:
    kernel: blob_check
    after: [make]
    args: {expect_bytes: $((4 * MIB8))}
YAML
QSPOOL="$T/files" "$QSUBMIT" "$T/wf.yaml" > /dev/null
QSPOOL="$T/files" "$QWORKER" --cpus 2 --exit-when-idle
QSPOOL="$T/files" "$QCOLLECT" 1 --output "$T/files.out" > /dev/null

for try in 1 2 3; do
	export QSPOOL="$T/mpi.$try"
	"$QSUBMIT" "$T/wf.yaml" > /dev/null
	SPOOLQ_MPI_CORRUPT=1 mpi_workers 2 -x SPOOLQ_MPI_CORRUPT -- \
		--exit-when-idle 2> "$T/mpi.err"
	consumer=$(task_workers 1 check)
	[ "$(task_workers 1 make | grep -vcx "$consumer")" -gt 0 ] && break
done
check "an input came from another rank" \
	test "$(task_workers 1 make | grep -vcx "$consumer")" -gt 0
check "the damaged reply was noticed and asked again" \
	grep -q "checksum mismatch; asking again" "$T/mpi.err"
expect_eq "every task done" 5 "$(job_count 1 done)"
"$QCOLLECT" 1 --output "$T/mpi.out" > /dev/null
expect_eq "the consumer saw the right bytes" \
	"$(sed 's/ ready_ns .*//' "$T/files.out/check.out")" \
	"$(sed 's/ ready_ns .*//' "$T/mpi.out/check.out")"

# Damage a spilled file in place (same size): it is refused, by name.
f=$(ls "$QSPOOL"/jobs/1/out/*/0.a1.*.out)
printf 'spoolq-damaged!!' | dd of="$f" bs=1 seek=1000 conv=notrunc status=none
"$QCOLLECT" 1 > /dev/null 2> "$T/collect.err"
check "qcollect fails on the damaged result" test $? -ne 0
check "and names it" grep -q "does not match its checksum ('$f')" \
	"$T/collect.err"
finish
