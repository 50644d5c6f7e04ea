//! `RawRwLock` and `WriterPreferringRwLock`: a reader-writer lock on one word in shared
//! memory, writer-preferring, with sleepers parked in an [`AdaptiveWait`].
//!
//! Algorithm: the writer-preferring reader-writer lock of Courtois, Heymans & Parnas
//! ("Concurrent control with readers and writers", CACM 14(10), 1971, problem 2: once a
//! writer is ready, no new reader may start), with the reader count, the writer and the
//! "a writer waits" flag packed into one word in the way of Linux's `rwsem` and glibc's
//! `pthread_rwlock_t` (`PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP`). Every transition
//! is one compare-and-swap (or one `fetch_*`) of that word; sleepers wait for a predicate
//! over it through the crate's shared [`AdaptiveWait`] (no new futex protocol).
//!
//! # State table
//!
//! The word is `WW | W | low`, with `WW` = bit 31 ("a writer waits"), `W` = bit 30 ("a
//! writer holds"), and `low` (30 bits) the writer's pid when `W` is set, else the number
//! of readers holding.
//!
//! | word            | meaning                                                      |
//! |-----------------|--------------------------------------------------------------|
//! | `0`             | free                                                         |
//! | `n`             | `n > 0` readers hold; new readers may join                   |
//! | `WW \| n`       | `n ≥ 0` readers hold, a writer waits: **new readers wait**   |
//! | `W \| pid`      | writer `pid` holds                                           |
//! | `WW \| W \| pid`| writer `pid` holds, another writer waits                     |
//!
//! | transition                                   | made by                               |
//! |----------------------------------------------|---------------------------------------|
//! | `n → n + 1` (CAS, Acquire), only if no `W`/`WW` | a reader acquiring                 |
//! | `[WW\|] n → [WW\|] n − 1` (fetch_sub, Release) | a reader releasing; notify at `n = 1` |
//! | `[WW] → W \| me` (CAS, Acquire): clears `WW`  | a writer acquiring (no readers, no writer) |
//! | `s → s \| WW` (CAS)                            | a writer that must wait              |
//! | `[WW\|] W \| pid → [WW]` (fetch_and, Release) | the writer releasing; notify all     |
//! | `s → s & !WW` (fetch_and)                      | a writer whose timeout ran out; notify all |
//! | `[WW\|] W \| dead → W \| me` (CAS)             | a writer that proved the writer dead (`OwnerDied`) |
//! | `[WW\|] W \| dead → [WW\|] 1` (CAS)            | a reader that proved the writer dead (`OwnerDied`, read held) |
//!
//! Writer preference: a reader enters only when neither `W` nor `WW` is set, and a
//! waiting writer sets `WW` before it sleeps, so a reader arriving while a writer waits
//! waits behind it, and a writer waits only for the readers already inside: readers
//! cannot starve a writer. A writer that acquires clears `WW`; a writer still waiting
//! behind it sets `WW` again when it re-checks, and a releasing writer keeps a `WW` that
//! was set during its hold. (A waiting writer that was not woken during the hold sets it
//! again only after the release's wake-up, so a reader woken by the same release may get
//! in before it: preference is strict against readers arriving while a writer waits,
//! not between two writers' turns.) Between writers there is no order (barging).
//!
//! Sleeping: every waiter waits on the lock's one [`AdaptiveWait`] for "my CAS
//! succeeded"; every transition that can let a waiter in (the last reader leaving, a
//! writer leaving, a writer giving up its `WW`) is published first and then notifies all
//! (which costs one fence and one load when nobody sleeps).
//!
//! # Owner death
//!
//! * **A writer** records its pid in the word. A waiter sleeps at most one liveness slice
//!   (50 ms) at a time; then, if the word still names the same writer and
//!   [`liveness`](crate::liveness) proves it dead, it takes over with one CAS and returns
//!   [`LockError::OwnerDied`] holding the lock (a writer as writer, a reader as the sole
//!   reader): the data may be half-written.
//! * **A reader** is not recorded (only counted): a reader killed while holding leaves
//!   the count one too high for good. Writers then wait for ever (bound them with
//!   `try_write_for`), and while a writer waits, so do new readers. This wedge is
//!   documented, not fixed: recording every reader's pid needs a slot table (as `Bakery`
//!   has), which is not cheap. `tests/rw_lock.rs` shows it.
//! * **A waiting writer** killed while `WW` is its doing leaves `WW` set: new readers
//!   wait until the next writer acquires (which clears `WW`) and releases.
//!
//! Tested by `tests/loom_rw_lock.rs` (2 and 3 threads: readers share, a writer excludes
//! everyone, writer preference in a forced model, no lost wake-up, timeouts that expire at
//! any step, a dead writer taken over, and a broken reader that ignores the writer bits,
//! which loom must reject), by `tests/rw_lock.rs` and `tests/rw_value.rs` of the `procshare`
//! package, and by the harness's reader-writer scenarios (`rw_catalog`, random and PCT,
//! with a writer or a reader killed).

use crate::loom::{AtomicU32, Deadline, Ordering};
use crate::{liveness, loom, AdaptiveWait, LockError};
use std::mem::MaybeUninit;
use std::time::Duration;

/// A reader-writer lock whose state lives in memory that several processes map: the
/// reader-writer sibling of [`RawLock`](crate::RawLock).
///
/// # Safety
///
/// An implementation must guarantee, for every value initialised by [`RawRwLock::init`]:
///
/// * **Exclusion**: while a caller holds it for writing (from a successful `write`,
///   `try_write`, `try_write_for`, or an `Err(LockError::OwnerDied { .. })` of `write`,
///   to the matching `unlock_write`), no other caller, in this or any other process,
///   holds it for reading or writing. Any number may hold it for reading at once.
/// * **Ordering**: everything written before `unlock_write` happens-before everything
///   after every later acquisition, and everything a reader did before `unlock_read`
///   happens-before the next write acquisition (release/acquire).
/// * **Process-shared state**: it works in a `MAP_SHARED` mapping at other addresses in
///   other processes; no pointers, no process-local state, no `FUTEX_PRIVATE_FLAG`.
/// * **Failure**: any `Err` other than `OwnerDied` means nothing was acquired; an
///   `OwnerDied` from a read acquisition holds it for reading, from a write for writing.
/// * **Timeouts**: `try_*_for(d)` returns `Ok(false)` only after at least `d` has passed.
/// * **Schedule points**: as for `RawLock` (waits sleep in the facade's futex or call
///   the spin hook).
///
/// Safe wrappers (procshare-shm's `RwLock<T>`) rely on exclusion to let a writer change
/// the data while no reader reads it.
pub unsafe trait RawRwLock: Send + Sync {
    /// Short name of the strategy, for reports.
    const NAME: &'static str;

    /// Initialise a free lock in place (not yet visible to anyone, never moved after).
    fn init(slot: &mut MaybeUninit<Self>) -> Result<(), LockError>
    where
        Self: Sized;

    /// Acquire for reading, waiting as long as it takes. `Err(OwnerDied)`: held for
    /// reading, but a writer died inside its critical section.
    fn read(&self) -> Result<(), LockError>;
    /// Acquire for reading if that is possible without waiting.
    fn try_read(&self) -> Result<bool, LockError>;
    /// Acquire for reading, waiting at most `timeout`; `Ok(false)` when it ran out.
    fn try_read_for(&self, timeout: Duration) -> Result<bool, LockError>;
    /// Release a read acquisition.
    ///
    /// # Safety
    ///
    /// The caller holds the lock for reading.
    unsafe fn unlock_read(&self) -> Result<(), LockError>;

    /// Acquire for writing, waiting as long as it takes. `Err(OwnerDied)`: held for
    /// writing, but the previous writer died inside its critical section.
    fn write(&self) -> Result<(), LockError>;
    /// Acquire for writing if that is possible without waiting.
    fn try_write(&self) -> Result<bool, LockError>;
    /// Acquire for writing, waiting at most `timeout`; `Ok(false)` when it ran out.
    fn try_write_for(&self, timeout: Duration) -> Result<bool, LockError>;
    /// Release a write acquisition.
    ///
    /// # Safety
    ///
    /// The caller holds the lock for writing.
    unsafe fn unlock_write(&self) -> Result<(), LockError>;
}

/// Set while a writer waits: new readers wait.
pub const WRITER_WAITING: u32 = 1 << 31;
/// Set while a writer holds; the low bits are then its pid.
pub const WRITER: u32 = 1 << 30;
/// The reader count, or the writer's pid when [`WRITER`] is set.
pub const LOW: u32 = WRITER - 1;

/// Which reader protocol (the broken one exists only for the loom suite).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reader {
    Checked,
    /// The broken control: increments the count without looking at the writer bits.
    #[cfg(loom)]
    Unchecked,
}

/// The writer-preferring reader-writer lock: one state word plus an [`AdaptiveWait`]
/// (see the [module docs](self) for the state table and owner death).
#[repr(C)]
#[derive(Debug)]
pub struct WriterPreferringRwLock {
    state: AtomicU32,
    wait: AdaptiveWait,
}

impl WriterPreferringRwLock {
    /// A free lock (for one process and loom models; in shared memory use
    /// [`RawRwLock::init`] or `procshare-shm`'s `RwLock`).
    pub fn new() -> Self {
        WriterPreferringRwLock {
            state: AtomicU32::new(0),
            wait: AdaptiveWait::new(),
        }
    }

    /// The raw state word (a diagnostic; see the state table).
    pub fn state(&self) -> u32 {
        self.state.load(Ordering::Relaxed)
    }

    /// How many waiters (readers and writers) have announced themselves in the lock's
    /// [`AdaptiveWait`] (a snapshot, for tests that force an interleaving).
    pub fn sleepers(&self) -> u32 {
        self.wait.sleepers()
    }

    /// One attempt to enter as a reader.
    fn try_read_once(&self, how: Reader) -> bool {
        match how {
            Reader::Checked => {
                let s = self.state.load(Ordering::Relaxed);
                s & (WRITER | WRITER_WAITING) == 0
                    && s & LOW < LOW
                    && self
                        .state
                        .compare_exchange(s, s + 1, Ordering::Acquire, Ordering::Relaxed)
                        .is_ok()
            }
            #[cfg(loom)]
            Reader::Unchecked => {
                self.state.fetch_add(1, Ordering::Acquire);
                true
            }
        }
    }

    /// One attempt to enter as a writer; when it fails and `announce`, make sure `WW` is
    /// set so that new readers wait.
    fn try_write_once(&self, me: u32, announce: bool) -> bool {
        let mut s = self.state.load(Ordering::Relaxed);
        loop {
            if s & (WRITER | LOW) == 0 {
                match self.state.compare_exchange(
                    s,
                    WRITER | me,
                    Ordering::Acquire,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        if s & WRITER_WAITING != 0 {
                            // Waiters may sleep for a slice that names no writer: let
                            // them re-arm it with our pid (see `wait_while_owner`).
                            self.wait.notify_all();
                        }
                        return true;
                    }
                    Err(now) => s = now,
                }
            } else if announce && s & WRITER_WAITING == 0 {
                match self.state.compare_exchange(
                    s,
                    s | WRITER_WAITING,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => return false,
                    Err(now) => s = now,
                }
            } else {
                return false;
            }
        }
    }

    fn read_slow(&self, deadline: &Deadline, how: Reader) -> Result<bool, LockError> {
        loop {
            let s = self.state.load(Ordering::Relaxed);
            if self.wait_while_owner(s, deadline, || self.try_read_once(how)) {
                return Ok(true);
            }
            if deadline.is_finite() && deadline.expired() {
                return Ok(false);
            }
            if let Some(pid) = self.dead_writer(s) {
                // Take the dead writer's place as the sole reader (keeping WW).
                let to = (s & WRITER_WAITING) | 1;
                if self
                    .state
                    .compare_exchange(s, to, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
                {
                    self.wait.notify_all();
                    return Err(LockError::OwnerDied { pid: Some(pid) });
                }
            }
        }
    }

    fn write_slow(&self, deadline: &Deadline) -> Result<bool, LockError> {
        let me = loom::current_owner();
        loop {
            let s = self.state.load(Ordering::Relaxed);
            if self.wait_while_owner(s, deadline, || self.try_write_once(me, true)) {
                return Ok(true);
            }
            if deadline.is_finite() && deadline.expired() {
                // Give up our claim: readers may enter again; other waiting writers are
                // woken and set WW again.
                self.state.fetch_and(!WRITER_WAITING, Ordering::Relaxed);
                self.wait.notify_all();
                return Ok(false);
            }
            if let Some(pid) = self.dead_writer(s) {
                if self
                    .state
                    .compare_exchange(s, WRITER | me, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
                {
                    return Err(LockError::OwnerDied { pid: Some(pid) });
                }
            }
        }
    }

    /// Wait until `acquire()` succeeds (true), or the liveness slice for the writer named
    /// by `s` (if any) or the deadline passes, or the holding writer changes from the one
    /// named by `s` (false: the caller checks its deadline and liveness, and calls again
    /// with a slice naming the new writer). A writer that acquires while others wait
    /// notifies them, so no waiter sleeps on behalf of a writer that no longer holds.
    fn wait_while_owner(
        &self,
        s: u32,
        deadline: &Deadline,
        mut acquire: impl FnMut() -> bool,
    ) -> bool {
        let writer = |s: u32| if s & WRITER != 0 { s & LOW } else { 0 };
        let owner = writer(s);
        let mut got = false;
        self.wait.wait_until(
            || {
                got = acquire();
                got || writer(self.state.load(Ordering::Relaxed)) != owner
            },
            &deadline.or_liveness_check_of(owner),
        );
        got
    }

    /// The pid of the writer named by `s`, if it still holds (the word is unchanged) and
    /// is proven dead.
    fn dead_writer(&self, s: u32) -> Option<u32> {
        let pid = s & LOW;
        (s & WRITER != 0 && self.state.load(Ordering::Relaxed) == s && liveness::is_dead(pid))
            .then_some(pid)
    }
}

impl Default for WriterPreferringRwLock {
    fn default() -> Self {
        Self::new()
    }
}

// SAFETY: readers enter only by a CAS from a word without W or WW (so with no writer),
// writers only by a CAS from a word with no readers and no W (or, on a proven death, from
// the dead writer's unchanged word); W is cleared only by the holder or such a takeover.
// Acquisitions are Acquire, releases Release RMWs on the one word, so release sequences
// order every reader's section before the next writer. The state is atomics without
// pointers; the AdaptiveWait's futex is shared. Deadlines come from `Deadline`.
unsafe impl RawRwLock for WriterPreferringRwLock {
    const NAME: &'static str = "rw-writer-preferring";

    fn init(slot: &mut MaybeUninit<Self>) -> Result<(), LockError> {
        slot.write(WriterPreferringRwLock::new());
        Ok(())
    }

    fn read(&self) -> Result<(), LockError> {
        if self.try_read_once(Reader::Checked) {
            return Ok(());
        }
        self.read_slow(&Deadline::never(), Reader::Checked)
            .map(|_| ())
    }

    fn try_read(&self) -> Result<bool, LockError> {
        Ok(self.try_read_once(Reader::Checked))
    }

    fn try_read_for(&self, timeout: Duration) -> Result<bool, LockError> {
        if self.try_read_once(Reader::Checked) {
            return Ok(true);
        }
        self.read_slow(&Deadline::after(timeout), Reader::Checked)
    }

    unsafe fn unlock_read(&self) -> Result<(), LockError> {
        let old = self.state.fetch_sub(1, Ordering::Release);
        debug_assert!(
            old & WRITER == 0 && old & LOW > 0,
            "unlock_read of {old:#x}"
        );
        if old & LOW == 1 {
            self.wait.notify_all();
        }
        Ok(())
    }

    fn write(&self) -> Result<(), LockError> {
        if self.try_write_once(loom::current_owner(), false) {
            return Ok(());
        }
        self.write_slow(&Deadline::never()).map(|_| ())
    }

    fn try_write(&self) -> Result<bool, LockError> {
        Ok(self.try_write_once(loom::current_owner(), false))
    }

    fn try_write_for(&self, timeout: Duration) -> Result<bool, LockError> {
        if self.try_write_once(loom::current_owner(), false) {
            return Ok(true);
        }
        self.write_slow(&Deadline::after(timeout))
    }

    unsafe fn unlock_write(&self) -> Result<(), LockError> {
        let old = self.state.fetch_and(WRITER_WAITING, Ordering::Release);
        debug_assert!(old & WRITER != 0, "unlock_write of {old:#x}");
        self.wait.notify_all();
        Ok(())
    }
}

// SAFETY: an AtomicU32 and an AdaptiveWait (atomics, shared futex); no pointers; the
// all-zero bytes are the free state.
unsafe impl crate::ProcessShared for WriterPreferringRwLock {}

/// The loom suite's broken control: a `WriterPreferringRwLock` whose readers increment
/// the count without looking at the writer bits (no check that no writer holds or waits).
/// Loom must find a reader and a writer inside together.
#[cfg(loom)]
#[derive(Debug, Default)]
pub struct UncheckedReaderRwLock(WriterPreferringRwLock);

#[cfg(loom)]
impl UncheckedReaderRwLock {
    /// A free lock.
    pub fn new() -> Self {
        Self::default()
    }
}

// SAFETY: none, deliberately: the loom suite shows that this control breaks exclusion.
#[cfg(loom)]
unsafe impl RawRwLock for UncheckedReaderRwLock {
    const NAME: &'static str = "rw-unchecked-reader";
    fn init(slot: &mut MaybeUninit<Self>) -> Result<(), LockError> {
        slot.write(Self::new());
        Ok(())
    }
    fn read(&self) -> Result<(), LockError> {
        self.0
            .read_slow(&Deadline::never(), Reader::Unchecked)
            .map(|_| ())
    }
    fn try_read(&self) -> Result<bool, LockError> {
        Ok(self.0.try_read_once(Reader::Unchecked))
    }
    fn try_read_for(&self, timeout: Duration) -> Result<bool, LockError> {
        self.0
            .read_slow(&Deadline::after(timeout), Reader::Unchecked)
    }
    unsafe fn unlock_read(&self) -> Result<(), LockError> {
        // SAFETY: forwarded (the broken reader did increment the count).
        unsafe { self.0.unlock_read() }
    }
    fn write(&self) -> Result<(), LockError> {
        self.0.write()
    }
    fn try_write(&self) -> Result<bool, LockError> {
        self.0.try_write()
    }
    fn try_write_for(&self, timeout: Duration) -> Result<bool, LockError> {
        self.0.try_write_for(timeout)
    }
    unsafe fn unlock_write(&self) -> Result<(), LockError> {
        // SAFETY: forwarded.
        unsafe { self.0.unlock_write() }
    }
}
