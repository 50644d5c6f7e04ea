//! Two-process locked-increment throughput.
//!
//! Two forked children ([`procshare::Process`]) increment one shared `u64` counter
//! together; every case is measured in the same run:
//!
//! | case               | one increment                                                |
//! |--------------------|--------------------------------------------------------------|
//! | `atomic_fetch_add` | `RawValue<u64>::fetch_add(1)`: lock-free baseline             |
//! | `bare_futex`       | a minimal hand-written 3-state futex mutex (Drepper's mutex 2, |
//! |                    | no spinning) around a relaxed load + store, in a `Region`     |
//! | `value_<lock>`     | `*v.lock().unwrap() += 1` on a `Value<u64, L>`, for `L` in    |
//! |                    | `FutexMutex`, `SpinLock`, `TicketLock`, `PthreadMutex`, and   |
//! |                    | the zoo: `Peterson`, `Bakery`, `McsLock`, `ClhLock`,         |
//! |                    | `AdaptiveMutex`                                              |
//! | `array_lock_<n>`   | `a.lock().unwrap()[0] += 1` on an `Array<u64>` of 16 or 1 M   |
//! |                    | elements: `lock()` works in place, so the two should match    |
//!
//! In every case the lock word (if any) and the counter share one cache line, as they do
//! in a `Value` (lock at offset 0, data at the next multiple of 8).
//!
//! # What is timed
//!
//! Each `iter_custom` call allocates a fresh shared counter in the parent and forks two
//! children. The children announce themselves on a shared `ready` counter and spin on a
//! shared `start` flag, which the parent sets once both are forked, so fork and exit costs
//! are never timed. Each child then records, in a shared `RawArray<u64>`, the nanoseconds
//! from a common origin (an `Instant` taken in the parent before the forks; `Instant` is
//! `CLOCK_MONOTONIC`, one clock for all processes) to its first and to its last increment.
//! The reported duration is the span from the earliest start to the latest end, i.e. the
//! wall-clock time during which the `iters` increments happened. The children split
//! `iters` as `ceil(iters / 2)` + `floor(iters / 2)`, so exactly `iters` increments are made
//! and reported (`Throughput::Elements(1)` per iteration), and the final count is checked
//! to be exactly `iters` (the bench panics otherwise).
//!
//! # Ratio table
//!
//! In benchmark mode (`cargo bench --bench locks`), after criterion's measurements, `main`
//! also runs a fixed-size measurement per case (2 processes × 2,000,000 increments each,
//! 11 runs, the cases interleaved run by run) and prints
//! `case | M increments/s | ratio vs bare_futex | min..max` to stdout, with the median run.
//! The median, not the best: when the two children do not actually overlap (one is
//! descheduled, e.g. on a busy machine), the run is uncontended and much *faster*, so a
//! best-of would report the uncontended speed rather than the contended one. In test
//! mode (`cargo test --benches`, `cargo bench -- --test`) criterion runs every case once
//! and `main` only runs each case once more with a tiny count, checking the result.
//!
//! Group settings (overridable with criterion's usual command-line options): measurement
//! time 3 s, warm-up 1 s, 20 samples. A filter that matches no case
//! (`cargo bench --bench locks -- table`) skips criterion and prints only the table.

mod common;

use common::{futex_wait, futex_wake, mode, write_result, Mode};
use criterion::{BenchmarkGroup, Criterion, Throughput};
use procshare::strategy::{
    AdaptiveMutex, Bakery, ClhLock, FutexMutex, McsLock, Peterson, PthreadMutex, SpinLock,
    TicketLock,
};
use procshare::{Array, Process, RawArray, RawLock, RawValue, Region, Value};
use procshare_table::Table;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Increments per child in the ratio table.
const TABLE_PER_CHILD: u64 = 2_000_000;
/// Runs per case in the ratio table; the median is reported.
const TABLE_RUNS: usize = 11;
/// Increments per child for the extra correctness run in test mode.
const TEST_PER_CHILD: u64 = 1_000;

/// A shared counter that forked children increment.
trait Counter {
    /// Case name: criterion benchmark id and table row.
    fn name() -> String;
    /// A fresh counter at 0, in shared memory.
    fn create() -> Self;
    /// Add one, never losing an update.
    fn incr(&self);
    /// The current count (read after the children have been joined).
    fn count(&self) -> u64;
}

/// Lock-free baseline.
struct AtomicFetchAdd(RawValue<u64>);

impl Counter for AtomicFetchAdd {
    fn name() -> String {
        "atomic_fetch_add".into()
    }
    fn create() -> Self {
        AtomicFetchAdd(RawValue::new(0).expect("RawValue::new"))
    }
    #[inline]
    fn incr(&self) {
        self.0.fetch_add(1);
    }
    fn count(&self) -> u64 {
        self.0.load()
    }
}

/// `Value<u64, L>` with `*v.lock().unwrap() += 1`.
struct Locked<L: RawLock>(Value<u64, L>);

impl<L: RawLock> Counter for Locked<L> {
    fn name() -> String {
        format!("value_{}", L::NAME)
    }
    fn create() -> Self {
        Locked(Value::new(0).expect("Value::new"))
    }
    #[inline]
    fn incr(&self) {
        *self.0.lock().unwrap() += 1;
    }
    fn count(&self) -> u64 {
        self.0.load().expect("Value::load")
    }
}

/// `Array<u64>` of `N` elements with `a.lock().unwrap()[0] += 1`: what locking a whole
/// array costs, by length.
struct ArrayLock<const N: usize>(Array<u64>);

impl<const N: usize> Counter for ArrayLock<N> {
    fn name() -> String {
        match N {
            1_048_576 => "array_lock_1m".into(),
            n => format!("array_lock_{n}"),
        }
    }
    fn create() -> Self {
        ArrayLock(Array::zeroed(N).expect("Array::zeroed"))
    }
    #[inline]
    fn incr(&self) {
        self.0.lock().unwrap()[0] += 1;
    }
    fn count(&self) -> u64 {
        self.0.get(0).expect("Array::get")
    }
}

/// The baseline mutex: Drepper, "Futexes Are Tricky", mutex 2 with the exchange-based
/// retry. Word states: 0 unlocked, 1 locked, 2 locked and someone may sleep. No spinning,
/// no owner, no schedule points. The futex calls are shared (no `FUTEX_PRIVATE_FLAG`).
///
/// Layout in the region: the 32-bit lock word at offset 0, the `u64` counter at offset 8.
struct BareFutex {
    region: Region,
}

impl BareFutex {
    fn word(&self) -> &AtomicU32 {
        // SAFETY: the region is page-aligned, at least 16 bytes long, zero-initialised
        // (a valid unlocked word), mapped for as long as `self` lives, and its first 4
        // bytes are only ever accessed through this atomic.
        unsafe { AtomicU32::from_ptr(self.region.base().cast()) }
    }

    fn counter(&self) -> &AtomicU64 {
        // SAFETY: as in `word`: bytes 8..16 of the region, 8-aligned, only ever accessed
        // through this atomic.
        unsafe { AtomicU64::from_ptr(self.region.base().add(8).cast()) }
    }

    #[inline]
    fn lock(&self) {
        let w = self.word();
        if w.compare_exchange(0, 1, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
        {
            return;
        }
        loop {
            // Mark the lock contended before sleeping; a failed CAS (word 0 or 2 by now)
            // falls through to the exchange, which either takes the lock or retries.
            if w.load(Ordering::Relaxed) == 2
                || w.compare_exchange(1, 2, Ordering::Relaxed, Ordering::Relaxed)
                    .is_ok()
            {
                futex_wait(w, 2);
            }
            // Take the lock in state 2: others may still sleep, so the unlock must wake.
            if w.swap(2, Ordering::Acquire) == 0 {
                return;
            }
        }
    }

    #[inline]
    fn unlock(&self) {
        let w = self.word();
        if w.swap(0, Ordering::Release) == 2 {
            futex_wake(w, 1);
        }
    }
}

impl Counter for BareFutex {
    fn name() -> String {
        "bare_futex".into()
    }
    fn create() -> Self {
        BareFutex {
            region: Region::new(64).expect("Region::new"),
        }
    }
    #[inline]
    fn incr(&self) {
        self.lock();
        let c = self.counter();
        c.store(c.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        self.unlock();
    }
    fn count(&self) -> u64 {
        self.counter().load(Ordering::Relaxed)
    }
}

/// Two children make `per_child[0]` and `per_child[1]` increments on a fresh `C`, started
/// together. Returns the span from the first child's start to the last child's end, and
/// panics unless the final count is exact.
fn run_2proc<C: Counter>(per_child: [u64; 2]) -> Duration {
    let counter = C::create();
    let ready = RawValue::<u32>::new(0).expect("RawValue::new");
    let start = RawValue::<u32>::new(0).expect("RawValue::new");
    // [start_0, end_0, start_1, end_1], nanoseconds since `origin`.
    let times = RawArray::<u64>::zeroed(4).expect("RawArray::zeroed");
    let origin = Instant::now();

    let mut children = Vec::with_capacity(2);
    for (i, &n) in per_child.iter().enumerate() {
        let (counter, ready, start, times) = (&counter, &ready, &start, &times);
        let child = Process::spawn(move || {
            ready.fetch_add(1);
            while start.load() == 0 {
                // Yield: with as many children as CPUs the parent must get to run.
                std::thread::yield_now();
            }
            let t0 = origin.elapsed();
            for _ in 0..n {
                counter.incr();
            }
            let t1 = origin.elapsed();
            times.set(2 * i, t0.as_nanos() as u64).expect("times.set");
            times
                .set(2 * i + 1, t1.as_nanos() as u64)
                .expect("times.set");
        })
        .expect("Process::spawn");
        children.push(child);
    }
    while ready.load() < 2 {
        std::thread::yield_now();
    }
    start.store(1);
    for child in &mut children {
        assert_eq!(child.join().expect("join"), 0, "child failed");
    }

    let expected: u64 = per_child.iter().sum();
    let got = counter.count();
    assert_eq!(got, expected, "{}: lost or extra increments", C::name());
    let t = times.to_vec();
    let begin = t[0].min(t[2]);
    let end = t[1].max(t[3]);
    Duration::from_nanos(end - begin)
}

/// Split `iters` between the two children: ceil + floor, so the sum is exactly `iters`.
fn split(iters: u64) -> [u64; 2] {
    [iters.div_ceil(2), iters / 2]
}

fn bench_case<C: Counter>(group: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    group.bench_function(C::name(), |b| {
        b.iter_custom(|iters| run_2proc::<C>(split(iters)))
    });
}

/// A case of the ratio table: its name and a runner for `[per_child; 2]` increments.
type TableCase = (String, fn([u64; 2]) -> Duration);

fn cases() -> Vec<TableCase> {
    fn case<C: Counter>() -> TableCase {
        (C::name(), run_2proc::<C>)
    }
    vec![
        case::<AtomicFetchAdd>(),
        case::<BareFutex>(),
        case::<Locked<FutexMutex>>(),
        case::<Locked<SpinLock>>(),
        case::<Locked<TicketLock>>(),
        case::<Locked<PthreadMutex>>(),
        case::<Locked<Peterson>>(),
        case::<Locked<Bakery>>(),
        case::<Locked<McsLock>>(),
        case::<Locked<ClhLock>>(),
        case::<Locked<AdaptiveMutex>>(),
        case::<ArrayLock<16>>(),
        case::<ArrayLock<1_048_576>>(),
    ]
}

fn locked_increment_2proc(c: &mut Criterion) {
    let mut group = c.benchmark_group("locked_increment_2proc");
    group
        .throughput(Throughput::Elements(1))
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1))
        .sample_size(20);
    bench_case::<AtomicFetchAdd>(&mut group);
    bench_case::<BareFutex>(&mut group);
    bench_case::<Locked<FutexMutex>>(&mut group);
    bench_case::<Locked<SpinLock>>(&mut group);
    bench_case::<Locked<TicketLock>>(&mut group);
    bench_case::<Locked<PthreadMutex>>(&mut group);
    bench_case::<Locked<Peterson>>(&mut group);
    bench_case::<Locked<Bakery>>(&mut group);
    bench_case::<Locked<McsLock>>(&mut group);
    bench_case::<Locked<ClhLock>>(&mut group);
    bench_case::<Locked<AdaptiveMutex>>(&mut group);
    bench_case::<ArrayLock<16>>(&mut group);
    bench_case::<ArrayLock<1_048_576>>(&mut group);
    group.finish();
}

fn ratio_table() {
    let per_child = [TABLE_PER_CHILD; 2];
    let total = (2 * TABLE_PER_CHILD) as f64;
    let cases = cases();
    // Interleave the cases run by run, so that a noisy phase hits all of them alike.
    let mut rates: Vec<Vec<f64>> = vec![Vec::with_capacity(TABLE_RUNS); cases.len()];
    for _ in 0..TABLE_RUNS {
        for ((_, run), rates) in cases.iter().zip(&mut rates) {
            rates.push(total / run(per_child).as_secs_f64() / 1e6);
        }
    }
    for r in &mut rates {
        r.sort_by(f64::total_cmp);
    }
    let median = |r: &[f64]| r[r.len() / 2];
    let bare = cases
        .iter()
        .position(|(name, _)| name == "bare_futex")
        .map(|k| median(&rates[k]))
        .expect("bare_futex case");
    let mut table = format!(
        "locked_increment_2proc: 2 processes x {TABLE_PER_CHILD} increments, \
         median of {TABLE_RUNS} runs\n\n"
    );
    let mut rows = Table::new([
        "case",
        "M increments/s",
        "ratio vs bare_futex",
        "min..max M/s",
    ])
    .numeric();
    for ((name, _), r) in cases.iter().zip(&rates) {
        let rate = median(r);
        rows.row([
            name.to_string(),
            format!("{rate:.2}"),
            format!("{:.3}", rate / bare),
            format!("{:.1}..{:.1}", r[0], r[r.len() - 1]),
        ]);
    }
    table.push_str(&rows.render_markdown());
    println!();
    print!("{table}");
    write_result(
        "locks.md",
        "Lock strategies: 2-process locked increments",
        "cargo bench --bench locks -- table",
        &table,
    );
}

fn main() {
    let mode = mode();
    let mut criterion = Criterion::default().configure_from_args();
    locked_increment_2proc(&mut criterion);
    criterion.final_summary();
    match mode {
        Mode::Bench => ratio_table(),
        Mode::Test => {
            for (_, run) in cases() {
                run([TEST_PER_CHILD; 2]);
            }
        }
        Mode::Other => {}
    }
}
