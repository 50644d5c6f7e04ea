//! Transfers between the slots of a shared `Array<i64, L>`: each actor moves 3 units from
//! one slot to another, either inside one critical section (`lock()` on the array) or
//! element by element (`get`, `get`, `set`, `set`: each its own critical section, which
//! can lose a transfer). Property: the sum of the slots is unchanged.

use crate::{Event, Recorder, Scenario};
use procshare_shm::Array;
use procshare_sync::RawLock;
use std::marker::PhantomData;

const SLOTS: usize = 3;
const START: i64 = 100;

/// How a transfer touches the array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferHow {
    /// One `lock()` around the whole transfer.
    Atomic,
    /// `get`/`set` per element: four critical sections (not atomic).
    PerElement,
}

/// Actors transferring between array slots.
#[derive(Debug)]
pub struct ArrayTransfer<L: RawLock> {
    actors: usize,
    how: TransferHow,
    _lock: PhantomData<fn() -> L>,
}

impl<L: RawLock> ArrayTransfer<L> {
    /// `actors` actors, one transfer each, done the way `how`.
    pub fn new(actors: usize, how: TransferHow) -> Self {
        ArrayTransfer {
            actors,
            how,
            _lock: PhantomData,
        }
    }
}

impl<L: RawLock> Scenario for ArrayTransfer<L> {
    type State = Array<i64, L>;

    fn name(&self) -> String {
        let how = match self.how {
            TransferHow::Atomic => "transfer",
            TransferHow::PerElement => "transfer-per-element",
        };
        format!("{how}-{}/{}", self.actors, L::NAME)
    }

    fn actors(&self) -> usize {
        self.actors
    }

    fn setup(&self) -> Self::State {
        Array::from_slice(&[START; SLOTS]).expect("shared memory for the array")
    }

    fn reset(&self, state: &Self::State) {
        // A killed holder's guard comes back inside the owner-died error: reset anyway.
        let guard = match state.lock() {
            Ok(g) => Some(g),
            Err(e) => e.into_guard(),
        };
        if let Some(mut g) = guard {
            g.fill(START);
        }
    }

    fn run(&self, state: &Self::State, actor: usize, _rec: &Recorder) -> Result<(), String> {
        let (from, to) = (actor % SLOTS, (actor + 1) % SLOTS);
        match self.how {
            TransferHow::Atomic => {
                let mut g = state.lock().map_err(|e| e.to_string())?;
                g[from] -= 3;
                g[to] += 3;
            }
            TransferHow::PerElement => {
                let a = state.get(from).map_err(|e| e.to_string())?;
                let b = state.get(to).map_err(|e| e.to_string())?;
                state.set(from, a - 3).map_err(|e| e.to_string())?;
                state.set(to, b + 3).map_err(|e| e.to_string())?;
            }
        }
        Ok(())
    }

    fn check(&self, state: &Self::State, _: &[Event], _: &[usize]) -> Result<(), String> {
        let v = state.to_vec().map_err(|e| e.to_string())?;
        let sum: i64 = v.iter().sum();
        if sum != START * SLOTS as i64 {
            return Err(format!(
                "slots {v:?} sum to {sum}, not {}",
                START * SLOTS as i64
            ));
        }
        Ok(())
    }
}
