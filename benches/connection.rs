//! Two-process round trip of a 64-byte message: procshare's `Connection` against a raw
//! `socketpair` written here (sharing no code with the library).
//!
//! | case               | one round trip                                                  |
//! |--------------------|-----------------------------------------------------------------|
//! | `raw_socketpair`   | baseline: `socketpair(AF_UNIX, SOCK_STREAM)`; the parent writes 64 bytes, the child reads exactly 64 and writes them back, the parent reads 64. |
//! | `connection`       | `Pipe::duplex()`; the parent `send_bytes` 64 bytes, the child `recv_bytes` and `send_bytes` them back, the parent `recv_bytes`. |
//! | `connection_read_ahead` | the same with read-ahead on at both ends (`Connection::set_read_ahead`): one `read` per message instead of two. |
//!
//! Each run forks one echoing child ([`procshare::Process`]), does one untimed round trip
//! (the child is running), then times its rounds; a stop message ends the child, which
//! the parent joins, checking every echo on the way.
//!
//! # Latency table
//!
//! In benchmark mode (`cargo bench --bench connection`), after criterion, `main` runs
//! [`TABLE_RUNS`] runs of [`TABLE_ROUNDS`] round trips per case, **alternating** the
//! cases run by run (this VM's wake-up latency swings by 10×: a burst hits both), records
//! every round trip in an HDR histogram per case, and prints p50 / p99 / p99.9 per case
//! and the ratio of the medians of the per-run medians (target ≤ 1.1× the raw
//! socketpair). In test mode it runs each case once, briefly, checking the echoes.

mod common;
#[path = "common/socketpair.rs"]
mod socketpair;

use common::{mode, write_result, Mode};
use criterion::Criterion;
use hdrhistogram::Histogram;
use procshare::{Pipe, Process};
use socketpair::raw_socketpair;
use std::time::{Duration, Instant};

const LEN: usize = socketpair::RAW_LEN;
const TABLE_RUNS: usize = 21;
const TABLE_ROUNDS: usize = 2000;
const TEST_ROUNDS: usize = 50;

/// Round-trip latencies (ns) of `rounds` round trips, one echoing child per call.
type Case = fn(usize) -> Vec<u64>;

fn connection(rounds: usize) -> Vec<u64> {
    connection_with(false, rounds)
}

fn connection_read_ahead(rounds: usize) -> Vec<u64> {
    connection_with(true, rounds)
}

fn connection_with(read_ahead: bool, rounds: usize) -> Vec<u64> {
    let (mut parent, mut child_end) = Pipe::duplex().unwrap();
    parent.set_read_ahead(read_ahead).unwrap();
    child_end.set_read_ahead(read_ahead).unwrap();
    let mut child = Process::spawn(|| loop {
        let m = child_end.recv_bytes().unwrap();
        if m.is_empty() {
            break;
        }
        child_end.send_bytes(&m).unwrap();
    })
    .unwrap();
    let mut msg = [7u8; LEN];
    let mut times = Vec::with_capacity(rounds);
    for i in 0..=rounds {
        msg[1] = i as u8;
        let t = Instant::now();
        parent.send_bytes(&msg).unwrap();
        let back = parent.recv_bytes().unwrap();
        if i > 0 {
            times.push(t.elapsed().as_nanos() as u64);
        }
        assert_eq!(back, msg);
    }
    parent.send_bytes(b"").unwrap();
    assert_eq!(child.join().unwrap(), 0);
    times
}

fn cases() -> [(&'static str, Case); 3] {
    [
        ("raw_socketpair", raw_socketpair),
        ("connection", connection),
        ("connection_read_ahead", connection_read_ahead),
    ]
}

fn criterion_group(c: &mut Criterion) {
    let mut group = c.benchmark_group("connection_round_trip_64b");
    group
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1))
        .sample_size(20);
    for (name, run) in cases() {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| Duration::from_nanos(run(iters as usize).iter().sum()))
        });
    }
    group.finish();
}

fn median(v: &mut [u64]) -> u64 {
    v.sort_unstable();
    v[v.len() / 2]
}

fn latency_table() {
    let n = cases().len();
    let mut hists: Vec<Histogram<u64>> = (0..n)
        .map(|_| Histogram::new_with_bounds(1, 10_000_000_000, 3).unwrap())
        .collect();
    let mut run_medians: Vec<Vec<u64>> = vec![Vec::new(); n];
    for run in 0..TABLE_RUNS {
        // Rotate which case goes first, so none always follows another.
        for k in 0..n {
            let i = (run + k) % n;
            let mut times = (cases()[i].1)(TABLE_ROUNDS);
            for &t in &times {
                hists[i].saturating_record(t);
            }
            run_medians[i].push(median(&mut times));
        }
    }
    let base = median(&mut run_medians[0]) as f64;
    let mut table = procshare_table::Table::new([
        "case",
        "p50 µs",
        "p99 µs",
        "p99.9 µs",
        "median of run medians µs",
        "ratio vs raw_socketpair",
    ])
    .numeric();
    for (i, (name, _)) in cases().iter().enumerate() {
        let h = &hists[i];
        let m = median(&mut run_medians[i]) as f64;
        table.row([
            name.to_string(),
            format!("{:.1}", h.value_at_quantile(0.5) as f64 / 1e3),
            format!("{:.1}", h.value_at_quantile(0.99) as f64 / 1e3),
            format!("{:.1}", h.value_at_quantile(0.999) as f64 / 1e3),
            format!("{:.1}", m / 1e3),
            format!("{:.2}×", m / base),
        ]);
    }
    let table = table.render_markdown();
    println!(
        "\n64-byte round trip, {TABLE_RUNS} rotating runs × {TABLE_ROUNDS} round trips \
         (target: connection ≤ 1.10× raw_socketpair)\n\n{table}"
    );
    write_result(
        "connection.md",
        "Connection round trip (64 bytes, two processes)",
        "cargo bench --bench connection",
        &table,
    );
}

fn main() {
    let mode = mode();
    let mut criterion = Criterion::default().configure_from_args();
    criterion_group(&mut criterion);
    criterion.final_summary();
    match mode {
        Mode::Bench => latency_table(),
        Mode::Test => {
            for (_, run) in cases() {
                assert_eq!(run(TEST_ROUNDS).len(), TEST_ROUNDS);
            }
        }
        Mode::Other => {}
    }
}
