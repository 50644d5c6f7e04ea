//! The one error type of the crate.
//!
//! Every failure a peer can cause is a typed variant: library code never panics on what
//! it reads. The framing errors ([`Error::Eof`], [`Error::Truncated`],
//! [`Error::TooLarge`], [`Error::BadLength`]) are distinct, because they mean different
//! things: `Eof` is the orderly end of the stream (every copy of the peer's end closed on
//! a frame boundary); the others mean the stream can no longer be trusted.

use std::io;

/// What can go wrong on a [`Connection`](crate::Connection), a
/// [`Listener`](crate::Listener) or a [`Client`](crate::Client).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Every copy of the peer's end is closed, and no partial frame was pending
    /// (CPython's `EOFError`).
    #[error("end of file: every copy of the peer's end is closed")]
    Eof,
    /// The stream ended inside a frame (CPython: "got end of file during message").
    #[error("end of file inside a frame: {got} of {expected} bytes received")]
    Truncated {
        /// Bytes the frame (header or body) needed.
        expected: u64,
        /// Bytes that arrived before the end of the stream.
        got: u64,
    },
    /// Used after [`close`](crate::Connection::close), or after a framing error closed it.
    #[error("the connection is closed")]
    Closed,
    /// A frame claimed more bytes than the receiver accepts. Nothing of the claimed size
    /// was allocated; the connection is closed, as CPython closes it ("bad message
    /// length"), because the stream is no longer on a frame boundary.
    #[error("message of {len} bytes is larger than the limit of {max} bytes")]
    TooLarge {
        /// The length the frame claimed.
        len: u64,
        /// The limit in force.
        max: u64,
    },
    /// A 4-byte length prefix that no correct sender writes (negative, other than the
    /// `-1` that announces the 8-byte extension). The connection is closed.
    #[error("invalid frame length prefix {raw:#010x}")]
    BadLength {
        /// The prefix, as an unsigned big-endian number.
        raw: u32,
    },
    /// [`recv_bytes_into`](crate::Connection::recv_bytes_into) was given a buffer shorter
    /// than the message; the whole message is here (CPython's `BufferTooShort`).
    #[error("buffer too short: the message has {} bytes", message.len())]
    BufferTooShort {
        /// The complete message that did not fit.
        message: Vec<u8>,
    },
    /// `send_bytes_range` was given an offset or size outside the buffer; nothing was
    /// written.
    #[error("range {offset}+{size} is outside a buffer of {len} bytes")]
    OutOfRange {
        /// Requested offset.
        offset: usize,
        /// Requested size.
        size: usize,
        /// Length of the buffer.
        len: usize,
    },
    /// Reading from the write end or writing to the read end of a simplex pipe.
    #[error("connection is {0}")]
    WrongDirection(&'static str),
    /// A timed operation did not complete in time. A partially received frame is kept
    /// and completed by the next receive.
    #[error("timed out")]
    Timeout,

    /// A read-ahead end ([`Connection::set_read_ahead`](crate::Connection::set_read_ahead))
    /// was inherited across `fork` with bytes already read ahead by the parent: receiving
    /// them here could deliver a message twice (once in each process), so this copy of
    /// the end refuses to receive. Turn read-ahead on only in the one process that reads.
    #[error("this end read ahead in process {pid}; a forked copy cannot receive from it")]
    ReadAheadInherited {
        /// The process that read the buffered bytes.
        pid: u32,
    },
    /// The authentication handshake failed (wrong key, refused digest, protocol error).
    #[error("authentication failed: {0}")]
    AuthenticationFailed(String),
    /// A handshake message was longer than the 256 bytes the protocol allows.
    #[error("handshake message of {len} bytes exceeds 256")]
    HandshakeTooLong {
        /// The length the peer claimed.
        len: u64,
    },
    /// The address is in use: another listener is bound, or a socket file is there
    /// (see [`remove_stale_socket`](crate::remove_stale_socket)).
    #[error("address in use: {address}")]
    AddrInUse {
        /// The address, as displayed.
        address: String,
    },
    /// A serialisation codec failed.
    #[error("codec: {0}")]
    Codec(String),
    /// An operating-system error.
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl Error {
    /// Is this one of the errors that mean the byte stream lost its framing (a length
    /// prefix no sender wrote, a frame cut short, a claimed length over the limit)?
    pub fn is_framing(&self) -> bool {
        matches!(
            self,
            Error::Truncated { .. } | Error::TooLarge { .. } | Error::BadLength { .. }
        )
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
