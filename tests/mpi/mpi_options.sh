#!/bin/bash
# mpi_options.sh: qworker's MPI options refuse bad values clearly (exit
# status 2, nothing changed in the spool), and qworker --mpi started on
# its own is a world of one rank: it holds results and writes them to
# the spool when it exits.
. "$TESTS_DIR/mpi/lib.sh"

"$QSUBMIT" --name seed -- true > /dev/null
before=$(spool_snapshot)
bad() {
	local what=$1 expect=$2
	shift 2
	"$QWORKER" "$@" --exit-when-idle > /dev/null 2> "$T/err"
	expect_eq "$what: exit status" 2 $?
	check "$what: says '$expect'" grep -q -- "$expect" "$T/err"
}
bad "threshold below the inline size" "--mpi-threshold needs a size in bytes from 65537" \
	--mpi --mpi-threshold 1000
bad "a size with a bad unit" "optionally with K, M, G or T" --mpi --mpi-mem 4X
bad "a size that is not a number" "got 'lots'" --mpi --mpi-mem lots
bad "a budget below 1 MiB" "from 1048576" --mpi --mpi-mem 1K
bad "MPI options without --mpi" "go with --mpi" --mpi-threshold 2M
bad "--mpi-prefault without --mpi" "go with --mpi" --mpi-prefault 8M
bad "--mpi-prefault not a size" "got 'some'" --mpi --mpi-prefault some
bad "--mpi-prefault over --mpi-mem" "is more than this rank's budget for held results (16 MiB, --mpi-mem)" \
	--mpi --mpi-mem 16M --mpi-prefault 32M
bad "--mpi-prefault over the default budget" "more than this rank's budget" \
	--mpi --mpi-prefault 100T
expect_eq "the spool is unchanged" "$before" "$(spool_snapshot)"

cat > "$T/wf.yaml" <<YAML
name: alone
tasks:
  make:
    kernel: blob
    args: {mib: 3}
  check:
    kernel: blob_check
    after: [make]
    args: {expect_bytes: 3145728}
YAML
"$QSUBMIT" "$T/wf.yaml" > /dev/null
"$QWORKER" --mpi --mpi-threshold 2M --mpi-mem 16M --mpi-prefault 8M \
	--exit-when-idle --verbose 2> "$T/alone.err"
expect_eq "a world of one: exit status" 0 $?
check "a world of one: rank 0 of 1" grep -q "MPI rank 0 of 1" "$T/alone.err"
check "a world of one: --mpi-prefault faulted memory in" \
	grep -q "faulted in 8 MiB for receiving" "$T/alone.err"
expect_eq "a world of one: held, then written at exit" 1 \
	"$(cat "$QSPOOL"/jobs/2/done/*/* | grep -a '^held ' | sort -u | wc -l)"
"$QCOLLECT" 2 --output "$T/out" > /dev/null
expect_eq "a world of one: qcollect" 0 $?
expect_eq "a world of one: the result" 3145728 "$(stat -c %s "$T/out/make.out")"
check "a world of one: the consumer read it" \
	grep -q "^inputs 1 bytes 3145728 " "$T/out/check.out"

# The threshold per task (qsubmit --mpi-threshold, mpi_threshold: in a
# workflow) wins over the worker's, which wins over the spool's config.
held_items() {
	cat "$QSPOOL"/jobs/"$1"/done/*/* | grep -a '^held ' | sort -u | wc -l
}
j=$("$QSUBMIT" --kernel blob --arg mib=3 --arg seed=11 --mpi-threshold 2M)
"$QWORKER" --mpi --mpi-threshold 4M --exit-when-idle
expect_eq "task 2M over worker 4M: held" 1 "$(held_items "$j")"
j=$("$QSUBMIT" --kernel blob --arg mib=3 --arg seed=2 --mpi-threshold never)
"$QWORKER" --mpi --exit-when-idle
expect_eq "task never: not held" 0 "$(held_items "$j")"
printf 'name: t\ntasks:\n  b: {kernel: blob, args: {mib: 3, seed: 3}, mpi_threshold: 8M}\n' > "$T/t.yaml"
j=$("$QSUBMIT" "$T/t.yaml")
"$QWORKER" --mpi --exit-when-idle
expect_eq "workflow mpi_threshold 8M: a 3 MiB result not held" 0 "$(held_items "$j")"
printf '# for every worker\nmpi_threshold 8M\n' > "$QSPOOL/config"
j=$("$QSUBMIT" --kernel blob --arg mib=3 --arg seed=4)
"$QWORKER" --mpi --exit-when-idle
expect_eq "spool config 8M: not held" 0 "$(held_items "$j")"
j=$("$QSUBMIT" --kernel blob --arg mib=3 --arg seed=5)
"$QWORKER" --mpi --mpi-threshold 2M --exit-when-idle
expect_eq "worker 2M over spool 8M: held" 1 "$(held_items "$j")"

printf 'mpi_treshold 8M\n' > "$QSPOOL/config"
"$QWORKER" --mpi --exit-when-idle 2> "$T/err"
check "a bad spool config: non-zero exit" test $? -ne 0
check "a bad spool config: names the line" \
	grep -q "config' line 1: expected 'mpi_threshold SIZE'" "$T/err"
rm "$QSPOOL/config"
before=$(spool_snapshot)
"$QSUBMIT" --kernel blob --arg mib=1 --mpi-threshold 10 2> "$T/err"
expect_eq "qsubmit --mpi-threshold 10: exit status" 2 $?
check "qsubmit --mpi-threshold 10: says why" grep -q "from 65537" "$T/err"
printf 'name: t\ntasks:\n  b: {kernel: blob, args: {mib: 1}, mpi_threshold: 1K}\n' > "$T/bad.yaml"
"$QSUBMIT" "$T/bad.yaml" 2> "$T/err"
expect_eq "workflow mpi_threshold 1K: exit status" 2 $?
check "workflow mpi_threshold 1K: line and column" \
	grep -q "line 3, column .*mpi_threshold must be a size of more than 64 KiB" "$T/err"
expect_eq "bad thresholds leave the spool unchanged" "$before" "$(spool_snapshot)"
finish
