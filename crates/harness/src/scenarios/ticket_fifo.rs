//! [`TicketFifo`]: a `TicketLock`'s acquisitions are granted in ticket order.
//!
//! Each actor reads how many tickets were issued (a lower bound of the ticket it is about
//! to take), locks, and inside the critical section logs the ticket being served (its own)
//! with that bound. The property: the log's tickets are consecutive in the order the
//! critical sections ran (nobody overtook an earlier ticket, nobody was skipped), and every
//! ticket is at least the bound its locker read before locking (no ticket was handed out
//! twice or backwards). Atomic-level schedule points are on, so the search interleaves the
//! `fetch_add` of one locker with the `serving` loads of the others.

use crate::{Event as HistoryEvent, Recorder, Scenario};
use procshare_shm::{RawArray, RawValue, Shared};
use procshare_sync::{RawLock, TicketLock};

/// Shared state of [`TicketFifo`].
#[derive(Debug)]
pub struct FifoState {
    lock: Shared<TicketLock>,
    /// Entries in critical-section order: ticket, then the bound read before locking.
    log: RawArray<u32>,
    len: RawValue<u32>,
}

/// `actors` processes each take the ticket lock `rounds` times.
#[derive(Debug)]
pub struct TicketFifo {
    actors: usize,
    rounds: usize,
}

impl TicketFifo {
    /// `actors` lockers, `rounds` acquisitions each.
    pub fn new(actors: usize, rounds: usize) -> Self {
        TicketFifo { actors, rounds }
    }

    fn entries(&self) -> usize {
        self.actors * self.rounds
    }
}

/// Check a log of `(ticket, bound)` pairs in critical-section order (the scenario's
/// property, public so its failure cases can be tested directly).
pub fn check_fifo_log(entries: &[(u32, u32)]) -> Result<(), String> {
    const COUNT: u32 = (1 << 31) - 1;
    for (i, &(ticket, bound)) in entries.iter().enumerate() {
        if ticket.wrapping_sub(bound) & COUNT >= 1 << 30 {
            return Err(format!(
                "entry {i} holds ticket {ticket}, below the {bound} tickets issued before it locked"
            ));
        }
        if let Some(&(prev, _)) = i.checked_sub(1).and_then(|j| entries.get(j)) {
            if ticket != prev.wrapping_add(1) & COUNT {
                return Err(format!(
                    "entry {i} holds ticket {ticket} right after ticket {prev}: not FIFO"
                ));
            }
        }
    }
    Ok(())
}

impl Scenario for TicketFifo {
    type State = FifoState;
    fn name(&self) -> String {
        format!("ticket-fifo-{}x{}", self.actors, self.rounds)
    }
    fn actors(&self) -> usize {
        self.actors
    }
    fn atomic_points(&self) -> bool {
        true
    }
    fn setup(&self) -> FifoState {
        FifoState {
            lock: Shared::new(TicketLock::new()).expect("shared memory"),
            log: RawArray::zeroed(2 * self.entries()).expect("shared memory"),
            len: RawValue::new(0).expect("shared memory"),
        }
    }
    fn reset(&self, s: &FifoState) {
        s.len.store(0);
    }
    fn run(&self, s: &FifoState, _: usize, _: &Recorder) -> Result<(), String> {
        for _ in 0..self.rounds {
            let bound = s.lock.tickets_issued();
            s.lock.lock().map_err(|e| e.to_string())?;
            let at = s.len.load() as usize;
            let logged = s
                .log
                .set(2 * at, s.lock.now_serving())
                .and_then(|()| s.log.set(2 * at + 1, bound));
            s.len.store(at as u32 + 1);
            // SAFETY: this process locked `s.lock` just above and has not unlocked it.
            unsafe { s.lock.unlock() }.map_err(|e| e.to_string())?;
            logged.map_err(|e| format!("log overflow: {e}"))?;
        }
        Ok(())
    }
    fn check(&self, s: &FifoState, _: &[HistoryEvent], _: &[usize]) -> Result<(), String> {
        let len = s.len.load() as usize;
        if len != self.entries() {
            return Err(format!(
                "{len} critical sections logged, {} expected",
                self.entries()
            ));
        }
        let log = s.log.to_vec();
        let entries: Vec<(u32, u32)> = (0..len).map(|i| (log[2 * i], log[2 * i + 1])).collect();
        check_fifo_log(&entries)
    }
}

#[cfg(test)]
mod tests {
    use super::check_fifo_log;

    #[test]
    fn the_fifo_property_refuses_overtaking_skipping_and_stale_tickets() {
        assert!(check_fifo_log(&[(4, 3), (5, 4), (6, 4)]).is_ok());
        assert!(check_fifo_log(&[(5, 4), (4, 3)]).is_err(), "overtaking");
        assert!(
            check_fifo_log(&[(4, 3), (6, 4)]).is_err(),
            "a skipped ticket"
        );
        assert!(
            check_fifo_log(&[(4, 5)]).is_err(),
            "a ticket below its bound"
        );
        // Wrapping at 2^31 is in order.
        assert!(check_fifo_log(&[((1 << 31) - 1, (1 << 31) - 1), (0, 0)]).is_ok());
    }
}
