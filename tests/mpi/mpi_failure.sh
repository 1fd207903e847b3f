#!/bin/bash
# mpi_failure.sh: a rank killed in the middle of a job takes the results
# it held with it; the job still completes, the consumer recomputes the
# lost results (pure tasks: the same bytes, checked against the recorded
# checksums) and writes them to the spool, and everything equals a run
# through files. mpirun --enable-recovery keeps the other ranks alive
# (without it, mpirun ends the whole MPI job when one rank dies).
. "$TESTS_DIR/mpi/lib.sh"

cat > "$T/wf.yaml" <<YAML
name: lost
tasks:
  make:
    kernel: blob
    array: 0..3
    args: {mib: 16, seed: "{i}"}
  gate:
    cmd: i=0; while [ ! -e '$T/go' ] && [ \$i -lt 6000 ]; do sleep 0.05; i=\$((i + 1)); done
  check:
    kernel: blob_check
    after: [make, gate]
    args: {expect_bytes: 67108864}
YAML

# The reference: plain workers, through files.
QSPOOL="$T/files" "$QSUBMIT" "$T/wf.yaml" > /dev/null
touch "$T/go"
QSPOOL="$T/files" "$QWORKER" --cpus 2 --exit-when-idle
QSPOOL="$T/files" "$QCOLLECT" 1 --output "$T/files.out" > /dev/null
rm "$T/go"

"$QSUBMIT" "$T/wf.yaml" > /dev/null
mpi_workers 3 --enable-recovery -- --exit-when-idle --verbose \
	2> "$T/mpi.err" &
mpirun_pid=$!
PIDS+=($mpirun_pid)
makes_done_gate_running() {
	[ "$(job_count 1 done)" = 4 ] && [ -n "$(running_worker 1 gate)" ]
}
check "the producers finish while the gate holds the consumer" \
	wait_for 60 makes_done_gate_running
gate=$(running_worker 1 gate)
victim=$(task_workers 1 make | grep -vx "$gate" | head -1)
check "a rank not running the gate holds a result" test -n "$victim"
lost=$(task_workers 1 make | grep -cx "$victim")
kill -9 "$(worker_pid "$victim")"
touch "$T/go"
mpi_done() { ! kill -0 $mpirun_pid 2>/dev/null; }
check "the other ranks finish the job and exit" wait_for 120 mpi_done
wait $mpirun_pid
expect_eq "every task done" 6 "$(job_count 1 done)"
expect_eq "nothing failed" 0 "$(job_count 1 failed)"
expect_eq "the killed rank's results were recomputed" "$lost" \
	"$(grep -c 'its result was held by MPI rank .*, which is gone: recomputing it' "$T/mpi.err")"
"$QCOLLECT" 1 --output "$T/mpi.out" > /dev/null
expect_eq "qcollect exits 0" 0 $?
expect_eq "the consumer saw what the file path's saw" \
	"$(sed 's/ ready_ns .*//' "$T/files.out/check.out")" \
	"$(sed 's/ ready_ns .*//' "$T/mpi.out/check.out")"
for i in 0 1 2 3; do
	expect_eq "make[$i] is in the spool, the same bytes" \
		"$(md5sum < "$T/files.out/make.$i.out")" \
		"$(md5sum < "$T/mpi.out/make.$i.out")"
done
finish
