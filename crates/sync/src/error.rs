//! The error type shared by every lock strategy.

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
