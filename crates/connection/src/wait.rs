//! [`wait`]: CPython's `multiprocessing.connection.wait` — which of several objects are
//! ready to be read, for any mix of pipe ends, socket ends and listeners.
//!
//! One `ppoll(2)` over the objects' fds; nothing is read, so a ready object's message is
//! still whole for its `recv`. An object is ready when a byte or end of file is readable
//! (a connection) or a client is waiting to be accepted (a listener). Closed connections
//! are never ready. The result keeps the order of the input, like CPython's.
//!
//! Tested by `tests/connection.rs` (4 children × 10 messages: every message exactly once)
//! and the listener tests.

use crate::error::Result;
use crate::sys;
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

/// Something [`wait`] can watch: an fd that becomes readable.
pub trait Waitable {
    /// The fd to watch; negative (a closed connection) is never ready.
    fn wait_fd(&self) -> RawFd;

    /// Ready without looking at the fd (a read-ahead connection with buffered bytes).
    fn ready_now(&self) -> bool {
        false
    }
}

impl Waitable for crate::Connection {
    fn wait_fd(&self) -> RawFd {
        if self.readable() {
            self.as_raw_fd()
        } else {
            -1
        }
    }

    fn ready_now(&self) -> bool {
        self.readable() && !self.closed() && self.buffered_bytes() > 0
    }
}

impl Waitable for crate::Listener {
    fn wait_fd(&self) -> RawFd {
        self.as_raw_fd()
    }
}

impl<T: Waitable + ?Sized> Waitable for &T {
    fn wait_fd(&self) -> RawFd {
        (**self).wait_fd()
    }

    fn ready_now(&self) -> bool {
        (**self).ready_now()
    }
}

/// The objects of `objects` that are ready, in their order, waiting up to `timeout` for
/// one to become ready (`None`: forever). An empty result means the timeout passed.
///
/// Mix kinds with `&dyn Waitable`: `wait(&[&conn as &dyn Waitable, &listener], None)`.
pub fn wait<'a, W: Waitable + ?Sized>(
    objects: &[&'a W],
    timeout: Option<Duration>,
) -> Result<Vec<&'a W>> {
    let ready = wait_indices(objects, timeout)?;
    Ok(ready.into_iter().map(|i| objects[i]).collect())
}

/// Like [`wait`], returning the indices of the ready objects.
pub fn wait_indices<W: Waitable + ?Sized>(
    objects: &[&W],
    timeout: Option<Duration>,
) -> Result<Vec<usize>> {
    procshare_sync::hook::point(procshare_sync::hook::Point::Poll);
    let fds: Vec<RawFd> = objects.iter().map(|o| o.wait_fd()).collect();
    let now: Vec<bool> = objects.iter().map(|o| o.ready_now()).collect();
    // Something is ready already (bytes read ahead): just look at the others.
    let deadline = if now.contains(&true) {
        Some(Instant::now())
    } else {
        timeout.map(|t| Instant::now() + t)
    };
    let ready = sys::poll_readable(&fds, deadline)?;
    Ok(ready
        .iter()
        .enumerate()
        .filter(|&(i, &r)| now[i] || (r && fds[i] >= 0))
        .map(|(i, _)| i)
        .collect())
}
