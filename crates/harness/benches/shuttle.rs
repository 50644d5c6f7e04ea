//! procshare's harness against shuttle, measured in the same run: controlled schedules per
//! second of the same 2-actor counter scenario (each actor takes a lock once and
//! increments a shared counter; the catalog's `counter-2x1/futex`).
//!
//! * **procshare**: `LockedCounter<FutexMutex>` (2 actors, 1 increment, `*v.lock() += 1`)
//!   under a pooled [`Runner`] with a fresh [`RandomChooser`] per case. The actors are
//!   real forked processes; every schedule point is a hand-off between processes.
//! * **shuttle**: two `shuttle::thread`s each doing `*m.lock().unwrap() += 1` on an
//!   `Arc<shuttle::sync::Mutex<u64>>`, joined, the total asserted, under shuttle's random
//!   scheduler (`check_random_with_seed`). Shuttle's threads are user-space
//!   continuations in one OS thread: a context switch between them is a stack switch.
//!
//! Both check their result on every schedule (procshare's verdict must be `Pass`,
//! shuttle's closure asserts the count), so neither side can win by skipping work.
//!
//! # Ratio table
//!
//! After criterion's measurements, `cargo bench --bench shuttle` measures both sides in
//! alternation (procshare run, shuttle run, … [`TABLE_RUNS`] times each, after one
//! discarded warm-up run of each), because this machine's scheduling latency drifts
//! during a run: alternating lets a slow phase hit both sides alike. It prints the
//! median rate of each and the ratio procshare / shuttle (target: ≥ 0.5), and, under
//! `cargo xtask results`, writes `docs/results/shuttle.md`.
//! `cargo bench -p procshare-harness --bench shuttle -- table` skips criterion and prints
//! only the table. In test mode (`cargo test --benches`) each side runs a few schedules.
//!
//! What bounds procshare: every step hands control from the controller to an actor
//! process and back (a futex wake, a context switch into the actor, its run to the next
//! schedule point, a futex wake back and a switch into the controller), so a step costs
//! two cross-process wake-ups; shuttle's step is a function call and a stack switch in
//! one thread.

#[path = "../../../benches/common/mod.rs"]
mod common;

use common::{mode, write_result, Mode};
use criterion::{BenchmarkId, Criterion, Throughput};
use procshare_harness::scenarios::{Increment, LockedCounter};
use procshare_harness::table::Table;
use procshare_harness::{RandomChooser, Runner};
use procshare_sync::FutexMutex;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Alternating runs of each side in the ratio table; the median is reported.
const TABLE_RUNS: usize = 7;
/// Schedules per procshare run in the ratio table.
const PROCSHARE_SCHEDULES: u64 = 3_000;
/// Schedules per shuttle run in the ratio table.
const SHUTTLE_SCHEDULES: u64 = 30_000;
/// Schedules per side in test mode.
const TEST_SCHEDULES: u64 = 20;

type Scenario = LockedCounter<FutexMutex>;

fn scenario() -> Scenario {
    LockedCounter::<FutexMutex>::new(2, 1, Increment::Locked)
}

/// Run `n` procshare schedules (seeds `*seed + 1 ..`); returns the time and the steps.
fn procshare_run(runner: &mut Runner<'_, Scenario>, seed: &mut u64, n: u64) -> (Duration, u64) {
    let mut steps = 0u64;
    let t0 = Instant::now();
    for _ in 0..n {
        *seed += 1;
        let report = runner
            .run_case(&mut RandomChooser::new(*seed))
            .expect("harness error");
        assert!(!report.verdict.is_failure(), "{}", report.verdict);
        steps += report.trace.len() as u64;
    }
    (t0.elapsed(), black_box(steps))
}

/// The shuttle side of one schedule: two threads, one locked increment each.
fn shuttle_counter() {
    let counter = Arc::new(shuttle::sync::Mutex::new(0u64));
    let actors: Vec<_> = (0..2)
        .map(|_| {
            let counter = Arc::clone(&counter);
            shuttle::thread::spawn(move || *counter.lock().unwrap() += 1)
        })
        .collect();
    for actor in actors {
        actor.join().unwrap();
    }
    assert_eq!(*counter.lock().unwrap(), 2);
}

/// Run `n` shuttle schedules from `seed`.
fn shuttle_run(seed: u64, n: u64) -> Duration {
    let t0 = Instant::now();
    shuttle::check_random_with_seed(shuttle_counter, seed, n as usize);
    t0.elapsed()
}

fn versus(c: &mut Criterion) {
    let scenario = scenario();
    let mut group = c.benchmark_group("vs_shuttle");
    group.throughput(Throughput::Elements(1));
    group.measurement_time(Duration::from_secs(3));
    group.sample_size(20);
    group.bench_function(BenchmarkId::new("procshare_pooled", "counter-2x1"), |b| {
        let mut runner = Runner::new(&scenario).unwrap();
        let mut seed = 0;
        b.iter_custom(|iters| procshare_run(&mut runner, &mut seed, iters).0);
    });
    group.bench_function(BenchmarkId::new("shuttle_random", "counter-2x1"), |b| {
        let mut seed = 0;
        b.iter_custom(|iters| {
            seed += 1;
            shuttle_run(seed, iters)
        });
    });
    group.finish();
}

fn median(rates: &mut [f64]) -> f64 {
    rates.sort_by(f64::total_cmp);
    rates[rates.len() / 2]
}

fn ratio_table() {
    let scenario = scenario();
    let mut runner = Runner::new(&scenario).unwrap();
    let mut seed = 0;
    // Warm-up, discarded: forks the pool, faults the pages in, fills the caches.
    procshare_run(&mut runner, &mut seed, PROCSHARE_SCHEDULES / 10);
    shuttle_run(u64::MAX, SHUTTLE_SCHEDULES / 10);
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    let mut steps = 0;
    for run in 0..TABLE_RUNS {
        let (t, s) = procshare_run(&mut runner, &mut seed, PROCSHARE_SCHEDULES);
        steps += s;
        ours.push(PROCSHARE_SCHEDULES as f64 / t.as_secs_f64());
        let t = shuttle_run(run as u64, SHUTTLE_SCHEDULES);
        theirs.push(SHUTTLE_SCHEDULES as f64 / t.as_secs_f64());
    }
    let spread = |r: &[f64]| format!("{:.0}..{:.0}", r[0], r[r.len() - 1]);
    let (p, s) = (median(&mut ours), median(&mut theirs));
    let steps_per_schedule = steps as f64 / (TABLE_RUNS as u64 * PROCSHARE_SCHEDULES) as f64;
    let mut cells = Table::new([
        "harness",
        "schedules/s",
        "min..max schedules/s",
        "ratio vs shuttle",
    ])
    .numeric();
    cells.row([
        "procshare (pooled processes, random)".to_string(),
        format!("{p:.0}"),
        spread(&ours),
        format!("{:.3}", p / s),
    ]);
    cells.row([
        "shuttle (threads, check_random)".to_string(),
        format!("{s:.0}"),
        spread(&theirs),
        "1.000".to_string(),
    ]);
    let verdict = if p / s >= 0.5 { "met" } else { "MISSED" };
    let table = format!(
        "counter-2x1/futex: 2 actors x 1 locked increment; {TABLE_RUNS} alternating runs of \
         {PROCSHARE_SCHEDULES} procshare and {SHUTTLE_SCHEDULES} shuttle schedules, median\n\n\
         {}\nprocshare / shuttle = {:.3} (target: >= 0.5, {verdict}).\n\n\
         A procshare schedule is {steps_per_schedule:.1} steps, {:.2} µs each at the median \
         rate; each step is a hand-off from the controller process to an actor process and \
         back (a futex wake and a context switch each way), which bounds the rate. A shuttle \
         step is a stack switch inside one thread ({:.2} µs per whole schedule).\n",
        cells.render_markdown(),
        p / s,
        1e6 / (p * steps_per_schedule),
        1e6 / s,
    );
    println!();
    print!("{table}");
    write_result(
        "shuttle.md",
        "Harness speed: procshare against shuttle",
        "cargo bench -p procshare-harness --bench shuttle -- table",
        &table,
    );
}

fn main() {
    let mode = mode();
    let mut criterion = Criterion::default().configure_from_args();
    versus(&mut criterion);
    criterion.final_summary();
    match mode {
        Mode::Bench => ratio_table(),
        Mode::Test => {
            let scenario = scenario();
            let mut runner = Runner::new(&scenario).unwrap();
            let (_, steps) = procshare_run(&mut runner, &mut 0, TEST_SCHEDULES);
            assert!(steps >= 4 * TEST_SCHEDULES, "{steps} steps");
            shuttle_run(1, TEST_SCHEDULES);
        }
        Mode::Other => {}
    }
}
