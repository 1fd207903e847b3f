#!/bin/bash
# mpi_broadcast.sh: a 256 MiB broadcast input (workflow broadcast:) used
# by 100 tasks on 4 ranks: rank 0 reads the file once and MPI_Bcast gives
# each other rank a copy (qstatus counts 3 x 256 MiB over MPI and 256 MiB
# from the file), and every task's result equals a plain worker's.
. "$TESTS_DIR/mpi/lib.sh"

MIB256=268435456
head -c $MIB256 /dev/urandom > "$T/input.bin"
cat > "$T/wf.yaml" <<YAML
name: shared
broadcast: input.bin
tasks:
  part:
    kernel: bcast_slice
    array: 0..99
    args: {slice: "{i}", of: 100}
YAML
QSPOOL="$T/files" "$QSUBMIT" "$T/wf.yaml" > /dev/null
QSPOOL="$T/files" "$QWORKER" --cpus 2 --exit-when-idle
expect_eq "plain workers: every task done" 100 "$(QSPOOL="$T/files" job_count 1 done)"
QSPOOL="$T/files" "$QCOLLECT" 1 > "$T/files.txt"

"$QSUBMIT" "$T/wf.yaml" > /dev/null
mpi_workers 4 -- --exit-when-idle --verbose 2> "$T/mpi.err"
expect_eq "4 ranks: the MPI job ended cleanly" 0 $?
expect_eq "4 ranks: every task done" 100 "$(job_count 1 done)"
"$QCOLLECT" 1 > "$T/mpi.txt"
expect_eq "4 ranks: the results equal the plain workers'" \
	"$(md5sum < "$T/files.txt")" "$(md5sum < "$T/mpi.txt")"
check "4 ranks: each slice saw the whole input" \
	test "$(grep -c "total $MIB256\$" "$T/mpi.txt")" = 100
expect_eq "4 ranks: three copies over MPI" $((3 * MIB256)) "$(moved 1 mpi)"
expect_eq "4 ranks: the file read once" $MIB256 "$(moved 1 file)"
expect_eq "4 ranks: each other rank received it" 3 \
	"$(grep -c "broadcast input of $MIB256 bytes received from rank 0" "$T/mpi.err")"
finish
