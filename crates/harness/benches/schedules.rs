//! Harness speed: controlled schedules per second with pooled actor processes against
//! fork-per-case (the baseline, measured in the same run), on a 2-actor counter scenario
//! of about 8 steps per case; and the cost of the schedule hooks when no scheduler is
//! active: the four schedule points of one locked increment, measured alone, against the
//! whole `Value::lock` increment (and the same critical section on a bare `FutexMutex`).

use criterion::{criterion_main, BenchmarkId, Criterion, Throughput};
use procshare_harness::scenarios::{Increment, LockedCounter};
use procshare_harness::{AtomicGranularity, RandomChooser, Runner};
use procshare_shm::Value;
use procshare_sync::hook::{self, Point};
use procshare_sync::{FutexMutex, RawLock};
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Run `iters` random cases (seeds 1, 2, …) on `runner`, each of which must pass; the time.
fn random_cases<S: procshare_harness::Scenario>(
    runner: &mut Runner<'_, S>,
    iters: u64,
) -> Duration {
    let t0 = Instant::now();
    for seed in 1..=iters {
        let report = runner.run_case(&mut RandomChooser::new(seed)).unwrap();
        assert!(!report.verdict.is_failure());
        black_box(report.trace.len());
    }
    t0.elapsed()
}

fn schedules(c: &mut Criterion) {
    let scenario = LockedCounter::<FutexMutex>::new(2, 1, Increment::Locked);
    let mut group = c.benchmark_group("schedules");
    group.throughput(Throughput::Elements(1));
    group.measurement_time(Duration::from_secs(3));
    group.sample_size(20);
    for pooled in [true, false] {
        let name = if pooled { "pooled" } else { "fork_per_case" };
        group.bench_function(BenchmarkId::new(name, "counter-2x1"), |b| {
            let runner = Runner::new(&scenario).unwrap();
            let mut runner = if pooled {
                runner
            } else {
                runner.fork_per_case()
            };
            b.iter_custom(|iters| random_cases(&mut runner, iters));
        });
    }
    // The same scenario with schedule points at every atomic access (the finer
    // granularity): more steps per case, so fewer schedules per second.
    let atomic = AtomicGranularity(LockedCounter::<FutexMutex>::new(2, 1, Increment::Locked));
    group.bench_function(
        BenchmarkId::new("pooled_atomic_points", "counter-2x1"),
        |b| {
            let mut runner = Runner::new(&atomic).unwrap();
            b.iter_custom(|iters| random_cases(&mut runner, iters));
        },
    );
    group.finish();
}

fn inactive_hooks(c: &mut Criterion) {
    let mut group = c.benchmark_group("inactive_scheduler");
    group.throughput(Throughput::Elements(1));
    let value = Value::<u64>::new(0).unwrap();
    group.bench_function("value_lock_increment", |b| {
        b.iter(|| *value.lock().unwrap() += 1)
    });
    // The same critical section with no schedule points: a bare FutexMutex and a
    // relaxed-atomic counter next to it.
    let lock = FutexMutex::new();
    let counter = AtomicU64::new(0);
    group.bench_function("bare_futex_increment", |b| {
        b.iter(|| {
            lock.lock().unwrap();
            let x = counter.load(Ordering::Relaxed);
            counter.store(x + 1, Ordering::Relaxed);
            // SAFETY: locked just above.
            unsafe { lock.unlock() }.unwrap();
        })
    });
    // What a locked increment pays for the hooks with no scheduler installed: one
    // `is_active` check (a relaxed load and a branch), whose answer its guard carries to
    // the other points. Criterion cannot resolve one such check against its own loop, so
    // an iteration does 1000 (throughput counts checks): compare the time per check with
    // `value_lock_increment`.
    group.throughput(Throughput::Elements(1000));
    group.bench_function("hook_check_x1000", |b| {
        b.iter(|| {
            for _ in 0..1000 {
                let active = hook::is_active();
                hook::point_if(black_box(active), Point::Acquire);
            }
        })
    });
    group.finish();
}

mod group {
    #![allow(
        missing_docs,
        reason = "criterion_group! generates an undocumented pub fn"
    )]
    use super::{inactive_hooks, schedules};
    criterion::criterion_group!(benches, schedules, inactive_hooks);
}
criterion_main!(group::benches);
