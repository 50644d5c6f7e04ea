//! Producer/consumer over a `Condition`: a producer puts `items` numbered items into a
//! one-slot buffer, a consumer takes them; each waits on the condition while the buffer is
//! full (producer) or empty (consumer) and notifies after changing it. Property: the
//! consumer receives 0, 1, 2, … in order, and nothing is lost or duplicated.

use crate::{Event, Recorder, Scenario};
use procshare_shm::{RawValue, Shared};
use procshare_sync::{Condition, Lock};

/// Shared state of [`ProducerConsumer`].
#[derive(Debug)]
pub struct BufferState {
    cond: Shared<Condition<Lock, 4>>,
    /// The buffer: `FULL | item` or 0 (empty). Touched only under the condition's lock.
    slot: RawValue<u64>,
    /// The next item the consumer expects; read by `check`.
    received: RawValue<u64>,
}

const FULL: u64 = 1 << 63;

/// One producer (actor 0) and one consumer (actor 1).
#[derive(Debug)]
pub struct ProducerConsumer {
    items: u64,
}

impl ProducerConsumer {
    /// Pass `items` items.
    pub fn new(items: u64) -> Self {
        ProducerConsumer { items }
    }
}

impl Scenario for ProducerConsumer {
    type State = BufferState;

    fn name(&self) -> String {
        format!("producer-consumer-{}", self.items)
    }

    fn actors(&self) -> usize {
        2
    }

    fn setup(&self) -> Self::State {
        BufferState {
            cond: Shared::new(Condition::new()).expect("shared memory"),
            slot: RawValue::new(0).expect("shared memory"),
            received: RawValue::new(0).expect("shared memory"),
        }
    }

    fn reset(&self, state: &Self::State) {
        state.slot.store(0);
        state.received.store(0);
    }

    fn run(&self, state: &Self::State, actor: usize, _rec: &Recorder) -> Result<(), String> {
        let e = |e: procshare_sync::SyncError| e.to_string();
        let cond = &state.cond;
        for i in 0..self.items {
            cond.acquire().map_err(e)?;
            if actor == 0 {
                while state.slot.load() & FULL != 0 {
                    cond.wait(None).map_err(e)?;
                }
                state.slot.store(FULL | i);
            } else {
                while state.slot.load() & FULL == 0 {
                    cond.wait(None).map_err(e)?;
                }
                let item = state.slot.load() & !FULL;
                state.slot.store(0);
                if item != i {
                    return Err(format!("consumer expected item {i}, got {item}"));
                }
                state.received.store(i + 1);
            }
            cond.notify(1).map_err(e)?;
            cond.release().map_err(e)?;
        }
        Ok(())
    }

    fn check(&self, state: &Self::State, _: &[Event], _: &[usize]) -> Result<(), String> {
        let got = state.received.load();
        if got != self.items {
            return Err(format!("consumer received {got} of {} items", self.items));
        }
        Ok(())
    }
}
