//! `TicketLock`: FIFO-fair ticket lock whose waiters sleep on a futex.
//!
//! Algorithm: Mellor-Crummey & Scott (1991), the ticket lock: a locker takes the next
//! ticket with `fetch_add` and waits until `serving` reaches it; `unlock` advances
//! `serving`. Acquisitions through `lock` are granted in ticket order (FIFO). The waiter
//! whose turn is next spins briefly; the others sleep on the `serving` word, announcing it
//! with the `SLEEPERS` bit, which `unlock` clears with the same swap that advances the
//! count (one word, so no Dekker-style handshake is needed) and then wakes every sleeper.
//!
//! Limits (documented in `docs/strategies.md`): a ticket cannot be given back, so
//! `try_lock_for` does not queue: it takes the lock only when nobody holds or waits for it,
//! and may starve under steady contention. Death is **not** detected: no pid is recorded
//! per ticket, so a holder that dies, and equally a *waiter* killed while it holds a
//! ticket, wedges the lock for every later ticket (`lock` waits for ever; `try_lock_for`
//! returns false after its timeout). `tests/owner_death.rs` shows the waiter case. Use
//! another strategy where processes may be killed.
//!
//! Tested by `tests/loom_ticket_lock.rs` and the cross-process tests of `procshare`.

use crate::loom::{futex_wait, futex_wake, spin_loop, AtomicU32, Deadline, Ordering};
use crate::{LockError, RawLock};
use std::mem::MaybeUninit;
use std::time::Duration;

/// Set in `serving` while some waiter may sleep on it.
const SLEEPERS: u32 = 1 << 31;
/// Tickets and the serving count are 31-bit wrapping counters.
const COUNT: u32 = !SLEEPERS;

/// How long the next-in-line waiter spins before it sleeps.
const SPINS: u32 = if cfg!(loom) { 1 } else { 200 };

/// A FIFO ticket lock on two 32-bit words.
///
/// | word      | bits            | meaning                                   |
/// |-----------|-----------------|-------------------------------------------|
/// | `next`    | 0..31           | next ticket to hand out (wrapping)        |
/// | `serving` | 0..31           | ticket that holds the lock (wrapping)     |
/// | `serving` | 31 (`SLEEPERS`) | some waiter may sleep on `serving`        |
///
/// Unlocked when `next == serving` (ignoring `SLEEPERS`). Transitions: a locker
/// `fetch_add`s `next`; a waiter sets `SLEEPERS` (CAS) before sleeping; the holder swaps
/// `serving` to `serving + 1` with `SLEEPERS` clear (Release) and wakes all if it was set.
#[repr(C)]
#[derive(Debug)]
pub struct TicketLock {
    next: AtomicU32,
    serving: AtomicU32,
}

impl TicketLock {
    /// An unlocked ticket lock (for in-process use and loom models).
    pub fn new() -> Self {
        TicketLock {
            next: AtomicU32::new(0),
            serving: AtomicU32::new(0),
        }
    }

    /// How many tickets have been handed out so far (wrapping at `2^31`): a diagnostic
    /// that lets tests order waiters deterministically.
    pub fn tickets_issued(&self) -> u32 {
        self.next.load(Ordering::Relaxed) & COUNT
    }

    /// The ticket being served now (wrapping at `2^31`): inside a critical section, the
    /// holder's own ticket. A diagnostic for FIFO checks, like [`tickets_issued`].
    ///
    /// [`tickets_issued`]: TicketLock::tickets_issued
    pub fn now_serving(&self) -> u32 {
        self.serving.load(Ordering::Relaxed) & COUNT
    }

    /// Sleep until `serving` differs from `observed` (or the deadline passes), after
    /// announcing the sleep with `SLEEPERS`.
    fn sleep(&self, observed: u32, deadline: &Deadline) {
        if observed & SLEEPERS == 0
            && self
                .serving
                .compare_exchange(
                    observed,
                    observed | SLEEPERS,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_err()
        {
            return;
        }
        futex_wait(&self.serving, observed | SLEEPERS, deadline);
    }
}

impl Default for TicketLock {
    fn default() -> Self {
        Self::new()
    }
}

// SAFETY: exclusion: tickets are unique (fetch_add), and only the holder of ticket `t`
// (the one that observed `serving == t`) advances `serving` to `t + 1`. Ordering: waiters
// read `serving` with Acquire, the holder's swap is Release; `try_lock` acquires through an
// Acquire load of `serving` that read the releasing swap. Two AtomicU32s, no pointers,
// shared futex. `try_lock_for` returns false only once its `Deadline` has expired.
unsafe impl RawLock for TicketLock {
    const NAME: &'static str = "ticket";
    type GuardMarker = crate::GuardSend;

    fn init(slot: &mut MaybeUninit<Self>) -> Result<(), LockError> {
        slot.write(TicketLock::new());
        Ok(())
    }

    fn lock(&self) -> Result<(), LockError> {
        let ticket = self.next.fetch_add(1, Ordering::Relaxed) & COUNT;
        let mut spins = 0;
        loop {
            let s = self.serving.load(Ordering::Acquire);
            let turn = s & COUNT;
            if turn == ticket {
                return Ok(());
            }
            if ticket.wrapping_sub(turn) & COUNT == 1 && spins < SPINS {
                spins += 1;
                spin_loop();
            } else {
                self.sleep(s, &Deadline::never());
            }
        }
    }

    fn try_lock(&self) -> Result<bool, LockError> {
        let turn = self.serving.load(Ordering::Acquire) & COUNT;
        let next = self.next.load(Ordering::Relaxed);
        Ok(next & COUNT == turn
            && self
                .next
                .compare_exchange(
                    next,
                    next.wrapping_add(1),
                    Ordering::Acquire,
                    Ordering::Relaxed,
                )
                .is_ok())
    }

    fn try_lock_for(&self, timeout: Duration) -> Result<bool, LockError> {
        let deadline = Deadline::after(timeout);
        loop {
            let s = self.serving.load(Ordering::Acquire);
            let next = self.next.load(Ordering::Relaxed);
            if next & COUNT == s & COUNT {
                if self
                    .next
                    .compare_exchange(
                        next,
                        next.wrapping_add(1),
                        Ordering::Acquire,
                        Ordering::Relaxed,
                    )
                    .is_ok()
                {
                    return Ok(true);
                }
                continue;
            }
            if deadline.expired() {
                return Ok(false);
            }
            self.sleep(s, &deadline);
        }
    }

    unsafe fn unlock(&self) -> Result<(), LockError> {
        let turn = self.serving.load(Ordering::Relaxed) & COUNT;
        let prev = self
            .serving
            .swap(turn.wrapping_add(1) & COUNT, Ordering::Release);
        if prev & SLEEPERS != 0 {
            futex_wake(&self.serving, u32::MAX);
        }
        Ok(())
    }
}
