#!/bin/bash
# workflow.sh: the workflow figures of issue 3, medians of RUNS:
#   - validating (qsubmit --check) and submitting (qsubmit) a workflow of
#     100,000 tasks: two arrays of 50,000 with an element-wise dependency,
#     and, separately, 100,000 distinct task definitions in 50,000
#     element-wise pairs;
#   - the chunked-array example (examples/sincos.yaml, 20000 x 20000 in
#     2000 x 2000 blocks) with qrun and 2 workers, against the same sum in
#     a plain single-threaded C loop (bench/sincos_plain), results checked.
# Usage: bench/workflow.sh [RUNS]   (builds build-release if needed)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
[ -f build-release/build.ninja ] || meson setup build-release --buildtype=release >/dev/null
ninja -C build-release >/dev/null
bin=$PWD/build-release
tmp=$(mktemp -d "${BENCH_DIR:-$PWD/build-release}/spoolq-wf.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
seconds() { local t0 t1; t0=$(date +%s.%N); "$@" > /dev/null; t1=$(date +%s.%N); echo "$t1 - $t0" | bc -l; }

cat > "$tmp/arrays.yaml" <<'YAML'
tasks:
  a: {kernel: sleep, array: 0..49999, args: {seconds: 0}}
  b: {cmd: "true", array: 0..49999, after: ["a[{i}]"]}
YAML
python3 - "$tmp/distinct.yaml" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("tasks:\n")
    for i in range(50000):
        f.write(f"  a{i}: {{kernel: sleep, args: {{seconds: 0}}}}\n")
        f.write(f"  b{i}: {{cmd: 'true', after: [a{i}]}}\n")
PY
for wf in arrays distinct; do
	c=() s=()
	for r in $(seq "$runs"); do
		c+=("$(seconds "$bin/cmd/qsubmit" --check "$tmp/$wf.yaml")")
		s+=("$(QSPOOL=$tmp/spool-$wf-$r seconds "$bin/cmd/qsubmit" "$tmp/$wf.yaml")")
		rm -rf "$tmp/spool-$wf-$r"
	done
	printf '100,000-task workflow (%s): validate %.2f s, validate and submit %.2f s\n' \
		"$wf" "$(printf '%s\n' "${c[@]}" | median)" "$(printf '%s\n' "${s[@]}" | median)"
done

plugin=$bin/examples/kernels/libqexample.so
q=() p=()
for r in $(seq "$runs"); do
	q+=("$(seconds "$bin/workers/qrun" examples/sincos.yaml --workers 2 --quiet --spool "$tmp/sc-$r" --plugin "$plugin")")
	got=$("$bin/workers/qrun" examples/sincos.yaml --quiet --spool "$tmp/sc-$r" --plugin "$plugin")
	rm -rf "$tmp/sc-$r"
	p+=("$(seconds "$bin/bench/sincos_plain" 20000)")
done
want=$("$bin/bench/sincos_plain" 20000 | awk '/^total/ { print $2 }')
printf 'sincos 20000^2 in 2000^2 blocks: qrun with 2 workers %.2f s, plain C loop %.2f s (total %s vs %s)\n' \
	"$(printf '%s\n' "${q[@]}" | median)" "$(printf '%s\n' "${p[@]}" | median)" "$got" "$want"
