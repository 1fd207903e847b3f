# cluster.sh: a real Slurm on this one machine, for the tests: munged,
# slurmctld and NODES slurmd daemons (nodes n1..nN, each in its own UTS
# namespace so that its tasks see the hostname nX), all under one
# directory, on free ports, with their own munge socket: nothing in /etc
# is changed and nothing is shared with a Slurm already running here.
# Source it, then:
#
#   slurm_up DIR NODES     # start; exports SLURM_CONF
#   slurm_down             # stop every daemon slurm_up started, by pid
#
# Needs root (slurmd runs jobs as their user), Debian's slurm-wlm and
# munge. The settings are those measured in
# ../shared/notes/machine-facts.md section 3: TmpFS per node (PMIx puts
# its directory there), proctrack/linuxproc and task/none (no cgroups).

SLURM_DIR=
SLURM_MUNGE_DIR=

# free_ports N: N TCP ports nobody listens on now.
free_ports() {
	python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
}

# alive PID: the process exists and is not a zombie (the daemons fork
# away from us, and zombies re-parented to PID 1 may linger).
slurm_alive() {
	case "$(ps -o stat= -p "$1" 2>/dev/null)" in
	"" | Z*) return 1 ;;
	*) return 0 ;;
	esac
}

slurm_up() {
	local dir=$1 nodes=$2 i
	SLURM_DIR=$dir
	mkdir -p "$dir"/{state,log}
	# munged checks that its socket's directory belongs to it and that
	# every directory above is not writable by others: not under $T.
	SLURM_MUNGE_DIR=$(mktemp -d /run/spoolq-munge.XXXXXX) || return 1
	chmod 755 "$SLURM_MUNGE_DIR"
	chown munge:munge "$SLURM_MUNGE_DIR"
	runuser -u munge -- /usr/sbin/munged \
		--socket="$SLURM_MUNGE_DIR/socket" \
		--pid-file="$SLURM_MUNGE_DIR/munged.pid" \
		--log-file="$SLURM_MUNGE_DIR/munged.log" \
		--seed-file="$SLURM_MUNGE_DIR/munged.seed" || {
		echo "munged did not start:" >&2
		cat "$SLURM_MUNGE_DIR/munged.log" >&2
		return 1
	}
	local ports
	read -r -a ports <<< "$(free_ports $((nodes + 1)))"
	cat > "$dir/slurm.conf" <<CONF
ClusterName=spoolqtest
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$SLURM_MUNGE_DIR/socket
CredType=cred/munge
SlurmctldPort=${ports[0]}
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/%n
TmpFS=$dir/tmp/%n
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd-%n.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd-%n.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
CONF
	for i in $(seq 1 "$nodes"); do
		echo "NodeName=n$i NodeHostname=localhost NodeAddr=127.0.0.1" \
			"Port=${ports[$i]} CPUs=$(nproc) State=UNKNOWN"
	done >> "$dir/slurm.conf"
	echo "PartitionName=debug Nodes=n[1-$nodes] Default=YES" \
		"MaxTime=INFINITE State=UP" >> "$dir/slurm.conf"
	export SLURM_CONF=$dir/slurm.conf
	slurmctld -c -f "$SLURM_CONF" || return 1
	for i in $(seq 1 "$nodes"); do
		mkdir -p "$dir/spool/n$i" "$dir/tmp/n$i"
		unshare --uts sh -c "hostname n$i && exec slurmd -f '$SLURM_CONF' -N n$i" ||
			return 1
	done
	slurm_nodes_idle() {
		[ "$(sinfo -h -t idle -o %D 2>/dev/null)" = "$nodes" ]
	}
	if ! wait_for 30 slurm_nodes_idle; then
		echo "Slurm's nodes did not come up; sinfo says:" >&2
		sinfo -N >&2
		tail -5 "$dir"/log/*.log >&2
		return 1
	fi
}

# gone PID...: none of them is alive.
slurm_gone() {
	local p
	for p in "$@"; do
		slurm_alive "$p" && return 1
	done
	return 0
}

slurm_down() {
	[ -n "$SLURM_DIR" ] || return 0
	local pids munged p
	pids=$(cat "$SLURM_DIR"/slurmctld.pid "$SLURM_DIR"/slurmd-*.pid \
		2>/dev/null)
	scontrol shutdown > /dev/null 2>&1
	# shellcheck disable=SC2086 # one pid per word
	if ! wait_for 10 slurm_gone $pids; then
		for p in $pids; do
			slurm_alive "$p" && kill -9 "$p"
		done
	fi
	# munged is not Slurm's: scontrol shutdown leaves it running.
	munged=$(cat "$SLURM_MUNGE_DIR/munged.pid" 2>/dev/null)
	if [ -n "$munged" ] && slurm_alive "$munged"; then
		kill "$munged"
		wait_for 10 slurm_gone "$munged" || kill -9 "$munged"
	fi
	rm -rf "$SLURM_MUNGE_DIR"
	SLURM_DIR=
}
