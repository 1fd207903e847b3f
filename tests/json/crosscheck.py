#!/usr/bin/env python3
"""crosscheck.py: spoolq's JSON outputs agree with each other.

usage: crosscheck.py [--each-worker JOB]... STATUS COLLECT-DIR EVENTS-DIR

STATUS is `qstatus --tasks --json` taken once every job had finished or
stopped moving; COLLECT-DIR holds `qcollect --json` lines (*.jsonl, of
any variant: in order, --follow, --stderr) and EVENTS-DIR `qstatus JOB
--events` lines, taken when their jobs had finished (files whose names
start with "early-" were taken before and are skipped). What a schema
cannot say is checked here:
  - per job: the counts add up to `tasks`, match the states of the task
    list, and give the job's state; cached <= done;
  - per task: claimed <= start <= end where known;
  - qcollect: one line per finished task in item order (one per worker
    for --each-worker JOBs), with the task list's state, exit, attempts,
    host, worker, times and reason; --follow gives the same lines;
  - --events: per task its attempts in claim order, the last one the
    task list's (final for a finished task), and as many reused final
    attempts as the job's cached count.
Exit status 0 when all agree, 1 otherwise (each disagreement on stderr).
"""
import glob
import json
import os
import sys

problems = []


def problem(msg):
    problems.append(msg)
    print(f"crosscheck: {msg}", file=sys.stderr)


def job_state(c):
    if c["waiting"] + c["ready"] + c["running"] == 0:
        return ("finished-with-failures" if c["failed"] + c["cancelled"]
                else "finished")
    if c["running"]:
        return "running"
    if c["ready"]:
        return "ready"
    return "waiting"


def ordered(*times):
    known = [t for t in times if t is not None]
    return all(a <= b for a, b in zip(known, known[1:]))


def read_lines(path):
    with open(path) as f:
        return [json.loads(line) for line in f]


def check_status(d):
    tasks = {}
    for job in d["jobs"]:
        jid, c = job["id"], job["counts"]
        tl = job.get("task_list")
        if tl is None:
            problem(f"job {jid}: no task_list (run qstatus with --tasks)")
            continue
        states = ("waiting", "ready", "running", "done", "failed",
                  "cancelled")
        if sum(c[s] for s in states) != job["tasks"]:
            problem(f"job {jid}: counts {c} do not add up to {job['tasks']}")
        if len(tl) != job["tasks"]:
            problem(f"job {jid}: {len(tl)} tasks listed, {job['tasks']} "
                    "counted")
        for s in states:
            n = sum(1 for t in tl if t["state"] == s)
            if n != c[s]:
                problem(f"job {jid}: {n} tasks {s} listed, {c[s]} counted")
        if c["cached"] > c["done"]:
            problem(f"job {jid}: more cached than done: {c}")
        if job["state"] != job_state(c):
            problem(f"job {jid}: state {job['state']}, counts say "
                    f"{job_state(c)}")
        if [t["item"] for t in tl] != list(range(len(tl))):
            problem(f"job {jid}: task list not in item order")
        for t in tl:
            if not ordered(t["claimed"], t["start"], t["end"]):
                problem(f"job {jid} task {t['task']}: times out of order: "
                        f"{t}")
            tasks[(jid, t["item"])] = (job, t)
    return tasks


# Fields a qcollect line shares with the task list, by their names there.
SHARED = {"state": "state", "exit": "exit", "attempts": "attempts",
          "host": "host", "worker": "worker", "start": "start",
          "end": "end", "reason": "reason", "label": "task"}


def check_collect(path, tasks, each_worker):
    lines = read_lines(path)
    if not lines:
        return None
    jid = lines[0]["job"]
    if any(line["job"] != jid for line in lines):
        problem(f"{path}: lines of several jobs")
        return None
    job = tasks[(jid, 0)][0]
    finished = [t for t in job["task_list"]
                if t["state"] in ("done", "failed", "cancelled")]
    items = [line["item"] for line in lines]
    follow = ".follow." in os.path.basename(path)
    if jid in each_worker:
        if sorted(set(items)) != [t["item"] for t in finished]:
            problem(f"{path}: items {items}, finished "
                    f"{[t['item'] for t in finished]}")
    elif (sorted(items) if follow else items) != \
            [t["item"] for t in finished]:
        problem(f"{path}: items {items}, expected one line per finished "
                f"task in item order: {[t['item'] for t in finished]}")
    for line in lines:
        t = tasks[(jid, line["item"])][1]
        for mine, theirs in SHARED.items():
            if jid in each_worker and mine in ("worker", "host", "start",
                                               "end", "exit"):
                # One line per worker: the task list shows the summary
                # record (libq/each.c note 2), which has no single
                # worker, times or exit (null) of its own.
                continue
            if line[mine] != t[theirs]:
                problem(f"{path}: job {jid} item {line['item']}: {mine} "
                        f"{line[mine]!r}, qstatus --tasks says "
                        f"{t[theirs]!r}")
        if line["index"] != t["index"]:
            problem(f"{path}: index {line['index']} != {t['index']}")
        if not ordered(line["start"], line["end"]):
            problem(f"{path}: times out of order: {line}")
    return jid


def check_events(path, tasks):
    lines = read_lines(path)
    if not lines:
        return None
    jid = lines[0]["job"]
    job = tasks[(jid, 0)][0]
    by_item = {}
    for e in lines:
        by_item.setdefault(e["item"], []).append(e)
    if [e["item"] for e in lines] != sorted(e["item"] for e in lines):
        problem(f"{path}: not in item order")
    unknown = set(by_item) - {t["item"] for t in job["task_list"]}
    if unknown:
        problem(f"{path}: attempts of items the job does not have: "
                f"{sorted(unknown)}")
    reused = 0
    for t in job["task_list"]:
        attempts = by_item.get(t["item"], [])
        if t["state"] in ("waiting", "ready") and t["attempts"] == 0:
            if attempts:
                problem(f"{path}: {t['task']} never claimed but has "
                        f"attempts {attempts}")
            continue
        if not attempts:
            problem(f"{path}: {t['task']} ({t['state']}) has no attempt")
            continue
        nums = [e["attempt"] for e in attempts]
        if nums != sorted(nums):
            problem(f"{path}: {t['task']}: attempts out of order: {nums}")
        last = attempts[-1]
        if any(e["outcome"] in ("final", "running") for e in attempts[:-1]):
            problem(f"{path}: {t['task']}: a final or running attempt "
                    "before the last one")
        want = "running" if t["state"] == "running" else "final"
        if last["outcome"] != want:
            problem(f"{path}: {t['task']} is {t['state']}, its last "
                    f"attempt {last['outcome']}")
        pairs = {"task": "task", "index": "index", "state": "state",
                 "attempt": "attempts", "worker": "worker", "host": "host",
                 "claimed": "claimed", "start": "start", "end": "end",
                 "exit": "exit", "reason": "reason"}
        for mine, theirs in pairs.items():
            if last[mine] != t[theirs]:
                problem(f"{path}: {t['task']}: last attempt's {mine} "
                        f"{last[mine]!r}, qstatus --tasks says "
                        f"{t[theirs]!r}")
        for e in attempts:
            if not ordered(e["claimed"], e["start"], e["end"]):
                problem(f"{path}: times out of order: {e}")
        reused += last["reused"] and last["outcome"] == "final"
    if reused != job["counts"]["cached"]:
        problem(f"{path}: {reused} reused attempts, qstatus counts "
                f"{job['counts']['cached']} cached")
    return jid


def main(argv):
    each_worker = set()
    args = []
    it = iter(argv)
    for a in it:
        if a == "--each-worker":
            each_worker.add(int(next(it)))
        else:
            args.append(a)
    if len(args) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    with open(args[0]) as f:
        tasks = check_status(json.load(f))
    seen = [0, 0]
    collected, evented = set(), set()
    for path in sorted(glob.glob(os.path.join(args[1], "*.jsonl"))):
        if not os.path.basename(path).startswith("early-"):
            collected.add(check_collect(path, tasks, each_worker))
            seen[0] += 1
    for path in sorted(glob.glob(os.path.join(args[2], "*.jsonl"))):
        if not os.path.basename(path).startswith("early-"):
            evented.add(check_events(path, tasks))
            seen[1] += 1
    # Every job with a finished task must have been collected, and every
    # job with a claimed task shown by --events: else an empty output
    # (which names no job) would pass unchecked.
    for (jid, item), (job, t) in sorted(tasks.items()):
        if t["state"] in ("done", "failed", "cancelled") and \
                jid not in collected:
            problem(f"job {jid}: {t['task']} is {t['state']} but no "
                    "qcollect output has its lines")
            collected.add(jid)
        if t["attempts"] > 0 and jid not in evented:
            problem(f"job {jid}: {t['task']} was claimed but no --events "
                    "output has its attempts")
            evented.add(jid)
    print(f"crosscheck: {len(tasks)} tasks, {seen[0]} qcollect and "
          f"{seen[1]} --events outputs, {len(problems)} disagreements")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
