//! `Peterson`: Peterson's two-party mutual exclusion, made correct by `fence(SeqCst)`;
//! and `UnfencedPeterson`, its broken twin without the fences.
//!
//! Algorithm: G. L. Peterson, "Myths about the mutual exclusion problem", Information
//! Processing Letters 12(3), 1981. Side `i` (the other is `j = 1 - i`):
//!
//! ```text
//! flag[i] = 1;
//! fence(SeqCst);                    // (1)
//! turn = j;                         // "after you"
//! fence(SeqCst);                    // (2)
//! while flag[j] == 1 && turn == j { wait }
//! critical section
//! flag[i] = 0;
//! ```
//!
//! # Why the fences
//!
//! The proof assumes sequential consistency: a side's stores are visible to the other
//! before its own later loads. x86 does not promise that: a store waits in the core's
//! *store buffer* while later loads go ahead (x86-TSO; the store-buffer litmus test
//! `x = 1; r1 = y ‖ y = 1; r2 = x` may end with `r1 = r2 = 0`). Then both sides read the
//! other's flag as 0 and both enter. Release/Acquire (all the unfenced twin has) orders
//! a store before later *stores* and a load before later *loads*, never a store before a
//! later load. The stress histogram of `procshare-harness` (`PairExclusionLitmus`) shows
//! the twin letting both sides in on this machine, and never the fenced lock.
//!
//! Why two fences, when the textbook fix is one `mfence` after both stores? On x86 one is
//! enough (TSO keeps the two stores in order), but the Rust (C++20) memory model does not
//! promise it: SeqCst fences constrain only what is ordered *by* them ([atomics.order]:
//! if fence X happens before A, B happens before fence Y and A is coherence-ordered before
//! B, then X precedes Y). With one fence after both stores, side `i` may read `flag[j] = 0`
//! (so its fence precedes `j`'s) while `j` reads `turn = j`, i.e. `i`'s `turn` store comes
//! after `j`'s in `turn`'s modification order; no rule forbids it, and both enter. loom
//! finds that execution (`broken::OneFencePeterson`, `tests/loom_peterson.rs`). Fence (1)
//! makes `j`'s flag store precede its `turn` store *through a fence*, which closes the
//! cycle: `j`'s turn store coherence-before `i`'s forces fence (1) of `j` before fence (2)
//! of `i`, while `i` reading `flag[j] = 0` forces the opposite.
//!
//! # Parties and slots
//!
//! The algorithm has exactly two parties with fixed indices. Here a caller claims one of
//! two *sides* for the duration of one acquisition (a compare-and-swap of the side's owner
//! word from 0 to its thread id, see `slots.rs`) and frees it at `unlock`, so any number of
//! processes and threads may use the lock: at most two run the entry protocol at a time,
//! the others wait (yielding) for a free side. The entry protocol itself uses only loads,
//! stores and the fence, as in the paper.
//!
//! | word            | meaning                                                     |
//! |-----------------|-------------------------------------------------------------|
//! | `owners[s]`     | `0`: side `s` free; `tid`: claimed by that thread           |
//! | `flag[s]`       | `1`: side `s` wants the lock or holds it                    |
//! | `turn`          | the side that yields when both want in                      |
//! | `holder`        | `s + 1` while side `s` holds the lock (read by `unlock`)    |
//!
//! Transitions: claim `owners[s]: 0 → tid` (CAS, Acquire); `flag[s] = 1`; fence;
//! `turn = j` (Release); fence; enter when `flag[j] == 0 || turn != j` (Acquire loads); release with
//! `flag[s] = 0` (Release), then `owners[s] = 0` (Release). A timed-out or failed
//! `try_lock*` withdraws the same way.
//!
//! Fairness: between the two sides, bounded bypass of one (the `turn` word); the wait for
//! a free side is unfair. Owner death is **not** detected: a process killed while it holds
//! a side (holding the lock, or inside its entry protocol) leaves `flag`/`owners` set, and
//! the lock is wedged (`lock` waits for ever, `try_lock_for` returns false after its
//! timeout; shown by `tests/zoo.rs`).
//!
//! Tested by `tests/loom_peterson.rs` (exclusion with 2 and 3 threads, `try_lock`,
//! timeouts at any step; the unfenced twin and the one-fence variant fail the exclusion
//! model), by the catalog of
//! `procshare-harness` and by the cross-process tests of `procshare`.

use crate::loom::{fence, AtomicU32, Backoff, Deadline, Ordering};
use crate::{slots, LockError, RawLock};
use std::mem::MaybeUninit;
use std::time::Duration;

/// The state both variants share (see the module's state table).
#[repr(C)]
#[derive(Debug)]
struct Core {
    owners: [AtomicU32; 2],
    flag: [AtomicU32; 2],
    turn: AtomicU32,
    holder: AtomicU32,
}

/// Which fences the entry protocol runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fences {
    /// None: the broken twin.
    None,
    /// One, after both stores: the textbook fix, enough on x86-TSO but not in the
    /// language's memory model (a loom control only, see `broken.rs`).
    #[cfg(loom)]
    One,
    /// Two: after the flag store and after the turn store (`Peterson`).
    Two,
}

/// How long an acquisition may wait.
#[derive(Clone, Copy)]
enum Wait<'a> {
    /// `try_lock`: one look.
    No,
    /// Until the deadline (`Deadline::never` for `lock`).
    Until(&'a Deadline),
}

impl Wait<'_> {
    fn give_up(self) -> bool {
        match self {
            Wait::No => true,
            Wait::Until(d) => d.expired(),
        }
    }
}

impl Core {
    fn new() -> Self {
        Core {
            owners: [AtomicU32::new(0), AtomicU32::new(0)],
            flag: [AtomicU32::new(0), AtomicU32::new(0)],
            turn: AtomicU32::new(0),
            holder: AtomicU32::new(0),
        }
    }

    /// Claim a side and run the entry protocol; the side on success.
    fn acquire(&self, fences: Fences, wait: Wait<'_>) -> Option<usize> {
        let me = slots::me();
        let mut backoff = Backoff::new();
        let side = loop {
            if let Some(s) = slots::claim(&self.owners, me) {
                break s;
            }
            if wait.give_up() {
                return None;
            }
            backoff.snooze();
        };
        let other = 1 - side;
        self.flag[side].store(1, Ordering::Relaxed);
        if fences == Fences::Two {
            fence(Ordering::SeqCst);
        }
        self.turn.store(other as u32, Ordering::Release);
        if fences != Fences::None {
            fence(Ordering::SeqCst);
        }
        loop {
            if self.flag[other].load(Ordering::Acquire) == 0
                || self.turn.load(Ordering::Acquire) != other as u32
            {
                self.holder.store(side as u32 + 1, Ordering::Relaxed);
                return Some(side);
            }
            if wait.give_up() {
                self.withdraw(side);
                return None;
            }
            backoff.snooze();
        }
    }

    fn withdraw(&self, side: usize) {
        self.flag[side].store(0, Ordering::Release);
        slots::free(&self.owners[side]);
    }

    /// Release the side that holds the lock.
    fn release(&self) {
        let side = self.holder.swap(0, Ordering::Relaxed);
        debug_assert!(
            side == 1 || side == 2,
            "unlock of an unlocked Peterson lock"
        );
        self.withdraw((side as usize).wrapping_sub(1) & 1);
    }
}

/// Peterson's lock with its `fence(SeqCst)`: correct on any hardware.
#[repr(C)]
#[derive(Debug)]
pub struct Peterson(Core);

/// The entry protocol with a chosen set of fences, for the loom controls of `broken.rs`.
#[cfg(loom)]
pub(crate) fn acquire_with(
    lock: &UnfencedPeterson,
    fences: Fences,
    timeout: Option<Duration>,
) -> bool {
    match timeout {
        None => lock.0.acquire(fences, Wait::Until(&Deadline::never())),
        Some(t) => lock.0.acquire(fences, Wait::Until(&Deadline::after(t))),
    }
    .is_some()
}

/// The release of the loom controls of `broken.rs` (through the shared `holder` word).
#[cfg(loom)]
pub(crate) fn release_one_fence(lock: &UnfencedPeterson) {
    lock.0.release();
}

impl Peterson {
    /// An unlocked lock (for in-process use and loom models).
    pub fn new() -> Self {
        Peterson(Core::new())
    }
}

impl Default for Peterson {
    fn default() -> Self {
        Self::new()
    }
}

// SAFETY: exclusion: at most two callers hold sides (owner CAS), and between them
// Peterson's argument holds because the SeqCst fences order each side's flag/turn stores
// before its loads (see the module docs); a side leaves only through `withdraw`. Ordering:
// an entry reads `flag[j] == 0` (the releasing Release store) or `turn == i` (the other's
// Release store, sequenced after its previous release) with Acquire. Plain AtomicU32s, no
// pointers. `try_lock_for` gives up only once its `Deadline` has expired.
unsafe impl RawLock for Peterson {
    const NAME: &'static str = "peterson";
    type GuardMarker = crate::GuardSend;

    fn init(slot: &mut MaybeUninit<Self>) -> Result<(), LockError> {
        slot.write(Peterson::new());
        Ok(())
    }

    fn lock(&self) -> Result<(), LockError> {
        self.0.acquire(Fences::Two, Wait::Until(&Deadline::never()));
        Ok(())
    }

    fn try_lock(&self) -> Result<bool, LockError> {
        Ok(self.0.acquire(Fences::Two, Wait::No).is_some())
    }

    fn try_lock_for(&self, timeout: Duration) -> Result<bool, LockError> {
        Ok(self
            .0
            .acquire(Fences::Two, Wait::Until(&Deadline::after(timeout)))
            .is_some())
    }

    unsafe fn unlock(&self) -> Result<(), LockError> {
        self.0.release();
        Ok(())
    }
}

/// Peterson's algorithm **without** the fence: broken on x86 (and on every weaker
/// machine), kept as the control of the loom suite and of the stress histogram.
///
/// It deliberately does not implement [`RawLock`] outside loom builds: a safe `Value`
/// over it would hand out `&mut` access to data two processes may reach at once. Its
/// [`enter`](Self::enter) / [`leave`](Self::leave) protect nothing; the litmus test that
/// uses them touches shared data only through atomics.
#[repr(C)]
#[derive(Debug)]
pub struct UnfencedPeterson(Core);

impl UnfencedPeterson {
    /// A fresh instance.
    pub fn new() -> Self {
        UnfencedPeterson(Core::new())
    }

    /// Run the unfenced entry protocol (waiting as long as it takes); the side taken.
    pub fn enter(&self) -> usize {
        self.0
            .acquire(Fences::None, Wait::Until(&Deadline::never()))
            .expect("an untimed entry always enters")
    }

    /// Leave `side` after [`enter`](Self::enter) returned it. (Both sides may be inside at
    /// once, so unlike `Peterson` the twin cannot remember who is inside.) Leaving a side
    /// one did not enter corrupts the state of this instance (never memory).
    pub fn leave(&self, side: usize) {
        self.0.withdraw(side & 1);
    }
}

impl Default for UnfencedPeterson {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(loom)]
// SAFETY: it is not safe (no fence: both sides may enter); that is the point. Only loom
// models instantiate it as a lock, and they expect loom to report the failure.
unsafe impl RawLock for UnfencedPeterson {
    const NAME: &'static str = "broken-unfenced-peterson";
    type GuardMarker = crate::GuardSend;

    fn init(slot: &mut MaybeUninit<Self>) -> Result<(), LockError> {
        slot.write(UnfencedPeterson::new());
        Ok(())
    }
    fn lock(&self) -> Result<(), LockError> {
        self.enter();
        Ok(())
    }
    fn try_lock(&self) -> Result<bool, LockError> {
        Ok(self.0.acquire(Fences::None, Wait::No).is_some())
    }
    fn try_lock_for(&self, timeout: Duration) -> Result<bool, LockError> {
        Ok(self
            .0
            .acquire(Fences::None, Wait::Until(&Deadline::after(timeout)))
            .is_some())
    }
    unsafe fn unlock(&self) -> Result<(), LockError> {
        self.0.release();
        Ok(())
    }
}

// SAFETY: AtomicU32 words only, no pointers, no futex.
unsafe impl crate::ProcessShared for Peterson {}
// SAFETY: AtomicU32 words only, no pointers, no futex.
unsafe impl crate::ProcessShared for UnfencedPeterson {}
