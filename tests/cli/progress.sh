#!/bin/bash
# progress.sh: live progress from the spool alone. On a terminal (a real
# pseudo-terminal, through ptyrun.py below) qstatus --watch redraws a
# frame in place (a bar per job and per task group, tasks by state,
# workers alive/idle/lost) in one write per frame, without clearing the
# screen; qstatus --wait and qcollect --follow draw one bar on stderr and
# erase it. The cursor comes back however they end (the end, Ctrl-C,
# SIGTERM); NO_COLOR takes the colours away, not the redraw; a narrow
# window gets lines that do not wrap. Piped, none of them writes an
# escape: --watch writes plain lines for a log instead.
. "$TESTS_DIR/cli/lib.sh"
W=$T/wf
mkdir -p "$W"
export TERM=xterm
unset NO_COLOR

# ptyrun.py [--cols N] [--rows N] [--stdout FILE] [--interrupt REGEX]
#           [--signal INT|TERM] OUT -- CMD...: CMD with a pseudo-terminal
# as its terminal; what it writes there goes to OUT as it comes (raw).
# --interrupt sends the signal once REGEX matches that output. Exits with
# CMD's status as a shell reports it (128 + N when killed by signal N),
# 124 when 60 s pass.
cat > "$T/ptyrun.py" <<'PY'
import fcntl, os, re, select, signal, struct, subprocess, sys, termios, time
args = sys.argv[1:]
cols, rows, stdout_file, pattern, sig = 80, 24, None, None, 'INT'
while args[0].startswith('--'):
    opt, val, args = args[0], args[1], args[2:]
    if opt == '--cols': cols = int(val)
    elif opt == '--rows': rows = int(val)
    elif opt == '--stdout': stdout_file = val
    elif opt == '--interrupt': pattern = re.compile(val.encode())
    elif opt == '--signal': sig = val
    else: sys.exit('ptyrun.py: unknown option ' + opt)
out_path, cmd = args[0], args[2:]
master, slave = os.openpty()
fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack('HHHH', rows, cols, 0, 0))
out = open(stdout_file, 'wb') if stdout_file else slave
p = subprocess.Popen(cmd, stdin=slave, stdout=out, stderr=slave,
                     start_new_session=True)
os.close(slave)
log = open(out_path, 'wb')
data, sent, deadline = b'', False, time.monotonic() + 60
while time.monotonic() < deadline:
    if select.select([master], [], [], 0.05)[0]:
        try:
            chunk = os.read(master, 65536)
        except OSError:     # EIO: no writer left on the terminal
            chunk = b''
        if not chunk:
            break
        data += chunk
        log.write(chunk)
        log.flush()
    if pattern and not sent and pattern.search(data):
        p.send_signal(getattr(signal, 'SIG' + sig))
        sent = True
else:
    p.kill()
    p.wait()
    sys.exit(124)
status = p.wait()
sys.exit(128 - status if status < 0 else status)
PY
ptyrun() { python3 "$T/ptyrun.py" "$@"; }

# check_frames FILE [--cols N] [--color|--no-color]: what a terminal got
# holds frames redrawn in place: the cursor hidden and shown again after
# the last hide, a cursor-up (a second frame over the first), no clear
# screen, no line wider than the window, colour as asked.
cat > "$T/frames.py" <<'PY'
import re, sys
data = open(sys.argv[1], 'rb').read()
cols = int(sys.argv[2]) if len(sys.argv) > 2 else 80
color = sys.argv[3] if len(sys.argv) > 3 else None
def fail(msg):
    sys.exit('%s: %s' % (sys.argv[1], msg))
hide, show = data.rfind(b'\033[?25l'), data.rfind(b'\033[?25h')
if hide < 0: fail('the cursor was never hidden')
if show < hide: fail('the cursor was not shown again at the end')
if not re.search(rb'\033\[[0-9]+A', data): fail('no redraw in place')
if re.search(rb'\033\[2J|\033\[H', data): fail('the screen was cleared')
sgr = re.search(rb'\033\[[0-9;]*m', data)
if color == '--color' and not sgr: fail('no colour')
if color == '--no-color' and sgr: fail('colour with NO_COLOR')
plain = re.sub(rb'\033\[[0-9;?]*[A-Za-z]', b'', data)
for line in re.split(rb'[\r\n]', plain):
    if len(line.decode()) > cols - 1:
        fail('a line wider than %d columns: %r' % (cols - 1, line))
PY
check_frames() { python3 "$T/frames.py" "$@"; }
# The last frame (after the last cursor-up), escapes taken out.
last_frame() {
	python3 -c 'import re, sys
d = open(sys.argv[1], "rb").read()
d = re.split(rb"\033\[[0-9]+A", d)[-1]
sys.stdout.write(re.sub(rb"\033\[[0-9;?]*[A-Za-z]|\r", b"", d).decode())' "$1"
}
no_escape() { ! grep -q $'\033' "$1"; }
has() { grep -q -- "$2" "$1" 2>/dev/null; }
registered() { [ "$(ls "$QSPOOL/workers" 2>/dev/null | wc -l)" -eq "$1" ]; }

# Bad input: --watch draws, alone.
for other in --json --tasks --dot --events "--report $T/r.html"; do
	"$QSTATUS" 1 --watch $other > "$T/out" 2>&1
	expect_eq "--watch $other: usage error" 2 $?
	check "--watch $other: says why" grep -q "qstatus: --watch draws progress; it does not go with ${other%% *}" "$T/out"
done
check "--help tells about --watch" grep -q -- "--watch  *follow the jobs" <("$QSTATUS" --help)

# A job of two groups, followed by three terminals at once: in colour,
# with NO_COLOR, and 30 columns wide. The worker starts once each has
# drawn its first frame, so each redraws at least once.
cat > "$W/two.yaml" <<'YAML'
name: two
tasks:
  prep: {cmd: "true"}
  run: {cmd: "sleep 0.2", array: 0..9, after: [prep]}
YAML
job=$("$QSUBMIT" "$W/two.yaml")
ptyrun "$T/color" -- "$QSTATUS" --watch "$job" & color=$!
NO_COLOR=1 ptyrun "$T/nocolor" -- "$QSTATUS" --watch "$job" & nocolor=$!
ptyrun --cols 30 "$T/narrow" -- "$QSTATUS" --watch two & narrow=$!
check "the frames appear" wait_for 20 has "$T/color" "job $job two"
check "no colour, same frame" wait_for 20 has "$T/nocolor" "job $job two"
check "narrow frame" wait_for 20 has "$T/narrow" "workers:"
start_worker --exit-when-idle --cpus 4
wait $color; expect_eq "--watch: all succeeded" 0 $?
wait $nocolor; expect_eq "--watch NO_COLOR: all succeeded" 0 $?
wait $narrow; expect_eq "--watch narrow: all succeeded" 0 $?
check "colour: redrawn in place" check_frames "$T/color" 80 --color
check "NO_COLOR: redrawn in place, no colour" check_frames "$T/nocolor" 80 --no-color
check "30 columns: nothing wraps" check_frames "$T/narrow" 30
last_frame "$T/nocolor" > "$T/final"
check "final frame: the job at 100%" grep -Eq "^job $job two +\[#+\] 100% 11/11  finished$" "$T/final"
check "final frame: group prep" grep -Eq "^  prep +\[#+\] 100%  1/1 *$" "$T/final"
check "final frame: group run" grep -Eq "^  run +\[#+\] 100% 10/10 *$" "$T/final"
check "final frame: tasks by state" grep -q "^tasks: 11 done$" "$T/final"
check "final frame: workers" grep -Eq "^workers: [0-9]+ alive" "$T/final"
check "a frame before the end showed work left" grep -Eq "\[#*\.+\] +[0-9]+% +[0-9]+/11" <(tr '\r' '\n' < "$T/nocolor")
check "the narrow window kept the numbers" grep -q "100% 11/11" "$T/narrow"

# --wait and qcollect --follow: a bar on a terminal (stderr), nothing
# piped; --watch piped: plain lines. All started before any worker.
check "the first worker left" wait_for 30 registered 0
job=$("$QSUBMIT" --name bars --array 0..7 -- sh -c 'sleep 0.2; echo r{i}')
ptyrun --stdout "$T/wait.out" "$T/wait.tty" -- "$QSTATUS" --wait "$job" & wait_tty=$!
ptyrun --stdout "$T/follow.out" "$T/follow.tty" -- "$QCOLLECT" --follow "$job" & follow_tty=$!
"$QSTATUS" --wait "$job" > "$T/wait.pipe" 2>&1 & wait_pipe=$!
"$QCOLLECT" --follow "$job" > "$T/follow.pipe" 2>&1 & follow_pipe=$!
"$QSTATUS" --watch "$job" > "$T/watch.pipe" 2>&1 & watch_pipe=$!
check "--wait: a bar on the terminal" wait_for 20 has "$T/wait.tty" "bars  \[.*0% 0/8"
check "--follow: a bar on the terminal" wait_for 20 has "$T/follow.tty" "bars  \[.*0% 0/8"
check "--watch piped: a first line" wait_for 20 has "$T/watch.pipe" "0/8 finished (0%)"
start_worker --exit-when-idle --cpus 4
wait $wait_tty; expect_eq "--wait on a terminal: succeeded" 0 $?
wait $follow_tty; expect_eq "--follow on a terminal: succeeded" 0 $?
wait $wait_pipe; expect_eq "--wait piped: succeeded" 0 $?
wait $follow_pipe; expect_eq "--follow piped: succeeded" 0 $?
wait $watch_pipe; expect_eq "--watch piped: succeeded" 0 $?
check "--wait: the cursor is back" python3 -c 'import sys; d = open(sys.argv[1], "rb").read(); sys.exit(not d.rfind(b"\033[?25h") > d.rfind(b"\033[?25l") >= 0)' "$T/wait.tty"
check "--wait: the bar is erased at the end" grep -q $'\033\\[1A\r\033\\[J\033\\[?25h$' "$T/wait.tty"
check "--wait: the status table on stdout" grep -Eq "^$job +bars +8 .* finished$" "$T/wait.out"
check "--wait: no escape on stdout" no_escape "$T/wait.out"
check "--follow: erased at the end" grep -q $'\033\\[?25h$' "$T/follow.tty"
expect_eq "--follow: every result on stdout" "r0 r1 r2 r3 r4 r5 r6 r7" "$(sort "$T/follow.out" | tr '\n' ' ' | sed 's/ $//')"
check "--follow: no escape on stdout" no_escape "$T/follow.out"
check "--wait piped: no escape" no_escape "$T/wait.pipe"
check "--follow piped: no escape" no_escape "$T/follow.pipe"
check "--watch piped: no escape" no_escape "$T/watch.pipe"
check "--watch piped: the job's end" grep -Eq "^[0-9-]+ [0-9:]+ job $job bars finished: 0 waiting, 0 ready, 0 running, 8 done, 0 failed, 0 cancelled$" "$T/watch.pipe"
check "--watch piped: rate and workers" grep -Eq "tasks/s  ETA [^;]+; workers: [0-9]+ alive" "$T/watch.pipe"

# Failures: the exit status of --wait (1), on a terminal and piped.
job=$("$QSUBMIT" --name flaky --array 0..3 -- sh -c '[ {i} != 2 ]')
"$QWORKER" --exit-when-idle 2>/dev/null
ptyrun "$T/failed" -- "$QSTATUS" --watch "$job"
expect_eq "--watch on a job with a failure" 1 $?
check "its frame says so" grep -Eq "^job $job flaky +\[#+!+\] 100% 4/4  finished: 1 failed, 0 cancelled$" <(last_frame "$T/failed")
"$QSTATUS" --watch "$job" > "$T/failed.pipe"
expect_eq "--watch piped on a job with a failure" 1 $?
check "its line says so" grep -q "job $job flaky finished: .* 3 done, 1 failed" "$T/failed.pipe"

# Interrupted: Ctrl-C and SIGTERM give the cursor back and end the
# command by the signal (the shell sees 130 and 143). No worker runs.
check "the workers left" wait_for 30 registered 0
job=$("$QSUBMIT" --name stuck -- true)
ptyrun --interrupt "job $job stuck" "$T/int" -- "$QSTATUS" --watch "$job"
expect_eq "Ctrl-C: --watch ends with 130" 130 $?
check "Ctrl-C: the cursor is back" python3 -c 'import sys; d = open(sys.argv[1], "rb").read(); sys.exit(not d.rfind(b"\033[?25h") > d.rfind(b"\033[?25l") >= 0)' "$T/int"
ptyrun --signal TERM --interrupt "job $job stuck" "$T/term" -- "$QSTATUS" --watch "$job"
expect_eq "SIGTERM: --watch ends with 143" 143 $?
check "SIGTERM: the cursor is back" python3 -c 'import sys; d = open(sys.argv[1], "rb").read(); sys.exit(not d.rfind(b"\033[?25h") > d.rfind(b"\033[?25l") >= 0)' "$T/term"
ptyrun --stdout /dev/null --interrupt "stuck  \[" "$T/intwait" -- "$QSTATUS" --wait "$job"
expect_eq "Ctrl-C: --wait ends with 130" 130 $?
check "Ctrl-C: --wait gives the cursor back" python3 -c 'import sys; d = open(sys.argv[1], "rb").read(); sys.exit(not d.rfind(b"\033[?25h") > d.rfind(b"\033[?25l") >= 0)' "$T/intwait"
"$QSTATUS" --watch --wait=0 "$job" > "$T/timeout"
expect_eq "--watch --wait=0: not finished (4)" 4 $?
check "--watch --wait=0: one line" grep -q "job $job stuck: 0/1 finished (0%)" "$T/timeout"

# Workers alive, idle and lost: one runs a task (held until $T/go
# exists), one has nothing to do, one was killed (-9) and is provably
# gone on this node.
job=$("$QSUBMIT" --name held -- sh -c "while [ -d '$T' ] && [ ! -e '$T/go' ]; do sleep 0.05; done")
start_worker --cpus 1 --no-exit-when-idle 2>/dev/null
busy() { "$QSTATUS" "$job" | grep -Eq "^$job +held +1 +0 +0 +1 "; }
check "a worker runs the held task" wait_for 20 busy
start_worker --cpus 1 --no-exit-when-idle 2>/dev/null
check "two workers" wait_for 20 registered 2
"$QWORKER" --cpus 1 --no-exit-when-idle 2>/dev/null & doomed=$!
check "three workers" wait_for 20 registered 3
kill -9 $doomed
wait $doomed 2>/dev/null
ptyrun --interrupt "workers: 2 alive, 1 idle, 1 lost" "$T/workers" -- "$QSTATUS" --watch
expect_eq "the frame counted the workers (then Ctrl-C)" 130 $?
check "--watch without JOB follows the unfinished job" grep -q "job $job held" "$T/workers"
"$QSTATUS" --watch --wait=0 > "$T/workers.pipe"
check "the log line counts them too" grep -q "; workers: 2 alive, 1 idle, 1 lost$" "$T/workers.pipe"
touch "$T/go"
"$QSTATUS" --wait "$job" > /dev/null 2>&1
expect_eq "the held task finished" 0 $?
finish
