//! The queue's typed errors.

/// Why a queue operation did not do what was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueueError {
    /// No room: the queue holds `maxsize` items or all of its bytes (CPython's `queue.Full`).
    #[error("the queue is full")]
    Full,
    /// Nothing to take (CPython's `queue.Empty`).
    #[error("the queue is empty")]
    Empty,
    /// This process closed its handle (`close`); CPython raises `ValueError`.
    #[error("the queue is closed")]
    Closed,
    /// The message can never fit, however long the caller waits.
    #[error("a message of {len} bytes can never fit: the queue holds at most {max}")]
    TooLarge {
        /// The message's encoded length.
        len: usize,
        /// The largest message the queue can ever hold.
        max: usize,
    },
    /// Every participant of the other side that ever registered (producers, for a `get`;
    /// consumers, for a `put`) has exited or closed, and waiting could never end.
    #[error("every participant on the other side has exited")]
    Disconnected,
    /// `task_done` was called more times than items were put (CPython's `ValueError`).
    #[error("task_done() called more times than there were items placed in the queue")]
    TaskDone,
    /// Every participant record of the queue belongs to a live participant.
    #[error("all {records} participant records of the queue are in use")]
    Registry {
        /// How many records the queue has.
        records: usize,
    },
    /// The requested capacity cannot be laid out.
    #[error("invalid capacity: {0}")]
    Capacity(&'static str),
    /// The requested capacity would take more shared memory than one ring may have
    /// ([`MAX_RING_BYTES`](crate::MAX_RING_BYTES)), or more slots than
    /// [`MAX_SLOTS`](crate::MAX_SLOTS): refused before anything is allocated.
    #[error("a ring of {slots} slots and {bytes} bytes is too large (at most {max_slots} slots and {max_bytes} bytes)")]
    CapacityTooLarge {
        /// Slots the request needs.
        slots: u128,
        /// Bytes of shared memory the request needs (header, records and slots).
        bytes: u128,
        /// [`MAX_SLOTS`](crate::MAX_SLOTS).
        max_slots: u64,
        /// [`MAX_RING_BYTES`](crate::MAX_RING_BYTES).
        max_bytes: u64,
    },
    /// Encoding or decoding an item failed (postcard).
    #[cfg(not(loom))]
    #[error("codec: {0}")]
    Codec(#[from] postcard::Error),
    /// Allocating the shared memory failed.
    #[cfg(not(loom))]
    #[error(transparent)]
    Shm(#[from] procshare_shm::Error),
}
