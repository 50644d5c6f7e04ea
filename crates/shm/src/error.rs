//! Errors of the shared-memory layer.

use procshare_sync::LockError;
use std::io;

/// Everything that can go wrong in `procshare-shm`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An index was not below the array's length.
    #[error("index {index} is out of range for an array of length {len}")]
    IndexOutOfRange {
        /// The index asked for.
        index: usize,
        /// The array's length.
        len: usize,
    },
    /// A requested size does not fit in memory (or in `usize`).
    #[error("a shared allocation of {elements} elements of {element_size} bytes is too large")]
    TooLarge {
        /// Number of elements asked for.
        elements: usize,
        /// Size of one element in bytes.
        element_size: usize,
    },
    /// A lock operation failed.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// The process was already joined, so it has no pid that may be signalled.
    #[error("process {pid} has already been joined")]
    AlreadyJoined {
        /// The pid it had.
        pid: u32,
    },
    /// A `Process` handle was used outside the process that forked the child (it
    /// travelled into another process, e.g. captured by a sibling's closure).
    #[error("process {pid} was forked by process {creator}; only it may wait for or signal it")]
    NotCreator {
        /// The child's pid.
        pid: u32,
        /// The process that forked it.
        creator: u32,
    },
    /// A zero-sized shared region was asked for (CPython: `ValueError`).
    #[error("a shared memory region must have a positive size")]
    ZeroSize,
    /// An operating-system call failed.
    #[error("{op} failed: {source}")]
    Os {
        /// The call that failed.
        op: &'static str,
        /// The error it returned.
        #[source]
        source: io::Error,
    },
}

impl Error {
    pub(crate) fn os(op: &'static str, source: impl Into<io::Error>) -> Self {
        Error::Os {
            op,
            source: source.into(),
        }
    }

    pub(crate) fn last_os(op: &'static str) -> Self {
        Error::os(op, io::Error::last_os_error())
    }
}
