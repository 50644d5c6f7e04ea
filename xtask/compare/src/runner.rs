//! Running one repetition of one cell: `procs` real forked processes, started together,
//! stopped together after a fixed time.
//!
//! Every process of a cell is a child forked with [`Process::spawn`]; the parent only
//! starts them, sleeps for the run's duration, raises the stop flag and joins them. The
//! protocol, through a [`Control`] block in shared memory:
//!
//! 1. each child increments `ready`, then waits (yielding) for `start`;
//! 2. once all are ready the parent sets `start`; each child records the time it saw it
//!    (`t0`, nanoseconds since an origin taken in the parent before the forks: `Instant`
//!    is `CLOCK_MONOTONIC`, one clock for every process), runs the workload's body, which
//!    polls [`Ctx::running`] between operations, and records `t1` and its operation count;
//! 3. the parent sleeps for the duration, sets `stop`, joins every child (a child that
//!    fails or is still running after a generous timeout fails the sample).
//!
//! The throughput of a sample is the operations of the *counted* processes (see
//! [`Run::counted`]) divided by the span from the earliest `t0` to the latest `t1`, so
//! fork, exit and the parent's sleep granularity are never part of it. Latencies, for
//! workloads that time single operations, are written by the children into a shared
//! array (up to [`LATENCY_CAP`] per process and sample) and read back by the parent.

use procshare::{Process, Region};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// At most this many latencies are kept per process and sample (the first ones).
pub const LATENCY_CAP: usize = 100_000;

/// Per-process result slots in the control block: `t0`, `t1`, ops, latencies recorded.
const SLOTS: usize = 4;

/// The shared control block of one sample: flags, per-process results, latencies.
///
/// Layout (all 8-byte words): `ready` at 0, `start` at 64, `stop` at 128, `barrier` at
/// 192 (each on its own cache line), then `procs * SLOTS` result words from 256, then
/// `procs * LATENCY_CAP` latency words.
pub struct Control {
    region: Region,
    procs: usize,
    origin: Instant,
}

impl Control {
    const READY: usize = 0;
    const START: usize = 64;
    const STOP: usize = 128;
    const BARRIER: usize = 192;
    const RESULTS: usize = 256;

    fn new(procs: usize, latencies: bool) -> Result<Control, String> {
        let lat = if latencies { procs * LATENCY_CAP } else { 0 };
        let len = Self::RESULTS + 8 * (procs * SLOTS + lat);
        let region = Region::new(len).map_err(|e| format!("Region::new: {e}"))?;
        Ok(Control {
            region,
            procs,
            origin: Instant::now(),
        })
    }

    fn word32(&self, offset: usize) -> &AtomicU32 {
        debug_assert!(offset + 4 <= self.region.len() && offset % 4 == 0);
        // SAFETY: the offset is in bounds and 4-aligned (the region is page-aligned); the
        // region is zero-initialised, mapped as long as `self` lives, and these bytes are
        // only ever accessed through atomics, in every process.
        unsafe { AtomicU32::from_ptr(self.region.base().add(offset).cast()) }
    }

    fn word64(&self, offset: usize) -> &AtomicU64 {
        debug_assert!(offset + 8 <= self.region.len() && offset % 8 == 0);
        // SAFETY: as in `word32`, 8-aligned.
        unsafe { AtomicU64::from_ptr(self.region.base().add(offset).cast()) }
    }

    fn result(&self, index: usize, slot: usize) -> &AtomicU64 {
        self.word64(Self::RESULTS + 8 * (index * SLOTS + slot))
    }

    fn latency(&self, index: usize, k: usize) -> &AtomicU64 {
        let base = Self::RESULTS + 8 * self.procs * SLOTS;
        self.word64(base + 8 * (index * LATENCY_CAP + k))
    }

    fn nanos(&self) -> u64 {
        self.origin.elapsed().as_nanos() as u64
    }
}

/// What the body of one process sees.
pub struct Ctx<'a> {
    /// This process's index, `0..procs`.
    pub index: usize,
    /// How many processes run the cell.
    pub procs: usize,
    control: &'a Control,
    recorded: std::cell::Cell<usize>,
    t0: std::cell::Cell<u64>,
}

impl Ctx<'_> {
    /// False once the parent has asked every process to stop.
    #[inline]
    pub fn running(&self) -> bool {
        self.control.word32(Control::STOP).load(Ordering::Relaxed) == 0
    }

    /// Wait until every process of the sample has called `barrier`, then restart this
    /// process's clock: for workloads whose processes must set up (open a service,
    /// connect) before the timed part. Every process must call it, once.
    pub fn barrier(&self) {
        let word = self.control.word32(Control::BARRIER);
        word.fetch_add(1, Ordering::AcqRel);
        while (word.load(Ordering::Acquire) as usize) < self.procs {
            std::thread::yield_now();
        }
        self.t0.set(self.control.nanos());
    }

    /// Record the latency of one operation (ignored past [`LATENCY_CAP`]).
    #[inline]
    pub fn record(&self, ns: u64) {
        let k = self.recorded.get();
        if k < LATENCY_CAP && self.control.region.len() > Control::RESULTS + 8 * self.procs * SLOTS
        {
            self.control
                .latency(self.index, k)
                .store(ns, Ordering::Relaxed);
            self.recorded.set(k + 1);
        }
    }
}

/// One cell's shared state, prepared in the parent before the fork.
pub trait Run {
    /// The body of process `ctx.index`: operate while [`Ctx::running`], return how many
    /// operations it made. Runs in a forked child.
    fn body(&self, ctx: &Ctx<'_>) -> u64;

    /// Whether process `index`'s operations count towards throughput and fairness (a
    /// ping-pong responder or a queue producer does not: its partner counts the rounds).
    fn counted(&self, index: usize, procs: usize) -> bool {
        let _ = (index, procs);
        true
    }

    /// True if every process calls [`Ctx::barrier`] after its set-up: the parent then
    /// starts the run's clock only once all of them have.
    fn uses_barrier(&self) -> bool {
        false
    }

    /// Updates (or messages) lost, exactly, given every process's operation count; `None`
    /// where the workload cannot lose any (a round trip checks its echo instead).
    fn lost(&self, ops: &[u64]) -> Option<u64> {
        let _ = ops;
        None
    }
}

/// What one repetition of one cell measured.
#[derive(Debug, Clone, Default)]
pub struct Sample {
    /// Operations per second of the counted processes over the common span.
    pub throughput: f64,
    /// Operations of each counted process.
    pub per_process: Vec<u64>,
    /// Lost updates or messages, if the workload can lose any.
    pub lost: Option<u64>,
    /// Latencies recorded, in nanoseconds.
    pub latencies: Vec<u64>,
}

/// Run one sample of `run` with `procs` processes for about `duration`.
pub fn sample(
    run: &dyn Run,
    procs: usize,
    duration: Duration,
    latencies: bool,
) -> Result<Sample, String> {
    let control = Control::new(procs, latencies)?;
    let mut children = Vec::with_capacity(procs);
    for index in 0..procs {
        let control = &control;
        let child = Process::spawn(move || {
            control
                .word32(Control::READY)
                .fetch_add(1, Ordering::AcqRel);
            while control.word32(Control::START).load(Ordering::Acquire) == 0 {
                // Yield: with more processes than CPUs the parent must get to run.
                std::thread::yield_now();
            }
            let ctx = Ctx {
                index,
                procs,
                control,
                recorded: std::cell::Cell::new(0),
                t0: std::cell::Cell::new(control.nanos()),
            };
            let ops = run.body(&ctx);
            let t1 = control.nanos();
            let t0 = ctx.t0.get();
            control.result(index, 0).store(t0, Ordering::Relaxed);
            control.result(index, 1).store(t1, Ordering::Relaxed);
            control.result(index, 2).store(ops, Ordering::Relaxed);
            control
                .result(index, 3)
                .store(ctx.recorded.get() as u64, Ordering::Release);
        })
        .map_err(|e| format!("Process::spawn: {e}"))?;
        children.push(child);
    }
    while (control.word32(Control::READY).load(Ordering::Acquire) as usize) < procs {
        std::thread::yield_now();
    }
    control.word32(Control::START).store(1, Ordering::Release);
    if run.uses_barrier() {
        let set_up = Instant::now();
        while (control.word32(Control::BARRIER).load(Ordering::Acquire) as usize) < procs
            && set_up.elapsed() < Duration::from_secs(30)
        {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    std::thread::sleep(duration);
    control.word32(Control::STOP).store(1, Ordering::Relaxed);
    let patience = duration * 10 + Duration::from_secs(10);
    let mut failure = None;
    for (index, child) in children.iter_mut().enumerate() {
        match child.join_timeout(patience) {
            Ok(Some(0)) => {}
            Ok(Some(code)) => failure = Some(format!("process {index} exited with {code}")),
            Ok(None) => {
                failure = Some(format!("process {index} still running after {patience:?}"));
                let _ = child.kill();
                let _ = child.join();
            }
            Err(e) => failure = Some(format!("join: {e}")),
        }
    }
    if let Some(f) = failure {
        return Err(f);
    }
    let mut begin = u64::MAX;
    let mut end = 0;
    let mut all_ops = Vec::with_capacity(procs);
    let mut counted = Vec::new();
    let mut lat = Vec::new();
    for index in 0..procs {
        let t0 = control.result(index, 0).load(Ordering::Relaxed);
        let t1 = control.result(index, 1).load(Ordering::Relaxed);
        let ops = control.result(index, 2).load(Ordering::Relaxed);
        let recorded = control.result(index, 3).load(Ordering::Acquire) as usize;
        begin = begin.min(t0);
        end = end.max(t1);
        all_ops.push(ops);
        if run.counted(index, procs) {
            counted.push(ops);
        }
        lat.extend((0..recorded).map(|k| control.latency(index, k).load(Ordering::Relaxed)));
    }
    let span = end.saturating_sub(begin).max(1) as f64 / 1e9;
    Ok(Sample {
        throughput: counted.iter().sum::<u64>() as f64 / span,
        per_process: counted,
        lost: run.lost(&all_ops),
        latencies: lat,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts to a fixed number per process, ignoring the stop flag: the sample must add
    /// up exactly what every process reported.
    struct Fixed;

    impl Run for Fixed {
        fn body(&self, ctx: &Ctx<'_>) -> u64 {
            ctx.barrier();
            for k in 0..10 {
                ctx.record(k);
            }
            100 + ctx.index as u64
        }
        fn counted(&self, index: usize, _procs: usize) -> bool {
            index != 0
        }
        fn uses_barrier(&self) -> bool {
            true
        }
        fn lost(&self, ops: &[u64]) -> Option<u64> {
            Some(ops.iter().sum())
        }
    }

    #[test]
    fn a_sample_collects_every_process() {
        let s = sample(&Fixed, 3, Duration::from_millis(1), true).unwrap();
        assert_eq!(s.per_process, [101, 102]);
        assert_eq!(s.lost, Some(100 + 101 + 102));
        assert_eq!(s.latencies.len(), 30);
        assert!(s.throughput > 0.0);
    }

    #[test]
    fn without_latencies_nothing_is_recorded() {
        let s = sample(&Fixed, 2, Duration::from_millis(1), false).unwrap();
        assert!(s.latencies.is_empty());
    }

    /// A body that panics fails the sample instead of being counted.
    struct Panics;

    impl Run for Panics {
        fn body(&self, _ctx: &Ctx<'_>) -> u64 {
            panic!("boom")
        }
    }

    #[test]
    fn a_failing_process_fails_the_sample() {
        let e = sample(&Panics, 2, Duration::from_millis(1), false).unwrap_err();
        assert!(e.contains("exited with 1"), "{e}");
    }
}
