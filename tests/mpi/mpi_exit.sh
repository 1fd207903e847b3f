#!/bin/bash
# mpi_exit.sh: ranks that leave early (--exit-when-idle=1) wait for the
# others to finish before MPI_Finalize, however long their last task
# takes, and keep their heartbeats meanwhile: two ranks wait 15 s for a
# third (beyond the worker's 10 s wedge limit and its 2 s lease) and
# neither takes the other for dead; every rank finalizes.
. "$TESTS_DIR/mpi/lib.sh"

job=$("$QSUBMIT" --kernel sleep --arg seconds=16)
mpi_workers 3 -- --exit-when-idle=1 --lease 2 --verbose 2> "$T/mpi.err"
expect_eq "the MPI job ended cleanly" 0 $?
expect_eq "the task done" 1 "$(job_count "$job" done)"
check "nobody was taken for dead" \
	test "$(grep -c 'is gone' "$T/mpi.err")" = 0
check "the registry is empty again" grep -q "no workers" <("$QSTATUS")
finish
