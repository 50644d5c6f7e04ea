//! A process-local global list, for the "a global list is not shared" examples.
//!
//! Python's `result = []` at module level is an ordinary object in the parent's memory;
//! a forked child appends to *its copy*. The Rust counterpart is a `static`. It is built
//! from atomics rather than a `Mutex<Vec<_>>` so that forking from a multi-threaded parent
//! (the test harness) can never leave the child waiting on a lock another thread held.
//! Nothing here is shared between processes: that is the point of the examples.

use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};

/// Room for this many elements (the examples append four to six).
const CAPACITY: usize = 16;

/// A fixed-capacity list of `i64` in ordinary (private, copy-on-write) memory.
#[derive(Debug)]
pub(crate) struct LocalList {
    len: AtomicUsize,
    items: [AtomicI64; CAPACITY],
}

impl LocalList {
    /// An empty list, usable in a `static`.
    pub(crate) const fn new() -> Self {
        LocalList {
            len: AtomicUsize::new(0),
            items: [const { AtomicI64::new(0) }; CAPACITY],
        }
    }

    /// Append `x` (Python's `result.append(x)`). Only one thread of one process appends.
    pub(crate) fn push(&self, x: i64) {
        let n = self.len.load(Ordering::Relaxed);
        assert!(n < CAPACITY, "LocalList holds at most {CAPACITY} elements");
        self.items[n].store(x, Ordering::Relaxed);
        self.len.store(n + 1, Ordering::Release);
    }

    /// A copy of the elements, in order.
    pub(crate) fn to_vec(&self) -> Vec<i64> {
        let n = self.len.load(Ordering::Acquire);
        self.items[..n]
            .iter()
            .map(|x| x.load(Ordering::Relaxed))
            .collect()
    }
}
