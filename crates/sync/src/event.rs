//! `Event`: a flag that processes can wait for.
//!
//! Mirrors CPython's `multiprocessing.Event`. One futex word with three states; a waiter
//! marks the word before sleeping so that `set` wakes (everyone) only when somebody may
//! sleep.
//!
//! Checked by `tests/loom_event.rs` (every waiter returns once `set` ran, `wait` with a
//! timeout returns the flag, a variant whose `set` does not wake must fail) and by the
//! cross-process tests in `tests/sync_objects.rs`.

use crate::loom::{futex_wait, futex_wake, AtomicU32, Deadline, Ordering};
use crate::ProcessShared;
use std::time::Duration;

/// Bit 0: the flag.
const SET: u32 = 1;
/// Bit 1: some process may sleep on the word.
const SLEEPERS: u32 = 2;
/// Bits 2..: the generation, bumped by every `set` that raises the flag.
const GENERATION: u32 = 4;

/// A process-shared event flag.
///
/// One futex word: bit 0 the flag, bit 1 "sleepers", bits 2–31 a generation count.
///
/// | transition                                    | made by                          |
/// |-----------------------------------------------|----------------------------------|
/// | flag 0 → 1, generation + 1, sleepers cleared (CAS, Release) | `set`; wakes all if there were sleepers |
/// | flag 1 → 0 (`fetch_and`)                      | `clear`                          |
/// | sleepers 0 → 1 (CAS)                          | a waiter about to sleep          |
///
/// A waiter returns true when the flag is set *or the generation moved* since it began to
/// wait: so a `set` immediately followed by `clear` still releases everyone who was
/// waiting at the `set`, as CPython documents ("set awakens all waiting threads").
#[repr(C)]
#[derive(Debug)]
pub struct Event {
    word: AtomicU32,
}

impl Event {
    /// A new, unset event.
    pub fn new() -> Self {
        Event {
            word: AtomicU32::new(0),
        }
    }

    /// Set the flag; `wake: false` is the broken control of `broken.rs`.
    pub(crate) fn raise(&self, wake: bool) {
        let mut w = self.word.load(Ordering::Relaxed);
        loop {
            if w & SET != 0 {
                return;
            }
            let next = ((w & !SLEEPERS).wrapping_add(GENERATION)) | SET;
            match self
                .word
                .compare_exchange_weak(w, next, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => {
                    if wake && w & SLEEPERS != 0 {
                        futex_wake(&self.word, u32::MAX);
                    }
                    return;
                }
                Err(now) => w = now,
            }
        }
    }

    /// Set the flag and wake every waiter.
    pub fn set(&self) {
        crate::hook::point(crate::hook::Point::Release);
        self.raise(true);
    }

    /// Reset the flag.
    pub fn clear(&self) {
        crate::hook::point(crate::hook::Point::Store);
        self.word.fetch_and(!SET, Ordering::Relaxed);
    }

    /// Is the flag set?
    pub fn is_set(&self) -> bool {
        self.word.load(Ordering::Acquire) & SET != 0
    }

    /// Wait until the flag is set, or `timeout` passes (`None`: no limit). Returns true if
    /// the flag was set (or was set and cleared again while this waited), false on
    /// timeout (never earlier than `timeout`).
    pub fn wait(&self, timeout: Option<Duration>) -> bool {
        crate::hook::point(crate::hook::Point::Acquire);
        let deadline = timeout.map_or_else(Deadline::never, Deadline::after);
        let start = self.word.load(Ordering::Acquire);
        let generation = start / GENERATION;
        loop {
            let s = self.word.load(Ordering::Acquire);
            if s & SET != 0 || s / GENERATION != generation {
                return true;
            }
            if deadline.expired() {
                return false;
            }
            if s & SLEEPERS == 0
                && self
                    .word
                    .compare_exchange(s, s | SLEEPERS, Ordering::Relaxed, Ordering::Relaxed)
                    .is_err()
            {
                continue;
            }
            futex_wait(&self.word, s | SLEEPERS, &deadline);
        }
    }
}

impl Default for Event {
    fn default() -> Self {
        Self::new()
    }
}

// SAFETY: one AtomicU32, no pointers, shared futex.
unsafe impl ProcessShared for Event {}
