//! A resource bounded by a `Semaphore(2)`: three (or more) actors acquire, are "inside"
//! for a moment, and release. Property: never more than 2 inside at once (tracked with a
//! lock-free counter and a high-water mark), and the count returns to its bound. The
//! timed variant acquires with `acquire_timeout` (its expiry a schedule choice) and
//! skips the resource when told it timed out.

use crate::{Event, Recorder, Scenario};
use procshare_shm::{RawValue, Shared};
use procshare_sync::Semaphore;

/// The bound.
const BOUND: u32 = 2;

/// Shared state of [`SemaphoreBound`].
#[derive(Debug)]
pub struct SemaphoreState {
    sem: Shared<Semaphore>,
    inside: RawValue<u32>,
    most: RawValue<u32>,
}

/// Actors sharing a resource through a semaphore.
#[derive(Debug)]
pub struct SemaphoreBound {
    actors: usize,
    timed: bool,
}

impl SemaphoreBound {
    /// `actors` actors (more than the bound, to contend).
    pub fn new(actors: usize) -> Self {
        SemaphoreBound {
            actors,
            timed: false,
        }
    }

    /// Acquire with a timeout instead (more waiters than units, each may give up).
    pub fn timed(mut self) -> Self {
        self.timed = true;
        self
    }
}

impl Scenario for SemaphoreBound {
    type State = SemaphoreState;

    fn name(&self) -> String {
        let timed = if self.timed { "timed-" } else { "" };
        format!("semaphore-{timed}bound-{}", self.actors)
    }

    fn actors(&self) -> usize {
        self.actors
    }

    fn setup(&self) -> Self::State {
        SemaphoreState {
            sem: Shared::new(Semaphore::new(BOUND)).expect("shared memory"),
            inside: RawValue::new(0).expect("shared memory"),
            most: RawValue::new(0).expect("shared memory"),
        }
    }

    fn reset(&self, state: &Self::State) {
        while state.sem.value() < BOUND {
            let _ = state.sem.release();
        }
        state.inside.store(0);
        state.most.store(0);
    }

    fn run(&self, state: &Self::State, _actor: usize, _rec: &Recorder) -> Result<(), String> {
        if self.timed {
            if !state
                .sem
                .acquire_timeout(std::time::Duration::from_millis(20))
            {
                return Ok(()); // told it timed out: it holds no unit
            }
        } else {
            state.sem.acquire();
        }
        let now = state.inside.fetch_add(1) + 1;
        if now > state.most.load() {
            state.most.store(now);
        }
        state.inside.fetch_add(u32::MAX); // - 1
        state.sem.release().map_err(|e| e.to_string())
    }

    fn check(&self, state: &Self::State, _: &[Event], _: &[usize]) -> Result<(), String> {
        let most = state.most.load();
        if most > BOUND {
            return Err(format!(
                "{most} actors were inside a resource bounded by {BOUND}"
            ));
        }
        if state.sem.value() != BOUND {
            return Err(format!(
                "semaphore ends at {}, not {BOUND}",
                state.sem.value()
            ));
        }
        Ok(())
    }
}
