#!/bin/bash
# nodes_mpi.sh: one MPI world across three simulated nodes (nodes.sh:
# network namespaces with hostnames h1, h2, h3, one shared spool in $T).
# mpirun starts on h1 (through nsrsh) and reaches h2 and h3 through
# nsrsh as its rsh agent, one rank per node, over Open MPI's TCP
# transport only. Three 32 MiB results (the blob kernel) feed one
# consumer (blob_check): the inputs made on other nodes than the
# consumer's reach it over MPI (qstatus counts exactly those bytes, and
# the consumer's node's interface received at least as many), and the
# results equal those of plain workers reading the spool's files.
#
# Simulation: separate network stacks and hostnames, and real TCP
# between the nodes; but one local file system (no NFS attribute or
# dentry caching, close-to-open, or file server semantics), one clock
# (no skew), one kernel, pid namespace and boot id: the ranks could see
# each other's processes, which real nodes cannot (the spool's liveness
# checks then take the same-node path).
. "$TESTS_DIR/mpi/lib.sh"
. "$TESTS_DIR/multinode/nodes.sh"

MIB=32
SIZE=$((MIB * 1048576))
NET=10.199.77.0/24
# Open MPI: the rsh launcher with nsrsh as its agent (it inherits this
# environment, so the daemons and ranks on h2 and h3 do too: tool paths,
# ASAN_OPTIONS); TCP only, on the nodes' subnet, for both the daemons'
# channel and MPI's messages; session directories in $T, since the
# nodes share /tmp and their hostnames are the same in every run.
export OMPI_MCA_plm_rsh_agent=$NSRSH
export OMPI_MCA_btl=self,tcp
export OMPI_MCA_btl_tcp_if_include=$NET OMPI_MCA_oob_tcp_if_include=$NET
export OMPI_MCA_orte_tmpdir_base=$T/ompi
mkdir -p "$T/ompi"

cat > "$T/wf.yaml" <<YAML
name: fan-in
tasks:
  make:
    kernel: blob
    array: 0..2
    args: {mib: $MIB, seed: "{i}"}
  check:
    kernel: blob_check
    after: [make]
    args: {expect_bytes: $((3 * SIZE))}
YAML

# The consumer's line without its ready time.
result_of() {
	"$QCOLLECT" 1 --output "$1" > /dev/null
	sed 's/ ready_ns .*//' "$1/check.out"
}
# task_hosts TASK: the host of each of TASK's items (qstatus).
task_hosts() {
	"$QSTATUS" 1 --tasks --json | python3 -c '
import json, sys
for t in json.load(sys.stdin)["jobs"][0]["task_list"]:
    if t["task"].split("[")[0] == sys.argv[1]:
        print(t["host"])' "$1"
}
# rx_bytes HOST: bytes HOST's interface has received.
rx_bytes() {
	ip -n "$(cat "$MN_NODES/$1.netns")" -s -j link show |
		python3 -c '
import json, sys
print(sum(l["stats64"]["rx"]["bytes"] for l in json.load(sys.stdin)
          if l["ifname"] != "lo"))'
}

# The reference: plain workers, results through the spool's files.
QSPOOL=$T/files "$QSUBMIT" "$T/wf.yaml" > /dev/null
QSPOOL=$T/files "$QWORKER" --cpus 2 --exit-when-idle
files=$(QSPOOL=$T/files result_of "$T/files.out")
check "the file path's consumer read 3 inputs" \
	grep -q "^inputs 3 bytes $((3 * SIZE)) sum" <<< "$files"

# The placement is the ranks' race: if every producer ran on the
# consumer's node nothing crossed; run again (rare: each rank has one
# core and claims one task at a time).
for try in 1 2 3; do
	export QSPOOL=$T/mpi.$try
	"$QSUBMIT" "$T/wf.yaml" > /dev/null
	declare -A rx0
	for h in "${MN_HOSTS[@]}"; do rx0[$h]=$(rx_bytes $h); done
	on h1 timeout 300 "$MPIRUN" -n 3 --host h1:1,h2:1,h3:1 --bind-to none \
		"$QWORKER" --mpi --cpus 1 --exit-when-idle --verbose 2> "$T/mpi.err"
	status=$?
	expect_eq "the MPI job across the nodes ended cleanly" 0 $status
	if [ $status -ne 0 ]; then
		tail -20 "$T/mpi.err" >&2
		break
	fi
	consumer=$(task_hosts check)
	remote=$(task_hosts make | grep -vcx "$consumer")
	[ "$remote" -gt 0 ] && break
done
# Each rank's first line names its worker id, host.pid.random.
expect_eq "the world's ranks ran on h1, h2 and h3" "h1 h2 h3" \
	"$(sed -n 's/^qworker: worker \([^.]*\)\..* with .*/\1/p' "$T/mpi.err" |
		sort | tr '\n' ' ' | sed 's/ $//')"
check "a producer ran on another node than the consumer ($consumer)" \
	test "$remote" -gt 0
expect_eq "every task done" 4 "$(job_count 1 done)"
expect_eq "bytes over MPI = the inputs made on other nodes" \
	$((remote * SIZE)) "$(moved 1 mpi)"
got=$(( $(rx_bytes "$consumer") - ${rx0[$consumer]} ))
check "the consumer's node received them through its interface ($got bytes)" \
	test "$got" -ge $((remote * SIZE))
echo "consumer on $consumer, producers on $(task_hosts make | tr '\n' ' ')(try $try):" \
	"$(moved 1 mpi) bytes over MPI, $got received by $consumer's interface"
mpi=$(result_of "$T/mpi.out")
expect_eq "the consumer saw what the file path's saw" "$files" "$mpi"
for i in 0 1 2; do
	expect_eq "make[$i] collected after the MPI job" \
		"$(md5sum < "$T/files.out/make.$i.out")" \
		"$(md5sum < "$T/mpi.out/make.$i.out")"
done
finish
