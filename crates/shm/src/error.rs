//! Errors of the shared-memory layer.

use procshare_sync::LockError;
use std::fmt;
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

/// Why a guard could not be had cleanly.
///
/// Like `std::sync::PoisonError`, the [`GuardError::OwnerDied`] variant *carries the guard*:
/// the lock is held, but its previous holder died inside its critical section, so the data
/// may be half-updated. Inspect or repair it through the guard, or drop the guard to
/// release the lock.
#[derive(thiserror::Error)]
pub enum GuardError<G> {
    /// The previous holder died; `guard` holds the lock now.
    #[error("the previous holder of the lock{} died inside its critical section", pid.map(|p| format!(" (pid {p})")).unwrap_or_default())]
    OwnerDied {
        /// Pid of the dead holder, when the strategy records it.
        pid: Option<u32>,
        /// The guard, holding the lock.
        guard: G,
    },
    /// The lock was not acquired.
    #[error(transparent)]
    Lock(LockError),
}

impl<G> GuardError<G> {
    /// The guard, when the lock is held despite the error (the owner-died case).
    pub fn into_guard(self) -> Option<G> {
        match self {
            GuardError::OwnerDied { guard, .. } => Some(guard),
            GuardError::Lock(_) => None,
        }
    }

    /// True for [`GuardError::OwnerDied`].
    pub fn is_owner_died(&self) -> bool {
        matches!(self, GuardError::OwnerDied { .. })
    }

    /// Map a raw lock error, building the guard when the lock is held.
    pub(crate) fn from_lock(e: LockError, guard: impl FnOnce() -> G) -> Self {
        match e {
            LockError::OwnerDied { pid } => GuardError::OwnerDied {
                pid,
                guard: guard(),
            },
            e => GuardError::Lock(e),
        }
    }
}

impl<G> fmt::Debug for GuardError<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GuardError::OwnerDied { pid, .. } => f
                .debug_struct("OwnerDied")
                .field("pid", pid)
                .finish_non_exhaustive(),
            GuardError::Lock(e) => f.debug_tuple("Lock").field(e).finish(),
        }
    }
}
