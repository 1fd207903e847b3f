# job.sh: the job the report tests look at (sourced after tests/cli/lib.sh).
#
# make_job: submit and run, on 2 workers of 2 cores, a job of four groups:
#   prep[0..3]  succeed;
#   flaky       fails on its first attempt (a marker file), succeeds on
#               its retry (retries: 1);
#   broken      fails with exit 7 after 3 KB of stderr whose last line
#               is hostile markup, so the report must cut and escape it;
#   final       after flaky.
# Prints the job id; fails the test when the job does not finish.
make_job() {
	mkdir -p "$T/wf"
	cat > "$T/wf/hostile.yaml" <<YAML
name: hostile
tasks:
  prep:
    cmd: 'echo prep {i}; sleep 0.2'
    array: 0..3
  flaky:
    cmd: 'if [ -e "$T/flaky.mark" ]; then echo ok; else touch "$T/flaky.mark"; echo "first try fails" >&2; exit 5; fi'
    retries: 1
    after: [prep]
  broken:
    cmd: >-
      echo HEAD-MARK >&2; printf '%03000d' 0 >&2;
      echo >&2; echo 'tail </script><img src=x onerror=alert(1)> & done' >&2;
      exit 7
    after: [prep]
  final:
    cmd: echo final
    after: [flaky]
YAML
	local job
	job=$("$QSUBMIT" "$T/wf/hostile.yaml") || { fail "qsubmit"; return 1; }
	"$QWORKER" --exit-when-idle --cpus 2 2>/dev/null &
	local w1=$!
	"$QWORKER" --exit-when-idle --cpus 2 2>/dev/null &
	local w2=$!
	wait $w1 $w2
	# A worker that found nothing ready may have left before the last
	# dependents were released: one more pass finishes them.
	"$QWORKER" --exit-when-idle --cpus 2 2>/dev/null
	"$QSTATUS" --wait=0 "$job" >/dev/null
	local rc=$?
	[ $rc -eq 1 ] || { fail "the job finished with its failure (status $rc)"; return 1; }
	echo "$job"
}
