"""harness.py: the Python side of the benchmark suite (bench/run.sh).

Usage: harness.py WORKLOAD SYSTEM [ARGS...]   (called by bench/wl_*.sh)

The peers (Dask distributed, IPython Parallel, numpy) run here, with
Debian's /usr/bin/python3 (the Debian packages install there, not into any
other Python on PATH). So does spoolq's start-up probe, which needs a
clock finer than a shell loop's. Each call starts its own cluster, runs
one measurement and prints RESULT lines (format in bench/lib.sh); cluster
start-up is outside the timed part except in the `startup` workload.
"""
import math
import os
import signal
import subprocess
import sys
import tempfile
import time


def result(workload, system, metric, value, unit, better, **extra):
    more = "".join(f" {k}={v}" for k, v in extra.items())
    print(f"RESULT workload={workload} system={system} metric={metric} "
          f"value={value:.6g} unit={unit} better={better}{more}", flush=True)


def noop(x=None):
    return None


def inc(x):
    return x + 1


def scratch():
    """Dask and ipyparallel write state files: keep them in the bench's
    scratch directory, not the working directory."""
    return tempfile.mkdtemp(prefix="py.", dir=os.environ.get("BENCH_TMP"))


# ---------------------------------------------------------------- Dask

def dask_cluster():
    import logging
    from distributed import Client, LocalCluster
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           dashboard_address=None, local_directory=scratch(),
                           silence_logs=logging.ERROR)
    client = Client(cluster)
    client.wait_for_workers(2)
    return cluster, client


def dask_close(cluster, client):
    client.close()
    cluster.close()


def dask_noop_array(n):
    cluster, client = dask_cluster()
    t0 = time.perf_counter()
    futures = client.map(noop, range(n))
    got = client.gather(futures)
    t = time.perf_counter() - t0
    assert len(got) == n
    dask_close(cluster, client)
    result("noop_array", "dask", "throughput", n / t, "tasks/s", "higher", n=n)


def dask_workflow(n):
    import dask
    cluster, client = dask_cluster()
    tasks = [dask.delayed(noop, pure=False)(i) for i in range(n)]
    t0 = time.perf_counter()
    got = dask.compute(*tasks)
    t = time.perf_counter() - t0
    assert len(got) == n
    dask_close(cluster, client)
    result("workflow_100k", "dask", "throughput", n / t, "tasks/s", "higher",
           n=n)


def dask_chain(k):
    cluster, client = dask_cluster()
    t0 = time.perf_counter()
    f = client.submit(inc, 0, pure=False)
    for _ in range(k - 1):
        f = client.submit(inc, f, pure=False)
    got = f.result()
    t = time.perf_counter() - t0
    assert got == k, got
    dask_close(cluster, client)
    result("chain", "dask", "per_link", t / k * 1e3, "ms", "lower", n=k)


def pi_numpy(seed, samples):
    """Hits of `samples` points in the quarter circle, numpy's own
    generator, 2e6 points at a time (what a Dask user would write)."""
    import numpy as np
    rng = np.random.default_rng(seed)
    hits = 0
    left = samples
    while left:
        m = min(left, 2000000)
        x = rng.random(m)
        y = rng.random(m)
        hits += int(np.count_nonzero(x * x + y * y < 1.0))
        left -= m
    return hits


def dask_pi(samples):
    cluster, client = dask_cluster()
    tasks = 20
    per = samples // tasks
    t0 = time.perf_counter()
    hits = sum(client.gather(client.map(pi_numpy, range(tasks),
                                        [per] * tasks)))
    t = time.perf_counter() - t0
    dask_close(cluster, client)
    est = 4.0 * hits / (per * tasks)
    assert abs(est - math.pi) < 0.01, est
    result("pi", "dask", "pi_2threads", per * tasks / t, "samples/s",
           "higher", n=per * tasks, tasks=tasks)


GOLDEN = 0x9E3779B97F4A7C15
MASK = (1 << 64) - 1


def sincos_mix_int(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def sincos_block(n, key, block_info=None):
    """Block of x from examples/kernels/sincos.h: x[i][j] is the top 53
    bits of SplitMix64(key + (i * n + j + 1) * golden), in numpy's
    wrapping uint64 arithmetic, so Dask sums the very same array."""
    import numpy as np
    (r0, r1), (c0, c1) = block_info[None]["array-location"]
    u = np.uint64
    i = np.arange(r0, r1, dtype=u)[:, None]
    j = np.arange(c0, c1, dtype=u)[None, :]
    z = u(key) + (i * u(n) + j + u(1)) * u(GOLDEN)
    z = (z ^ (z >> u(30))) * u(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> u(27))) * u(0x94D049BB133111EB)
    z ^= z >> u(31)
    return (z >> u(11)).astype(np.float64) * 2.0 ** -53


def dask_sincos(n, block, want):
    import dask.array as da
    cluster, client = dask_cluster()
    key = sincos_mix_int((0 + GOLDEN) & MASK)
    nb = -(-n // block)
    chunks = tuple(min(block, n - b * block) for b in range(nb))
    t0 = time.perf_counter()
    x = da.map_blocks(sincos_block, n, key, chunks=(chunks, chunks),
                      dtype="f8")
    total = float((da.sin(x) + da.cos(x.T)).sum().compute())
    t = time.perf_counter() - t0
    dask_close(cluster, client)
    check = "ok" if abs(total - want) <= 1e-9 * abs(want) else "MISMATCH"
    result("array_chunked", "dask", "time", t, "s", "lower", n=n,
           block=block, check=check)
    if check != "ok":
        sys.exit(f"harness: dask sincos total {total!r} != {want!r}")


def rss_tree(pid):
    import psutil
    p = psutil.Process(pid)
    return [p] + p.children(recursive=True)


def dask_startup():
    t0 = time.perf_counter()
    cluster, client = dask_cluster()
    t = time.perf_counter() - t0
    rss = list(client.run(lambda: __import__("psutil").Process()
                          .memory_info().rss).values())
    procs = len(rss_tree(os.getpid()))
    dask_close(cluster, client)
    result("startup", "dask", "start_time", t * 1e3, "ms", "lower")
    result("startup", "dask", "worker_rss", sum(rss) / len(rss) / 2**20,
           "MiB", "lower")
    result("startup", "dask", "processes", procs, "count", "lower")


# ----------------------------------------------------- IPython Parallel

def ipp_cluster():
    import ipyparallel as ipp
    cluster = ipp.Cluster(n=2, log_level=40, profile_dir=scratch())
    rc = cluster.start_and_connect_sync()
    rc.wait_for_engines(2, timeout=120)
    return cluster, rc


def ipp_close(cluster, rc):
    rc.close()
    cluster.stop_cluster_sync()


def ipp_noop_array(n):
    cluster, rc = ipp_cluster()
    lv = rc.load_balanced_view()
    t0 = time.perf_counter()
    ars = [lv.apply_async(noop, i) for i in range(n)]
    for a in ars:
        a.get()
    t = time.perf_counter() - t0
    ipp_close(cluster, rc)
    result("noop_array", "ipp", "throughput", n / t, "tasks/s", "higher",
           n=n)


def ipp_chain(k):
    cluster, rc = ipp_cluster()
    lv = rc.load_balanced_view()
    t0 = time.perf_counter()
    ar = lv.apply_async(noop)
    ars = [ar]
    for _ in range(k - 1):
        with lv.temp_flags(after=[ar]):
            ar = lv.apply_async(noop)
        ars.append(ar)
    for a in ars:
        a.get()
    t = time.perf_counter() - t0
    ipp_close(cluster, rc)
    result("chain", "ipp", "per_link", t / k * 1e3, "ms", "lower", n=k)


def ipp_startup():
    t0 = time.perf_counter()
    cluster, rc = ipp_cluster()
    t = time.perf_counter() - t0
    procs = len(rss_tree(os.getpid()))
    rss = rc[:].apply_sync(lambda: __import__("psutil").Process()
                           .memory_info().rss)
    ipp_close(cluster, rc)
    result("startup", "ipp", "start_time", t * 1e3, "ms", "lower")
    result("startup", "ipp", "worker_rss", sum(rss) / len(rss) / 2**20,
           "MiB", "lower")
    result("startup", "ipp", "processes", procs, "count", "lower")


# ------------------------------------------------------------- spoolq

def vmrss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def spoolq_startup(qworker, spool, settle):
    """Start 2 workers on an existing, idle spool; ready is when both have
    registered (their files in workers/, written before the first claim);
    idle RSS after `settle` seconds of nothing to do."""
    wdir = os.path.join(spool, "workers")
    before = set(os.listdir(wdir))
    t0 = time.perf_counter()
    procs = [subprocess.Popen([qworker, "--spool", spool, "--cpus", "1"])
             for _ in range(2)]
    deadline = t0 + 10
    while len(set(os.listdir(wdir)) - before) < 2:
        if time.perf_counter() > deadline:
            sys.exit("harness: qworker did not register within 10 s")
        time.sleep(0.0001)
    t = time.perf_counter() - t0
    # Idle for a while: what a worker holds between tasks, not at exec.
    time.sleep(settle)
    rss = [vmrss_kib(p.pid) for p in procs]
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        if p.wait(timeout=30) != 0:
            sys.exit(f"harness: qworker exited with status {p.returncode}")
    result("startup", "spoolq", "start_time", t * 1e3, "ms", "lower")
    result("startup", "spoolq", "worker_rss", sum(rss) / len(rss) / 1024,
           "MiB", "lower")
    result("startup", "spoolq", "processes", len(procs), "count", "lower")


COMMANDS = {
    ("noop_array", "dask"): lambda a: dask_noop_array(int(a[0])),
    ("noop_array", "ipp"): lambda a: ipp_noop_array(int(a[0])),
    ("workflow_100k", "dask"): lambda a: dask_workflow(int(a[0])),
    ("chain", "dask"): lambda a: dask_chain(int(a[0])),
    ("chain", "ipp"): lambda a: ipp_chain(int(a[0])),
    ("pi", "dask"): lambda a: dask_pi(int(float(a[0]))),
    ("array_chunked", "dask"): lambda a: dask_sincos(int(a[0]), int(a[1]),
                                                     float(a[2])),
    ("startup", "dask"): lambda a: dask_startup(),
    ("startup", "ipp"): lambda a: ipp_startup(),
    ("startup", "spoolq"): lambda a: spoolq_startup(a[0], a[1],
                                                    float(a[2])),
}


def main():
    if len(sys.argv) < 3 or tuple(sys.argv[1:3]) not in COMMANDS:
        known = ", ".join(f"{w} {s}" for w, s in COMMANDS)
        sys.exit(f"usage: harness.py WORKLOAD SYSTEM [ARGS...]; one of: "
                 f"{known}")
    COMMANDS[tuple(sys.argv[1:3])](sys.argv[3:])


if __name__ == "__main__":
    main()
