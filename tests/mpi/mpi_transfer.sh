#!/bin/bash
# mpi_transfer.sh: workers started as one MPI job, 2 and then 4 ranks.
# 64 MiB results made on one rank reach a consumer on another over MPI
# (qstatus counts the bytes), checksums match (a mismatch fails the
# read), and the results equal those of the same workflow run by plain
# workers through the spool's files.
. "$TESTS_DIR/mpi/lib.sh"

MIB64=67108864
# One producer per rank, one consumer of them all: a producer's rank
# may run the consumer, but at least one input then comes from another.
workflow() {
	cat <<YAML
name: fan-in
tasks:
  make:
    kernel: blob
    array: 0..$(($1 - 1))
    args: {mib: 64, seed: "{i}"}
  check:
    kernel: blob_check
    after: [make]
    args: {expect_bytes: $(($1 * MIB64))}
YAML
}

# The consumer's line without its ready time, and the producers' files.
result_of() {
	"$QCOLLECT" "$1" --output "$2" > /dev/null
	sed 's/ ready_ns .*//' "$2/check.out"
}

files_wf() {
	workflow "$1" > "$T/wf$1.yaml"
	QSPOOL="$T/files$1" "$QSUBMIT" "$T/wf$1.yaml" > /dev/null
	QSPOOL="$T/files$1" "$QWORKER" --cpus 2 --exit-when-idle
	QSPOOL="$T/files$1" result_of 1 "$T/files$1.out"
}

for n in 2 4; do
	files=$(files_wf $n)
	check "$n: the file path's consumer read $n inputs" \
		grep -q "^inputs $n bytes $((n * MIB64)) sum" <<< "$files"
	# The placement is the ranks' race: if every producer ran on the
	# consumer's rank nothing crossed; run again (rare: each rank has
	# one core and claims one chunk at a time).
	for try in 1 2 3; do
		export QSPOOL="$T/mpi$n.$try"
		"$QSUBMIT" "$T/wf$n.yaml" > /dev/null
		mpi_workers $n -- --exit-when-idle 2> "$T/mpi$n.err"
		expect_eq "$n ranks: the MPI job ended cleanly" 0 $?
		consumer=$(task_workers 1 check)
		remote=$(task_workers 1 make | grep -vcx "$consumer")
		[ "$remote" -gt 0 ] && break
	done
	check "$n ranks: some producer ran on another rank than the consumer" \
		test "$remote" -gt 0
	expect_eq "$n ranks: every task done" $((n + 1)) "$(job_count 1 done)"
	expect_eq "$n ranks: bytes over MPI = the remote inputs" \
		$((remote * MIB64)) "$(moved 1 mpi)"
	mpi=$(result_of 1 "$T/mpi$n.out")
	expect_eq "$n ranks: the consumer saw what the file path's saw" \
		"$files" "$mpi"
	# Every producer's result was held, and written to the spool at exit:
	# the records say 'held', and qcollect reads the very bytes.
	held=$(cat "$QSPOOL"/jobs/1/done/*/* | grep -a '^held ' | sort -u | wc -l)
	expect_eq "$n ranks: the producers' results were held" $n "$held"
	for i in $(seq 0 $((n - 1))); do
		expect_eq "$n ranks: make[$i] collected after the MPI job" \
			"$(md5sum < "$T/files$n.out/make.$i.out")" \
			"$(md5sum < "$T/mpi$n.out/make.$i.out")"
	done
	check "$n ranks: qstatus shows the bytes" \
		grep -q "job 1: big results moved .* over MPI" <("$QSTATUS")
done
finish
