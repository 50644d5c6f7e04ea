//! Barrier phases: each actor announces phase `p` in its own slot, waits at a shared
//! `Barrier`, and then checks that every other actor has announced phase `p` too.
//! Property: no actor ever leaves a barrier before all have arrived, over several phases.

use crate::{Event, Recorder, Scenario};
use procshare_shm::{RawArray, Shared};
use procshare_sync::Barrier;

/// Shared state of [`BarrierPhases`].
#[derive(Debug)]
pub struct BarrierState {
    barrier: Shared<Barrier>,
    phase: RawArray<u32>,
}

/// Actors passing a barrier several times.
#[derive(Debug)]
pub struct BarrierPhases {
    actors: usize,
    phases: u32,
}

impl BarrierPhases {
    /// `actors` parties, `phases` passes.
    pub fn new(actors: usize, phases: u32) -> Self {
        BarrierPhases { actors, phases }
    }
}

impl Scenario for BarrierPhases {
    type State = BarrierState;

    fn name(&self) -> String {
        format!("barrier-{}x{}", self.actors, self.phases)
    }

    fn actors(&self) -> usize {
        self.actors
    }

    fn setup(&self) -> Self::State {
        BarrierState {
            barrier: Shared::new(Barrier::new(self.actors as u32).expect("parties > 0"))
                .expect("shared memory"),
            phase: RawArray::zeroed(self.actors).expect("shared memory"),
        }
    }

    fn reset(&self, state: &Self::State) {
        let _ = state.barrier.reset();
        for k in 0..self.actors {
            let _ = state.phase.set(k, 0);
        }
    }

    fn run(&self, state: &Self::State, actor: usize, _rec: &Recorder) -> Result<(), String> {
        for p in 1..=self.phases {
            state.phase.set(actor, p).map_err(|e| e.to_string())?;
            state.barrier.wait().map_err(|e| e.to_string())?;
            for k in 0..self.actors {
                let theirs = state.phase.get(k).map_err(|e| e.to_string())?;
                if theirs < p {
                    return Err(format!(
                        "actor {actor} left barrier {p} while actor {k} was at phase {theirs}"
                    ));
                }
            }
        }
        Ok(())
    }

    fn check(&self, state: &Self::State, _: &[Event], _: &[usize]) -> Result<(), String> {
        let v = state.phase.to_vec();
        if v.iter().any(|&p| p != self.phases) {
            return Err(format!("final phases {v:?}"));
        }
        Ok(())
    }
}
