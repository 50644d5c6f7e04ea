//! The Manager's cost: one dict request from a client process to the forked server,
//! against a raw `socketpair` round trip to an echoing process measured the same way in
//! the same run, and throughput with 1 and 4 client processes.
//!
//! | case                | one operation                                                    |
//! |---------------------|------------------------------------------------------------------|
//! | `raw_socketpair`    | baseline: `socketpair(AF_UNIX, SOCK_STREAM)`; write 64 bytes, the echoing child reads exactly 64 and writes them back, read 64 (no framing, no codec) |
//! | `dict_get`          | `DictProxy<String, i64>::get` of a present key over the manager's Unix socket |
//! | `dict_insert`       | `DictProxy<String, i64>::insert` replacing a key's value          |
//!
//! A request is about 40 bytes and a reply about 20, so the 64-byte echo moves as much.
//! Throughput (`throughput_1` / `throughput_4`): 1 or 4 client processes each make
//! [`THROUGHPUT_OPS`] `insert`s on their own keys of one dict, timed from a start barrier
//! to the last child's exit.
//!
//! # Latency table
//!
//! In benchmark mode (`cargo bench --bench manager`), after criterion, `main` runs
//! [`TABLE_RUNS`] runs of [`TABLE_ROUNDS`] operations per case, **alternating** the order
//! of the cases run by run (this VM's wake-up latency swings by 10×: a burst hits every
//! case), and prints p50 / p99 per case and the ratio of the medians of the per-run
//! medians to the raw socketpair (target ≤ 1.3×). In test mode each case runs once,
//! briefly, checking its results. CPython's manager dict operation is measured by hand
//! with `benches/manager_cpython.py` (see `docs/guide.md`).

mod common;
#[path = "common/socketpair.rs"]
mod socketpair;

use common::{mode, write_result, Mode};
use criterion::{Criterion, Throughput};
use hdrhistogram::Histogram;
use procshare::{DictProxy, Manager, Process, Semaphore, Shared};
use socketpair::raw_socketpair;
use std::time::{Duration, Instant};

const TABLE_RUNS: usize = 15;
const TABLE_ROUNDS: usize = 1000;
const TEST_ROUNDS: usize = 50;
const THROUGHPUT_OPS: usize = 2000;

/// `rounds` dict operations from this process (the server is the other process).
fn dict_op(d: &DictProxy<String, i64>, rounds: usize, insert: bool) -> Vec<u64> {
    let key = "key".to_string();
    d.insert(key.clone(), 0).unwrap();
    let mut times = Vec::with_capacity(rounds);
    for i in 0..=rounds {
        let t = Instant::now();
        if insert {
            assert!(d.insert(key.clone(), i as i64).unwrap().is_some());
        } else {
            assert_eq!(d.get(&key).unwrap(), Some(0));
        }
        if i > 0 {
            times.push(t.elapsed().as_nanos() as u64);
        }
    }
    if insert {
        d.insert(key, 0).unwrap();
    }
    times
}

/// `clients` processes × `ops` inserts; the wall time from their common start.
fn throughput(m: &Manager, clients: usize, ops: usize) -> Duration {
    let d = m.dict::<String, i64>().unwrap();
    let ready = Shared::new(Semaphore::new(0)).unwrap();
    let go = Shared::new(Semaphore::new(0)).unwrap();
    let mut kids: Vec<Process> = (0..clients)
        .map(|c| {
            let (d, ready, go) = (&d, &ready, &go);
            Process::spawn(move || {
                d.len().unwrap(); // connected before the clock starts
                ready.release().unwrap();
                go.acquire();
                for i in 0..ops {
                    d.insert(format!("{c}-{}", i % 64), i as i64).unwrap();
                }
            })
            .unwrap()
        })
        .collect();
    for _ in 0..clients {
        ready.acquire();
    }
    let t = Instant::now();
    for _ in 0..clients {
        go.release().unwrap();
    }
    for k in &mut kids {
        assert_eq!(k.join().unwrap(), 0);
    }
    let elapsed = t.elapsed();
    assert_eq!(d.len().unwrap(), clients * 64.min(ops));
    elapsed
}

fn criterion_group(c: &mut Criterion, m: &Manager, d: &DictProxy<String, i64>) {
    let mut group = c.benchmark_group("manager_round_trip");
    group
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1))
        .sample_size(20);
    group.bench_function("raw_socketpair", |b| {
        b.iter_custom(|iters| Duration::from_nanos(raw_socketpair(iters as usize).iter().sum()))
    });
    group.bench_function("dict_get", |b| {
        b.iter_custom(|iters| Duration::from_nanos(dict_op(d, iters as usize, false).iter().sum()))
    });
    group.bench_function("dict_insert", |b| {
        b.iter_custom(|iters| Duration::from_nanos(dict_op(d, iters as usize, true).iter().sum()))
    });
    group.finish();
    let mut group = c.benchmark_group("manager_throughput");
    group
        .measurement_time(Duration::from_secs(5))
        .warm_up_time(Duration::from_secs(1))
        .sample_size(10);
    for clients in [1usize, 4] {
        group.throughput(Throughput::Elements((clients * THROUGHPUT_OPS) as u64));
        group.bench_function(format!("clients_{clients}"), |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| throughput(m, clients, THROUGHPUT_OPS))
                    .sum()
            })
        });
    }
    group.finish();
}

fn median(v: &mut [u64]) -> u64 {
    v.sort_unstable();
    v[v.len() / 2]
}

fn latency_table(m: &Manager, d: &DictProxy<String, i64>) {
    type Case<'a> = (&'static str, Box<dyn Fn(usize) -> Vec<u64> + 'a>);
    let cases: Vec<Case<'_>> = vec![
        ("raw_socketpair", Box::new(raw_socketpair)),
        ("dict_get", Box::new(|n| dict_op(d, n, false))),
        ("dict_insert", Box::new(|n| dict_op(d, n, true))),
    ];
    let mut hists: Vec<Histogram<u64>> = (0..cases.len())
        .map(|_| Histogram::new_with_bounds(1, 10_000_000_000, 3).unwrap())
        .collect();
    let mut run_medians: Vec<Vec<u64>> = vec![Vec::new(); cases.len()];
    for run in 0..TABLE_RUNS {
        // Rotate the order, so no case always follows another.
        for k in 0..cases.len() {
            let i = (run + k) % cases.len();
            let mut times = (cases[i].1)(TABLE_ROUNDS);
            for &t in &times {
                hists[i].saturating_record(t);
            }
            run_medians[i].push(median(&mut times));
        }
    }
    let base = median(&mut run_medians[0]) as f64;
    let mut table = String::from(
        "| case | p50 µs | p99 µs | median of run medians µs | ratio vs raw_socketpair |\n|---|---|---|---|---|\n",
    );
    for (i, (name, _)) in cases.iter().enumerate() {
        let h = &hists[i];
        let med = median(&mut run_medians[i]) as f64;
        table.push_str(&format!(
            "| {name} | {:.1} | {:.1} | {:.1} | {:.2}× |\n",
            h.value_at_quantile(0.5) as f64 / 1e3,
            h.value_at_quantile(0.99) as f64 / 1e3,
            med / 1e3,
            med / base,
        ));
    }
    let mut rates = String::from("\n| clients | inserts/s (median of 5) |\n|---|---|\n");
    for clients in [1usize, 4] {
        let mut per_s: Vec<u64> = (0..5)
            .map(|_| {
                let t = throughput(m, clients, THROUGHPUT_OPS);
                ((clients * THROUGHPUT_OPS) as f64 / t.as_secs_f64()) as u64
            })
            .collect();
        rates.push_str(&format!("| {clients} | {} |\n", median(&mut per_s)));
    }
    table.push_str(&rates);
    println!(
        "\nManager dict operation vs raw socketpair round trip, {TABLE_RUNS} rotating runs × \
         {TABLE_ROUNDS} operations (target ≤ 1.3×)\n\n{table}"
    );
    write_result(
        "manager.md",
        "Manager dict operation vs a raw socketpair round trip",
        "cargo bench --bench manager",
        &table,
    );
}

fn main() {
    let mode = mode();
    let m = Manager::start().unwrap();
    let d = m.dict::<String, i64>().unwrap();
    let mut criterion = Criterion::default().configure_from_args();
    criterion_group(&mut criterion, &m, &d);
    criterion.final_summary();
    match mode {
        Mode::Bench => latency_table(&m, &d),
        Mode::Test => {
            assert_eq!(raw_socketpair(TEST_ROUNDS).len(), TEST_ROUNDS);
            assert_eq!(dict_op(&d, TEST_ROUNDS, false).len(), TEST_ROUNDS);
            assert_eq!(dict_op(&d, TEST_ROUNDS, true).len(), TEST_ROUNDS);
            throughput(&m, 4, TEST_ROUNDS);
        }
        Mode::Other => {}
    }
}
