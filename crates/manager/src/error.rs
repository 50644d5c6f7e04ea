//! The manager's errors: what a caller is told, locally ([`Error`]) and from the server
//! ([`RemoteError`]).
//!
//! Every failure the server reports travels as a [`RemoteError`] (a [`RemoteKind`] and a
//! message) and never as a panic or a dropped connection, except where the byte stream
//! itself can no longer be trusted (an oversized frame: the server replies
//! [`RemoteKind::TooLarge`], then closes that connection). Errors of the server-side
//! synchronisation objects come back as the local [`SyncError`] variants
//! ([`Error::Sync`]), so a `LockProxy` fails exactly like a local `Lock`.

use procshare_queue::QueueError;
use procshare_sync::SyncError;
use serde::{Deserialize, Serialize};
use std::fmt;

/// What kind of failure the server reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum RemoteKind {
    /// The request could not be decoded, or came before the connection's `Hello`.
    BadRequest,
    /// A frame was longer than the server accepts; the connection is closed after this
    /// reply.
    TooLarge,
    /// No live object has this id (never created, or already freed).
    UnknownObject,
    /// No such type can be created on this server (a custom type not registered).
    UnknownType,
    /// The object has no such method, or does not expose it (CPython's
    /// "method ... not in exposed").
    NotExposed,
    /// An argument has the wrong type or count (CPython's `TypeError`).
    TypeMismatch,
    /// A key is not in the dict or namespace (CPython's `KeyError`/`AttributeError`).
    KeyError,
    /// An index is out of range (CPython's `IndexError`).
    IndexError,
    /// An arithmetic operation overflowed (`fetch_add` past `i64`).
    Overflow,
    /// A server-side synchronisation object failed (decoded into [`Error::Sync`] where
    /// the local error has a counterpart).
    Sync(SyncCode),
    /// A server-side queue failed (decoded into [`Error::Queue`] where the local error
    /// has a counterpart).
    Queue(QueueCode),
    /// A registered custom type's method returned an error; the message is its text.
    Method,
    /// The session does not hold the reference it tried to drop.
    NoReference,
    /// The server is shutting down.
    ShuttingDown,
}

/// The synchronisation errors that cross the wire, mirroring [`SyncError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum SyncCode {
    /// [`SyncError::NotLocked`].
    NotLocked,
    /// [`SyncError::NotOwner`].
    NotOwner,
    /// [`SyncError::ReleasedTooManyTimes`].
    ReleasedTooManyTimes {
        /// The semaphore's bound.
        bound: u32,
    },
    /// [`SyncError::BrokenBarrier`].
    BrokenBarrier,
    /// [`SyncError::TooManyWaiters`].
    TooManyWaiters {
        /// The condition's waiter slots.
        capacity: u32,
    },
    /// Any other failure (its text is the message).
    Other,
}

impl SyncCode {
    /// The wire code of a local error.
    pub fn of(e: &SyncError) -> SyncCode {
        match e {
            SyncError::NotLocked => SyncCode::NotLocked,
            SyncError::NotOwner => SyncCode::NotOwner,
            SyncError::ReleasedTooManyTimes { bound } => {
                SyncCode::ReleasedTooManyTimes { bound: *bound }
            }
            SyncError::BrokenBarrier => SyncCode::BrokenBarrier,
            SyncError::TooManyWaiters { capacity } => SyncCode::TooManyWaiters {
                capacity: (*capacity).min(u32::MAX as usize) as u32,
            },
            _ => SyncCode::Other,
        }
    }

    fn to_local(self) -> Option<SyncError> {
        Some(match self {
            SyncCode::NotLocked => SyncError::NotLocked,
            SyncCode::NotOwner => SyncError::NotOwner,
            SyncCode::ReleasedTooManyTimes { bound } => SyncError::ReleasedTooManyTimes { bound },
            SyncCode::BrokenBarrier => SyncError::BrokenBarrier,
            SyncCode::TooManyWaiters { capacity } => SyncError::TooManyWaiters {
                capacity: capacity as usize,
            },
            SyncCode::Other => return None,
        })
    }
}

/// The queue errors that cross the wire, mirroring [`QueueError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum QueueCode {
    /// [`QueueError::Full`].
    Full,
    /// [`QueueError::Empty`].
    Empty,
    /// [`QueueError::TaskDone`].
    TaskDone,
    /// [`QueueError::TooLarge`].
    TooLarge {
        /// The message's length.
        len: u64,
        /// The largest message the queue holds.
        max: u64,
    },
    /// Any other failure (its text is the message).
    Other,
}

impl QueueCode {
    /// The wire code of a local error.
    pub fn of(e: &QueueError) -> QueueCode {
        match e {
            QueueError::Full => QueueCode::Full,
            QueueError::Empty => QueueCode::Empty,
            QueueError::TaskDone => QueueCode::TaskDone,
            QueueError::TooLarge { len, max } => QueueCode::TooLarge {
                len: *len as u64,
                max: *max as u64,
            },
            _ => QueueCode::Other,
        }
    }

    fn to_local(self) -> Option<QueueError> {
        Some(match self {
            QueueCode::Full => QueueError::Full,
            QueueCode::Empty => QueueError::Empty,
            QueueCode::TaskDone => QueueError::TaskDone,
            QueueCode::TooLarge { len, max } => QueueError::TooLarge {
                len: len as usize,
                max: max as usize,
            },
            QueueCode::Other => return None,
        })
    }
}

/// A failure reported by the server for one request. The server kept serving.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub struct RemoteError {
    /// What went wrong.
    pub kind: RemoteKind,
    /// The server's explanation (for [`RemoteKind::Method`]: the method's error text).
    pub message: String,
}

impl RemoteError {
    /// A remote error of `kind` with `message`.
    pub fn new(kind: RemoteKind, message: impl Into<String>) -> RemoteError {
        RemoteError {
            kind,
            message: message.into(),
        }
    }
}

impl fmt::Display for RemoteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "remote {:?}: {}", self.kind, self.message)
    }
}

/// What a manager operation can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server answered with an error (the request was not applied).
    #[error(transparent)]
    Remote(#[from] RemoteError),
    /// A server-side synchronisation object failed as the local one would.
    #[error(transparent)]
    Sync(SyncError),
    /// A server-side queue failed as the local one would (`Full`, `Empty`, `TaskDone`).
    #[error(transparent)]
    Queue(QueueError),
    /// The connection to the server failed (refused, closed, bad authentication…).
    #[error("connection to the manager: {0}")]
    Connection(#[from] procshare_connection::Error),
    /// Starting or stopping the server process failed.
    #[error("manager process: {0}")]
    Process(#[from] procshare_shm::Error),
    /// A value could not be encoded or a reply decoded into the requested type.
    #[error("codec: {0}")]
    Codec(String),
    /// An operating-system call failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl Error {
    /// The remote error's kind, if this is one (sync errors count as
    /// [`RemoteKind::Sync`]).
    pub fn remote_kind(&self) -> Option<RemoteKind> {
        match self {
            Error::Remote(r) => Some(r.kind),
            Error::Sync(e) => Some(RemoteKind::Sync(SyncCode::of(e))),
            Error::Queue(e) => Some(RemoteKind::Queue(QueueCode::of(e))),
            _ => None,
        }
    }

    pub(crate) fn from_remote(r: RemoteError) -> Error {
        if let RemoteKind::Sync(code) = r.kind {
            if let Some(local) = code.to_local() {
                return Error::Sync(local);
            }
        }
        if let RemoteKind::Queue(code) = r.kind {
            if let Some(local) = code.to_local() {
                return Error::Queue(local);
            }
        }
        Error::Remote(r)
    }

    pub(crate) fn codec(e: impl fmt::Display) -> Error {
        Error::Codec(e.to_string())
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
