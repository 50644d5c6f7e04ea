//! The holder is killed while others wait: `actors` actors (3 in the catalog) each take a
//! `Value<u64, L>`'s lock once and add 1; one kill may strike anyone at any point. What the
//! survivors must be *told* is the property, not just that they finish:
//!
//! * the death of an actor killed while it certainly held the lock is reported, as
//!   `OwnerDied`, to exactly one later locker (a survivor, or the property check's own
//!   lock) — never silently taken over;
//! * nobody reports a death that cannot have happened inside the critical section (no
//!   two survivors both get `OwnerDied` for one death).
//!
//! "Certainly held" is known from the history: right after acquiring, an actor records a
//! `hold` operation and passes a schedule point (a store of its id to a shared witness)
//! before it records the end of `hold`; a kill between the two is a kill with the lock
//! held. A kill elsewhere inside `lock()` or the guard's drop may or may not leave it held,
//! so it only bounds the reports from above. The counter itself must equal the completed
//! increments plus at most the increments in flight when an actor was killed.

use crate::{Event, Recorder, Scenario};
use procshare_shm::{RawValue, Value};
use procshare_sync::{GuardError, RawLock};
use std::marker::PhantomData;

/// Operation codes recorded in the history.
const OP_INCREMENT: u32 = 1;
/// Recorded from just after acquiring to just before releasing.
const OP_HOLD: u32 = 2;
/// An acquisition that reported `OwnerDied`.
const OP_OWNER_DIED: u32 = 3;

/// Shared state of [`HolderKilled`].
#[derive(Debug)]
pub struct HolderState<L: RawLock> {
    counter: Value<u64, L>,
    /// Who is inside (a schedule point in the middle of the critical section).
    witness: RawValue<u32>,
}

/// Actors that each lock once, one of whom may be killed anywhere.
#[derive(Debug)]
pub struct HolderKilled<L: RawLock> {
    actors: usize,
    _lock: PhantomData<fn() -> L>,
}

impl<L: RawLock> HolderKilled<L> {
    /// `actors` actors (3: the holder and two waiters).
    pub fn new(actors: usize) -> Self {
        HolderKilled {
            actors,
            _lock: PhantomData,
        }
    }
}

impl<L: RawLock> Scenario for HolderKilled<L> {
    type State = HolderState<L>;

    fn name(&self) -> String {
        format!("holder-killed-{}+kill1/{}", self.actors, L::NAME)
    }

    fn actors(&self) -> usize {
        self.actors
    }

    fn max_kills(&self) -> u32 {
        1
    }

    fn setup(&self) -> Self::State {
        HolderState {
            counter: Value::new(0).expect("shared memory for the counter"),
            witness: RawValue::new(0).expect("shared memory for the witness"),
        }
    }

    fn reset(&self, state: &Self::State) {
        match state.counter.lock() {
            Ok(mut g) => *g = 0,
            Err(GuardError::OwnerDied { guard, .. }) => {
                let mut g = guard;
                *g = 0;
            }
            Err(e) => panic!("cannot reset the counter: {e}"),
        }
        state.witness.store(0);
    }

    fn run(&self, state: &Self::State, actor: usize, rec: &Recorder) -> Result<(), String> {
        let op = rec.invoke(OP_INCREMENT, 0, 1);
        let mut guard = match state.counter.lock() {
            Ok(g) => g,
            Err(GuardError::OwnerDied { guard, .. }) => {
                let died = rec.invoke(OP_OWNER_DIED, 0, 0);
                rec.ret(died, 0);
                guard
            }
            Err(e) => return Err(e.to_string()),
        };
        let hold = rec.invoke(OP_HOLD, 0, actor as u64);
        state.witness.store(actor as u32 + 1); // a schedule point with the lock held
        *guard += 1;
        rec.ret(hold, 0);
        drop(guard);
        rec.ret(op, 0);
        Ok(())
    }

    fn op_name(&self, op: u32) -> String {
        match op {
            OP_INCREMENT => "increment".into(),
            OP_HOLD => "hold".into(),
            OP_OWNER_DIED => "owner-died".into(),
            _ => format!("op{op}"),
        }
    }

    fn check(
        &self,
        state: &Self::State,
        history: &[Event],
        killed: &[usize],
    ) -> Result<(), String> {
        let (value, check_saw_death) = match state.counter.lock() {
            Ok(g) => (*g, false),
            Err(GuardError::OwnerDied { guard, .. }) => (*guard, true),
            Err(e) => return Err(e.to_string()),
        };
        let unfinished = |op: u32, actor: usize| {
            let invoked = history
                .iter()
                .filter(|e| e.op == op && e.client as usize == actor && !e.is_return)
                .count();
            let returned = history
                .iter()
                .filter(|e| e.op == op && e.client as usize == actor && e.is_return)
                .count();
            invoked > returned
        };
        let certainly_held = killed.iter().filter(|&&a| unfinished(OP_HOLD, a)).count();
        let maybe_held = killed
            .iter()
            .filter(|&&a| unfinished(OP_INCREMENT, a))
            .count();
        let reports = history
            .iter()
            .filter(|e| e.op == OP_OWNER_DIED && e.is_return)
            .count()
            + usize::from(check_saw_death);
        if reports < certainly_held {
            return Err(format!(
                "the death of an actor killed holding the lock went unreported ({reports} \
                 OwnerDied for {certainly_held} such deaths)"
            ));
        }
        if reports > maybe_held {
            return Err(format!(
                "{reports} OwnerDied reports, but at most {maybe_held} actor(s) can have died \
                 holding the lock"
            ));
        }
        let completed = history
            .iter()
            .filter(|e| e.op == OP_INCREMENT && e.is_return)
            .count() as u64;
        if value < completed || value > completed + maybe_held as u64 {
            return Err(format!(
                "counter is {value}: {completed} increments completed, {maybe_held} in flight \
                 at a kill"
            ));
        }
        Ok(())
    }
}
