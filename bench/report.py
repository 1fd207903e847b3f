"""report.py: the table of a benchmark run (bench/run.sh calls it).

Usage: report.py RESULTS.txt META.txt OUTPUT.md

RESULTS.txt holds the RESULT, SKIP and FAIL lines of every run (format in
bench/lib.sh); META.txt "key: value" lines about the machine and the
versions. Prints the table (medians, min-max, spoolq/peer ratios), the
MPI fast path's table (wl_mpi.sh) and the goals of issues 5 and 6, and
writes them with the machine to OUTPUT.md.
Standard library only: it runs whether the peers are installed or not.
"""
import statistics
import sys

# The goals of issue 5, each one figure of this suite. A "ratio" goal is
# met when spoolq's advantage over the peer (the peer's median over
# spoolq's for lower-is-better metrics, the reverse for higher-is-better
# ones) reaches the threshold; a "max" goal when spoolq's median is at
# most the threshold.
GOALS = [
    ("1. empty kernel tasks, array of 1,000,000, 2 workers: >= 1000x Dask",
     "ratio", "noop_array", "throughput", "dask", 1000),
    ("1. YAML workflow of 100,000 distinct tasks: >= 100x Dask",
     "ratio", "workflow_100k", "throughput", "dask", 100),
    ("2. `true` command tasks, 2 workers: >= 0.9x xargs -P2",
     "ratio", "cmd_true", "throughput", "xargs", 0.9),
    ("2. `true` command tasks, 2 workers: >= 4x GNU parallel",
     "ratio", "cmd_true", "throughput", "parallel", 4),
    ("3. chain of 1,000 dependent no-op tasks: <= 0.5 ms per link",
     "max", "chain", "per_link", None, 0.5),
    ("4. claim with 1,000,000 queued <= 1.5x claim with 1,000",
     "max", "scale", "claim_ratio", None, 1.5),
    ("4. qsubmit of a 1,000,000-item array < 1 s",
     "max", "scale", "submit_array", None, 1),
    ("4. 100,000-task element-wise workflow validated and submitted < 3 s",
     "max", "scale", "wf_total", None, 3),
    ("4. qstatus of a job of 1,000,000 tasks < 100 ms",
     "max", "scale", "status_array", None, 100),
    ("4. no spool directory holds more than a few thousand entries "
     "(<= 5,000 here)",
     "max", "scale", "max_dir_entries", None, 5000),
    ("5. pi kernel within 5% of plain C + OpenMP, 1 thread",
     "ratio", "pi", "pi_1thread", "plain", 0.95),
    ("5. pi kernel within 5% of plain C + OpenMP, 2 threads",
     "ratio", "pi", "pi_2threads", "plain", 0.95),
    ("5. chunked array example >= 2x faster than Dask, result checked",
     "ratio", "array_chunked", "time", "dask", 2),
    ("6. idle worker < 8 MiB RSS",
     "max", "startup", "worker_rss", None, 8),
    ("6. worker ready in < 20 ms (here: 2 workers, both registered)",
     "max", "startup", "start_time", None, 20),
    # Issue 8: event logs cost nothing measurable (0.9: within this
    # machine's run-to-run noise, which is about 10-30% on noop_array).
    ("8. 1,000,000 no-op tasks with event logs >= 0.9x without",
     "ratio", "events", "throughput", "no_events", 0.9),
    ("8. tasks that each fail once, with event logs >= 0.9x without",
     "ratio", "events", "retry", "no_events", 0.9),
]
# The MPI fast path (issue 6), bench/wl_mpi.sh: for results of these
# sizes (MiB), the handoff to a consumer over MPI should be at least
# MPI_RATIO_GOAL times faster than through the spool's files, and a pull
# should move at least MPI_PULL_GOAL of plain MPI's p2p bandwidth.
MPI_GOAL_SIZES = (64, 256)
MPI_RATIO_GOAL = 3
MPI_PULL_GOAL = 0.8
# The systems of wl_mpi.sh that pull over MPI: as started by default,
# and with each rank's receive memory faulted in at start.
MPI_SYSTEMS = (("mpi", "qworker --mpi"),
               ("mpi_prefault", "qworker --mpi --mpi-prefault 512M"))
# A broadcast input should reach the ranks at >= this share of plain
# MPI_Bcast's rate.
MPI_BCAST_GOAL = 0.8
NOT_MEASURED = [
    "6. a worker's memory flat over 1,000,000 tasks",
    "6. qcollect streams (memory flat in the number of results)",
]


def parse(path):
    """[(kind, {key: value})] in file order."""
    out = []
    with open(path) as f:
        for line in f:
            words = line.split()
            if not words or words[0] not in ("RESULT", "SKIP", "FAIL"):
                continue
            fields = dict(w.split("=", 1) for w in words[1:] if "=" in w)
            out.append((words[0], fields))
    return out


def fmt(v):
    a = abs(v)
    if a >= 1e7:
        return f"{v:.3g}"
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    if a >= 1:
        return f"{v:.2f}"
    return f"{v:.3g}"


class Cell:
    """The runs of one (workload, metric, system)."""

    def __init__(self, unit, better):
        self.values, self.unit, self.better, self.extra = [], unit, better, {}

    @property
    def median(self):
        return statistics.median(self.values)


def collect(records):
    cells, order, skips, fails = {}, [], [], []
    for kind, f in records:
        if kind == "SKIP":
            skips.append(f)
            continue
        if kind == "FAIL":
            fails.append(f)
            continue
        key = (f["workload"], f["metric"], f["system"])
        if key not in cells:
            cells[key] = Cell(f["unit"], f["better"])
            order.append(key)
        cell = cells[key]
        cell.values.append(float(f["value"]))
        for k, v in f.items():
            if k not in ("workload", "metric", "system", "value", "unit",
                         "better"):
                cell.extra[k] = v
    return cells, order, skips, fails


def advantage(spoolq, peer):
    """How many times better spoolq's median is than the peer's."""
    if spoolq.better == "higher":
        return spoolq.median / peer.median if peer.median else float("inf")
    return peer.median / spoolq.median if spoolq.median else float("inf")


def words(adv):
    if adv >= 1:
        return f"spoolq {fmt(adv)}x better"
    return f"peer {fmt(1 / adv)}x better"


def results_table(cells, order):
    rows = ["| workload | metric | system | N | median | min-max | runs "
            "| spoolq/peer |",
            "|---|---|---|---:|---:|---:|---:|---|"]
    for key in order:
        w, m, s = key
        c = cells[key]
        n = c.extra.get("n", "")
        n = f"{int(n):,}" if n.isdigit() else n
        ratio = ""
        sq = cells.get((w, m, "spoolq"))
        if s != "spoolq" and sq:
            raw = sq.median / c.median if c.median else float("inf")
            ratio = f"{fmt(raw)} ({words(advantage(sq, c))})"
        note = " (check ok)" if c.extra.get("check") == "ok" else ""
        rows.append(f"| {w} | {m} | {s} | {n} | {fmt(c.median)} {c.unit}"
                    f"{note} | {fmt(min(c.values))}-{fmt(max(c.values))} "
                    f"| {len(c.values)} | {ratio} |")
    return rows


def goals_table(cells):
    rows = ["| goal (issue 5; issue 6 where it says so) | figure here "
            "| met |", "|---|---|---|"]
    for text, kind, w, m, peer, threshold in GOALS:
        sq = cells.get((w, m, "spoolq"))
        other = cells.get((w, m, peer)) if peer else None
        if sq is None or (kind == "ratio" and other is None):
            rows.append(f"| {text} | not run | - |")
            continue
        n = sq.extra.get("n", "")
        at = f" at N={int(n):,}" if n.isdigit() else ""
        if kind == "ratio":
            adv = advantage(sq, other)
            fig = f"{fmt(adv)}x{at}"
            met = adv >= threshold
        else:
            fig = f"{fmt(sq.median)} {sq.unit}{at}"
            met = sq.median <= threshold
        rows.append(f"| {text} | {fig} | {'yes' if met else 'no'} |")
    for text in NOT_MEASURED:
        rows.append(f"| {text} | not measured by this suite | - |")
    return rows + mpi_goals(cells)


def mpi_cell(cells, metric, system, size):
    return cells.get(("mpi", f"{metric}_{size}MiB", system))


def mpi_figures(cells, size, system="mpi"):
    """(files/MPI handoff ratio, pull/raw bandwidth) at size, each None
    when a side did not run."""
    mpi = mpi_cell(cells, "handoff", system, size)
    files = mpi_cell(cells, "handoff", "files", size)
    pull = mpi_cell(cells, "pull", system, size)
    raw = mpi_cell(cells, "p2p", "raw", size)
    ratio = files.median / mpi.median if mpi and files and mpi.median \
        else None
    share = pull.median / raw.median if pull and raw and raw.median \
        else None
    return ratio, share


def mpi_sizes(cells):
    return sorted({int(m[len("handoff_"):-len("MiB")])
                   for w, m, _ in cells
                   if w == "mpi" and m.startswith("handoff_")})


def bcast_figures(cells):
    """[(system, metric, spoolq's median, plain MPI_Bcast's median)] for
    the broadcast size that ran."""
    out = []
    for (w, m, system), c in cells.items():
        if w != "mpi" or not m.startswith("bcast_") or system == "bcast_raw":
            continue
        size = m.rsplit("_", 1)[1]
        raw = cells.get(("mpi", f"bcast_raw_{size}", "bcast_raw"))
        out.append((system, m, c.median, raw.median if raw else None))
    return sorted(out)


def mpi_goals(cells):
    rows = []
    for size in MPI_GOAL_SIZES:
        for system, how in MPI_SYSTEMS:
            ratio, share = mpi_figures(cells, size, system)
            if ratio is None and share is None and system != "mpi":
                continue
            text = (f"issue 6: a {size} MiB result reaches its consumer "
                    f">= {MPI_RATIO_GOAL}x faster over MPI than through "
                    f"files ({how})")
            rows.append(f"| {text} | {fmt(ratio)}x | "
                        f"{'yes' if ratio >= MPI_RATIO_GOAL else 'no'} |"
                        if ratio is not None
                        else f"| {text} | not run | - |")
            text = (f"issue 6: a {size} MiB pull moves >= "
                    f"{MPI_PULL_GOAL:.0%} of plain MPI's p2p bandwidth "
                    f"({how})")
            rows.append(f"| {text} | {share:.0%} | "
                        f"{'yes' if share >= MPI_PULL_GOAL else 'no'} |"
                        if share is not None
                        else f"| {text} | not run | - |")
    for system, metric, v, raw in bcast_figures(cells):
        what = "the MPI_Bcast itself" if "_xfer_" in metric \
            else "whole receive: memory, transfer, checksum"
        how = " with --mpi-prefault 512M" if system.endswith("_prefault") \
            else ""
        size = metric.rsplit("_", 1)[1].replace("MiB", " MiB")
        text = (f"issue 6: a {size} broadcast input reaches 4 ranks at "
                f">= {MPI_BCAST_GOAL:.0%} of plain MPI_Bcast's rate "
                f"({what}{how})")
        if raw:
            share = v / raw
            rows.append(f"| {text} | {fmt(v)} vs {fmt(raw)} GB/s, "
                        f"{share:.0%} | "
                        f"{'yes' if share >= MPI_BCAST_GOAL else 'no'} |")
        else:
            rows.append(f"| {text} | {fmt(v)} GB/s, no plain figure | - |")
    return rows


def mpi_table(cells):
    """Issue 6 per result size: the handoff (from the later producer's
    end to the consumer holding both inputs) over MPI and through files,
    where the MPI handoff's time goes, and the pull against plain MPI."""
    def span(c, unit="ms"):
        if c is None:
            return "-"
        return (f"{fmt(c.median)} ({fmt(min(c.values))}-"
                f"{fmt(max(c.values))}) {unit}")

    rows = ["| result | handoff over MPI | through files | files/MPI "
            "| MPI: claim, pull, check, rest (ms) | files: claim (ms) "
            "| pull (runs with one) | plain MPI p2p | pull/p2p "
            "| p2p into fresh memory |",
            "|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|"]
    for size, system, how in [(size, system, how)
                              for size in mpi_sizes(cells)
                              for system, how in MPI_SYSTEMS
                              if mpi_cell(cells, "handoff", system, size)]:
        def c(metric, system):
            return mpi_cell(cells, metric, system, size)
        ratio, share = mpi_figures(cells, size, system)
        hand, claim, pull, check = (c("handoff", system),
                                    c("claim", system), c("pull", system),
                                    c("check", system))
        parts = "-"
        if hand and claim and pull and check:
            # Medians of different runs: the rest is approximate.
            pull_ms = size * 1048576 / (pull.median * 1e6)
            rest = hand.median - claim.median - pull_ms - check.median
            parts = (f"{fmt(claim.median)}, {fmt(pull_ms)}, "
                     f"{fmt(check.median)}, {fmt(rest)}")
        fclaim = c("claim", "files")
        runs = f" ({len(pull.values)} of {len(hand.values)})" \
            if pull and hand else ""
        rows.append(
            f"| {size} MiB{'' if system == 'mpi' else ', prefault'} "
            f"| {span(hand)} | {span(c('handoff', 'files'))} "
            f"| {fmt(ratio) + 'x' if ratio is not None else '-'} "
            f"| {parts} | {fmt(fclaim.median) if fclaim else '-'} "
            f"| {span(pull, 'GB/s')}{runs} | {span(c('p2p', 'raw'), 'GB/s')} "
            f"| {f'{share:.0%}' if share is not None else '-'} "
            f"| {span(c('p2p_fresh', 'raw'), 'GB/s')} |")
    return rows


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: report.py RESULTS.txt META.txt OUTPUT.md")
    records = parse(sys.argv[1])
    with open(sys.argv[2]) as f:
        meta = [line.rstrip("\n") for line in f if line.strip()]
    cells, order, skips, fails = collect(records)
    quick = any(line.startswith("mode: quick") for line in meta)

    table = results_table(cells, order)
    goals = goals_table(cells)
    print("\n".join(table))
    print()
    if mpi_sizes(cells):
        print("\n".join(mpi_table(cells)))
        print()
    print("\n".join(goals))
    for f in skips:
        print(f"skipped: {f.get('workload')} {f.get('system')}: "
              f"{f.get('reason', '').replace('_', ' ')}")
    for f in fails:
        print(f"FAILED: {f.get('workload')} {f.get('system')}: "
              f"{f.get('reason', '').replace('_', ' ')}")

    md = ["# Benchmark results", "",
          "Written by `bench/run.sh` (what each workload does: "
          "[bench/README.md](README.md)). Medians of the runs; spoolq and "
          "its peers ran alternately, on the same machine, in the same "
          "run. The spoolq/peer column is spoolq's median divided by the "
          "peer's, and says which is better (higher tasks/s, lower "
          "seconds). The machine is a shared 2-core VM: other work ran "
          "at the same time, so single figures can be off by 2x; compare "
          "within a run.", ""]
    if quick:
        md += ["**Quick mode**: one run of small sizes, to keep the "
               "scripts working. Its figures say little, and the goals "
               "are for larger sizes.", ""]
    md += ["## Machine and versions", ""]
    md += [f"- {line}" for line in meta]
    md += ["", "## Results", ""] + table
    mpi = mpi_table(cells) if mpi_sizes(cells) else []
    if mpi:
        md += ["", "## Big results over MPI and through files (issue 6)",
               "", "bench/wl_mpi.sh: two producers of S MiB each and one "
               "consumer of both. The handoff runs from the later "
               "producer's end to the consumer holding both inputs; over "
               "MPI it is the consumer's claim, the pull of the other "
               "rank's result, its checksum, and the rest (the local "
               "input, the records). Median (min-max); a pull is counted "
               "only in runs where the consumer had to pull. Rows marked "
               "prefault: each rank started with --mpi-prefault 512M "
               "(its receive memory faulted in before the first task). "
               "The last column is plain MPI receiving into memory "
               "nothing touched before (bench/mpi_raw p2p_fresh): what a "
               "first pull without --mpi-prefault is up against.",
               ""] + mpi
    md += ["", "## Goals", ""] + goals
    if skips or fails:
        md += ["", "## Skipped and failed", ""]
        md += [f"- skipped: {f.get('workload')} {f.get('system')}: "
               f"{f.get('reason', '').replace('_', ' ')}" for f in skips]
        md += [f"- FAILED: {f.get('workload')} {f.get('system')}: "
               f"{f.get('reason', '').replace('_', ' ')}" for f in fails]
    with open(sys.argv[3], "w") as f:
        f.write("\n".join(md) + "\n")


if __name__ == "__main__":
    main()
