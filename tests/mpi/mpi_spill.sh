#!/bin/bash
# mpi_spill.sh: held results reach the spool when asked (SIGUSR1), when
# they outgrow --mpi-mem (the oldest first), and at exit; while a result
# is only held, qcollect says where it is and how to get it written; after
# the MPI job, qcollect reads the spilled files.
. "$TESTS_DIR/mpi/lib.sh"

MIB2=2097152
cat > "$T/wf.yaml" <<YAML
name: spill
tasks:
  make:
    kernel: blob
    array: 0..2
    args: {mib: 2, seed: "{i}"}
  gate:
    cmd: i=0; while [ ! -e '$T/go' ] && [ \$i -lt 6000 ]; do sleep 0.05; i=\$((i + 1)); done
  check:
    kernel: blob_check
    after: [make, gate]
    args: {expect_bytes: $((3 * MIB2))}
YAML
QSPOOL="$T/files" "$QSUBMIT" "$T/wf.yaml" > /dev/null
touch "$T/go"
QSPOOL="$T/files" "$QWORKER" --cpus 2 --exit-when-idle
QSPOOL="$T/files" "$QCOLLECT" 1 --output "$T/files.out" > /dev/null
rm "$T/go"

spilled() { ls "$QSPOOL"/jobs/1/out/*/ 2>/dev/null | grep -c '^[0-9]*\.a1\..*\.out$'; }

"$QSUBMIT" "$T/wf.yaml" > /dev/null
# A 3 MiB budget: a rank holds at most one 2 MiB result.
mpi_workers 2 -- --exit-when-idle --mpi-mem 3M --verbose 2> "$T/mpi.err" &
mpirun_pid=$!
PIDS+=($mpirun_pid)
makes_done_gate_running() {
	[ "$(job_count 1 done)" = 3 ] && [ -n "$(running_worker 1 gate)" ]
}
check "the producers finish while the gate holds the consumer" \
	wait_for 60 makes_done_gate_running
over=0
for w in $(task_workers 1 make | sort -u); do
	c=$(task_workers 1 make | grep -cx "$w")
	over=$((over + c - 1))
done
expect_eq "the budget spilled the oldest results" "$over" "$(spilled)"

"$QCOLLECT" 1 --no-wait > /dev/null 2> "$T/collect.err"
check "qcollect fails while results are only held" test $? -ne 0
check "qcollect says where a held result is and how to get it" \
	grep -q "is held in the memory of worker .* (MPI rank [01] of world w[0-9a-f]*) and is not in the spool yet: .* SIGUSR1" "$T/collect.err"

for w in $(task_workers 1 make | sort -u); do
	kill -USR1 "$(worker_pid "$w")"
done
all_spilled() { [ "$(spilled)" = 3 ]; }
check "SIGUSR1 writes every held result to the spool" wait_for 30 all_spilled
"$QCOLLECT" 1 --no-wait --output "$T/mid.out" > /dev/null 2>&1
for i in 0 1 2; do
	expect_eq "make[$i] collected while the MPI job runs" \
		"$(md5sum < "$T/files.out/make.$i.out")" \
		"$(md5sum < "$T/mid.out/make.$i.out" 2>/dev/null)"
done

touch "$T/go"
mpi_done() { ! kill -0 $mpirun_pid 2>/dev/null; }
check "the MPI job ends" wait_for 60 mpi_done
wait $mpirun_pid
expect_eq "the MPI job ended cleanly" 0 $?
"$QCOLLECT" 1 --output "$T/mpi.out" > /dev/null
expect_eq "qcollect after the MPI job exits 0" 0 $?
expect_eq "the consumer saw what the file path's saw" \
	"$(sed 's/ ready_ns .*//' "$T/files.out/check.out")" \
	"$(sed 's/ ready_ns .*//' "$T/mpi.out/check.out")"

# SIGTERM to the workers (what Slurm does at a time limit): the first
# thing a worker does is to write what it holds, then it stops and the
# MPI job ends. (SIGTERM to mpirun itself is not tested: Open MPI 4.1
# sometimes kills its processes without passing it on; docs/mpi.md.)
export QSPOOL="$T/term"
j=$("$QSUBMIT" --kernel blob --arg mib=4 --arg seed=9)
mpi_workers_bg "$T/term.err" 2 -- --verbose
done_1() { [ "$(job_count "$j" done)" = 1 ]; }
check "SIGTERM: the task finishes" wait_for 60 done_1
workers=$(QSPOOL="$QSPOOL" "$QSTATUS" --json | python3 -c '
import json, sys
print(" ".join(w["id"] for w in json.load(sys.stdin)["workers"]))')
for w in $workers; do kill -TERM "$(worker_pid "$w")"; done
term_done() { ! kill -0 $MPI_PID 2>/dev/null; }
check "SIGTERM: the MPI job ends" wait_for 30 term_done
"$QCOLLECT" "$j" --output "$T/term.out" > /dev/null
expect_eq "SIGTERM: the held result was written first" 4194304 \
	"$(stat -c %s "$T/term.out/blob.out" 2>/dev/null)"
finish
