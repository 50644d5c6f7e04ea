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

const UNSET: u32 = 0;
const SET: u32 = 1;
/// Unset, and some process may sleep on the word.
const UNSET_SLEEPERS: u32 = 2;

/// A process-shared event flag.
///
/// | word | meaning               | transitions                                        |
/// |------|-----------------------|----------------------------------------------------|
/// | 0    | unset                 | `set` → 1; a waiter → 2 (CAS) before sleeping      |
/// | 1    | set                   | `clear` → 0                                         |
/// | 2    | unset, sleepers       | `set` → 1 and wakes all                            |
#[repr(C)]
#[derive(Debug)]
pub struct Event {
    word: AtomicU32,
}

impl Event {
    /// A new, unset event.
    pub fn new() -> Self {
        Event {
            word: AtomicU32::new(UNSET),
        }
    }

    /// Set the flag and wake every waiter.
    pub fn set(&self) {
        if self.word.swap(SET, Ordering::Release) == UNSET_SLEEPERS {
            futex_wake(&self.word, u32::MAX);
        }
    }

    /// Set the flag *without* waking anyone: the deliberately broken variant that the
    /// loom suite must catch. Never use it.
    #[doc(hidden)]
    #[cfg(loom)]
    pub fn set_without_wake(&self) {
        self.word.swap(SET, Ordering::Release);
    }

    /// Reset the flag.
    pub fn clear(&self) {
        let _ = self
            .word
            .compare_exchange(SET, UNSET, Ordering::Relaxed, Ordering::Relaxed);
    }

    /// Is the flag set?
    pub fn is_set(&self) -> bool {
        self.word.load(Ordering::Acquire) == SET
    }

    /// Wait until the flag is set, or `timeout` passes (`None`: no limit). Returns the
    /// flag: `true` if it was set, `false` on timeout (never earlier than `timeout`).
    pub fn wait(&self, timeout: Option<Duration>) -> bool {
        let deadline = timeout.map_or_else(Deadline::never, Deadline::after);
        loop {
            let s = self.word.load(Ordering::Acquire);
            if s == SET {
                return true;
            }
            if deadline.expired() {
                return false;
            }
            if s == UNSET
                && self
                    .word
                    .compare_exchange(UNSET, UNSET_SLEEPERS, Ordering::Relaxed, Ordering::Relaxed)
                    .is_err()
            {
                continue;
            }
            futex_wait(&self.word, UNSET_SLEEPERS, &deadline);
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
