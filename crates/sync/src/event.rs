//! `Event`: a flag that processes can wait for.
//!
//! Mirrors CPython's `multiprocessing.Event`. A flag word (the flag and a generation) and
//! an [`AdaptiveWait`]: a waiter spins briefly on the word, then announces itself and
//! sleeps; `set` raises the flag and wakes everybody, making a system call only when some
//! waiter has announced itself, so a ping-pong between two running processes makes none.
//!
//! Checked by `tests/loom_event.rs` (every waiter returns once `set` ran, `wait` with a
//! timeout returns the flag, a variant whose `set` does not wake must fail), by the
//! adaptive wait's own suite (`tests/loom_adaptive_wait.rs`), and by the cross-process
//! tests in `tests/sync_objects.rs`.

use crate::loom::{AtomicU32, Deadline, Ordering};
use crate::{AdaptiveWait, ProcessShared};
use std::time::Duration;

/// Bit 0 of the word: the flag.
const SET: u32 = 1;
/// Bits 1..: the generation, bumped by every `set` that raises the flag.
const GENERATION: u32 = 2;

/// A process-shared event flag.
///
/// The word holds the flag (bit 0) and a generation count (bits 1–31); who sleeps is the
/// [`AdaptiveWait`]'s business.
///
/// | transition                                      | made by                         |
/// |-------------------------------------------------|---------------------------------|
/// | flag 0 → 1, generation + 1 (CAS, Release)       | `set`; then `notify_all`        |
/// | flag 1 → 0 (`fetch_and`)                        | `clear`                         |
/// | (none: waiters only read the word)              | `wait`                          |
///
/// A waiter returns true when the flag is set *or the generation moved* since it began to
/// wait: so a `set` immediately followed by `clear` still releases everyone who was
/// waiting at the `set`, as CPython documents ("set awakens all waiting threads").
#[repr(C)]
#[derive(Debug)]
pub struct Event {
    word: AtomicU32,
    wait: AdaptiveWait,
}

impl Event {
    /// A new, unset event.
    pub fn new() -> Self {
        Event {
            word: AtomicU32::new(0),
            wait: AdaptiveWait::new(),
        }
    }

    /// Set the flag; `wake: false` is the broken control of `broken.rs`.
    pub(crate) fn raise(&self, wake: bool) {
        let mut w = self.word.load(Ordering::Relaxed);
        loop {
            if w & SET != 0 {
                return;
            }
            let next = w.wrapping_add(GENERATION) | SET;
            match self
                .word
                .compare_exchange_weak(w, next, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => {
                    if wake {
                        self.wait.notify_all();
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
        let generation = self.word.load(Ordering::Acquire) / GENERATION;
        self.wait.wait_until(
            || {
                let s = self.word.load(Ordering::Acquire);
                s & SET != 0 || s / GENERATION != generation
            },
            &deadline,
        )
    }
}

impl Default for Event {
    fn default() -> Self {
        Self::new()
    }
}

// SAFETY: an AtomicU32 and an AdaptiveWait (itself ProcessShared), no pointers.
unsafe impl ProcessShared for Event {}
