//! Counter scenarios: `actors` actors each add 1 to a shared `Value<u64, L>`, either
//! under one lock acquisition (`*v.lock() += 1`), under a timed one
//! (`v.try_lock_for(t)`, at most two attempts; under the harness the timeout's expiry is a
//! schedule choice), or as `v.store(v.load() + 1)` (two acquisitions: CPython's
//! `v.value += 1`, the lost update). Property: the final value is the number of
//! increments that completed (a killed actor's increment may or may not have happened),
//! and the locked increments' history is that of a linearizable fetch-and-add counter.

use crate::{lin, lin_history, Event, Recorder, Scenario};
use procshare_shm::Value;
use procshare_sync::{GuardError, RawLock};
use std::marker::PhantomData;

/// How an actor increments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Increment {
    /// `*v.lock() += 1`: one critical section.
    Locked,
    /// `v.store(v.load() + 1)`: read and write in two critical sections (loses updates).
    LoadThenStore,
    /// `v.try_lock_for(t)`, then `+= 1` if acquired; at most two attempts.
    Timed,
}

/// The timeout of [`Increment::Timed`] (virtual under the harness: only its expiry as a
/// schedule choice matters).
const TIMED_WAIT: std::time::Duration = std::time::Duration::from_millis(20);

/// A shared counter incremented by every actor.
#[derive(Debug)]
pub struct LockedCounter<L: RawLock> {
    actors: usize,
    increments: u64,
    how: Increment,
    kills: u32,
    _lock: PhantomData<fn() -> L>,
}

/// Operation codes recorded in the history.
const OP_INCREMENT: u32 = 1;
const OP_READ: u32 = 2;
const OP_WRITE: u32 = 3;

impl<L: RawLock> LockedCounter<L> {
    /// `actors` actors, each incrementing `increments` times, in the way `how`.
    pub fn new(actors: usize, increments: u64, how: Increment) -> Self {
        LockedCounter {
            actors,
            increments,
            how,
            kills: 0,
            _lock: PhantomData,
        }
    }

    /// Allow up to `kills` crash-injection choices per case.
    pub fn with_kills(mut self, kills: u32) -> Self {
        self.kills = kills;
        self
    }
}

impl<L: RawLock> Scenario for LockedCounter<L> {
    type State = Value<u64, L>;

    fn name(&self) -> String {
        let how = match self.how {
            Increment::Locked => "counter",
            Increment::LoadThenStore => "lost-update",
            Increment::Timed => "timed-counter",
        };
        let kills = if self.kills > 0 {
            format!("+kill{}", self.kills)
        } else {
            String::new()
        };
        format!(
            "{how}-{}x{}{kills}/{}",
            self.actors,
            self.increments,
            L::NAME
        )
    }

    fn actors(&self) -> usize {
        self.actors
    }

    fn max_kills(&self) -> u32 {
        self.kills
    }

    fn setup(&self) -> Self::State {
        Value::new(0).expect("shared memory for the counter")
    }

    fn reset(&self, state: &Self::State) {
        // A previous case may have left the lock held by a killed actor.
        match state.lock() {
            Ok(mut g) => *g = 0,
            Err(GuardError::OwnerDied { guard, .. }) => {
                let mut g = guard;
                *g = 0;
            }
            Err(e) => panic!("cannot reset the counter: {e}"),
        }
        // SAFETY: reset runs in the janitor between cases, the guard above is gone, and
        // no actor runs until the next case starts: the lock is idle.
        unsafe { state.reset_idle_lock() };
    }

    fn run(&self, state: &Self::State, _actor: usize, rec: &Recorder) -> Result<(), String> {
        for _ in 0..self.increments {
            match self.how {
                Increment::Locked => {
                    let op = rec.invoke(OP_INCREMENT, 0, 1);
                    let old = match state.lock() {
                        Ok(mut g) => {
                            *g += 1;
                            *g - 1
                        }
                        Err(GuardError::OwnerDied { guard, .. }) => {
                            let mut g = guard;
                            *g += 1;
                            *g - 1
                        }
                        Err(e) => return Err(e.to_string()),
                    };
                    rec.ret(op, old);
                }
                Increment::Timed => {
                    for _attempt in 0..2 {
                        let guard = match state.try_lock_for(TIMED_WAIT) {
                            Ok(Some(g)) => g,
                            Ok(None) => continue,
                            Err(GuardError::OwnerDied { guard, .. }) => guard,
                            Err(e) => return Err(e.to_string()),
                        };
                        // Recorded inside the critical section: the operation's interval
                        // lies within the real one.
                        let op = rec.invoke(OP_INCREMENT, 0, 1);
                        let mut g = guard;
                        *g += 1;
                        rec.ret(op, *g - 1);
                        break;
                    }
                }
                Increment::LoadThenStore => {
                    let op = rec.invoke(OP_READ, 0, 0);
                    let x = state.load().map_err(|e| e.to_string())?;
                    rec.ret(op, x);
                    let op = rec.invoke(OP_WRITE, 0, x + 1);
                    state.store(x + 1).map_err(|e| e.to_string())?;
                    rec.ret(op, 0);
                }
            }
        }
        Ok(())
    }

    fn op_name(&self, op: u32) -> String {
        match op {
            OP_INCREMENT => "fetch_add".into(),
            OP_READ => "read".into(),
            OP_WRITE => "write".into(),
            _ => format!("op{op}"),
        }
    }

    fn check(
        &self,
        state: &Self::State,
        history: &[Event],
        _killed: &[usize],
    ) -> Result<(), String> {
        let value = match state.lock() {
            Ok(g) => *g,
            Err(GuardError::OwnerDied { guard, .. }) => *guard,
            Err(e) => return Err(e.to_string()),
        };
        let counted = |e: &&Event| e.op == OP_INCREMENT || e.op == OP_WRITE;
        let completed = history
            .iter()
            .filter(counted)
            .filter(|e| e.is_return)
            .count() as u64;
        let started = history
            .iter()
            .filter(counted)
            .filter(|e| !e.is_return)
            .count() as u64;
        if value < completed || value > started {
            return Err(format!(
                "counter is {value}, but {completed} increments completed ({started} started)"
            ));
        }
        if self.how != Increment::LoadThenStore {
            // Each locked increment returned the value it replaced: the history must be
            // that of a linearizable fetch-and-add counter (killed actors' increments are
            // indeterminate).
            let history = lin_history(
                history,
                |op| self.op_name(op),
                |e| serde_json::json!(e.value),
                |e| serde_json::json!(e.value),
            );
            match lin::check(&lin::Counter::default(), &history) {
                Ok(lin::Outcome::Ok) => {}
                Ok(lin::Outcome::Illegal(v)) => {
                    return Err(crate::timeline::not_linearizable(
                        &lin::Counter::default(),
                        &v,
                        "a counter",
                        &self.name(),
                    ))
                }
                Ok(lin::Outcome::Unknown(u)) => {
                    return Err(format!("linearizability unknown: {u:?}"))
                }
                Err(e) => return Err(format!("history rejected by the checker: {e}")),
            }
        }
        Ok(())
    }
}
