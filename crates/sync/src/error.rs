//! The error type shared by every lock strategy.

use std::fmt;
use std::io;

/// Why a lock operation did not simply succeed.
///
/// [`LockError::OwnerDied`] is special: like `EOWNERDEAD` from a robust pthread mutex, it
/// is returned *with the lock held by the caller*. The previous holder died inside its
/// critical section, so the protected data may be half-updated; the caller repairs it (or
/// not) and then unlocks as usual. Every other variant means the lock was not acquired.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LockError {
    /// The previous holder died while holding the lock; the caller now holds it.
    #[error("the previous holder of the lock{} died inside its critical section; the caller now holds the lock", fmt_pid(*.pid))]
    OwnerDied {
        /// Process id of the dead holder, when the strategy records it.
        pid: Option<u32>,
    },
    /// The lock can never be acquired again (a robust pthread mutex whose recovery failed).
    #[error("the lock is not recoverable")]
    NotRecoverable,
    /// An ownerless lock (CPython's `Lock`) is held by a process that has exited without
    /// releasing it. The lock was **not** acquired and stays held: any process may
    /// release it (a hand-off), after which it can be acquired again. Only an untimed
    /// acquire reports this; a timed one waits its timeout and returns false, as CPython.
    #[error("the lock is held by process {pid}, which exited without releasing it (it stays held; release it explicitly to hand it on)")]
    HolderExited {
        /// Process id of the exited holder.
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

fn fmt_pid(pid: Option<u32>) -> String {
    pid.map(|p| format!(" (pid {p})")).unwrap_or_default()
}

impl LockError {
    /// True for [`LockError::OwnerDied`]: the caller holds the lock despite the error.
    pub fn lock_is_held(&self) -> bool {
        matches!(self, LockError::OwnerDied { .. })
    }

    #[cfg(not(loom))]
    pub(crate) fn os(op: &'static str, errno: i32) -> Self {
        LockError::Os {
            op,
            source: io::Error::from_raw_os_error(errno),
        }
    }
}

/// Why an operation on a synchronisation object (`Lock`, `RLock`, `Semaphore`,
/// `Condition`, `Event`, `Barrier`) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError {
    /// `release` of a lock that is not locked (CPython: `ValueError`).
    #[error("release of an unlocked lock")]
    NotLocked,
    /// `release` (or a condition operation) by a process/thread that does not own the lock
    /// (CPython: `RuntimeError: cannot release un-acquired lock`).
    #[error("the caller does not own the lock")]
    NotOwner,
    /// `release` of a bounded semaphore would raise it above its initial value.
    #[error("semaphore released too many times (its bound is {bound})")]
    ReleasedTooManyTimes {
        /// The initial (and maximal) value.
        bound: u32,
    },
    /// A value is outside what the object accepts (e.g. zero parties, too large a count).
    #[error("invalid argument: {0}")]
    InvalidArgument(&'static str),
    /// The barrier is broken (a wait timed out, a party aborted it, the action panicked,
    /// or it was reset while this party waited). It stays broken until `reset`.
    #[error("the barrier is broken")]
    BrokenBarrier,
    /// The last party of a barrier cycle has no copy of the barrier's action: its process
    /// was not forked from the one that created the barrier with
    /// `Barrier::with_action`. The barrier is broken.
    #[error("the barrier's action is not available in this process (it was not forked from the process that created the barrier)")]
    ActionUnavailable,
    /// More processes wait on a condition than it has waiter slots for.
    #[error("all {capacity} waiter slots of the condition are taken")]
    TooManyWaiters {
        /// Number of slots the condition was created with.
        capacity: usize,
    },
    /// The underlying lock failed (including its owner dying: see [`LockError::OwnerDied`]).
    #[error(transparent)]
    Lock(#[from] LockError),
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

    /// Map a raw lock error, building the guard when the lock is held (for implementors
    /// of guard types).
    pub fn from_lock(e: LockError, guard: impl FnOnce() -> G) -> Self {
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

/// What a guard-returning lock method returns: the guard, or why not (see [`GuardError`]).
pub type GuardResult<G> = Result<G, GuardError<G>>;

/// What a timed guard-returning lock method returns: `Ok(None)` when the time ran out.
pub type TryGuardResult<G> = Result<Option<G>, GuardError<G>>;
