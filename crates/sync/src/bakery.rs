//! `Bakery`: Lamport's bakery algorithm for up to `N` parties at a time, correct on real
//! hardware with two `fence(SeqCst)`; and `UnfencedBakery`, its broken twin without them.
//!
//! Algorithm: L. Lamport, "A new solution of Dijkstra's concurrent programming problem",
//! CACM 17(8), 1974. Party `i`:
//!
//! ```text
//! choosing[i] = 1;
//! fence(SeqCst);                                   // (1)
//! number[i] = 1 + max(number[0..N]);
//! choosing[i] = 0;
//! fence(SeqCst);                                   // (2)
//! for k != i:
//!     while choosing[k] == 1 { wait }
//!     while number[k] != 0 && (number[k], k) < (number[i], i) { wait }
//! critical section
//! number[i] = 0;
//! ```
//!
//! # Why the fences
//!
//! Lamport's proof needs each party's stores to be seen before its later loads, which x86
//! does not give (a store waits in the store buffer while later loads run: the
//! store-buffer litmus outcome). Without fence (2), party `i` may read `choosing[k] == 0`
//! and `number[k] == 0` while `k`'s stores are still buffered, at the same time as `k`
//! reads `i`'s old values: both enter. Without fence (1), `k` may compute its maximum
//! before it sees `choosing[i] = 1`… the same pattern one step earlier. Release/Acquire
//! never orders a store before a later load; only the SeqCst fences do (see
//! [`Peterson`](crate::Peterson) for the argument, which is the same). The loom suite
//! shows the unfenced twin letting two parties in; the stress histogram of
//! `procshare-harness` shows it on this machine.
//!
//! # Parties and slots
//!
//! A caller claims one of `N` slots for one acquisition (see `slots.rs`) and frees it at
//! `unlock`: at most `N` callers run the algorithm at a time, more wait (yielding) for a
//! free slot. The algorithm itself uses only loads, stores and fences.
//!
//! | word          | meaning                                                        |
//! |---------------|----------------------------------------------------------------|
//! | `owners[s]`   | `0`: slot `s` free; `tid`: claimed by that thread              |
//! | `choosing[s]` | `1` while slot `s` picks its number                            |
//! | `number[s]`   | `0`: not competing; otherwise slot `s`'s ticket               |
//! | `holder`      | `s + 1` while slot `s` holds the lock (read by `unlock`)       |
//!
//! Tickets grow only while the lock is never free of competitors (every release sets its
//! number back to 0); 2³² acquisitions under unbroken contention would wrap them.
//!
//! Fairness: FIFO among the parties that hold slots (first come, first served by ticket;
//! ties broken by slot index); the wait for a free slot is unfair. Owner death is **not**
//! detected: a process killed while it holds a slot leaves its `number` set and wedges
//! every later ticket (`lock` waits for ever, `try_lock_for` returns false after its
//! timeout; shown by `tests/zoo.rs`). A timed-out `try_lock_for` withdraws its ticket.
//!
//! Tested by `tests/loom_bakery.rs` (exclusion with 2 and 3 threads, `try_lock`, timeouts
//! at any step; the unfenced twin fails the exclusion model), by the catalog of
//! `procshare-harness` and by the cross-process tests of `procshare`.

use crate::loom::{fence, AtomicU32, Backoff, Deadline, Ordering};
use crate::{slots, LockError, RawLock};
use std::mem::MaybeUninit;
use std::time::Duration;

/// The state both variants share (see the module's state table).
#[repr(C)]
#[derive(Debug)]
struct Core<const N: usize> {
    owners: [AtomicU32; N],
    choosing: [AtomicU32; N],
    number: [AtomicU32; N],
    holder: AtomicU32,
}

impl<const N: usize> Core<N> {
    fn new() -> Self {
        const { assert!(N >= 1 && N < u32::MAX as usize) };
        Core {
            owners: std::array::from_fn(|_| AtomicU32::new(0)),
            choosing: std::array::from_fn(|_| AtomicU32::new(0)),
            number: std::array::from_fn(|_| AtomicU32::new(0)),
            holder: AtomicU32::new(0),
        }
    }

    /// Claim a slot and run the bakery; the slot on success. `deadline: None` is
    /// `try_lock` (one look at every other party).
    fn acquire(&self, fenced: bool, deadline: Option<&Deadline>) -> Option<usize> {
        let give_up = || deadline.is_none_or(|d| d.expired());
        let me = slots::me();
        let mut backoff = Backoff::new();
        let i = loop {
            if let Some(s) = slots::claim(&self.owners, me) {
                break s;
            }
            if give_up() {
                return None;
            }
            backoff.snooze();
        };
        self.choosing[i].store(1, Ordering::Relaxed);
        if fenced {
            fence(Ordering::SeqCst);
        }
        let max = self
            .number
            .iter()
            .map(|n| n.load(Ordering::Relaxed))
            .max()
            .unwrap_or(0);
        let mine = max.wrapping_add(1).max(1);
        self.number[i].store(mine, Ordering::Relaxed);
        self.choosing[i].store(0, Ordering::Release);
        if fenced {
            fence(Ordering::SeqCst);
        }
        for k in (0..N).filter(|&k| k != i) {
            while self.choosing[k].load(Ordering::Acquire) != 0 {
                if give_up() {
                    self.withdraw(i);
                    return None;
                }
                backoff.snooze();
            }
            loop {
                let theirs = self.number[k].load(Ordering::Acquire);
                if theirs == 0 || (mine, i) < (theirs, k) {
                    break;
                }
                if give_up() {
                    self.withdraw(i);
                    return None;
                }
                backoff.snooze();
            }
        }
        self.holder.store(i as u32 + 1, Ordering::Relaxed);
        Some(i)
    }

    fn withdraw(&self, i: usize) {
        self.number[i].store(0, Ordering::Release);
        slots::free(&self.owners[i]);
    }

    fn release(&self) {
        let h = self.holder.swap(0, Ordering::Relaxed);
        debug_assert!(h != 0, "unlock of an unlocked bakery lock");
        self.withdraw((h as usize).wrapping_sub(1) % N);
    }
}

/// Lamport's bakery lock with its fences, for up to `N` concurrent parties (more wait for
/// a slot). Default `N = 8`.
#[repr(C)]
#[derive(Debug)]
pub struct Bakery<const N: usize = 8>(Core<N>);

impl<const N: usize> Bakery<N> {
    /// An unlocked lock (for in-process use and loom models).
    pub fn new() -> Self {
        Bakery(Core::new())
    }
}

impl<const N: usize> Default for Bakery<N> {
    fn default() -> Self {
        Self::new()
    }
}

// SAFETY: exclusion: at most N callers hold slots (owner CAS), and among them Lamport's
// argument holds because the SeqCst fences order each slot's stores before its later loads
// (module docs); a slot's number returns to 0 only through `withdraw`. Ordering: an entry
// reads each competitor's released number (0, Release store) or a larger ticket with
// Acquire, after that competitor's Release store of `choosing = 0`. AtomicU32s only.
// `try_lock_for` gives up only once its `Deadline` has expired.
unsafe impl<const N: usize> RawLock for Bakery<N> {
    const NAME: &'static str = "bakery";
    type GuardMarker = crate::GuardSend;

    fn init(slot: &mut MaybeUninit<Self>) -> Result<(), LockError> {
        slot.write(Bakery::new());
        Ok(())
    }

    fn lock(&self) -> Result<(), LockError> {
        self.0.acquire(true, Some(&Deadline::never()));
        Ok(())
    }

    fn try_lock(&self) -> Result<bool, LockError> {
        Ok(self.0.acquire(true, None).is_some())
    }

    fn try_lock_for(&self, timeout: Duration) -> Result<bool, LockError> {
        Ok(self
            .0
            .acquire(true, Some(&Deadline::after(timeout)))
            .is_some())
    }

    unsafe fn unlock(&self) -> Result<(), LockError> {
        self.0.release();
        Ok(())
    }
}

/// The bakery **without** its fences: broken on x86, the control of the loom suite and
/// the stress histogram. Like [`UnfencedPeterson`](crate::UnfencedPeterson) it does not
/// implement [`RawLock`] outside loom builds; [`enter`](Self::enter) /
/// [`leave`](Self::leave) protect nothing.
#[repr(C)]
#[derive(Debug)]
pub struct UnfencedBakery<const N: usize = 8>(Core<N>);

impl<const N: usize> UnfencedBakery<N> {
    /// A fresh instance.
    pub fn new() -> Self {
        UnfencedBakery(Core::new())
    }

    /// Run the unfenced entry protocol (waiting as long as it takes); the slot taken.
    pub fn enter(&self) -> usize {
        self.0
            .acquire(false, Some(&Deadline::never()))
            .expect("an untimed entry always enters")
    }

    /// Leave `slot` after [`enter`](Self::enter) returned it. (Several parties may be
    /// inside at once, so the twin cannot remember who is.) Leaving a slot one did not
    /// enter corrupts the state of this instance (never memory).
    pub fn leave(&self, slot: usize) {
        self.0.withdraw(slot % N);
    }
}

impl<const N: usize> Default for UnfencedBakery<N> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(loom)]
// SAFETY: it is not safe (no fences: two parties may enter); that is the point. Only loom
// models instantiate it as a lock, and they expect loom to report the failure.
unsafe impl<const N: usize> RawLock for UnfencedBakery<N> {
    const NAME: &'static str = "broken-unfenced-bakery";
    type GuardMarker = crate::GuardSend;

    fn init(slot: &mut MaybeUninit<Self>) -> Result<(), LockError> {
        slot.write(UnfencedBakery::new());
        Ok(())
    }
    fn lock(&self) -> Result<(), LockError> {
        self.enter();
        Ok(())
    }
    fn try_lock(&self) -> Result<bool, LockError> {
        Ok(self.0.acquire(false, None).is_some())
    }
    fn try_lock_for(&self, timeout: Duration) -> Result<bool, LockError> {
        Ok(self
            .0
            .acquire(false, Some(&Deadline::after(timeout)))
            .is_some())
    }
    unsafe fn unlock(&self) -> Result<(), LockError> {
        self.0.release();
        Ok(())
    }
}

// SAFETY: AtomicU32 words only, no pointers, no futex.
unsafe impl<const N: usize> crate::ProcessShared for Bakery<N> {}
// SAFETY: AtomicU32 words only, no pointers, no futex.
unsafe impl<const N: usize> crate::ProcessShared for UnfencedBakery<N> {}
