//! The lock workloads: a shared counter and a 64-element array, each process updating
//! them as fast as it can until told to stop; every process counts its own updates, so
//! the updates lost are exact: the sum of the counts minus what the shared data says.
//!
//! * counter: `*v.lock()? += 1` on a `Value<u64, L>` for every strategy `L`, against
//!   `RawValue::fetch_add` (lock-free) and a bare futex mutex around a relaxed
//!   load + store (the baseline);
//! * array64: lock once, add 1 to each of 64 `u64`s, unlock; on an `Array<u64, L>` and
//!   on the bare futex mutex with 64 relaxed words.
//!
//! Lost updates of the array are element updates: `Σ_i (updates − a[i])`.

use crate::runner::{Ctx, Run};
use crate::sys::{futex_wait, futex_wake};
use procshare::{Array, RawLock, RawValue, Region, Value};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// Elements of the array workload.
pub const ARRAY_LEN: usize = 64;

/// Prepares one cell's shared state for `procs` processes (in the parent, before forking).
pub type Prepare = fn(usize) -> Result<Box<dyn Run>, String>;

/// A lock strategy as the comparison sees it: its name, whether it promises exclusion
/// (then it must lose no update), and how to prepare each lock workload with it.
pub struct Strategy {
    /// `RawLock::NAME`.
    pub name: &'static str,
    /// `RawLock::EXCLUSIVE`.
    pub excluding: bool,
    /// The counter workload on `Value<u64, L>`.
    pub counter: Prepare,
    /// The array workload on `Array<u64, L>`.
    pub array: Prepare,
}

/// The strategy `L` in the comparison.
pub fn strategy<L: RawLock + 'static>() -> Strategy {
    Strategy {
        name: L::NAME,
        excluding: L::EXCLUSIVE,
        counter: |_| Ok(Box::new(ValueCounter::<L>::new()?)),
        array: |_| Ok(Box::new(ArrayUpdate::<L>::new()?)),
    }
}

/// `*v.lock()? += 1` on a `Value<u64, L>`.
struct ValueCounter<L: RawLock>(Value<u64, L>);

impl<L: RawLock> ValueCounter<L> {
    fn new() -> Result<Self, String> {
        Value::new(0)
            .map(ValueCounter)
            .map_err(|e| format!("Value::new: {e}"))
    }
}

impl<L: RawLock> Run for ValueCounter<L> {
    fn body(&self, ctx: &Ctx<'_>) -> u64 {
        let mut n = 0;
        while ctx.running() {
            *self.0.lock().expect("Value::lock") += 1;
            n += 1;
        }
        n
    }
    fn lost(&self, ops: &[u64]) -> Option<u64> {
        let got = self.0.load().ok()?;
        Some(ops.iter().sum::<u64>().saturating_sub(got))
    }
}

/// Lock, add 1 to each element of an `Array<u64, L>` of [`ARRAY_LEN`], unlock.
struct ArrayUpdate<L: RawLock>(Array<u64, L>);

impl<L: RawLock> ArrayUpdate<L> {
    fn new() -> Result<Self, String> {
        Array::zeroed(ARRAY_LEN)
            .map(ArrayUpdate)
            .map_err(|e| format!("Array::zeroed: {e}"))
    }
}

impl<L: RawLock> Run for ArrayUpdate<L> {
    fn body(&self, ctx: &Ctx<'_>) -> u64 {
        let mut n = 0;
        while ctx.running() {
            let mut guard = self.0.lock().expect("Array::lock");
            for x in guard.iter_mut() {
                *x += 1;
            }
            drop(guard);
            n += 1;
        }
        n
    }
    fn lost(&self, ops: &[u64]) -> Option<u64> {
        let total: u64 = ops.iter().sum();
        let now = self.0.to_vec().ok()?;
        Some(now.iter().map(|&x| total.saturating_sub(x)).sum())
    }
}

/// `RawValue::<u64>::fetch_add(1)`: lock-free.
pub struct FetchAdd(RawValue<u64>);

impl FetchAdd {
    /// A counter at 0.
    pub fn prepare(_procs: usize) -> Result<Box<dyn Run>, String> {
        let v = RawValue::new(0).map_err(|e| format!("RawValue::new: {e}"))?;
        Ok(Box::new(FetchAdd(v)))
    }
}

impl Run for FetchAdd {
    fn body(&self, ctx: &Ctx<'_>) -> u64 {
        let mut n = 0;
        while ctx.running() {
            self.0.fetch_add(1);
            n += 1;
        }
        n
    }
    fn lost(&self, ops: &[u64]) -> Option<u64> {
        Some(ops.iter().sum::<u64>().saturating_sub(self.0.load()))
    }
}

/// The baseline mutex: Drepper's "Futexes Are Tricky" mutex 2 (states 0 unlocked, 1
/// locked, 2 locked and maybe waiters), no spinning, shared futex calls; the lock word at
/// offset 0 of a region and `words` relaxed `u64`s from offset 8 (the same cache line, as
/// in a `Value`).
pub struct BareFutex {
    region: Region,
    words: usize,
}

impl BareFutex {
    fn new(words: usize) -> Result<BareFutex, String> {
        let region = Region::new(8 + 8 * words).map_err(|e| format!("Region::new: {e}"))?;
        Ok(BareFutex { region, words })
    }

    /// The counter workload on the bare mutex.
    pub fn counter(_procs: usize) -> Result<Box<dyn Run>, String> {
        Ok(Box::new(BareFutex::new(1)?))
    }

    /// The array workload on the bare mutex.
    pub fn array(_procs: usize) -> Result<Box<dyn Run>, String> {
        Ok(Box::new(BareFutex::new(ARRAY_LEN)?))
    }

    fn word(&self) -> &AtomicU32 {
        // SAFETY: the region is page-aligned, at least 16 bytes, zero-initialised (an
        // unlocked word), mapped as long as `self` lives; its first 4 bytes are only ever
        // accessed through this atomic.
        unsafe { AtomicU32::from_ptr(self.region.base().cast()) }
    }

    fn data(&self, i: usize) -> &AtomicU64 {
        assert!(i < self.words);
        // SAFETY: bytes 8 + 8i .. 16 + 8i are inside the region (len 8 + 8 * words),
        // 8-aligned, and only ever accessed through atomics.
        unsafe { AtomicU64::from_ptr(self.region.base().add(8 + 8 * i).cast()) }
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
            if w.load(Ordering::Relaxed) == 2
                || w.compare_exchange(1, 2, Ordering::Relaxed, Ordering::Relaxed)
                    .is_ok()
            {
                futex_wait(w, 2);
            }
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

impl Run for BareFutex {
    fn body(&self, ctx: &Ctx<'_>) -> u64 {
        let mut n = 0;
        while ctx.running() {
            self.lock();
            for i in 0..self.words {
                let d = self.data(i);
                d.store(d.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
            }
            self.unlock();
            n += 1;
        }
        n
    }
    fn lost(&self, ops: &[u64]) -> Option<u64> {
        let total: u64 = ops.iter().sum();
        Some(
            (0..self.words)
                .map(|i| total.saturating_sub(self.data(i).load(Ordering::Relaxed)))
                .sum(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cases::strategies;
    use crate::runner::sample;
    use std::time::Duration;

    /// Every excluding strategy loses nothing on both lock workloads, with two processes.
    #[test]
    fn excluding_strategies_lose_no_update() {
        for s in strategies().into_iter().filter(|s| s.excluding) {
            for prepare in [s.counter, s.array] {
                let run = prepare(2).unwrap();
                let got = sample(run.as_ref(), 2, Duration::from_millis(20), false).unwrap();
                assert_eq!(got.per_process.len(), 2, "{}", s.name);
                assert!(got.per_process.iter().sum::<u64>() > 0, "{}", s.name);
                assert_eq!(got.lost, Some(0), "{}", s.name);
            }
        }
        for prepare in [BareFutex::counter, BareFutex::array, FetchAdd::prepare] {
            let run = prepare(2).unwrap();
            let got = sample(run.as_ref(), 2, Duration::from_millis(20), false).unwrap();
            assert_eq!(got.lost, Some(0));
        }
    }

    /// The loss accounting reports what the shared data lacks: nothing was incremented,
    /// so every counted operation is lost (per element, for the array).
    #[test]
    fn lost_is_counted_minus_observed() {
        for s in strategies() {
            assert_eq!(
                (s.counter)(2).unwrap().lost(&[5, 7]),
                Some(12),
                "{}",
                s.name
            );
            let expected = 12 * ARRAY_LEN as u64;
            assert_eq!(
                (s.array)(2).unwrap().lost(&[5, 7]),
                Some(expected),
                "{}",
                s.name
            );
        }
        assert_eq!(BareFutex::counter(1).unwrap().lost(&[3]), Some(3));
        assert_eq!(FetchAdd::prepare(1).unwrap().lost(&[4]), Some(4));
    }
}
