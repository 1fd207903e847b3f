#!/bin/bash
# content.sh: qstatus JOB --report FILE.html writes one self-contained
# page (no URL but the SVG namespace, no script, no temporary left) that
# names the groups, draws the task stream with the failure and the retry
# marked, and lists the failed task with the escaped tail of its stderr;
# bad targets and jobs get clear errors and leave nothing behind.
. "$TESTS_DIR/cli/lib.sh"
. "$TESTS_DIR/report/job.sh"

job=$(make_job) || finish
mkdir -p "$T/out"
"$QSTATUS" "$job" --report "$T/out/r.html" 2> "$T/err"
check "--report exits 0 ($(cat "$T/err"))" test $? -eq 0
expect_eq "one file, no temporary left" "r.html" "$(ls -A "$T/out")"
page=$T/out/r.html
check "a whole HTML page" grep -q '^<!DOCTYPE html>' "$page"
check "ends with </html>" test "$(tail -n 1 "$page")" = "</html>"

# Self-contained: no URL but the SVG namespace, no script, no link.
expect_eq "no URL but the SVG namespace" "" \
	"$(grep -oE '(https?|ftp)://[^"'"'"' )]*' "$page" | grep -v '^http://www.w3.org/2000/svg$')"
expect_eq "no script, link, img or iframe element" 0 \
	"$(grep -ciE '<(script|link|img|iframe|object|embed)[ >]' "$page")"
expect_eq "url() only to the page's own patterns" "" \
	"$(grep -oE 'url\([^)]*\)' "$page" | grep -v '^url(#')"

# The parts are there.
for id in summary legend gantt progress slowest failed attempts utilisation graph; do
	check "part id=\"$id\"" grep -q "id=\"$id\"" "$page"
done
for g in prep flaky broken final; do
	check "group $g in the legend" grep -q "</svg> $g (" "$page"
	check "group $g in the graph" grep -q "<g class=\"node\"><title>$g[ :]" "$page"
done

# The task stream: 8 bars (4 prep, flaky twice, broken, final); the
# failure outlined, the retried attempt dashed.
expect_eq "a bar per attempt" 8 "$(grep -c '<rect x="[0-9.]*" y="[0-9.]*" width="[0-9.]*" height="[0-9.]*" class="g' "$page")"
expect_eq "broken's bar marked failed" 1 "$(grep -c 'class="g2 f"><title>broken, attempt 1: failed' "$page")"
expect_eq "flaky's first attempt marked retried" 1 "$(grep -c 'class="g1 r"><title>flaky, attempt 1: failed (retry), ' "$page")"
expect_eq "flaky's retry done" 1 "$(grep -c 'class="g1"><title>flaky, attempt 2: done' "$page")"
check "not aggregated" grep -q 'a bar per attempt (8)' "$page"

# The failed task: its exit, and the last part of its stderr, escaped.
check "failed task listed with exit 7" grep -q '<td>broken</td><td class="n">7</td>' "$page"
check "stderr tail escaped" grep -qF 'tail &lt;/script&gt;&lt;img src=x onerror=alert(1)&gt; &amp; done' "$page"
expect_eq "the hostile line never raw" 0 "$(grep -c 'onerror=alert(1)>' "$page")"
check "stderr cut to its tail" grep -q 'stderr (last part of 3,[0-9]* bytes)' "$page"
expect_eq "the head of the stderr dropped" 0 "$(grep -c HEAD-MARK "$page")"
check "the retry listed" grep -q '<td>flaky</td><td class="n">1</td><td>retry</td>' "$page"
expect_eq "2 workers in the utilisation table" 2 "$(grep -c 'class="barbg"' "$page")"

# Writing again replaces the page, still leaving one file.
"$QSTATUS" "$job" --report "$T/out/r.html" 2>/dev/null
check "rewrite exits 0" test $? -eq 0
expect_eq "still one file" "r.html" "$(ls -A "$T/out")"

# A job that has not run yet still gets a page.
job2=$("$QSUBMIT" --name idle -- true)
"$QSTATUS" "$job2" --report "$T/out/idle.html" 2>/dev/null
check "not-run job: exits 0" test $? -eq 0
check "not-run job: says so" grep -q 'No task has run yet' "$T/out/idle.html"
check "not-run job: still has the stream" grep -q 'id="gantt"' "$T/out/idle.html"

# Bad targets: a clear message, exit 3, nothing left behind.
"$QSTATUS" "$job" --report "$T/nodir/r.html" 2> "$T/err"
expect_eq "missing directory: exit 3" 3 $?
check "missing directory: message names the file" grep -q "qstatus: cannot write the report '$T/nodir/r.html'.*No such file" "$T/err"
check "missing directory: nothing made" test ! -e "$T/nodir"
mkdir "$T/out/dir.html"
"$QSTATUS" "$job" --report "$T/out/dir.html" 2> "$T/err"
expect_eq "a directory in the way: exit 3" 3 $?
check "a directory in the way: message" grep -q "cannot write the report '$T/out/dir.html'" "$T/err"
expect_eq "a directory in the way: no temporary left" "dir.html idle.html r.html" "$(ls -A "$T/out" | xargs)"
"$QSTATUS" nosuchjob --report "$T/out/x.html" 2> "$T/err"
expect_eq "unknown job: exit 2" 2 $?
check "unknown job: message" grep -q "nosuchjob" "$T/err"
check "unknown job: no file" test ! -e "$T/out/x.html"
"$QSTATUS" "$job" --report "$T/out/x.html" --json 2> "$T/err"
expect_eq "--report --json: usage error" 2 $?

finish
