//! The actor side: the schedule hook installed in every actor process, and its loop.
//!
//! An actor parks at every schedule point and waits for the controller's `go`. Futex
//! waits are not slept in the kernel: the actor records the word it waits on and parks
//! `BLOCKED`; a futex wake by the running actor that could release more sleepers than it
//! may (`n` of them) is left to the controller, which picks which sleepers it releases
//! (one choice per sleeper), so wake order is part of the schedule. Time is virtual: no primitive reads the clock;
//! a deadline check parks at a `Timer` point, where the controller decides whether the
//! timer has expired, and a liveness slice passes only when the controller says so
//! (after a kill). Only the controller decides when a woken actor resumes, when a timed
//! wait expires and when a liveness check runs, so a run is a pure function of its
//! schedule.

use crate::control::{
    signal, sleep_on, Control, Slot, AT_POINT, BLOCKED, FINISHED, GO_EXPIRE, GO_LIVENESS, GO_QUIT,
    MAX_ACTORS, POINT_START, WAKE_REQS,
};
use crate::scenario::Recorder;
use procshare_sync::hook::{self, Point, Scheduler};
use procshare_sync::loom::{Deadline, WaitKind, Wake};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU32, Ordering};

/// Point codes stored in a slot (`Point` is `#[non_exhaustive]`, so it is mapped here).
pub(crate) fn point_code(p: Point) -> u32 {
    match p {
        Point::Acquire => 1,
        Point::Release => 2,
        Point::Load => POINT_LOAD,
        Point::Store => 4,
        Point::Spin => POINT_SPIN,
        Point::Timer => POINT_TIMER,
        Point::Send => 7,
        Point::Recv => 8,
        Point::Poll => 9,
        Point::AtomicLoad => POINT_ATOMIC_LOAD,
        Point::AtomicStore => 11,
        Point::AtomicRmw => 12,
        Point::Claim => 13,
        Point::Write => 14,
        Point::Publish => 15,
        Point::Read => 16,
        Point::Sleep => 17,
        Point::Wake => 18,
        _ => 99,
    }
}

/// Name of a point code, for traces.
pub(crate) fn point_name(code: u32) -> &'static str {
    match code {
        1 => "acquire",
        2 => "release",
        3 => "load",
        4 => "store",
        5 => "spin",
        POINT_TIMER => "timer",
        7 => "send",
        8 => "recv",
        9 => "poll",
        10 => "atomic load",
        11 => "atomic store",
        12 => "atomic rmw",
        13 => "claim",
        14 => "write",
        15 => "publish",
        16 => "read",
        17 => "sleep",
        18 => "wake",
        POINT_START => "start",
        POINT_BLOCKED => "wake",
        _ => "?",
    }
}

/// Code of `Point::Load`.
pub(crate) const POINT_LOAD: u32 = 3;
/// Code of `Point::AtomicLoad`.
pub(crate) const POINT_ATOMIC_LOAD: u32 = 10;

/// Code of `Point::Spin`.
pub(crate) const POINT_SPIN: u32 = 5;
/// Code of `Point::Timer`: a deadline check, where the controller may let time pass.
pub(crate) const POINT_TIMER: u32 = 6;

/// Pseudo-point of an actor blocked in a futex wait.
pub(crate) const POINT_BLOCKED: u32 = 101;

pub(crate) fn kind_code(kind: WaitKind) -> u32 {
    match kind {
        WaitKind::Untimed => 0,
        WaitKind::Liveness => 1,
        WaitKind::Deadline => 2,
        WaitKind::DeadlineOrLiveness => 3,
    }
}

pub(crate) const KIND_LIVENESS: u32 = 1;
pub(crate) const KIND_DEADLINE: u32 = 2;
pub(crate) const KIND_BOTH: u32 = 3;

/// Wait for a command in `go` (spinning briefly, then sleeping); consumes it.
pub(crate) fn wait_go(slot: &Slot) -> u32 {
    let mut spins = 0u32;
    loop {
        let g = slot.go.swap(0, Ordering::Acquire);
        if g != 0 {
            return g;
        }
        if spins < SPINS {
            spins += 1;
            // Yield rather than spin: actors and controller outnumber the cores, and the
            // process that should run next may be waiting for this one's core.
            std::thread::yield_now();
        } else {
            sleep_on(&slot.go, 0, &slot.go_sleeping, None);
        }
    }
}

/// How many times a parked process yields before it sleeps in the kernel.
pub(crate) const SPINS: u32 = 50;

struct ActorScheduler {
    control: &'static Control,
    me: usize,
}

impl ActorScheduler {
    fn slot(&self) -> &Slot {
        &self.control.slots[self.me]
    }

    fn park(&self, state: u32, point: u32) -> u32 {
        let slot = self.slot();
        slot.point.store(point, Ordering::Relaxed);
        slot.state.store(state, Ordering::Release);
        self.control.parked.fetch_add(1, Ordering::Release);
        signal(&self.control.parked, &self.control.controller_sleeping);
        wait_go(slot)
    }
}

impl Scheduler for ActorScheduler {
    fn point(&self, point: Point) {
        self.park(AT_POINT, point_code(point));
    }

    fn futex_wait(&self, word: &AtomicU32, expected: u32, deadline: &Deadline) -> Option<Wake> {
        let slot = self.slot();
        let timer = deadline.timer();
        if timer != 0 && slot.fired_timer.load(Ordering::Relaxed) == timer {
            return Some(Wake::TimedOut);
        }
        if word.load(Ordering::SeqCst) != expected {
            return Some(Wake::Changed);
        }
        slot.wait_addr
            .store(word as *const AtomicU32 as u64, Ordering::Relaxed);
        slot.wait_kind
            .store(kind_code(deadline.kind()), Ordering::Relaxed);
        slot.wait_value.store(expected, Ordering::Relaxed);
        slot.woken.store(0, Ordering::Relaxed);
        let go = self.park(BLOCKED, POINT_BLOCKED);
        slot.wait_addr.store(0, Ordering::Relaxed);
        Some(match go {
            GO_EXPIRE => {
                if timer != 0 {
                    slot.fired_timer.store(timer, Ordering::Relaxed);
                }
                Wake::TimedOut
            }
            GO_LIVENESS => Wake::TimedOut,
            _ => Wake::Woken,
        })
    }

    fn virtual_time(&self) -> bool {
        true
    }

    fn timer_expired(&self, timer: u32) -> bool {
        let slot = self.slot();
        if slot.fired_timer.load(Ordering::Relaxed) == timer {
            return true;
        }
        slot.timer.store(timer, Ordering::Relaxed);
        if self.park(AT_POINT, POINT_TIMER) == GO_EXPIRE {
            slot.fired_timer.store(timer, Ordering::Relaxed);
            return true;
        }
        false
    }

    fn liveness_due(&self) -> bool {
        self.control.kills.load(Ordering::Relaxed) != 0
    }

    fn futex_wake(&self, word: &AtomicU32, n: u32) -> bool {
        let addr = word as *const AtomicU32 as u64;
        let mut candidates = 0u32;
        for (j, slot) in self.control.slots.iter().enumerate() {
            if j != self.me
                && slot.state.load(Ordering::Acquire) == BLOCKED
                && slot.wait_addr.load(Ordering::Relaxed) == addr
                && slot.woken.load(Ordering::Relaxed) == 0
            {
                candidates |= 1 << j;
            }
        }
        // Sleepers named by an earlier wake still waiting for the controller's picks are
        // not woken yet, but that wake will take some of them: the controller resolves the
        // requests in order and skips whoever an earlier one released.
        if candidates.count_ones() <= n {
            mark_woken(self.control, candidates);
            return true;
        }
        let me = self.slot();
        let len = me.wake_reqs_len.load(Ordering::Relaxed) as usize;
        if len < WAKE_REQS {
            me.wake_reqs[len].store(
                u64::from(n) << 32 | u64::from(candidates),
                Ordering::Relaxed,
            );
            me.wake_reqs_len.store(len as u32 + 1, Ordering::Relaxed);
        } else {
            // Too many wakes between two points: hand this one out lowest actor first.
            let mut left = n;
            for j in 0..MAX_ACTORS {
                if left > 0 && candidates & (1 << j) != 0 {
                    mark_woken(self.control, 1 << j);
                    left -= 1;
                }
            }
        }
        true
    }
}

/// Mark the actors in `mask` woken.
pub(crate) fn mark_woken(control: &Control, mask: u32) {
    for (j, slot) in control.slots.iter().enumerate() {
        if mask & (1 << j) != 0 {
            slot.woken.store(1, Ordering::Relaxed);
        }
    }
}

/// The body of an actor process: install the hook, then run a case each time the
/// controller says so, until it says quit. Never returns.
pub(crate) fn actor_main(
    control: &'static Control,
    me: usize,
    atomic_points: bool,
    body: &dyn Fn(usize, &Recorder) -> Result<(), String>,
) -> ! {
    let scheduler: &'static ActorScheduler = Box::leak(Box::new(ActorScheduler { control, me }));
    hook::set_atomic_points(atomic_points);
    hook::install(Some(scheduler));
    let slot = &control.slots[me];
    let mut go = wait_go(slot);
    let recorder = Recorder::new(control, me as u32);
    loop {
        if go == GO_QUIT {
            hook::install(None);
            // SAFETY: leaving the actor process at once, as a forked child must.
            unsafe { libc::_exit(0) };
        }
        let outcome = catch_unwind(AssertUnwindSafe(|| body(me, &recorder)));
        let failure = match outcome {
            Ok(Ok(())) => None,
            Ok(Err(message)) => Some(message),
            Err(payload) => Some(
                payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "panic".into()),
            ),
        };
        if let Some(message) = failure {
            control.set_message(me, &message);
            slot.panicked.store(1, Ordering::Relaxed);
        }
        go = scheduler.park(FINISHED, 0);
    }
}

/// Used by the controller at the start of a case: an actor waiting in `wait_go` is
/// "parked at its start point".
pub(crate) fn is_parked(state: u32) -> bool {
    matches!(state, AT_POINT | BLOCKED | FINISHED) || state == crate::control::DEAD
}
