# nodes.sh: three simulated "nodes" on this machine for the multinode
# tests. Source it after tests/cli/lib.sh (or tests/mpi/lib.sh).
#
# Each node hN (h1, h2, h3) is a network namespace of its own with one
# veth, address 10.199.77.N/24, on a bridge that lives in a fourth
# namespace, so the machine's own network is never touched. Commands
# run on a node through ./nsrsh (its hostname is hN, its /etc/hosts
# names the three nodes). All nodes see the machine's file system, so
# the spool in $T is one directory shared by every node.
#
# What this simulates: separate network stacks and hostnames, and real
# TCP between the nodes (Open MPI's TCP transport and its daemons cross
# veths and a bridge). What it does not: the nodes share one local file
# system (no NFS attribute or dentry caching, no close-to-open
# consistency, no file server's own clock or semantics), one clock (no
# skew between nodes), one kernel and boot id, and, unless a test starts
# its workers in a pid namespace of their own (node_workers below does),
# one pid namespace.
#
# Names are unique per run (the test's pid and a random number), so two
# runs, or the leftovers of a run killed with SIGKILL, never clash; the
# EXIT trap kills every process in the nodes' namespaces and deletes the
# namespaces, also when the test fails (or gets SIGTERM); a run killed
# with SIGKILL leaves its namespaces to the next run, which deletes them.
# The nodes' /etc/hosts files live in $T, not in /etc/netns. Skips
# (exit 77) when not root or when network namespaces cannot be made here.

MN_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NSRSH=$MN_DIR/nsrsh
MN_HOSTS=(h1 h2 h3)
MN_TAG=$(printf '%x%04x' $$ $((RANDOM & 0xffff)))   # for interface names
MN_NS=spoolq-mn-$$-$MN_TAG     # spoolq-mn-PID-...: PID is this test's
MN_BR=$MN_NS-br
MN_MADE=()
export MN_NODES=$T/nodes

mn_skip() {
	echo "SKIP: $(basename "$0"): $* (CI runs it as root on Debian 12)"
	exit 77
}

# mn_down: kill what runs in the nodes' namespaces (by pid: ip netns
# pids lists exactly the processes in that namespace), then delete them.
mn_down() {
	local ns pids
	for ns in "${MN_MADE[@]}"; do
		pids=$(ip netns pids "$ns" 2>/dev/null)
		[ -n "$pids" ] && kill -9 $pids 2>/dev/null
	done
	for ns in "${MN_MADE[@]}"; do
		ip netns del "$ns" 2>/dev/null
	done
	MN_MADE=()
}
trap 'mn_down; cleanup' EXIT
trap 'exit 143' TERM INT HUP

[ "$(id -u)" -eq 0 ] || mn_skip "needs root to make network namespaces"
for tool in ip nsenter unshare hostname; do
	command -v $tool > /dev/null ||
		mn_skip "needs '$tool' (Debian: iproute2, util-linux, hostname)"
done

# mn_reap: the namespaces of earlier runs that were killed before their
# EXIT trap could run (SIGKILL): their test's pid is gone. Kill what
# still runs in them, then delete them.
mn_reap() {
	local ns pid pids
	for ns in $(ip netns list 2>/dev/null | cut -d' ' -f1); do
		[[ $ns =~ ^spoolq-mn-([0-9]+)- ]] || continue
		pid=${BASH_REMATCH[1]}
		[ "$pid" -ne $$ ] && ! kill -0 "$pid" 2>/dev/null || continue
		pids=$(ip netns pids "$ns" 2>/dev/null)
		[ -n "$pids" ] && kill -9 $pids 2>/dev/null
		ip netns del "$ns" 2>/dev/null
	done
}

# mn_up: the bridge and the three nodes.
mn_up() {
	local i h ns
	mn_reap
	ip netns add "$MN_BR" 2>/dev/null ||
		mn_skip "cannot make a network namespace here (ip netns add)"
	MN_MADE+=("$MN_BR")
	ip -n "$MN_BR" link add br0 type bridge &&
		ip -n "$MN_BR" link set br0 up &&
		ip -n "$MN_BR" link set lo up || return 1
	mkdir -p "$MN_NODES"
	for i in 1 2 3; do
		h=h$i
		ns=$MN_NS-$h
		ip netns add "$ns" || return 1
		MN_MADE+=("$ns")
		# Interface names: at most 15 bytes, unique per run.
		ip link add "q${MN_TAG}n$i" netns "$ns" type veth \
			peer name "q${MN_TAG}b$i" netns "$MN_BR" &&
			ip -n "$MN_BR" link set "q${MN_TAG}b$i" master br0 &&
			ip -n "$MN_BR" link set "q${MN_TAG}b$i" up &&
			ip -n "$ns" addr add "10.199.77.$i/24" dev "q${MN_TAG}n$i" &&
			ip -n "$ns" link set "q${MN_TAG}n$i" up &&
			ip -n "$ns" link set lo up || return 1
		echo "$ns" > "$MN_NODES/$h.netns"
		{
			echo "127.0.0.1 localhost"
			for j in 1 2 3; do echo "10.199.77.$j h$j"; done
		} > "$MN_NODES/$h.hosts"
	done
}
if ! mn_up; then
	echo "FAIL: could not set up the nodes' network" >&2
	exit 1
fi

# on HOST COMMAND [ARGS...]: run COMMAND on HOST, in the foreground
# (its words quoted, since nsrsh, like ssh, joins them for /bin/sh).
on() {
	local h=$1
	shift
	"$NSRSH" "$h" "$(printf '%q ' "$@")"
}

# node_workers HOST K [qworker options]: K workers on HOST, in the
# background, in a pid namespace of their own (as on a real node, other
# nodes cannot see their processes, so they judge them by their lease);
# stderr to $T/HOST.err. NODE_PID[HOST] is the pid of the namespace's
# holder: kill -9 of it kills every process of the node's workers, as a
# node that fails.
declare -A NODE_PID
node_workers() {
	local h=$1 k=$2
	shift 2
	"$NSRSH" "$h" "exec $(printf '%q ' unshare --pid --fork --kill-child \
		--mount-proc bash -c \
		'k=$1; shift; for ((i = 0; i < k; i++)); do "$QWORKER" "$@" & done; wait' \
		workers "$k" "$@")" 2> "$T/$h.err" &
	NODE_PID[$h]=$!
	PIDS+=($!)
}
