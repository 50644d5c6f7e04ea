//! Raw kernel calls for procshare's own plumbing, not for protocols: the harness's
//! controller/actor hand-off (which must never be scheduled itself, so these bypass the
//! schedule hook) and the fork path of `Process`. Protocols use the [`loom`](crate::loom)
//! facade instead, whose futex calls a controlled scheduler sees.

use crate::loom::Wake;
use std::sync::atomic::AtomicU32;
use std::time::Duration;

/// A real `futex(2)` wait (shared, not private) that bypasses the schedule hook.
pub fn raw_futex_wait(word: &AtomicU32, expected: u32, timeout: Option<Duration>) -> Wake {
    crate::sys::futex_wait(word, expected, timeout)
}

/// A real `futex(2)` wake that bypasses the schedule hook (see [`raw_futex_wait`]).
pub fn raw_futex_wake(word: &AtomicU32, n: u32) {
    crate::sys::futex_wake(word, n);
}

/// Forget the cached process id. Called by `procshare` in a freshly forked child (a
/// `pthread_atfork` handler does the same for forks made elsewhere).
pub fn forget_cached_pid() {
    crate::sys::forget_pid();
}
