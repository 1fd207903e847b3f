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
#   mpi_prefault  the same with --mpi-prefault 512M: each rank faults
#          its receive memory in when it starts (docs/mpi.md, Memory),
#          as a rank does for itself after its first tasks.
#   files  the same workflow, 2 plain qworker --cpus 1 --exit-when-idle
#          started together (fsync on, the default): handoff_<S>MiB and
#          claim_<S>MiB the same way.
#   raw    mpirun -n 2 --bind-to none bench/mpi_raw -r 5 -b 1 S...: the
#          p2p median for each size (p2p_<S>MiB, GB/s), the ceiling for
#          pull_<S>MiB (-b 1: its broadcast, not used here, takes no time),
#          and p2p_fresh_<S>MiB, the same into fresh memory each time
#          (page faults timed): the ceiling for a first pull without
#          --mpi-prefault.
#   bcast, bcast_prefault  a broadcast input of B MiB (256; quick: 16)
#          used by 100 tasks on 4 ranks (tests/mpi/mpi_broadcast.sh's
#          workflow), without and with --mpi-prefault 512M. From the
#          three receiving ranks' "broadcast input ... received" lines:
#          bcast_xfer_<B>MiB, B over the slowest rank's MPI_Bcast (GB/s),
#          and bcast_e2e_<B>MiB, B over the slowest rank's whole receive:
#          its memory, the transfer and the checksum.
#   bcast_raw  mpirun -n 4 bench/mpi_raw -b B: plain MPI_Bcast of a
#          warm buffer (bcast_raw_<B>MiB, GB/s), their ceiling.
# bench/run.sh runs them alternately, 5 times by default. Every
# consumer's line is checked: 2 inputs, 2*S MiB, and the same sum in every
# run and variant. Without MPI (no bench/mpi_raw, no mpirun, or a qworker
# built without it) every system says skipped.
. "$(dirname "$0")/lib.sh"
[ "${1:-}" = --systems ] && { echo mpi mpi_prefault files raw bcast bcast_prefault bcast_raw; exit 0; }
w=mpi
QCOLLECT=$BENCH_BIN/cmd/qcollect
MPI_RAW=$BENCH_BIN/bench/mpi_raw
PY=$BENCH_PY
[ -x "$PY" ] || PY=python3
sizes=${BENCH_MPI_SIZES:-$(quick "1 16" "1 16 64 256")}
bcast_mib=${BENCH_MPI_BCAST:-$(quick 16 256)}
# Room for the biggest result (256 MiB and its NUL, in 2 MiB pages).
PREFAULT=512M
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

# one_mpi SIZE SYSTEM [QWORKER OPTION...]
one_mpi() {
	local s=$1 sys=$2 spool log t h c bytes ms cms n
	shift 2
	spool=$(new_spool mpi)
	log=$spool.log
	"$QSUBMIT" --spool "$spool" "$(workflow "$s")" >/dev/null
	timeout 600 mpirun -n 2 --bind-to none "$QWORKER" --spool "$spool" --mpi \
		--cpus 1 --exit-when-idle --verbose "$@" 2> "$log" ||
		{ cat "$log" >&2; die "mpirun of 2 qworker --mpi on $spool failed"; }
	check_done "$spool" 3
	t=$(handoff_times "$spool" "$s") || die "$spool: the consumer's result is wrong (above)"
	read -r h c <<< "$t"
	read -r bytes ms cms n < <(pulled "$log")
	echo "bench: $sys $s MiB: handoff $h ms (claim $c ms; pulled $bytes bytes in $ms ms, checked in $cms ms)" >&2
	result $w "$sys" "handoff_${s}MiB" "$h" ms lower n="$s" pulled="$n"
	result $w "$sys" "claim_${s}MiB" "$c" ms lower n="$s"
	if [ "$n" -gt 0 ]; then
		result $w "$sys" "pull_${s}MiB" "$(calc "$bytes / ($ms * 1e6)")" GB/s higher \
			n="$s" pulls="$n"
		result $w "$sys" "check_${s}MiB" "$cms" ms lower n="$s"
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
		v=$(echo "$out" | sed -n "s/^p2p_fresh $s MiB: median \([0-9.]*\) GB\/s.*/\1/p")
		[ -n "$v" ] || die "mpi_raw printed no p2p_fresh figure for $s MiB"
		result $w raw "p2p_fresh_${s}MiB" "$v" GB/s higher n="$s"
	done
}

# one_bcast SYSTEM [QWORKER OPTION...]: the broadcast of bcast_mib MiB.
one_bcast() {
	local sys=$1 spool log input=$BENCH_STATE/bcast-$bcast_mib.bin got
	shift
	[ -f "$input" ] || head -c $((bcast_mib << 20)) /dev/urandom > "$input" ||
		die "cannot write $input"
	spool=$(new_spool bcast)
	log=$spool.log
	cat > "$spool.yaml" <<YAML
name: bcast-${bcast_mib}MiB
broadcast: $input
tasks:
  part:
    kernel: bcast_slice
    array: 0..99
    args: {slice: "{i}", of: 100}
YAML
	"$QSUBMIT" --spool "$spool" "$spool.yaml" >/dev/null
	timeout 600 mpirun -n 4 --bind-to none "$QWORKER" --spool "$spool" --mpi \
		--cpus 1 --exit-when-idle --verbose "$@" 2> "$log" ||
		{ cat "$log" >&2; die "mpirun of 4 qworker --mpi on $spool failed"; }
	check_done "$spool" 100
	# "... received from rank 0 in X ms (R GB/s), memory M ms, checked
	# in C ms": the slowest rank's transfer and its whole receive.
	got=$(sed -n 's/.*broadcast input of \([0-9]*\) bytes received from rank 0 in \([0-9.]*\) ms .*memory \([0-9.]*\) ms, checked in \([0-9.]*\) ms.*/\1 \2 \3 \4/p' "$log" |
		awk '{ n++; b = $1; if ($2 > x) x = $2; e = $2 + $3 + $4; if (e > t) t = e }
			END { if (n == 3) printf "%d %.3f %.3f\n", b, x, t }')
	[ -n "$got" ] || { cat "$log" >&2; die "$spool: expected 3 ranks to receive the broadcast"; }
	read -r b x t <<< "$got"
	echo "bench: $sys $bcast_mib MiB to 4 ranks: slowest transfer $x ms, slowest receive $t ms" >&2
	result $w "$sys" "bcast_xfer_${bcast_mib}MiB" "$(calc "$b / ($x * 1e6)")" GB/s higher n="$bcast_mib"
	result $w "$sys" "bcast_e2e_${bcast_mib}MiB" "$(calc "$b / ($t * 1e6)")" GB/s higher n="$bcast_mib"
	rm -rf "$spool" "$spool.yaml" "$log"
}

bcast_raw() {
	local out v
	out=$(timeout 600 mpirun -n 4 --bind-to none "$MPI_RAW" -r 5 -b "$bcast_mib" 1) ||
		die "mpirun -n 4 $MPI_RAW failed"
	echo "$out" >&2
	v=$(echo "$out" | sed -n "s/^bcast $bcast_mib MiB to 4 ranks: median \([0-9.]*\) GB\/s.*/\1/p")
	[ -n "$v" ] || die "mpi_raw printed no bcast figure for $bcast_mib MiB"
	result $w bcast_raw "bcast_raw_${bcast_mib}MiB" "$v" GB/s higher n="$bcast_mib"
}

case ${1:-} in
mpi|mpi_prefault|files|raw|bcast|bcast_prefault|bcast_raw)
	why=$(no_mpi)
	[ -z "$why" ] || { skip $w "$1" "$why"; exit 0; }
	case $1 in
	mpi) for s in $sizes; do one_mpi "$s" mpi; done ;;
	mpi_prefault) for s in $sizes; do one_mpi "$s" mpi_prefault --mpi-prefault $PREFAULT; done ;;
	files) for s in $sizes; do one_files "$s"; done ;;
	raw) raw ;;
	bcast) one_bcast bcast ;;
	bcast_prefault) one_bcast bcast_prefault --mpi-prefault $PREFAULT ;;
	bcast_raw) bcast_raw ;;
	esac ;;
*) die "usage: wl_mpi.sh mpi|mpi_prefault|files|raw|bcast|bcast_prefault|bcast_raw|--systems" ;;
esac
