#!/bin/bash
# examples.sh: every example in examples/ runs and gives its result.
. "$TESTS_DIR/cli/lib.sh"
ex=$TESTS_DIR/../examples
bindir=$T/bin
mkdir -p "$bindir"
for tool in "$QSUBMIT" "$QWORKER" "$QSTATUS" "$QCOLLECT" "$QCANCEL"; do
	ln -s "$tool" "$bindir/"
done
export PATH=$bindir:$PATH
cd "$T"

out=$(QSPOOL=$T/s1 "$ex/pi.sh" 8 1e6)
check "pi.sh prints an estimate ($out)" grep -Eq '^pi = 3\.1[0-9]+ from 8000000 samples' <<< "$out"

out=$(QSPOOL=$T/s2 "$ex/sweep.sh" "$T/res")
check "sweep.sh sums the squares ($out)" grep -q "sum of squares: 2870" <<< "$out"
expect_eq "one file per task" 20 "$(ls "$T/res" | grep -c '^square\.[0-9]*\.out$')"
expect_eq "a task's result" "7 49" "$(cat "$T/res/square.7.out")"

export QSPOOL=$T/s3
job=$(qsubmit --tasks "$ex/commands.txt")
qworker --exit-when-idle
expect_eq "commands.txt" "task 0 on $(hostname)
slept
three
lines
of output" "$(qcollect "$job")"
finish
