#!/usr/bin/env python3
"""CPython's multiprocessing on the workloads of `cargo xtask compare`.

Run by the comparison once per repetition (interleaved with the Rust cases), never by
hand in a report: `python3 compare.py --seconds S --cells workload:case:procs,...`
prints one JSON object on stdout:

    {"python": "3.11.7", "samples": [{"workload": ..., "case": ..., "procs": N,
      "per_process": [ops, ...], "span": seconds, "lost": n or null,
      "latencies_ns": [...]}, ...]}

Each cell runs like its Rust counterpart: N worker processes (fork start method) wait
for a common start, work until a shared stop flag is raised after S seconds, and report
their own operation counts, start and end times (time.perf_counter, CLOCK_MONOTONIC,
one clock for all processes); throughput is the counted operations over the span from
the earliest start to the latest end. Lost updates are exact: the sum of the counts
minus the shared value.

Cases (the idioms a CPython user writes):
  counter  cpython_value_get_lock  with v.get_lock(): v.value += 1
  counter  cpython_value_nolock    v.value += 1 on Value(lock=False) (loses updates)
  array64  cpython_array_get_lock  with a.get_lock(): 64 x  arr[i] += 1  (arr = a.get_obj())
  roundtrip cpython_pipe           Pipe(duplex=True): send_bytes(64 B), echo, recv_bytes
  queue1/queue4 cpython_queue      Queue: put(64 B) / get(), half producers, half consumers
  manager  cpython_manager_dict    d[key] = i through a Manager().dict() proxy
"""

import argparse
import json
import multiprocessing as mp
import platform
import sys
import time

MESSAGE = b"\x07" * 64


def counter_get_lock(procs):
    v = CTX.Value("Q", 0)

    def body(i, running, record):
        n = 0
        lock = v.get_lock()
        while running():
            with lock:
                v.value += 1
            n += 1
        return n

    def lost(ops):
        return sum(ops) - v.value

    return body, None, lost


def counter_nolock(procs):
    v = CTX.Value("Q", 0, lock=False)

    def body(i, running, record):
        n = 0
        while running():
            v.value += 1
            n += 1
        return n

    def lost(ops):
        return sum(ops) - v.value

    return body, None, lost


def array_get_lock(procs):
    a = CTX.Array("Q", 64)

    def body(i, running, record):
        n = 0
        lock = a.get_lock()
        arr = a.get_obj()
        while running():
            with lock:
                for k in range(64):
                    arr[k] += 1
            n += 1
        return n

    def lost(ops):
        total = sum(ops)
        return sum(total - x for x in a[:])

    return body, None, lost


def pipe_pairs(procs):
    if procs % 2:
        raise ValueError("pairs need an even process count")
    pipes = [CTX.Pipe(duplex=True) for _ in range(procs // 2)]

    def body(i, running, record):
        a, b = pipes[i // 2]
        n = 0
        if i % 2 == 0:
            while running():
                t = time.perf_counter_ns()
                a.send_bytes(MESSAGE)
                back = a.recv_bytes()
                record(time.perf_counter_ns() - t)
                assert back == MESSAGE
                n += 1
            a.send_bytes(b"")
        else:
            while True:
                m = b.recv_bytes()
                if not m:
                    break
                b.send_bytes(m)
                n += 1
        return n

    def counted(i):
        return i % 2 == 0

    def lost(ops):
        return sum(abs(ops[k] - ops[k + 1]) for k in range(0, len(ops), 2))

    return body, counted, lost


def queue_stream(procs):
    if procs % 2:
        raise ValueError("queues need an even process count")
    q = CTX.Queue()
    half = procs // 2

    def body(i, running, record):
        n = 0
        if i < half:
            while running():
                q.put(MESSAGE)
                n += 1
            q.put(None)
            q.close()
            q.join_thread()
        else:
            while q.get() is not None:
                n += 1
        return n

    def counted(i):
        return i >= half

    def lost(ops):
        return abs(sum(ops[:half]) - sum(ops[half:]))

    return body, counted, lost


def manager_dict(procs):
    manager = CTX.Manager()
    d = manager.dict()
    KEEP.append(manager)

    def body(i, running, record):
        n = 0
        key = "k%d" % i
        while running():
            t = time.perf_counter_ns()
            d[key] = n
            record(time.perf_counter_ns() - t)
            n += 1
        return n

    def lost(ops):
        # Each client's last write is its count minus one: a lost write would leave less.
        return sum(ops[i] - 1 - d.get("k%d" % i, -1) for i in range(len(ops)) if ops[i])

    return body, None, lost


CASES = {
    ("counter", "cpython_value_get_lock"): counter_get_lock,
    ("counter", "cpython_value_nolock"): counter_nolock,
    ("array64", "cpython_array_get_lock"): array_get_lock,
    ("roundtrip", "cpython_pipe"): pipe_pairs,
    ("queue1", "cpython_queue"): queue_stream,
    ("queue4", "cpython_queue"): queue_stream,
    ("manager", "cpython_manager_dict"): manager_dict,
}

CTX = mp.get_context("fork")
KEEP = []
LATENCY_CAP = 100_000


def worker(i, body, start, stop, results):
    latencies = []

    def running():
        return not stop.value

    def record(ns):
        if len(latencies) < LATENCY_CAP:
            latencies.append(ns)

    start.wait()
    t0 = time.perf_counter()
    n = body(i, running, record)
    t1 = time.perf_counter()
    results.put((i, n, t0, t1, latencies))


def run_cell(workload, case, procs, seconds):
    body, counted, lost = CASES[(workload, case)](procs)
    start = CTX.Event()
    stop = CTX.Value("b", 0, lock=False)
    results = CTX.Queue()
    workers = [
        CTX.Process(target=worker, args=(i, body, start, stop, results))
        for i in range(procs)
    ]
    for w in workers:
        w.start()
    start.set()
    time.sleep(seconds)
    stop.value = 1
    got = sorted(results.get(timeout=60 + 10 * seconds) for _ in workers)
    for w in workers:
        w.join(timeout=60)
        if w.exitcode != 0:
            raise RuntimeError("worker exited with %s" % w.exitcode)
    ops = [g[1] for g in got]
    begin = min(g[2] for g in got)
    end = max(g[3] for g in got)
    latencies = [ns for g in got for ns in g[4]]
    lost_count = lost(ops)
    for m in KEEP:
        m.shutdown()
    KEEP.clear()
    return {
        "workload": workload,
        "case": case,
        "procs": procs,
        "per_process": [ops[i] for i in range(procs) if counted is None or counted(i)],
        "span": end - begin,
        "lost": lost_count,
        "latencies_ns": latencies,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--cells", default="", help="workload:case:procs,...")
    parser.add_argument("--list", action="store_true", help="print the cases and exit")
    args = parser.parse_args()
    if args.list:
        for workload, case in CASES:
            print(workload, case)
        return 0
    samples = []
    for cell in filter(None, args.cells.split(",")):
        workload, case, procs = cell.split(":")
        try:
            samples.append(run_cell(workload, case, int(procs), args.seconds))
        except Exception as e:  # reported as a failed cell, the others go on
            samples.append(
                {"workload": workload, "case": case, "procs": int(procs), "error": repr(e)}
            )
    json.dump({"python": platform.python_version(), "samples": samples}, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
