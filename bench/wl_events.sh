#!/bin/bash
# wl_events.sh SYSTEM: what recording attempts costs (issue 8: timing data
# "at no measurable cost to throughput").
#   spoolq     event logs on (the default).
#   no_events  the same runs with qworker --no-events.
# Two metrics, each from qsubmit to the last of 2 one-core workers' exit:
#   throughput  1,000,000 no-op kernel tasks (as wl_noop_array.sh): every
#               attempt commits, so its record is its event and the logs
#               write nothing; the two systems run the same path.
#   retry       N command tasks that each fail their first attempt
#               (sh -c '[ $Q_ATTEMPT -ge 2 ]', retries: 1): every first
#               attempt is one appended line in the worker's event log,
#               the case where logging does work. The 1 s back-off before
#               each retry is in both systems' times alike.
. "$(dirname "$0")/lib.sh"
[ "${1:-}" = --systems ] && { echo spoolq no_events; exit 0; }
w=events

case ${1:-} in
spoolq) ;;
no_events) WORKER_OPTS=(--no-events) ;;
*) die "usage: wl_events.sh spoolq|no_events|--systems" ;;
esac

n=$(quick 500 1000000)
t=$(time_array "$n" noop --kernel sleep --arg seconds=0)
result $w "$1" throughput "$(calc "$n / $t")" tasks/s higher n="$n"

n=$(quick 50 2000)
spool=$(new_spool retry)
t0=$(now)
"$QSUBMIT" --spool "$spool" --array "0..$((n - 1))" --retries 1 -- sh -c '[ "$Q_ATTEMPT" -ge 2 ]' >/dev/null
run_workers "$spool" 2 1
t=$(since "$t0")
check_done "$spool" "$n"
logged=$(cat "$spool"/jobs/*/events/* 2>/dev/null | grep -c '^a ' || true)
expect=$([ "$1" = spoolq ] && echo "$n" || echo 0)
[ "$logged" = "$expect" ] || die "retry: $logged attempts logged, expected $expect"
rm -rf "$spool"
result $w "$1" retry "$(calc "$n / $t")" tasks/s higher n="$n"
