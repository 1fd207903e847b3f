#!/bin/bash
# examples.sh: the batch scripts of examples/slurm/, run through sbatch on
# a real Slurm started here (cluster.sh: slurmctld and 3 slurmd "nodes"
# n1..n3 on this host), exactly as a user copies them: each into a fresh
# directory with its own spool, with spoolq's commands on PATH.
#
#   sweep       2 nodes x 2 workers run a --tasks file; results checked
#   workflow    pi.yaml by srun qworker --exit-when-idle; pi checked
#   mpi         bigdata.yaml by srun --mpi=pmix qworker --mpi, and again
#               by mpirun inside the batch script: bytes went over MPI
#   background  workers in the background while the script submits 3
#               rounds as results come in; qstatus showed each worker's
#               Slurm job, step, task and node; stopped by scancel
#   continue    an allocation that hits its time limit (1 minute, the
#               shortest Slurm has): its workers hand their tasks back on
#               SIGTERM and the afterany follow-on finishes them, each
#               exactly once; the follow-on's own follow-on is cancelled
#
# Needs root (slurmd runs jobs as their user) and Debian's slurm-wlm and
# munge, which it installs when missing; elsewhere it skips (status 77)
# and says why. It takes 1.5 to 2 minutes, mostly waiting for Slurm's
# time limit, which slurmctld checks every 30 s.
. "$TESTS_DIR/cli/lib.sh"
. "$TESTS_DIR/slurm/cluster.sh"

if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: the Slurm tests start slurmctld, slurmd and munged: run them as root"
	exit 77
fi
if ! command -v slurmctld > /dev/null || ! command -v munged > /dev/null; then
	echo "installing slurm-wlm and munge" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		--no-install-recommends -o DPkg::Lock::Timeout=600 \
		slurm-wlm munge > "$T/apt.log" 2>&1 || {
		tail -20 "$T/apt.log" >&2
		echo "FAIL: cannot install slurm-wlm and munge (log above)" >&2
		exit 1
	}
fi

trap 'slurm_down; cleanup' EXIT
t_start=$SECONDS
slurm_up "$T/slurm" 3 || { echo "FAIL: Slurm did not start" >&2; exit 1; }
echo "Slurm up with 3 nodes in $((SECONDS - t_start)) s"

# spoolq's commands on PATH, as after meson install. Jobs inherit this
# environment (sbatch --export=ALL), as they would a user's.
mkdir -p "$T/bin"
for tool in "$QSUBMIT" "$QWORKER" "$QSTATUS" "$QCOLLECT" "$QCANCEL"; do
	ln -s "$tool" "$T/bin/$(basename "$tool")"
done
export PATH="$T/bin:$PATH"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# Under AddressSanitizer: no LeakSanitizer in MPI ranks (tests/mpi/lib.sh
# says why).
mpi_asan=${ASAN_OPTIONS:+$ASAN_OPTIONS:detect_leaks=0}

examples=$TESTS_DIR/../examples

# workdir NAME: a fresh copy of the examples for one run.
workdir() {
	local d=$T/work-$1
	mkdir -p "$d"
	cp "$examples"/slurm/*.sbatch "$examples"/slurm/*.yaml \
		"$examples"/pi.yaml "$d"/
	echo "$d"
}

# submit NAME SBATCH-ARGS...: sbatch from NAME's work directory with its
# own spool; prints the Slurm job id.
submit() {
	local name=$1
	shift
	(cd "$T/work-$name" && QSPOOL="$T/work-$name/qspool" \
		sbatch --parsable "$@")
}

# slurm_state JOB: Slurm's state of a job (kept MinJobAge = 300 s).
slurm_state() {
	scontrol show job -o "$1" 2>/dev/null | grep -o 'JobState=[A-Z_]*' |
		cut -d= -f2
}
finished() { ! squeue -h -j "$1" 2>/dev/null | grep -q .; }

# The long one first: it waits for Slurm's time limit.
d=$(workdir continue)
cat > "$d/tasks.txt" <<TASKS
echo quick 1
echo quick 2
echo quick 3
echo quick 4
sh -c 'until [ -e "$d/go" ]; do sleep 0.05; done; echo slow 1'
sh -c 'until [ -e "$d/go" ]; do sleep 0.05; done; echo slow 2'
TASKS
cont1=$(submit continue --time=1 continue.sbatch tasks.txt)

d=$(workdir sweep)
sweep=$(submit sweep sweep.sbatch)
d=$(workdir workflow)
workflow=$(submit workflow workflow.sbatch)
# Two spools: in one, the second run would reuse the first's results.
d=$(workdir mpi)
mpi=$(ASAN_OPTIONS=$mpi_asan submit mpi mpi.sbatch)
d=$(workdir mpirun)
mpirun_job=$(ASAN_OPTIONS=$mpi_asan SPOOLQ_LAUNCH=mpirun submit mpirun \
	mpi.sbatch)
d=$(workdir background)
background=$(submit background background.sbatch)

# ---- sweep ----
check "sweep: the Slurm job ends" wait_for 120 finished "$sweep"
expect_eq "sweep: Slurm says completed" COMPLETED "$(slurm_state "$sweep")"
r=$T/work-sweep/sweep-results.txt
expect_eq "sweep: 16 results" 16 "$(wc -l < "$r" 2>/dev/null)"
check "sweep: (1 + r/n)^n is within 1e-4 of e^r for n = 100000" awk '
	$2 == "n=100000" { split($4, e, "="); d = $3 / e[2] - 1
		if (d > 1e-4 || d < -1e-4) bad = 1; n++ }
	END { exit bad || n != 4 }' "$r"
# Which workers got the 16 short tasks is their race; that srun started
# workers on several nodes is checked with the background example.
check "sweep: the allocation had 2 nodes" \
	grep -q "NumNodes=2 " <(scontrol show job -o "$sweep")

# ---- workflow ----
check "workflow: the Slurm job ends" wait_for 120 finished "$workflow"
expect_eq "workflow: Slurm says completed" COMPLETED "$(slurm_state "$workflow")"
check "workflow: the report task printed pi" \
	grep -q "^pi = 3\.14" "$T/work-workflow/workflow-1/report.out"
check "workflow: qstatus showed 66 tasks done" \
	grep -Eq "^1 +pi +66 +0 +0 +0 +66 +0 +0 +finished" \
	"$T/work-workflow/workflow-$workflow.out"

# ---- mpi: srun --mpi=pmix, then mpirun ----
for j in "$mpi" "$mpirun_job"; do
	check "mpi $j: the Slurm job ends" wait_for 120 finished "$j"
	expect_eq "mpi $j: Slurm says completed" COMPLETED "$(slurm_state "$j")"
done
o=$T/work-mpi o2=$T/work-mpirun
check "srun --mpi=pmix: the consumer read 8 inputs, 128 MiB" \
	grep -q "^inputs 8 bytes 134217728 sum" "$o/mpi-1/check.out"
check "mpirun: the same inputs" \
	grep -q "^inputs 8 bytes 134217728 sum" "$o2/mpi-1/check.out"
expect_eq "both launches: the same checksum" \
	"$(cut -d' ' -f1-6 "$o/mpi-1/check.out")" \
	"$(cut -d' ' -f1-6 "$o2/mpi-1/check.out")"
# Which producers ran on another rank than the consumer is the ranks'
# race: the bytes over MPI must be exactly those producers' results.
# remote_mib SPOOL: 16 x the producers not run by the consumer's worker.
remote_mib() {
	QSPOOL=$1 "$QSTATUS" 1 --tasks --json | python3 -c '
import json, sys
tasks = json.load(sys.stdin)["jobs"][0]["task_list"]
consumer = [t["worker"] for t in tasks if t["task"] == "check"][0]
print(16 * sum(1 for t in tasks if t["task"].startswith("make[") and t["worker"] != consumer))'
}
for launch in "srun --mpi=pmix:$o/mpi-$mpi.out:$o" "mpirun:$o2/mpi-$mpirun_job.out:$o2"; do
	IFS=: read -r name out spool <<< "$launch"
	mib=$(remote_mib "$spool/qspool")
	check "$name: the producers on other ranks' results ($mib MiB) went over MPI" \
		grep -Eq "^job 1: big results moved $mib(\.0 MiB| B) over MPI" "$out"
	echo "$name: $mib MiB over MPI"
done

# ---- background ----
check "background: the Slurm job ends" wait_for 120 finished "$background"
expect_eq "background: Slurm says completed" COMPLETED "$(slurm_state "$background")"
o=$T/work-background
check "background: pi from 3 rounds of 8 tasks" \
	grep -q "^pi = 3\.1[0-9]* from 48000000 samples" "$o/background-result.txt"
expect_eq "background: 24 results read as they came" 24 \
	"$(grep -c '^round [123]: 3\.1' "$o/background-$background.out")"
expect_eq "background: qstatus showed 4 workers with their Slurm job, step, task and node" 4 \
	"$(grep -Ec "alive  slurm job $background\.0 task [0-3] on n[1-3]$" "$o/background-$background.out")"
check "background: the workers left when stopped" \
	grep -q "^no workers" "$o/background-$background.out"

# ---- continue: the time limit, the hand-back and the follow-on ----
o=$T/work-continue
timed_out() { [ "$(slurm_state "$cont1")" = TIMEOUT ]; }
check "continue: the first allocation reaches its time limit" wait_for 200 timed_out
cont2=$(sed -n 's/.*follow-on: \([0-9]*\)$/\1/p' "$o/continue-$cont1.out")
check "continue: the first allocation submitted a follow-on" test -n "$cont2"
expect_eq "continue: its quick tasks were done" 4 \
	"$(QSPOOL=$o/qspool "$QSTATUS" 1 --json | python3 -c '
import json, sys
print(json.load(sys.stdin)["jobs"][0]["counts"]["done"])')"
touch "$o/go"
check "continue: the follow-on ends" wait_for 120 finished "$cont2"
expect_eq "continue: the follow-on completed" COMPLETED "$(slurm_state "$cont2")"
cont3=$(sed -n 's/.*follow-on: \([0-9]*\)$/\1/p' "$o/continue-$cont2.out")
check "continue: the follow-on had its own follow-on" test -n "$cont3"
cancelled() { [ "$(slurm_state "$cont3")" = CANCELLED ]; }
check "continue: which it cancelled, the work being done" wait_for 30 cancelled
expect_eq "continue: every task's result exactly once" \
	"quick 1 quick 2 quick 3 quick 4 slow 1 slow 2" \
	"$(tr '\n' ' ' < "$o/continue-results.txt" | sed 's/ $//')"
# Handed back at SIGTERM, not reclaimed after the dead worker's lease
# (which would count a second attempt): every task ran in one attempt.
expect_eq "continue: the slow tasks were handed back (one attempt each)" \
	"1 1 1 1 1 1" "$(QSPOOL=$o/qspool "$QSTATUS" 1 --tasks --json | python3 -c '
import json, sys
print(*[t["attempts"] for t in json.load(sys.stdin)["jobs"][0]["task_list"]])')"
check "continue: the workers said they were stopping" \
	grep -q "^qworker: Terminated: no new tasks" "$o/continue-$cont1.out"
echo "Slurm suite: $((SECONDS - t_start)) s"
# On failure, what the batch scripts and Slurm said.
if [ "$FAILS" -gt 0 ]; then
	for f in "$T"/work-*/*.out "$T"/slurm/log/slurmctld.log; do
		echo "==== $f" >&2
		grep -v ': done (' "$f" | tail -40 >&2
	done
fi
finish
