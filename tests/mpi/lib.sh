# lib.sh for the MPI tests: the command-line tests' helpers (tests/cli/
# lib.sh), plus a real Open MPI launch on this host. Source it first.
#
# As root, mpirun refuses to start without the two OMPI_ALLOW variables;
# oversubscribe lets 4 ranks share 2 cores; --bind-to none keeps Open MPI
# from pinning each rank to one core (the worker decides its cores).
. "$TESTS_DIR/cli/lib.sh"

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
: "${MPIRUN:=mpirun}"
# Under AddressSanitizer (scripts/test.sh) the ranks run without
# LeakSanitizer: Open MPI 4.1 leaks small allocations in MPI_Init from
# components it loads and unloads again, whose frames then have no names
# a suppression could match (a check just before MPI_Finalize still met
# them, in 1 of 3 runs with 4 ranks). ASan's other checks stay on; the
# other suites check libq's and the worker's leaks.
if [ -n "${ASAN_OPTIONS:-}" ]; then
	export ASAN_OPTIONS="$ASAN_OPTIONS:detect_leaks=0"
fi

# mpi_workers N [mpirun options] -- [qworker options]: N workers as one
# MPI world, in the foreground, each with one core.
mpi_workers() {
	local n=$1
	shift
	local mo=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do mo+=("$1"); shift; done
	[ $# -gt 0 ] && shift
	timeout 300 "$MPIRUN" -n "$n" --bind-to none "${mo[@]}" \
		"$QWORKER" --mpi --cpus 1 "$@"
}

# mpi_workers_bg ERRFILE N [mpirun options] -- [qworker options]: the
# same in the background, stderr to ERRFILE; MPI_PID is the launcher's
# pid (timeout, which passes SIGTERM on to mpirun), killed at exit.
mpi_workers_bg() {
	local err=$1 n=$2
	shift 2
	local mo=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do mo+=("$1"); shift; done
	[ $# -gt 0 ] && shift
	timeout 300 "$MPIRUN" -n "$n" --bind-to none "${mo[@]}" \
		"$QWORKER" --mpi --cpus 1 "$@" 2> "$err" &
	MPI_PID=$!
	PIDS+=($MPI_PID)
}

# job_count JOB STATE: how many of JOB's tasks are in STATE (qstatus).
job_count() {
	"$QSTATUS" "$1" --json | python3 -c '
import json, sys
print(json.load(sys.stdin)["jobs"][0]["counts"][sys.argv[1]])' "$2"
}

# moved JOB KIND: the bytes of JOB's big results moved over KIND (mpi,
# file), from qstatus --json.
moved() {
	"$QSTATUS" "$1" --json | python3 -c '
import json, sys
print(json.load(sys.stdin)["jobs"][0]["moved"][sys.argv[1] + "_bytes"])' "$2"
}

# task_workers JOB TASK: the worker of each of TASK's items, in order.
task_workers() {
	"$QSTATUS" "$1" --tasks --json | python3 -c '
import json, sys
for t in json.load(sys.stdin)["jobs"][0]["task_list"]:
    if t["task"].split("[")[0] == sys.argv[1]:
        print(t["worker"])' "$2"
}

# The pid of a worker from its id (host.pid.random).
worker_pid() {
	local id=$1
	id=${id%.*}
	echo "${id##*.}"
}

# running_worker JOB LABEL: the worker running task LABEL, or nothing.
running_worker() {
	"$QSTATUS" "$1" --tasks --json | python3 -c '
import json, sys
for t in json.load(sys.stdin)["jobs"][0]["task_list"]:
    if t["task"] == sys.argv[1] and t["state"] == "running":
        print(t["worker"])' "$2"
}
