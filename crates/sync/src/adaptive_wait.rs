//! `AdaptiveWait`: wait until a predicate over shared words holds — spin briefly, then
//! sleep on a futex that a waker touches only when a sleeper has announced itself.
//!
//! One implementation shared by every blocking primitive whose condition is a predicate
//! over other words: [`Event`](crate::Event), the waiter slots of
//! [`Condition`](crate::Condition), [`Semaphore`](crate::Semaphore) and
//! [`BoundedSemaphore`](crate::BoundedSemaphore), and the not-empty / not-full sides of
//! the queue. It is an *eventcount* (Vyukov's name; the same scheme as Linux's
//! `wait_event`/`wake_up` with a waitqueue-active check, and folly's `EventCount`):
//!
//! * the **waiter** re-checks its predicate first in a clock-free poll of 64 checks
//!   ([`AdaptiveWait::poll`]; skipped with a finite deadline, whose expiry is checked
//!   first), then in a busy-wait of at most
//!   [`loom::SPIN_BUDGET`](crate::loom::SPIN_BUDGET) (20 µs), which is where a peer that runs on
//!   another CPU answers (the budget shrinks to 1/16 while spins on this object keep
//!   failing, as on an oversubscribed machine, and grows back when they succeed); only
//!   then does it announce itself in `sleepers`, re-check once more, and `futex_wait` on
//!   `epoch`;
//! * the **waker**, after publishing its change (the store that makes the predicate true),
//!   looks at `sleepers`: zero means nobody can be asleep, and it returns without a system
//!   call; otherwise it bumps `epoch` and `futex_wake`s it.
//!
//! So while both sides keep up, neither makes a system call: the waiter sees the change
//! while spinning and never announces itself, and the waker finds `sleepers == 0`.
//!
//! # The handshake and its memory ordering
//!
//! This is a Dekker-style "store mine, then load yours" on both sides:
//!
//! ```text
//! waiter                                  waker
//!   sleepers += 1          (W1)             publish: state.store(.., Release)   (N1)
//!   e = epoch.load(Acquire)                 fence(SeqCst)                       (Fn)
//!   fence(SeqCst)          (Fw)             sleepers.load()                     (N2)
//!   ready()? read state    (W2)             if > 0: epoch += 1 (Release); futex_wake
//!   futex_wait(epoch, e)
//!   (after a wake: again from the epoch load; sleepers -= 1 once it stops waiting)
//! ```
//!
//! The two `SeqCst` fences are totally ordered. If `Fw` comes first, `N2` reads `W1` (or a
//! later value, which still counts this waiter: it leaves `sleepers` only after it stopped
//! waiting), so the waker bumps `epoch` and wakes: the waiter's `futex_wait` either finds
//! `epoch != e` and returns at once, or is already queued and is woken. If `Fn` comes first,
//! `W2` sees the published state and the waiter does not sleep. Without the fences both
//! loads may read the old values (store buffering: every CPU does it, x86 included) and the
//! waiter sleeps through the only wake-up; the loom suite keeps such a variant and checks
//! that loom finds the lost wake-up. Fences, not `SeqCst` accesses, because the caller's
//! publishing store may have any ordering (and loom 0.7 models `SeqCst` accesses as
//! `AcqRel`, so it checks only the fence form). The `epoch` load is `Acquire` and the bump
//! `Release`: a waiter that reads the bumped value has synchronised with the waker and its
//! `ready()` sees the published state.
//!
//! # Claimed changes: a waker without a fence
//!
//! A waker's fence costs a full barrier (`mfence`, tens of cycles) on every publish. A waker
//! whose change is *claimed* first can do without it: the queue's producer claims its slot
//! with a `SeqCst` compare-exchange on `tail` before it writes and publishes the message,
//! and a consumer claims with one on `head` before it releases the slot. Such a waker calls
//! [`AdaptiveWait::notify_all_after_claim`], which only loads `sleepers` (`SeqCst`), and its
//! waiters use [`AdaptiveWait::wait_until_pending`], whose `pending()` reads the claimed word:
//!
//! ```text
//! waiter                                  waker
//!   sleepers += 1          (W1)             claim: tail.CAS(.., SeqCst)         (C)
//!   e = epoch.load(Acquire)                 write; publish (Release)
//!   fence(SeqCst)          (Fw)             sleepers.load(SeqCst)               (N2)
//!   ready()? pending()?    (W2)             if > 0: epoch += 1; futex_wake
//!   pending: nap (a bounded sleep), then again; else futex_wait(epoch, e)
//! ```
//!
//! `C`, `Fw` and `N2` all take part in the single total order S of `SeqCst` operations, and
//! `C` precedes `N2` in it (same thread, in that order). If `Fw` precedes `C`, it precedes
//! `N2`, which therefore reads `W1` or later (C++20 \[atomics.order\]: a `SeqCst` load that
//! follows a `SeqCst` fence in S sees what was sequenced before the fence), and the waker
//! wakes. If `C` precedes `Fw`, `W2` sees the claim (a load sequenced after a `SeqCst` fence
//! sees a `SeqCst` write that precedes the fence in S): `pending()` says so unless the
//! change is published already, and the waiter [`nap`](crate::loom::nap)s — re-checks after
//! 50 µs, 100 µs, … at most 1 ms — instead of trusting a wake that may not come. So a
//! claimed change is never slept through, and the common case, a waker with nobody asleep,
//! costs one load where it cost a fence and a load (measured: the queue's 1→1 throughput
//! went from 0.44× to 0.55× the raw ring's). Loom 0.7 treats `SeqCst` accesses as `AcqRel`,
//! so under loom the claim is followed by `fence(SeqCst)`
//! ([`loom::after_seq_cst_rmw`](crate::loom::after_seq_cst_rmw), nothing in a real build)
//! and the models check the same two cases with fences; the queue's broken-variant suite
//! keeps a waiter that ignores the pending claim, and loom finds its lost wake-up.
//!
//! # State table
//!
//! | word       | value | meaning                                                        |
//! |------------|-------|----------------------------------------------------------------|
//! | `sleepers` | `0`   | nobody is past its announcement: a waker makes no system call  |
//! | `sleepers` | `k>0` | `k` waiters announced themselves; each may be in `futex_wait`  |
//! | `epoch`    | any   | the futex word; changes only when a waker found sleepers       |
//! | `spin_shift` | `0..=4` | the spin budget is `SPIN_BUDGET >> spin_shift` (a heuristic, not |
//! |            |       | part of the protocol; absent under loom)                       |
//!
//! | transition                      | made by                                          |
//! |---------------------------------|--------------------------------------------------|
//! | `sleepers + 1` (Relaxed) + fence| a waiter whose spin ran out, before its last check|
//! | `sleepers - 1` (Relaxed)        | that waiter, once it stops waiting (any outcome) |
//! | `epoch + 1` (Release), then wake| a waker that found `sleepers > 0` after its fence|
//! | `spin_shift ± 1` (Relaxed)      | a waiter whose spin failed (+1) or succeeded (−1)|
//!
//! All-zero memory is the initial state, so an `AdaptiveWait` may live in a freshly mapped
//! (zero-filled) region without initialisation.
//!
//! # What a wake guarantees
//!
//! After a waker published a change and called [`AdaptiveWait::notify_all`], every waiter
//! that was waiting re-checks its predicate; after [`AdaptiveWait::notify_one`] at least one
//! of them does (a wake bumps `epoch`, so waiters between their announcement and their sleep
//! re-check too; the kernel wakes one of those already asleep). Wake-ups may be spurious:
//! the predicate decides. A waiter that is SIGKILLed while announced leaves `sleepers` one
//! too high for good: nothing is lost, but every later notify of that object makes a (useless)
//! `futex_wake` system call. `epoch` wraps after 2³² wakes; a waiter would sleep through a
//! change only if exactly 2³² wakes happened between its `epoch` load and its `futex_wait`.
//!
//! # Deadlines, liveness slices and the harness
//!
//! Each futex sleep is bounded by the [`Deadline`] given to [`AdaptiveWait::wait_until`]: a
//! caller's timeout ([`Deadline::after`]), or one bounded by the liveness slice too
//! ([`Deadline::or_liveness_check`], [`Deadline::or_liveness_check_of`]), after which the
//! call returns `false` and the caller checks its own deadline and its peers' liveness and
//! calls again. Under a controlled scheduler (the harness) there is no spinning — who runs
//! is the scheduler's choice, spinning would only repeat idle steps — and the futex wait is
//! decided by the scheduler with virtual time, so the wait adds no schedule point of its own
//! (with atomic granularity every access to `sleepers` and `epoch` is one). Under loom the
//! spin is one extra check without a yield (see `spin`), and a finite deadline may expire
//! at any step.
//!
//! Tested by the unit tests below, by `tests/loom_adaptive_wait.rs` (2 and 3 threads: no
//! lost wake-up, `notify_all` with several sleepers, `notify_one` with two, timeouts at any
//! step, and broken variants — a waker without the fence, a waiter without it, a waker that
//! notifies before it publishes — that loom must reject), and through the objects built on
//! it (their loom suites, `tests/sync_objects.rs`, the harness catalog).

use crate::loom::{
    end_naps, fence, futex_wait, futex_wake, nap, nap_ticket, AtomicU32, Deadline, Ordering, Wake,
};
#[cfg(not(loom))]
use crate::loom::{spin_loop, SpinBudget, SPIN_BUDGET};
use crate::ProcessShared;

/// Predicate checks between two looks at the spin clock.
#[cfg(not(loom))]
const CHECKS_PER_CLOCK: u32 = 16;
/// Predicate checks of [`AdaptiveWait::poll`]: a clock-free busy-wait short enough to be
/// cheap when it fails (well under the shortest spin) and long enough to cover a peer
/// that is running on another CPU and about to publish.
#[cfg(not(loom))]
const POLL_CHECKS: u32 = 64;
/// The shortest spin is `SPIN_BUDGET >> MAX_SPIN_SHIFT`.
#[cfg(not(loom))]
const MAX_SPIN_SHIFT: u32 = 4;

/// An eventcount in shared memory: waiters wait until a predicate holds, wakers notify
/// after making it hold. See the [module docs](self) for the protocol, its state table and
/// its memory-ordering argument.
///
/// ```
/// use procshare_sync::AdaptiveWait;
/// use procshare_sync::loom::{AtomicU32, Deadline, Ordering};
///
/// let flag = AtomicU32::new(0);
/// let wait = AdaptiveWait::new();
/// std::thread::scope(|s| {
///     s.spawn(|| {
///         flag.store(1, Ordering::Release); // publish first,
///         wait.notify_all(); // then notify
///     });
///     assert!(wait.wait_until(|| flag.load(Ordering::Acquire) == 1, &Deadline::never()));
/// });
/// ```
#[repr(C)]
#[derive(Debug)]
pub struct AdaptiveWait {
    /// The futex word sleepers wait on; bumped by every notify that finds sleepers.
    epoch: AtomicU32,
    /// Waiters past their announcement (see the state table).
    sleepers: AtomicU32,
    /// How much the spin is shortened: the budget is `SPIN_BUDGET >> spin_shift`. A
    /// heuristic, read and written with relaxed accesses (a lost update only costs a
    /// little spinning); not part of the protocol, so not modelled under loom.
    #[cfg(not(loom))]
    spin_shift: AtomicU32,
}

/// Whether the handshake's fences are in place (false only in the loom suite's broken
/// controls, see `broken.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fences {
    /// The real protocol.
    On,
    /// The broken control: no `fence(SeqCst)` on this side.
    #[cfg(loom)]
    Off,
}

/// How the spin phase ended.
enum Spun {
    Ready,
    #[cfg_attr(
        loom,
        allow(dead_code, reason = "loom's spin round never looks at the clock")
    )]
    Expired,
    Sleep,
}

impl AdaptiveWait {
    /// Nobody waiting (the all-zero state).
    pub fn new() -> Self {
        AdaptiveWait {
            epoch: AtomicU32::new(0),
            sleepers: AtomicU32::new(0),
            #[cfg(not(loom))]
            spin_shift: AtomicU32::new(0),
        }
    }

    /// Wait until `ready()` returns true, or until `deadline` passes.
    ///
    /// Returns true as soon as `ready()` returned true (it is not called again after that,
    /// so it may consume what it found, e.g. take a semaphore unit), false once a futex
    /// sleep bounded by `deadline` timed out — i.e. the deadline or, for a
    /// [`Deadline::or_liveness_check`] deadline, the liveness slice passed — and a last
    /// `ready()` still said no. Never false before `deadline` passed.
    ///
    /// `ready()` runs many times (in the spin, after the announcement, after each wake);
    /// it must read the state with `Acquire` (or stronger) to see what a waker published.
    /// The waker must publish *before* calling `notify_*`.
    #[inline]
    pub fn wait_until(&self, mut ready: impl FnMut() -> bool, deadline: &Deadline) -> bool {
        if ready() {
            return true;
        }
        self.wait_slow(&mut ready, &mut || false, deadline, Fences::On)
    }

    /// [`AdaptiveWait::wait_until`] for a waiter whose wakers use
    /// [`AdaptiveWait::notify_all_after_claim`]: after its announcement, while `ready()`
    /// says no but `pending()` says a peer has claimed the change it waits for and not
    /// published it yet, it [`nap`]s (re-checks after a bounded sleep) instead of sleeping
    /// until woken, because that peer's notify may not see it. `pending` must read, with
    /// `Acquire`, the word the peers' claiming `SeqCst` read-modify-write changes. See
    /// "Claimed changes" in the [module docs](self).
    #[inline]
    pub fn wait_until_pending(
        &self,
        mut ready: impl FnMut() -> bool,
        mut pending: impl FnMut() -> bool,
        deadline: &Deadline,
    ) -> bool {
        if ready() {
            return true;
        }
        self.wait_slow(&mut ready, &mut pending, deadline, Fences::On)
    }

    /// Re-check `ready()` a few times (64) in a busy-wait that never reads the clock;
    /// true as soon as it returns true. For callers that have a deadline to compute
    /// before [`AdaptiveWait::wait_until`] (reading the clock costs more than a message
    /// between two running processes): they poll first and compute the deadline only if
    /// the poll fails. Under a controlled scheduler, and under loom, one check.
    #[inline]
    pub fn poll(&self, mut ready: impl FnMut() -> bool) -> bool {
        ready() || self.poll_only(&mut ready)
    }

    /// The busy-wait of [`AdaptiveWait::poll`] without its first check: nothing under a
    /// controlled scheduler or loom (there, who runs is a choice, and spinning would only
    /// repeat idle steps).
    #[inline]
    fn poll_only(&self, ready: &mut impl FnMut() -> bool) -> bool {
        #[cfg(not(loom))]
        if !crate::hook::is_active() {
            for _ in 0..POLL_CHECKS {
                spin_loop();
                if ready() {
                    return true;
                }
            }
        }
        #[cfg(loom)]
        let _ = ready;
        false
    }

    /// The spin, the announcement and the sleeps (naps while `pending()`); `fences` is
    /// [`Fences::On`] except in the broken controls.
    #[inline(never)]
    pub(crate) fn wait_slow(
        &self,
        ready: &mut impl FnMut() -> bool,
        pending: &mut impl FnMut() -> bool,
        deadline: &Deadline,
        fences: Fences,
    ) -> bool {
        if deadline.is_finite() {
            if deadline.expired() {
                return false;
            }
        } else if self.poll_only(ready) {
            // Without a finite deadline, a peer that answers within a few hundred
            // nanoseconds is seen before any look at the clock (the spin budget's).
            return true;
        }
        match self.spin(ready, deadline) {
            Spun::Ready => return true,
            Spun::Expired => return false,
            Spun::Sleep => {}
        }
        self.sleepers.fetch_add(1, Ordering::Relaxed);
        let mut naps = 0;
        let outcome = loop {
            let ticket = nap_ticket();
            let epoch = self.epoch.load(Ordering::Acquire);
            if fences == Fences::On {
                fence(Ordering::SeqCst);
            }
            if ready() {
                break true;
            }
            let woke = if pending() {
                naps += 1;
                nap(&self.epoch, epoch, deadline, naps - 1, ticket)
            } else {
                futex_wait(&self.epoch, epoch, deadline)
            };
            if woke == Wake::TimedOut {
                break ready();
            }
        };
        self.sleepers.fetch_sub(1, Ordering::Relaxed);
        outcome
    }

    /// Wake one waiter (at least one re-checks its predicate), after the caller published
    /// its change. Returns whether it made a system call (somebody had announced itself).
    #[inline]
    pub fn notify_one(&self) -> bool {
        self.notify(1, Fences::On)
    }

    /// Wake every waiter, after the caller published its change. Returns whether it made a
    /// system call (somebody had announced itself).
    #[inline]
    pub fn notify_all(&self) -> bool {
        self.notify(u32::MAX, Fences::On)
    }

    /// [`AdaptiveWait::notify_all`] without the fence, for a waker whose change was
    /// *claimed* first: it made the change after a `SeqCst` read-modify-write (followed by
    /// [`loom::after_seq_cst_rmw`](crate::loom::after_seq_cst_rmw)) that its waiters'
    /// `pending` check of [`AdaptiveWait::wait_until_pending`] sees. Correct only with
    /// waiters that wait that way; see "Claimed changes" in the [module docs](self).
    #[inline]
    pub fn notify_all_after_claim(&self) -> bool {
        let sleepers = self.sleepers.load(Ordering::SeqCst);
        end_naps(&self.epoch);
        if sleepers == 0 {
            return false;
        }
        self.wake(u32::MAX);
        true
    }

    /// Wake up to `n` sleepers if any announced itself; `fences` as in
    /// [`AdaptiveWait::wait_slow`].
    #[inline]
    pub(crate) fn notify(&self, n: u32, fences: Fences) -> bool {
        if fences == Fences::On {
            fence(Ordering::SeqCst);
        }
        if self.sleepers.load(Ordering::Relaxed) == 0 {
            return false;
        }
        self.wake(n);
        true
    }

    #[cold]
    #[inline(never)]
    fn wake(&self, n: u32) {
        self.epoch.fetch_add(1, Ordering::Release);
        futex_wake(&self.epoch, n);
    }

    /// How many waiters have announced themselves (a snapshot; for tests and reports).
    pub fn sleepers(&self) -> u32 {
        self.sleepers.load(Ordering::Relaxed)
    }
}

impl Default for AdaptiveWait {
    fn default() -> Self {
        Self::new()
    }
}

impl AdaptiveWait {
    /// The bounded busy-wait: re-check `ready` until the spin budget is spent or (for a
    /// finite deadline) the deadline passes. No spinning under a controlled scheduler.
    ///
    /// The budget adapts: [`SPIN_BUDGET`] halved once per spin of this object that ended
    /// in a sleep, down to 1/16 of it (1.25 µs, still longer than a round trip between two
    /// running processes), and doubled back by every spin that succeeds. So a peer that
    /// answers while running keeps the full spin, and an oversubscribed machine (the peer
    /// waits for a CPU this spinner holds) soon spins only briefly before it sleeps.
    #[cfg(not(loom))]
    #[inline]
    fn spin(&self, ready: &mut impl FnMut() -> bool, deadline: &Deadline) -> Spun {
        if crate::hook::is_active() {
            return Spun::Sleep;
        }
        let shift = self.spin_shift.load(Ordering::Relaxed).min(MAX_SPIN_SHIFT);
        let mut budget = SpinBudget::start(SPIN_BUDGET / (1 << shift));
        let outcome = 'spin: loop {
            for _ in 0..CHECKS_PER_CLOCK {
                spin_loop();
                if ready() {
                    break 'spin Spun::Ready;
                }
            }
            if budget.spent() {
                break Spun::Sleep;
            }
            if deadline.is_finite() && deadline.expired() {
                return Spun::Expired;
            }
        };
        let next = match outcome {
            Spun::Ready => shift.saturating_sub(1),
            _ => (shift + 1).min(MAX_SPIN_SHIFT),
        };
        if next != shift {
            self.spin_shift.store(next, Ordering::Relaxed);
        }
        outcome
    }

    /// Under loom the spin is one more check, without a yield. The round is bounded, so it
    /// needs no yield to let the model advance, and a yield would hide bugs: after one,
    /// loom no longer lets a load return a value the thread saw before it, which rules out
    /// exactly the stale reads (store buffering) that the handshake's fences exist for.
    #[cfg(loom)]
    fn spin(&self, ready: &mut impl FnMut() -> bool, _deadline: &Deadline) -> Spun {
        if ready() {
            Spun::Ready
        } else {
            Spun::Sleep
        }
    }
}

// SAFETY: AtomicU32 words, no pointers; the futex is shared (no FUTEX_PRIVATE_FLAG), and
// the all-zero bytes are its initial state.
unsafe impl ProcessShared for AdaptiveWait {}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;
    use std::time::{Duration, Instant};

    #[test]
    fn ready_at_once_returns_true_without_announcing() {
        let w = AdaptiveWait::new();
        assert!(w.wait_until(|| true, &Deadline::never()));
        assert_eq!(w.sleepers(), 0);
    }

    #[test]
    fn poll_checks_a_bounded_number_of_times_and_never_announces() {
        let w = AdaptiveWait::new();
        let mut calls = 0;
        assert!(!w.poll(|| {
            calls += 1;
            false
        }));
        assert_eq!(calls, POLL_CHECKS + 1, "one check, then the busy-wait's");
        assert_eq!(w.sleepers(), 0);
        let mut calls = 0;
        assert!(w.poll(|| {
            calls += 1;
            calls == 3
        }));
        assert_eq!(calls, 3, "stops at the first true");
    }

    #[test]
    fn notify_without_sleepers_makes_no_system_call() {
        let w = AdaptiveWait::new();
        assert!(!w.notify_one());
        assert!(!w.notify_all());
        assert_eq!(
            w.epoch.load(Ordering::Relaxed),
            0,
            "epoch moved without sleepers"
        );
    }

    #[test]
    fn timed_wait_returns_false_never_early_and_leaves_no_sleeper() {
        let w = AdaptiveWait::new();
        let timeout = Duration::from_millis(30);
        let t0 = Instant::now();
        assert!(!w.wait_until(|| false, &Deadline::after(timeout)));
        assert!(t0.elapsed() >= timeout, "returned after {:?}", t0.elapsed());
        assert_eq!(w.sleepers(), 0);
    }

    #[test]
    fn zero_timeout_checks_once_and_does_not_spin() {
        let w = AdaptiveWait::new();
        let mut calls = 0;
        assert!(!w.wait_until(
            || {
                calls += 1;
                false
            },
            &Deadline::after(Duration::ZERO)
        ));
        assert_eq!(calls, 1, "an expired deadline still spun");
    }

    #[test]
    fn ready_consumes_exactly_once() {
        // A predicate with a side effect (like a semaphore's try_acquire) runs until it
        // succeeds, and never after.
        let w = AdaptiveWait::new();
        let mut left = 3;
        let mut after = 0;
        assert!(w.wait_until(
            || {
                if left == 0 {
                    after += 1;
                    return true;
                }
                left -= 1;
                false
            },
            &Deadline::never()
        ));
        assert_eq!(after, 1);
    }

    #[test]
    fn a_sleeper_is_counted_and_woken_by_notify() {
        let w = AdaptiveWait::new();
        let flag = AtomicBool::new(false);
        // Set by the waiter's predicate once it runs after the announcement (the last
        // check before the futex wait): from then on the waiter stays counted until it
        // sees the flag, so the notify below must find it. (Waiting for `sleepers` alone
        // let the waiter's last check see the flag and leave before the notify looked.)
        let checked_announced = AtomicBool::new(false);
        std::thread::scope(|s| {
            let waiter = s.spawn(|| {
                w.wait_until(
                    || {
                        if w.sleepers() > 0 {
                            checked_announced.store(true, Ordering::Release);
                        }
                        flag.load(Ordering::Acquire)
                    },
                    &Deadline::never(),
                )
            });
            // Past its spin, the waiter announces itself; then (and only then) the notify
            // must make the system call.
            while !checked_announced.load(Ordering::Acquire) {
                std::thread::yield_now();
            }
            flag.store(true, Ordering::Release);
            assert!(w.notify_one(), "an announced sleeper was not woken");
            assert!(waiter.join().unwrap());
        });
        assert_eq!(w.sleepers(), 0);
        assert_eq!(w.epoch.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn notify_all_wakes_every_sleeper() {
        let w = AdaptiveWait::new();
        let flag = AtomicBool::new(false);
        // As in the test above: a check that sees all three announced was made by an
        // announced waiter, which then stays counted until it is woken.
        let checked_announced = AtomicBool::new(false);
        std::thread::scope(|s| {
            let waiters: Vec<_> = (0..3)
                .map(|_| {
                    s.spawn(|| {
                        w.wait_until(
                            || {
                                if w.sleepers() == 3 {
                                    checked_announced.store(true, Ordering::Release);
                                }
                                flag.load(Ordering::Acquire)
                            },
                            &Deadline::never(),
                        )
                    })
                })
                .collect();
            while w.sleepers() < 3 || !checked_announced.load(Ordering::Acquire) {
                std::thread::yield_now();
            }
            flag.store(true, Ordering::Release);
            assert!(w.notify_all());
            for t in waiters {
                assert!(t.join().unwrap());
            }
        });
        assert_eq!(w.sleepers(), 0);
    }

    #[test]
    fn the_spin_shortens_after_a_failed_spin_and_grows_back_after_a_success() {
        let w = AdaptiveWait::new();
        // Fails: the spin ends in a sleep (bounded by the liveness slice, which is not a
        // finite deadline, so the spin cannot end early as "expired").
        assert!(!w.wait_until(|| false, &Deadline::never().or_liveness_check()));
        assert_eq!(w.spin_shift.load(Ordering::Relaxed), 1);
        assert!(!w.wait_until(|| false, &Deadline::never().or_liveness_check()));
        assert_eq!(w.spin_shift.load(Ordering::Relaxed), 2);
        // Succeeds within the clock-free poll: the spin never started, its length stays.
        let mut calls = 0;
        assert!(w.wait_until(
            || {
                calls += 1;
                calls == 3
            },
            &Deadline::never()
        ));
        assert_eq!(w.spin_shift.load(Ordering::Relaxed), 2);
        // Succeeds on the spin's first check (the check before it and the clock-free
        // poll's said no).
        let mut calls = 0;
        assert!(w.wait_until(
            || {
                calls += 1;
                calls == POLL_CHECKS + 2
            },
            &Deadline::never()
        ));
        assert_eq!(w.spin_shift.load(Ordering::Relaxed), 1);
        assert_eq!(w.sleepers(), 0);
    }

    #[test]
    fn a_pending_claim_is_re_checked_without_any_wake() {
        // The waker publishes and never notifies (as a claimed-change notify may miss a
        // waiter): with `pending()` true the waiter naps and finds the change itself.
        let w = AdaptiveWait::new();
        let flag = AtomicBool::new(false);
        let checked_announced = AtomicBool::new(false);
        std::thread::scope(|s| {
            let waiter = s.spawn(|| {
                w.wait_until_pending(
                    || {
                        if w.sleepers() > 0 {
                            checked_announced.store(true, Ordering::Release);
                        }
                        flag.load(Ordering::Acquire)
                    },
                    || true,
                    &Deadline::after(Duration::from_secs(30)),
                )
            });
            while !checked_announced.load(Ordering::Acquire) {
                std::thread::yield_now();
            }
            flag.store(true, Ordering::Release);
            assert!(
                waiter.join().unwrap(),
                "the waiter slept through an unnotified change"
            );
        });
        assert_eq!(w.epoch.load(Ordering::Relaxed), 0, "somebody notified");
        assert_eq!(w.sleepers(), 0);
    }

    #[test]
    fn without_a_pending_claim_an_unnotified_change_waits_for_the_deadline() {
        // The control of the test above: with `pending()` false the waiter trusts the
        // wake, so a change nobody notifies is not seen before the timeout.
        let w = AdaptiveWait::new();
        let mut checks_after_announcing = 0;
        let timeout = Duration::from_millis(20);
        let t0 = Instant::now();
        assert!(!w.wait_until_pending(
            || {
                if w.sleepers() > 0 {
                    checks_after_announcing += 1;
                }
                false
            },
            || false,
            &Deadline::after(timeout)
        ));
        assert!(t0.elapsed() >= timeout);
        assert_eq!(
            checks_after_announcing, 2,
            "one check before the sleep, one after it timed out: no naps"
        );
    }

    #[test]
    fn a_nap_that_runs_out_is_a_wake_and_only_the_deadline_times_out() {
        use crate::loom::{nap, NAP};
        let word = AtomicU32::new(0);
        let t0 = Instant::now();
        assert_eq!(
            nap(&word, 0, &Deadline::after(Duration::from_secs(30)), 0, 0),
            Wake::Woken
        );
        assert!(t0.elapsed() >= NAP.0, "napped {:?}", t0.elapsed());
        assert_eq!(
            nap(&word, 1, &Deadline::never(), 0, 0),
            Wake::Changed,
            "the word differs: no sleep"
        );
        let deadline = Deadline::after(Duration::from_millis(2));
        let mut round = 0;
        let outcome = loop {
            match nap(&word, 0, &deadline, round, 0) {
                Wake::Woken => round += 1,
                other => break other,
            }
        };
        assert_eq!(outcome, Wake::TimedOut);
        assert!(deadline.expired());
    }

    #[test]
    fn liveness_sliced_wait_returns_false_at_the_slice() {
        // A wait bounded only by the liveness slice returns false when the slice passes,
        // so that the caller can check its peers; its own deadline has not passed.
        let w = AdaptiveWait::new();
        let own = Deadline::never();
        let t0 = Instant::now();
        assert!(!w.wait_until(|| false, &own.or_liveness_check()));
        assert!(t0.elapsed() >= crate::loom::LIVENESS_SLICE);
        assert!(!own.expired());
        assert_eq!(w.sleepers(), 0);
    }
}
