#!/bin/bash
# wl_mpi.sh SYSTEM: a big result handed from the task that makes it to
# the task that uses it, over MPI and through the spool's files (issue 6,
# the MPI fast path), for results of 1, 16, 64 and 256 MiB (quick: 1 and
# 16; BENCH_MPI_SIZES="MiB ..." to choose). The workflow, per size S:
#   make   kernel blob, array 0..1, args {mib: S, seed: "{i}"}
#   check  kernel blob_check, after: [make], args {expect_bytes: 2*S MiB}
# so the consumer reads two inputs of S MiB; blob_check reads the clock
# (ready_ns) once both are in its memory, before hashing them.
#   mpi    fresh spool; mpirun -n 2 --bind-to none qworker --mpi --cpus 1
#          --exit-when-idle --verbose. Usually each rank makes one result
#          and the rank that commits last runs the consumer, which pulls
#          the other rank's result over MPI.
#          handoff_<S>MiB: ready_ns minus the later producer's end (from
#            qcollect --json): from the last input made to the consumer
#            holding all of them; includes the commit, the claim, the
#            pull and its checksum, and the local input.
#          claim_<S>MiB: the consumer's start minus the later producer's
#            end (commit and claim only).
#          pull_<S>MiB: the bytes of the "pulled ... in X ms" lines over
#            their time (GB/s; the checksum after it is not counted). A
#            run whose consumer made both inputs itself pulled nothing:
#            its handoff line says pulled=0 and it has no pull line.
#          check_<S>MiB: the pulled bytes' checksum (the "checked in").
#   files  the same workflow, 2 plain qworker --cpus 1 --exit-when-idle
#          started together (fsync on, the default): handoff_<S>MiB and
#          claim_<S>MiB the same way.
#   raw    mpirun -n 2 --bind-to none bench/mpi_raw -r 5 -b 1 S...: the
#          p2p median for each size (p2p_<S>MiB, GB/s), the ceiling for
#          pull_<S>MiB (-b 1: its broadcast, not used here, takes no time).
# bench/run.sh runs the three alternately, 5 times by default. Every
# consumer's line is checked: 2 inputs, 2*S MiB, and the same sum in every
# run and variant. Without MPI (no bench/mpi_raw, no mpirun, or a qworker
# built without it) every system says skipped.
. "$(dirname "$0")/lib.sh"
[ "${1:-}" = --systems ] && { echo mpi files raw; exit 0; }
w=mpi
QCOLLECT=$BENCH_BIN/cmd/qcollect
MPI_RAW=$BENCH_BIN/bench/mpi_raw
PY=$BENCH_PY
[ -x "$PY" ] || PY=python3
sizes=${BENCH_MPI_SIZES:-$(quick "1 16" "1 16 64 256")}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# Two ranks even where Open MPI counts fewer slots (a 1-core CI VM).
export OMPI_MCA_rmaps_base_oversubscribe=1

# Why this build cannot run the workload, or nothing.
no_mpi() {
	command -v mpirun >/dev/null || { echo "mpirun not found (install openmpi-bin)"; return; }
	[ -x "$MPI_RAW" ] || { echo "no $MPI_RAW: spoolq was built without MPI"; return; }
	# A qworker built without MPI refuses --mpi before it opens the
	# spool; one with MPI stops at the spool, which does not exist.
	local out
	out=$("$QWORKER" --mpi --spool "$BENCH_TMP/no-such-spool" --exit-when-idle 2>&1 || true)
	[[ $out != *"built without MPI"* ]] || echo "qworker was built without MPI"
}

workflow() {
	local f=$BENCH_STATE/mpi-$1.yaml
	[ -f "$f" ] || cat > "$f" <<YAML
name: mpi-$1MiB
tasks:
  make:
    kernel: blob
    array: 0..1
    args: {mib: $1, seed: "{i}"}
  check:
    kernel: blob_check
    after: [make]
    args: {expect_bytes: $(($1 * 2 * 1048576))}
YAML
	echo "$f"
}

# handoff_times SPOOL SIZE: "HANDOFF_MS CLAIM_MS" of the spool's job 1; checks
# the consumer's line (inputs, bytes, and the sum every run of this size
# must share, kept in BENCH_STATE by the first).
handoff_times() {
	"$QCOLLECT" --spool "$1" 1 --json |
	"$PY" -c '
import json, os, sys
size, sumfile = int(sys.argv[1]), sys.argv[2]
recs = [json.loads(line) for line in sys.stdin if line.strip()]
makes = [r for r in recs if r["task"] == "make"]
check = [r for r in recs if r["task"] == "check"]
if len(makes) != 2 or len(check) != 1:
    sys.exit(f"wl_mpi: expected 2 make and 1 check, got {len(makes)} and {len(check)}")
check = check[0]
f = (check["result"] or "").split()
d = dict(zip(f[0::2], f[1::2]))
want = size * 2 * 1048576
said, got = check["result"], d.get("sum")
if d.get("inputs") != "2" or d.get("bytes") != str(want) or "ready_ns" not in d:
    sys.exit(f"wl_mpi: the consumer said {said!r}: expected 2 inputs, {want} bytes")
if os.path.exists(sumfile):
    with open(sumfile) as s:
        ref = s.read().strip()
    if got != ref:
        sys.exit(f"wl_mpi: {size} MiB: the consumer read sum {got}, another run read {ref}")
else:
    with open(sumfile, "w") as s:
        print(got, file=s)
end = max(r["end"] for r in makes)
handoff = (int(d["ready_ns"]) - round(end * 1e9)) / 1e6
claim = (check["start"] - end) * 1e3
print(f"{handoff:.3f} {claim:.3f}")
' "$2" "$BENCH_STATE/mpi-$2.sum"
}

# pulled LOG: "BYTES MS CHECK_MS LINES" summed over the log's pull lines.
pulled() {
	sed -n 's/.*: pulled \([0-9]*\) bytes from MPI rank [0-9]* in \([0-9.]*\) ms .*checked in \([0-9.]*\) ms.*/\1 \2 \3/p' "$1" |
		awk '{ b += $1; t += $2; c += $3; n++ } END { printf "%d %.3f %.3f %d\n", b, t, c, n }'
}

one_mpi() {
	local s=$1 spool log t h c bytes ms cms n
	spool=$(new_spool mpi)
	log=$spool.log
	"$QSUBMIT" --spool "$spool" "$(workflow "$s")" >/dev/null
	timeout 600 mpirun -n 2 --bind-to none "$QWORKER" --spool "$spool" --mpi \
		--cpus 1 --exit-when-idle --verbose 2> "$log" ||
		{ cat "$log" >&2; die "mpirun of 2 qworker --mpi on $spool failed"; }
	check_done "$spool" 3
	t=$(handoff_times "$spool" "$s") || die "$spool: the consumer's result is wrong (above)"
	read -r h c <<< "$t"
	read -r bytes ms cms n < <(pulled "$log")
	echo "bench: mpi $s MiB: handoff $h ms (claim $c ms; pulled $bytes bytes in $ms ms, checked in $cms ms)" >&2
	result $w mpi "handoff_${s}MiB" "$h" ms lower n="$s" pulled="$n"
	result $w mpi "claim_${s}MiB" "$c" ms lower n="$s"
	if [ "$n" -gt 0 ]; then
		result $w mpi "pull_${s}MiB" "$(calc "$bytes / ($ms * 1e6)")" GB/s higher \
			n="$s" pulls="$n"
		result $w mpi "check_${s}MiB" "$cms" ms lower n="$s"
	fi
	rm -rf "$spool" "$log"
}

one_files() {
	local s=$1 spool t h c
	spool=$(new_spool files)
	"$QSUBMIT" --spool "$spool" "$(workflow "$s")" >/dev/null
	run_workers "$spool" 2 1
	check_done "$spool" 3
	t=$(handoff_times "$spool" "$s") || die "$spool: the consumer's result is wrong (above)"
	read -r h c <<< "$t"
	echo "bench: files $s MiB: handoff $h ms (claim $c ms)" >&2
	result $w files "handoff_${s}MiB" "$h" ms lower n="$s"
	result $w files "claim_${s}MiB" "$c" ms lower n="$s"
	rm -rf "$spool"
}

raw() {
	local out s v
	# shellcheck disable=SC2086 # the sizes are words
	out=$(timeout 600 mpirun -n 2 --bind-to none "$MPI_RAW" -r 5 -b 1 $sizes) ||
		die "mpirun -n 2 $MPI_RAW failed"
	echo "$out" >&2
	for s in $sizes; do
		v=$(echo "$out" | sed -n "s/^p2p $s MiB: median \([0-9.]*\) GB\/s.*/\1/p")
		[ -n "$v" ] || die "mpi_raw printed no p2p figure for $s MiB"
		result $w raw "p2p_${s}MiB" "$v" GB/s higher n="$s"
	done
}

case ${1:-} in
mpi|files|raw)
	why=$(no_mpi)
	[ -z "$why" ] || { skip $w "$1" "$why"; exit 0; }
	case $1 in
	mpi) for s in $sizes; do one_mpi "$s"; done ;;
	files) for s in $sizes; do one_files "$s"; done ;;
	raw) raw ;;
	esac ;;
*) die "usage: wl_mpi.sh mpi|files|raw|--systems" ;;
esac
