"""CPython's manager dict operation, measured the way benches/manager.rs measures procshare's.

Run by hand (`python3 benches/manager_cpython.py`): a Manager() server process, one client
(this process), `d[key]` (get) and `d[key] = i` (insert) through a DictProxy, and a raw
socketpair round trip to an echoing child, 64 bytes, in rotating runs. Prints the median of
the per-run medians of each case and its ratio to the raw round trip.

benches/manager.rs runs it once per run of its own table, with `--runs 1 --plain` and a
placement: `--server-cpu S --client-cpu C` pins the manager's server and the echoing child
to CPU S and this client to CPU C, as the Rust side pins its own; `--plain` prints, instead
of the table, one line per case: its name and its per-run medians in ns.
"""
import argparse
import multiprocessing as mp
import os
import socket
import statistics
import time

ROUNDS = 1000


def pin(cpu):
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})


def raw_socketpair(rounds, echo_cpu):
    a, b = socket.socketpair()
    pid = os.fork()
    if pid == 0:
        pin(echo_cpu)
        a.close()
        while True:
            buf = b""
            while len(buf) < 64:
                chunk = b.recv(64 - len(buf))
                if not chunk:
                    os._exit(0)
                buf += chunk
            if buf[0] == 0xFF:
                os._exit(0)
            b.sendall(buf)
    b.close()
    msg = bytes([7]) * 64
    times = []
    for i in range(rounds + 1):
        t = time.perf_counter_ns()
        a.sendall(msg)
        got = b""
        while len(got) < 64:
            got += a.recv(64 - len(got))
        if i:
            times.append(time.perf_counter_ns() - t)
    a.sendall(bytes([0xFF]) * 64)
    os.waitpid(pid, 0)
    a.close()
    return times


def dict_op(d, rounds, insert):
    d["key"] = 0
    times = []
    for i in range(rounds + 1):
        t = time.perf_counter_ns()
        if insert:
            d["key"] = i
        else:
            d["key"]
        if i:
            times.append(time.perf_counter_ns() - t)
    return times


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--server-cpu", type=int)
    ap.add_argument("--client-cpu", type=int)
    ap.add_argument("--plain", action="store_true")
    args = ap.parse_args()
    mp.set_start_method("fork")
    pin(args.server_cpu)
    with mp.Manager() as m:
        pin(args.client_cpu)
        d = m.dict()
        cases = [
            ("raw_socketpair", lambda: raw_socketpair(ROUNDS, args.server_cpu)),
            ("dict_get", lambda: dict_op(d, ROUNDS, False)),
            ("dict_insert", lambda: dict_op(d, ROUNDS, True)),
        ]
        medians = {name: [] for name, _ in cases}
        for run in range(args.runs):
            for k in range(len(cases)):
                name, f = cases[(run + k) % len(cases)]
                medians[name].append(statistics.median(f()))
        if args.plain:
            for name, _ in cases:
                print(name, *medians[name])
            return
        base = statistics.median(medians["raw_socketpair"])
        print("| case | median of run medians µs | ratio vs raw_socketpair |")
        print("|---|---|---|")
        for name, _ in cases:
            m_ = statistics.median(medians[name])
            print(f"| cpython {name} | {m_ / 1e3:.1f} | {m_ / base:.2f}× |")


if __name__ == "__main__":
    main()
