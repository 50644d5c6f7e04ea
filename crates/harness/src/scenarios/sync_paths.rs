//! Scenarios for the synchronisation objects' less travelled paths, each property checking
//! what the callers must be *told*, not only that they finish:
//!
//! * [`NotifyAll`]: a notifier sets a flag and `notify_all`s 2 or 3 waiters, which wait
//!   once with a timeout (its expiry a schedule choice), then without one, until they see
//!   the flag: every waiter sees it (nobody sleeps through the `notify_all`), and a `wait`
//!   that returned "notified" was notified after the flag was set;
//! * [`EventSetClear`]: `set` then at once `clear` while 2 or 3 processes `wait` with a
//!   timeout (its expiry a schedule choice): a wait that says the event was set returned
//!   after a `set` began (never a spurious "set");
//! * [`BarrierBreak`]: parties sleep in a barrier that cannot fill; another `abort`s (or
//!   `reset`s) it: every sleeper is told `BrokenBarrier`;
//! * [`BoundedOverRelease`]: processes acquire and release a `BoundedSemaphore(1)` while
//!   one extra release races them: exactly one release is refused, with
//!   `ReleasedTooManyTimes`, and the count ends at its bound;
//! * [`RLockNesting`]: processes take an `RLock` twice (nested) and release it twice,
//!   trying a release while not the owner first: every such release is refused with
//!   `NotOwner` or `NotLocked`, and the protected count is exact;
//! * [`WaiterKilled`]: two processes wait on a `Condition` for a flag, one of them may be
//!   killed anywhere (while it waits, too); the notifier sets the flag and notifies as
//!   many waiters as `waiting()` counts: the survivor sees the flag (a dead waiter never
//!   swallows the notification meant for a live one). The harness's clock is virtual, so
//!   only the quick liveness probe stands between a dead waiter and the notification.

use crate::{Event as HistoryEvent, Recorder, Scenario};
use procshare_shm::{RawValue, Shared};
use procshare_sync::{Barrier, BoundedSemaphore, Condition, Event, Lock, RLock, SyncError};
use std::time::Duration;

/// The timeout of the timed waits (virtual under the harness: only the expiry choice
/// matters).
const WAIT: Duration = Duration::from_millis(20);

/// Shared state of [`NotifyAll`].
#[derive(Debug)]
pub struct NotifyState {
    cond: Shared<Condition<Lock, 4>>,
    /// The flag, changed under the condition's lock.
    flag: RawValue<u32>,
    /// Waiters that saw the flag.
    saw: RawValue<u32>,
    /// `wait`s that returned "notified" while the flag was still clear.
    early: RawValue<u32>,
}

/// Actor 0 sets a flag and notifies all; the others wait for it.
#[derive(Debug)]
pub struct NotifyAll {
    waiters: usize,
}

impl NotifyAll {
    /// `waiters` waiters (2 or 3) and one notifier.
    pub fn new(waiters: usize) -> Self {
        NotifyAll { waiters }
    }
}

impl Scenario for NotifyAll {
    type State = NotifyState;
    fn name(&self) -> String {
        format!("notify-all-{}", self.waiters)
    }
    fn actors(&self) -> usize {
        self.waiters + 1
    }
    fn setup(&self) -> NotifyState {
        NotifyState {
            cond: Shared::new(Condition::new()).expect("shared memory"),
            flag: RawValue::new(0).expect("shared memory"),
            saw: RawValue::new(0).expect("shared memory"),
            early: RawValue::new(0).expect("shared memory"),
        }
    }
    fn reset(&self, s: &NotifyState) {
        s.flag.store(0);
        s.saw.store(0);
        s.early.store(0);
    }
    fn run(&self, s: &NotifyState, actor: usize, _: &Recorder) -> Result<(), String> {
        let e = |e: SyncError| e.to_string();
        s.cond.acquire().map_err(e)?;
        if actor == 0 {
            s.flag.store(1);
            s.cond.notify_all().map_err(e)?;
        } else {
            let mut timeout = Some(WAIT); // the first wait is timed, the others not
            while s.flag.load() == 0 {
                if s.cond.wait(timeout.take()).map_err(e)? && s.flag.load() == 0 {
                    s.early.fetch_add(1);
                }
            }
            s.saw.fetch_add(1);
        }
        s.cond.release().map_err(e)
    }
    fn check(&self, s: &NotifyState, _: &[HistoryEvent], _: &[usize]) -> Result<(), String> {
        if s.saw.load() != self.waiters as u32 {
            return Err(format!(
                "{} of {} waiters saw the flag",
                s.saw.load(),
                self.waiters
            ));
        }
        if s.early.load() != 0 {
            return Err(format!(
                "{} wait(s) reported a notification before it",
                s.early.load()
            ));
        }
        Ok(())
    }
}

const OP_SET: u32 = 1;
const OP_CLEAR: u32 = 2;
const OP_WAIT: u32 = 3;

/// Shared state of [`EventSetClear`].
#[derive(Debug)]
pub struct EventState {
    event: Shared<Event>,
}

/// Actor 0 sets and clears an event; the others wait on it with a timeout.
#[derive(Debug)]
pub struct EventSetClear {
    waiters: usize,
}

impl EventSetClear {
    /// `waiters` waiters (2 or 3) and one setter.
    pub fn new(waiters: usize) -> Self {
        EventSetClear { waiters }
    }
}

impl Scenario for EventSetClear {
    type State = EventState;
    fn name(&self) -> String {
        format!("event-set-clear-{}", self.waiters)
    }
    fn actors(&self) -> usize {
        self.waiters + 1
    }
    fn setup(&self) -> EventState {
        EventState {
            event: Shared::new(Event::new()).expect("shared memory"),
        }
    }
    fn reset(&self, s: &EventState) {
        s.event.clear();
    }
    fn run(&self, s: &EventState, actor: usize, rec: &Recorder) -> Result<(), String> {
        if actor == 0 {
            let op = rec.invoke(OP_SET, 0, 0);
            s.event.set();
            rec.ret(op, 0);
            let op = rec.invoke(OP_CLEAR, 0, 0);
            s.event.clear();
            rec.ret(op, 0);
        } else {
            let op = rec.invoke(OP_WAIT, 0, 0);
            let woke = s.event.wait(Some(WAIT));
            rec.ret(op, u64::from(woke));
        }
        Ok(())
    }
    fn op_name(&self, op: u32) -> String {
        match op {
            OP_SET => "set".into(),
            OP_CLEAR => "clear".into(),
            OP_WAIT => "wait".into(),
            _ => format!("op{op}"),
        }
    }
    fn check(&self, _: &EventState, history: &[HistoryEvent], _: &[usize]) -> Result<(), String> {
        let span = |op: u32, client: u32| {
            let call = history
                .iter()
                .find(|e| e.op == op && e.client == client && !e.is_return)?;
            let ret = history
                .iter()
                .find(|e| e.is_return && e.id == call.id && e.client == client)?;
            Some((call.clock, ret.clock, ret.value))
        };
        let Some((set_from, _, _)) = span(OP_SET, 0) else {
            return Err("the set was not recorded".into());
        };
        for w in 1..=self.waiters as u32 {
            let Some((_, to, woke)) = span(OP_WAIT, w) else {
                return Err(format!("waiter {w} did not finish"));
            };
            if woke == 1 && to < set_from {
                return Err(format!(
                    "waiter {w} was told the event was set before any set"
                ));
            }
        }
        Ok(())
    }
}

/// How [`BarrierBreak`] breaks the barrier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakHow {
    /// `Barrier::abort`.
    Abort,
    /// `Barrier::reset`.
    Reset,
}

/// Shared state of [`BarrierBreak`].
#[derive(Debug)]
pub struct BreakState {
    barrier: Shared<Barrier>,
    /// Sleepers told `BrokenBarrier`.
    told: RawValue<u32>,
}

/// Sleepers in a barrier one party too large to fill; actor 0 aborts or resets it.
#[derive(Debug)]
pub struct BarrierBreak {
    sleepers: usize,
    how: BreakHow,
}

impl BarrierBreak {
    /// `sleepers` parties wait (the barrier needs one more), then actor 0 breaks it.
    pub fn new(sleepers: usize, how: BreakHow) -> Self {
        BarrierBreak { sleepers, how }
    }
}

impl Scenario for BarrierBreak {
    type State = BreakState;
    fn name(&self) -> String {
        let how = match self.how {
            BreakHow::Abort => "abort",
            BreakHow::Reset => "reset",
        };
        format!("barrier-{how}-{}", self.sleepers)
    }
    fn actors(&self) -> usize {
        self.sleepers + 1
    }
    fn setup(&self) -> BreakState {
        let parties = self.sleepers as u32 + 1;
        BreakState {
            barrier: Shared::new(Barrier::new(parties).expect("parties")).expect("shared memory"),
            told: RawValue::new(0).expect("shared memory"),
        }
    }
    fn reset(&self, s: &BreakState) {
        let _ = s.barrier.reset();
        s.told.store(0);
    }
    fn run(&self, s: &BreakState, actor: usize, _: &Recorder) -> Result<(), String> {
        if actor == 0 {
            // Wait until every sleeper is inside, then break it.
            while s.barrier.n_waiting() < self.sleepers as u32 {
                procshare_sync::hook::point(procshare_sync::hook::Point::Spin);
            }
            match self.how {
                BreakHow::Abort => s.barrier.abort(),
                BreakHow::Reset => s.barrier.reset(),
            }
            .map_err(|e| e.to_string())
        } else {
            match s.barrier.wait() {
                Err(SyncError::BrokenBarrier) => {
                    s.told.fetch_add(1);
                    Ok(())
                }
                Ok(i) => Err(format!(
                    "a party passed a barrier that cannot fill (index {i})"
                )),
                Err(e) => Err(e.to_string()),
            }
        }
    }
    fn check(&self, s: &BreakState, _: &[HistoryEvent], _: &[usize]) -> Result<(), String> {
        if s.told.load() != self.sleepers as u32 {
            return Err(format!(
                "{} of {} sleepers were told the barrier broke",
                s.told.load(),
                self.sleepers
            ));
        }
        match self.how {
            BreakHow::Abort if !s.barrier.is_broken() => Err("abort left it unbroken".into()),
            BreakHow::Reset if s.barrier.is_broken() || s.barrier.n_waiting() != 0 => {
                Err("reset did not leave it reusable".into())
            }
            _ => Ok(()),
        }
    }
}

/// Shared state of [`BoundedOverRelease`].
#[derive(Debug)]
pub struct BoundedState {
    sem: Shared<BoundedSemaphore>,
    refused: RawValue<u32>,
}

/// Processes acquire and release a `BoundedSemaphore(1)`; actor 0 releases once more.
#[derive(Debug)]
pub struct BoundedOverRelease {
    actors: usize,
}

impl BoundedOverRelease {
    /// `actors` actors (actor 0 makes the extra release).
    pub fn new(actors: usize) -> Self {
        BoundedOverRelease { actors }
    }
}

impl Scenario for BoundedOverRelease {
    type State = BoundedState;
    fn name(&self) -> String {
        format!("bounded-over-release-{}", self.actors)
    }
    fn actors(&self) -> usize {
        self.actors
    }
    fn setup(&self) -> BoundedState {
        BoundedState {
            sem: Shared::new(BoundedSemaphore::new(1)).expect("shared memory"),
            refused: RawValue::new(0).expect("shared memory"),
        }
    }
    fn reset(&self, s: &BoundedState) {
        while s.sem.value() < 1 {
            let _ = s.sem.release();
        }
        s.refused.store(0);
    }
    fn run(&self, s: &BoundedState, actor: usize, _: &Recorder) -> Result<(), String> {
        let release = || match s.sem.release() {
            Ok(()) => Ok(()),
            Err(SyncError::ReleasedTooManyTimes { bound: 1 }) => {
                s.refused.fetch_add(1);
                Ok(())
            }
            Err(e) => Err(e.to_string()),
        };
        if actor == 0 {
            return release();
        }
        if s.sem.acquire_timeout(WAIT) {
            release()?;
        }
        Ok(())
    }
    fn check(&self, s: &BoundedState, _: &[HistoryEvent], _: &[usize]) -> Result<(), String> {
        if s.refused.load() != 1 {
            return Err(format!(
                "{} releases were refused; exactly one is one too many",
                s.refused.load()
            ));
        }
        if s.sem.value() != 1 {
            return Err(format!(
                "the count ends at {}, not its bound 1",
                s.sem.value()
            ));
        }
        Ok(())
    }
}

/// Shared state of [`RLockNesting`].
#[derive(Debug)]
pub struct NestingState {
    rlock: Shared<RLock>,
    count: RawValue<u64>,
    /// Releases by a non-owner that were refused.
    refused: RawValue<u32>,
}

/// Processes take an `RLock` twice and release it twice, after a refused release.
#[derive(Debug)]
pub struct RLockNesting {
    actors: usize,
}

impl RLockNesting {
    /// `actors` actors.
    pub fn new(actors: usize) -> Self {
        RLockNesting { actors }
    }
}

impl Scenario for RLockNesting {
    type State = NestingState;
    fn name(&self) -> String {
        format!("rlock-nesting-{}", self.actors)
    }
    fn actors(&self) -> usize {
        self.actors
    }
    fn setup(&self) -> NestingState {
        NestingState {
            rlock: Shared::new(RLock::new()).expect("shared memory"),
            count: RawValue::new(0).expect("shared memory"),
            refused: RawValue::new(0).expect("shared memory"),
        }
    }
    fn reset(&self, s: &NestingState) {
        s.count.store(0);
        s.refused.store(0);
    }
    fn run(&self, s: &NestingState, _: usize, _: &Recorder) -> Result<(), String> {
        let e = |e: SyncError| e.to_string();
        // Not the owner (nobody, or another actor, holds it): must be refused.
        match s.rlock.release() {
            Err(SyncError::NotOwner | SyncError::NotLocked) => {
                s.refused.fetch_add(1);
            }
            Ok(()) => return Err("a release by a non-owner succeeded".into()),
            Err(other) => return Err(other.to_string()),
        }
        s.rlock.acquire().map_err(e)?;
        s.rlock.acquire().map_err(e)?;
        if s.rlock.depth() != 2 {
            return Err(format!("nested depth {}", s.rlock.depth()));
        }
        let x = s.count.load();
        s.count.store(x + 1);
        s.rlock.release().map_err(e)?;
        if !s.rlock.is_owned() {
            return Err("one release of two freed the RLock".into());
        }
        s.rlock.release().map_err(e)
    }
    fn check(&self, s: &NestingState, _: &[HistoryEvent], _: &[usize]) -> Result<(), String> {
        if s.count.load() != self.actors as u64 {
            return Err(format!(
                "count {} after {} increments",
                s.count.load(),
                self.actors
            ));
        }
        if s.refused.load() != self.actors as u32 {
            return Err("a non-owner's release was not refused".into());
        }
        Ok(())
    }
}

/// Shared state of [`WaiterKilled`].
#[derive(Debug)]
pub struct WaiterState {
    cond: Shared<Condition<RLock, 4>>,
    /// The flag, changed under the condition's lock.
    flag: RawValue<u32>,
    /// Bit `k`: waiter `k` saw the flag.
    saw: RawValue<u32>,
}

/// Actor 0 sets a flag and notifies the live waiters; actors 1 and 2 wait for the flag;
/// one of the two may be killed at any point.
#[derive(Debug, Default)]
pub struct WaiterKilled;

impl WaiterKilled {
    /// Two waiters (one may be killed) and one notifier.
    pub fn new() -> Self {
        WaiterKilled
    }
}

/// Acquire `cond`'s `RLock`; a waiter killed holding it (outside its wait, or on its way
/// out of one) leaves it to exactly one next acquirer, which holds it despite the
/// `OwnerDied` error.
fn acquire_recovering(cond: &Condition<RLock, 4>) -> Result<(), String> {
    match cond.acquire() {
        Ok(()) => Ok(()),
        Err(SyncError::Lock(e)) if e.lock_is_held() => Ok(()),
        Err(e) => Err(e.to_string()),
    }
}

impl Scenario for WaiterKilled {
    type State = WaiterState;
    fn name(&self) -> String {
        "condition-waiter-killed-2+kill1".into()
    }
    fn actors(&self) -> usize {
        3
    }
    fn max_kills(&self) -> u32 {
        1
    }
    fn killable(&self, actor: usize) -> bool {
        actor != 0
    }
    fn fresh_each_case(&self) -> bool {
        // A killed waiter may leave its slot in the condition (a dead owner's, reclaimed
        // only when the slots run out): start each case from a fresh condition.
        true
    }
    fn setup(&self) -> WaiterState {
        WaiterState {
            cond: Shared::new(Condition::new()).expect("shared memory"),
            flag: RawValue::new(0).expect("shared memory"),
            saw: RawValue::new(0).expect("shared memory"),
        }
    }
    fn reset(&self, s: &WaiterState) {
        s.flag.store(0);
        s.saw.store(0);
    }
    fn run(&self, s: &WaiterState, actor: usize, _: &Recorder) -> Result<(), String> {
        let e = |e: SyncError| e.to_string();
        acquire_recovering(&s.cond)?;
        if actor == 0 {
            s.flag.store(1);
            // Everyone waiting now and alive: a dead waiter is not counted, and must not
            // take one of these notifications either.
            s.cond.notify(s.cond.waiting()).map_err(e)?;
        } else {
            while s.flag.load() == 0 {
                match s.cond.wait(None) {
                    // Woken, or woken and told that the lock's holder (the other waiter)
                    // died holding it: the lock is held either way.
                    Ok(_) => {}
                    Err(SyncError::Lock(l)) if l.lock_is_held() => {}
                    Err(other) => return Err(e(other)),
                }
            }
            s.saw.fetch_add(1 << actor);
        }
        s.cond.release().map_err(e)
    }
    fn check(&self, s: &WaiterState, _: &[HistoryEvent], killed: &[usize]) -> Result<(), String> {
        let survivors = (1..3)
            .filter(|k| !killed.contains(k))
            .fold(0, |m, k| m | 1 << k);
        if s.saw.load() & survivors != survivors {
            return Err(format!(
                "surviving waiters {survivors:#b} did not all see the flag (saw {:#b})",
                s.saw.load()
            ));
        }
        Ok(())
    }
}
