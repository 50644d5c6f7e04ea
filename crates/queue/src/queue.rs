//! The typed queues: CPython's `Queue`, `SimpleQueue` and `JoinableQueue` over a
//! [`ByteRing`], items encoded with postcard (serde).
//!
//! Encoding goes through a per-thread scratch buffer and the byte interface, so a put or
//! a get allocates nothing once the buffer has grown to the largest item (a decoded item
//! that owns heap data, a `String`, allocates for itself, of course).
//!
//! Tested by the root package's `tests/queue.rs`: CPython's documented behaviours
//! (`Queue(6)` full after six puts, timeouts, `qsize`, children putting, `JoinableQueue`
//! with worker processes, `Closed`, `TooLarge`), `Disconnected` both ways, and SIGKILLed
//! producers and consumers.

use crate::ring::JOINABLE;
use crate::{ByteRing, QueueError};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::cell::RefCell;
use std::marker::PhantomData;
use std::time::Duration;

/// Bytes of payload a queue holds unless told otherwise: 1 MiB.
pub const DEFAULT_BYTES: usize = 1 << 20;

std::thread_local! {
    /// Encoding and decoding scratch, reused by every typed put and get of the thread.
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Run `f` with this thread's scratch buffer (a fresh one if it is already in use, by a
/// `Serialize` impl that puts on a queue itself).
fn with_scratch<R>(f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    SCRATCH.with(|s| match s.try_borrow_mut() {
        Ok(mut buf) => f(&mut buf),
        Err(_) => f(&mut Vec::new()),
    })
}

/// CPython's `multiprocessing.Queue`: a bounded MPMC queue of `T`s shared with forked
/// children.
///
/// ```
/// use procshare_queue::Queue;
/// use procshare_shm::Process;
///
/// let q = Queue::<u32>::new(6)?;
/// let mut child = Process::spawn(|| {
///     for i in 2..6 {
///         q.put(&i).unwrap();
///     }
/// })?;
/// assert_eq!(q.get()?, 2);
/// child.join()?;
/// assert_eq!(q.qsize(), 3);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Queue<T> {
    ring: ByteRing,
    _items: PhantomData<fn(T) -> T>,
}

impl<T> std::fmt::Debug for Queue<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue").field("ring", &self.ring).finish()
    }
}

impl<T: Serialize + DeserializeOwned> Queue<T> {
    /// `Queue(maxsize)`: at most `maxsize` items (0: bounded only by bytes, as CPython's
    /// `maxsize <= 0` is unbounded), [`DEFAULT_BYTES`] of payload.
    pub fn new(maxsize: usize) -> Result<Self, QueueError> {
        Self::with_capacity(maxsize, DEFAULT_BYTES)
    }

    /// At most `maxsize` items (0: no count bound) and `bytes` bytes of encoded payload.
    /// An absurd capacity is refused with [`QueueError::CapacityTooLarge`] (see
    /// [`ByteRing::new`] for the bounds).
    pub fn with_capacity(maxsize: usize, bytes: usize) -> Result<Self, QueueError> {
        Self::from_ring(ByteRing::new(maxsize, bytes)?)
    }

    fn from_ring(ring: ByteRing) -> Result<Self, QueueError> {
        Ok(Queue {
            ring,
            _items: PhantomData,
        })
    }

    fn encode<R>(
        &self,
        item: &T,
        f: impl FnOnce(&ByteRing, &[u8]) -> Result<R, QueueError>,
    ) -> Result<R, QueueError> {
        if self.ring.is_closed() {
            return Err(QueueError::Closed);
        }
        with_scratch(|buf| {
            buf.clear();
            let bytes = postcard::to_extend(item, std::mem::take(buf))?;
            *buf = bytes;
            f(&self.ring, buf)
        })
    }

    fn decode(
        &self,
        f: impl FnOnce(&ByteRing, &mut Vec<u8>) -> Result<usize, QueueError>,
    ) -> Result<T, QueueError> {
        with_scratch(|buf| {
            f(&self.ring, buf)?;
            Ok(postcard::from_bytes(buf)?)
        })
    }

    /// Put `item`, waiting for room as long as it takes. Returns once the item is in
    /// shared memory.
    pub fn put(&self, item: &T) -> Result<(), QueueError> {
        self.encode(item, |r, b| r.put_bytes(b))
    }

    /// Put `item`, waiting for room at most `timeout`; [`QueueError::Full`] after it.
    pub fn put_timeout(&self, item: &T, timeout: Duration) -> Result<(), QueueError> {
        self.encode(item, |r, b| r.put_bytes_timeout(b, timeout))
    }

    /// Put `item` if there is room now (CPython's `put_nowait`); [`QueueError::Full`]
    /// otherwise.
    pub fn try_put(&self, item: &T) -> Result<(), QueueError> {
        self.encode(item, |r, b| r.try_put_bytes(b))
    }

    /// Take the next item, waiting as long as it takes (or until every producer has
    /// exited: [`QueueError::Disconnected`]).
    pub fn get(&self) -> Result<T, QueueError> {
        self.decode(|r, b| r.get_bytes_into(b))
    }

    /// Take the next item, waiting at most `timeout`; [`QueueError::Empty`] after it.
    pub fn get_timeout(&self, timeout: Duration) -> Result<T, QueueError> {
        self.decode(|r, b| r.get_bytes_into_timeout(b, timeout))
    }

    /// Take an item if one is there now (CPython's `get_nowait`); [`QueueError::Empty`]
    /// otherwise.
    pub fn try_get(&self) -> Result<T, QueueError> {
        self.decode(|r, b| r.try_get_bytes_into(b))
    }
}

impl<T> Queue<T> {
    /// Put an already encoded message (the byte interface; no allocation).
    pub fn put_bytes(&self, data: &[u8]) -> Result<(), QueueError> {
        self.ring.put_bytes(data)
    }

    /// Take the next message's bytes into `out` (the byte interface; no allocation once
    /// `out` is large enough). Returns its length.
    pub fn get_bytes_into(&self, out: &mut Vec<u8>) -> Result<usize, QueueError> {
        self.ring.get_bytes_into(out)
    }

    /// Approximate number of items (CPython's `qsize()`).
    pub fn qsize(&self) -> usize {
        self.ring.len()
    }

    /// Is the queue (approximately) empty? Like CPython's `empty()`, the answer may be
    /// stale at once: never loop on it, loop on `get` until a sentinel or
    /// [`QueueError::Disconnected`].
    pub fn is_empty(&self) -> bool {
        self.ring.is_empty()
    }

    /// Is the queue (approximately) full?
    pub fn is_full(&self) -> bool {
        self.ring.is_full()
    }

    /// Close this process's handle (see [`ByteRing::close`]).
    pub fn close(&self) {
        self.ring.close();
    }

    /// The byte ring underneath.
    pub fn bytes(&self) -> &ByteRing {
        &self.ring
    }
}

/// CPython's `multiprocessing.SimpleQueue`: no count bound, bounded by bytes; `put`,
/// `get`, `is_empty`, `close`.
pub struct SimpleQueue<T> {
    inner: Queue<T>,
}

impl<T> std::fmt::Debug for SimpleQueue<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimpleQueue")
            .field("ring", &self.inner.ring)
            .finish()
    }
}

impl<T: Serialize + DeserializeOwned> SimpleQueue<T> {
    /// A queue of [`DEFAULT_BYTES`] bytes.
    pub fn new() -> Result<Self, QueueError> {
        Self::with_bytes(DEFAULT_BYTES)
    }

    /// A queue of `bytes` bytes of encoded payload.
    pub fn with_bytes(bytes: usize) -> Result<Self, QueueError> {
        Ok(SimpleQueue {
            inner: Queue::with_capacity(0, bytes)?,
        })
    }

    /// Put `item` (waits only if all of the bytes are in use).
    pub fn put(&self, item: &T) -> Result<(), QueueError> {
        self.inner.put(item)
    }

    /// Take the next item, waiting as long as it takes.
    pub fn get(&self) -> Result<T, QueueError> {
        self.inner.get()
    }

    /// Is the queue (approximately) empty?
    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }

    /// Close this process's handle.
    pub fn close(&self) {
        self.inner.close();
    }
}

/// CPython's `multiprocessing.JoinableQueue`: a [`Queue`] that counts unfinished tasks.
/// Every put adds one, every [`task_done`](JoinableQueue::task_done) removes one, and
/// [`join`](JoinableQueue::join) waits until none is left. Derefs to [`Queue`].
///
/// A producer killed anywhere in a put leaves no task behind (the put either published
/// its item, which is then taken and done, or is void; see [`crate::ring`], "Tasks"). A
/// task whose consumer was killed before its `task_done` stays unfinished: nobody can
/// finish it, so after a consumer crash prefer
/// [`join_timeout`](JoinableQueue::join_timeout) to `join`.
pub struct JoinableQueue<T> {
    inner: Queue<T>,
}

impl<T> std::fmt::Debug for JoinableQueue<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoinableQueue")
            .field("ring", &self.inner.ring)
            .field("unfinished", &self.inner.ring.unfinished())
            .finish()
    }
}

impl<T: Serialize + DeserializeOwned> JoinableQueue<T> {
    /// `JoinableQueue(maxsize)`, [`DEFAULT_BYTES`] of payload.
    pub fn new(maxsize: usize) -> Result<Self, QueueError> {
        Self::with_capacity(maxsize, DEFAULT_BYTES)
    }

    /// At most `maxsize` items (0: no count bound) and `bytes` bytes.
    pub fn with_capacity(maxsize: usize, bytes: usize) -> Result<Self, QueueError> {
        Ok(JoinableQueue {
            inner: Queue::from_ring(ByteRing::with_flags(maxsize, bytes, JOINABLE)?)?,
        })
    }

    /// [`JoinableQueue::with_capacity`] with deliberately broken behaviour
    /// ([`Faults`](crate::ring::Faults)), for tests of the tests.
    #[doc(hidden)]
    pub fn with_faults(
        maxsize: usize,
        bytes: usize,
        faults: crate::ring::Faults,
    ) -> Result<Self, QueueError> {
        let mut ring = ByteRing::with_flags(maxsize, bytes, JOINABLE)?;
        ring.set_faults(faults);
        Ok(JoinableQueue {
            inner: Queue::from_ring(ring)?,
        })
    }
}

impl<T> JoinableQueue<T> {
    /// One task taken from the queue is done. [`QueueError::TaskDone`] if called more
    /// times than items were put.
    pub fn task_done(&self) -> Result<(), QueueError> {
        self.inner.ring.task_done()
    }

    /// Wait until every item put has been taken and marked done.
    pub fn join(&self) {
        self.inner
            .ring
            .join(&procshare_sync::loom::Deadline::never());
    }

    /// [`JoinableQueue::join`], waiting at most `timeout`. True if every task was done.
    pub fn join_timeout(&self, timeout: Duration) -> bool {
        self.inner
            .ring
            .join(&procshare_sync::loom::Deadline::after(timeout))
    }

    /// Tasks put and not yet done.
    pub fn unfinished_tasks(&self) -> u64 {
        self.inner.ring.unfinished()
    }
}

impl<T> std::ops::Deref for JoinableQueue<T> {
    type Target = Queue<T>;
    fn deref(&self) -> &Queue<T> {
        &self.inner
    }
}
