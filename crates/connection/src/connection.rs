//! [`Connection`] and [`Pipe`]: CPython's `multiprocessing.connection.Connection` on
//! POSIX, message-framed by [`frame`](crate::frame).
//!
//! * [`Pipe::duplex`] is a `socketpair(AF_UNIX, SOCK_STREAM)`; [`Pipe::simplex`] is a
//!   `pipe(2)`, returned as `(reader, writer)` as CPython's `Pipe(duplex=False)` does.
//! * Message boundaries are preserved: one `send_bytes` is one `recv_bytes`, never merged
//!   with or split from another; an empty message is a message (it makes [`poll`] true and
//!   `recv_bytes` returns it) and is never end of file.
//! * [`Error::Eof`] only when every copy of the peer's end is closed (fork copies the
//!   ends: the parent must drop its copy of the end it gave a child). The stream ending
//!   inside a frame is [`Error::Truncated`].
//! * Receiving never allocates what a peer claims (see [`frame`](crate::frame)); a frame
//!   over the connection's limit ([`Connection::set_max_message`], default 1 GiB) or over
//!   `recv_bytes_max`'s limit is [`Error::TooLarge`], after which the receiving side is
//!   closed (as CPython closes the connection): the stream is no longer on a frame
//!   boundary.
//! * [`poll`] never reads: it asks the kernel whether a byte is readable (or a partial
//!   frame kept by a timed-out receive can continue), so several processes polling one
//!   shared end cannot corrupt it. A timed-out [`recv_bytes_timeout`] keeps its partial
//!   frame in this process's `Connection`, and the next receive completes it.
//! * Several processes may use one end if a lock serialises whole messages (sending and
//!   receiving); without one, large messages interleave (`tests/connection_trap.rs`).
//!
//! * Read-ahead (off by default, [`Connection::set_read_ahead`]): an end read by one
//!   process only may read up to 64 KiB at a time and cut frames out of its buffer, one
//!   system call for the header and body of a small message instead of two. A forked copy
//!   of an end with buffered bytes refuses to receive ([`Error::ReadAheadInherited`])
//!   rather than deliver them a second time.
//!
//! Every send, receive and poll passes a schedule point ([`Point::Send`],
//! [`Point::Recv`], [`Point::Poll`]) for the harness.
//!
//! Tested by `tests/connection.rs` (CPython's documented behaviours across forked
//! processes) and the crate's own `tests/`.
//!
//! [`poll`]: Connection::poll
//! [`recv_bytes_timeout`]: Connection::recv_bytes_timeout

use crate::codec::{Codec, Postcard};
use crate::error::{Error, Result};
use crate::frame::{FrameReader, Header, DEFAULT_MAX_MESSAGE};
use crate::sys;
use procshare_sync::hook::{self, Point};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::cell::RefCell;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

/// Which way a connection's bytes may flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A socket: both directions.
    Socket,
    /// The read end of a pipe.
    Reader,
    /// The write end of a pipe.
    Writer,
}

/// One end of a message channel (CPython's `Connection`).
///
/// Methods take `&self`: the partial-frame state of a receive lives in a `RefCell`, so a
/// `Connection` is `Send` but not `Sync` (share it between threads behind a mutex; between
/// processes, by forking — each process has its own copy of the end).
#[derive(Debug)]
pub struct Connection {
    fd: Option<OwnedFd>,
    kind: Kind,
    reader: RefCell<FrameReader>,
    max_message: u64,
    /// Bytes read ahead of the current frame (read-ahead mode only).
    ahead: RefCell<Option<ReadAhead>>,
}

/// The read-ahead buffer of an end read by one process.
#[derive(Debug)]
struct ReadAhead {
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    /// The process that filled `buf[start..end]`.
    pid: u32,
}

/// Size of the read-ahead buffer.
const READ_AHEAD: usize = 64 * 1024;

impl ReadAhead {
    fn new() -> ReadAhead {
        ReadAhead {
            buf: vec![0; READ_AHEAD].into_boxed_slice(),
            start: 0,
            end: 0,
            pid: std::process::id(),
        }
    }

    fn buffered(&self) -> usize {
        self.end - self.start
    }

    /// Refuse bytes another process read (a copy inherited across fork); adopt an empty
    /// buffer.
    fn check_owner(&mut self) -> Result<()> {
        let me = std::process::id();
        if self.pid != me {
            if self.buffered() > 0 {
                return Err(Error::ReadAheadInherited { pid: self.pid });
            }
            self.pid = me;
        }
        Ok(())
    }
}

/// A [`Read`] that serves the read-ahead buffer first and refills it with one read.
struct AheadSource<'a> {
    fd: FdSource,
    ahead: &'a mut ReadAhead,
}

impl Read for AheadSource<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let a = &mut *self.ahead;
        if a.buffered() == 0 {
            if out.len() >= a.buf.len() {
                // A large body: straight into the frame, no copy.
                return self.fd.read(out);
            }
            let n = self.fd.read(&mut a.buf)?;
            a.start = 0;
            a.end = n;
            if n == 0 {
                return Ok(0);
            }
        }
        let n = out.len().min(a.buffered());
        out[..n].copy_from_slice(&a.buf[a.start..a.start + n]);
        a.start += n;
        Ok(n)
    }
}

/// Constructors of connected pairs (CPython's `Pipe()`).
#[derive(Debug)]
pub struct Pipe;

impl Pipe {
    /// Two connected ends, each readable and writable (`Pipe(duplex=True)`), over
    /// `socketpair(AF_UNIX, SOCK_STREAM)`.
    pub fn duplex() -> Result<(Connection, Connection)> {
        let (a, b) = sys::socketpair()?;
        Ok((
            Connection::new(a, Kind::Socket),
            Connection::new(b, Kind::Socket),
        ))
    }

    /// `(reader, writer)` over `pipe(2)` (`Pipe(duplex=False)`).
    pub fn simplex() -> Result<(Connection, Connection)> {
        let (r, w) = sys::pipe()?;
        Ok((
            Connection::new(r, Kind::Reader),
            Connection::new(w, Kind::Writer),
        ))
    }
}

/// CPython's `Pipe(duplex)`: [`Pipe::duplex`] or [`Pipe::simplex`].
pub fn pipe(duplex: bool) -> Result<(Connection, Connection)> {
    if duplex {
        Pipe::duplex()
    } else {
        Pipe::simplex()
    }
}

/// A [`Read`] over the connection's fd that gives up at a deadline with `TimedOut`.
struct FdSource {
    fd: RawFd,
    deadline: Option<Instant>,
}

impl Read for FdSource {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(deadline) = self.deadline {
            if !sys::poll_readable(&[self.fd], Some(deadline))?[0] {
                return Err(io::ErrorKind::TimedOut.into());
            }
        }
        sys::read(self.fd, buf)
    }
}

impl Connection {
    fn new(fd: OwnedFd, kind: Kind) -> Connection {
        Connection {
            fd: Some(fd),
            kind,
            reader: RefCell::new(FrameReader::new()),
            max_message: DEFAULT_MAX_MESSAGE,
            ahead: RefCell::new(None),
        }
    }

    /// Wrap a connected stream socket (Unix or TCP), readable and writable.
    pub fn from_socket(fd: OwnedFd) -> Connection {
        Connection::new(fd, Kind::Socket)
    }

    /// Wrap any fd: a socket is duplex; anything else is taken as a pipe end, readable if
    /// `readable`, else writable.
    pub fn from_fd(fd: OwnedFd, readable: bool) -> Connection {
        let kind = if sys::is_socket(fd.as_raw_fd()) {
            Kind::Socket
        } else if readable {
            Kind::Reader
        } else {
            Kind::Writer
        };
        Connection::new(fd, kind)
    }

    /// The largest message this end accepts (default [`DEFAULT_MAX_MESSAGE`], 1 GiB).
    pub fn max_message(&self) -> u64 {
        self.max_message
    }

    /// Change the largest message this end accepts.
    pub fn set_max_message(&mut self, max: u64) {
        self.max_message = max;
    }

    /// Turn read-ahead on or off for this process's copy of the end (see the module
    /// docs). On: a receive reads up to 64 KiB at once and keeps what follows the frame
    /// for the next receive, so a small message costs one system call instead of two.
    /// Only for an end that one process alone reads: bytes read ahead are this process's,
    /// and a forked copy that inherits some refuses to receive them
    /// ([`Error::ReadAheadInherited`]). Turning it off while bytes are buffered is
    /// refused with [`Error::Io`] (`WouldBlock`): they would be lost.
    pub fn set_read_ahead(&mut self, on: bool) -> Result<()> {
        let ahead = self.ahead.get_mut();
        match (on, ahead.as_ref()) {
            (true, None) => *ahead = Some(ReadAhead::new()),
            (false, Some(a)) if a.buffered() > 0 => {
                return Err(Error::Io(io::Error::new(
                    io::ErrorKind::WouldBlock,
                    "read-ahead bytes are still buffered",
                )))
            }
            (false, _) => *ahead = None,
            (true, Some(_)) => {}
        }
        Ok(())
    }

    /// Is read-ahead on ([`set_read_ahead`](Connection::set_read_ahead))?
    pub fn read_ahead(&self) -> bool {
        self.ahead.borrow().is_some()
    }

    /// Bytes this process has read ahead and not yet received (0 without read-ahead).
    pub(crate) fn buffered_bytes(&self) -> usize {
        self.ahead.borrow().as_ref().map_or(0, ReadAhead::buffered)
    }

    /// Can this end receive (CPython's `readable`)?
    pub fn readable(&self) -> bool {
        self.kind != Kind::Writer
    }

    /// Can this end send (CPython's `writable`)?
    pub fn writable(&self) -> bool {
        self.kind != Kind::Reader
    }

    /// Has [`close`](Connection::close) been called?
    pub fn closed(&self) -> bool {
        self.fd.is_none()
    }

    /// Close this process's copy of the end. Later calls return [`Error::Closed`].
    pub fn close(&mut self) {
        self.fd = None;
    }

    /// The end's descriptor, consuming the connection (`None` if it was closed): to hand
    /// it to code that makes its own `Connection`s, e.g. one per process over a duplicate.
    /// A partly received frame is dropped with the connection.
    pub fn into_fd(mut self) -> Option<OwnedFd> {
        self.fd.take()
    }

    fn raw(&self) -> Result<RawFd> {
        self.fd.as_ref().map(|f| f.as_raw_fd()).ok_or(Error::Closed)
    }

    fn check_writable(&self) -> Result<RawFd> {
        let fd = self.raw()?;
        if !self.writable() {
            return Err(Error::WrongDirection("read-only"));
        }
        Ok(fd)
    }

    fn check_readable(&self) -> Result<RawFd> {
        let fd = self.raw()?;
        if !self.readable() {
            return Err(Error::WrongDirection("write-only"));
        }
        Ok(fd)
    }

    /// Send `buf` as one message.
    pub fn send_bytes(&self, buf: &[u8]) -> Result<()> {
        let fd = self.check_writable()?;
        hook::point(Point::Send);
        // Prefix and body in one gathered write: one segment on TCP, as CPython's
        // concatenation of small messages achieves (no Nagle delay), without a copy.
        let header = Header::for_len(buf.len() as u64);
        sys::write_frame(fd, self.kind == Kind::Socket, header.as_bytes(), buf)?;
        Ok(())
    }

    /// Send `buf[offset..offset + size]` as one message (`size: None`: to the end), as
    /// CPython's `send_bytes(buf, offset, size)`. A range outside `buf` is
    /// [`Error::OutOfRange`] and nothing is written.
    pub fn send_bytes_range(&self, buf: &[u8], offset: usize, size: Option<usize>) -> Result<()> {
        let len = buf.len();
        let out_of_range = Error::OutOfRange {
            offset,
            size: size.unwrap_or(0),
            len,
        };
        if offset > len {
            return Err(out_of_range);
        }
        let size = size.unwrap_or(len - offset);
        match offset.checked_add(size) {
            Some(end) if end <= len => self.send_bytes(&buf[offset..end]),
            _ => Err(out_of_range),
        }
    }

    pub(crate) fn recv_frame(&self, max: u64, deadline: Option<Instant>) -> Result<Vec<u8>> {
        let fd = self.check_readable()?;
        hook::point(Point::Recv);
        let mut reader = self.reader.try_borrow_mut().map_err(|_| {
            Error::Io(io::Error::new(
                io::ErrorKind::WouldBlock,
                "Connection used re-entrantly",
            ))
        })?;
        let mut source = FdSource { fd, deadline };
        let mut ahead = self.ahead.borrow_mut();
        match ahead.as_mut() {
            None => reader.read_frame(&mut source, max),
            Some(ahead) => {
                ahead.check_owner()?;
                reader.read_frame(&mut AheadSource { fd: source, ahead }, max)
            }
        }
    }

    /// Receive one message (blocks until it has arrived whole).
    pub fn recv_bytes(&self) -> Result<Vec<u8>> {
        self.recv_frame(self.max_message, None)
    }

    /// Receive one message of at most `maxlen` bytes. A longer one is
    /// [`Error::TooLarge`]: nothing of its size is allocated, and the receiving side is
    /// closed (CPython: "bad message length").
    pub fn recv_bytes_max(&self, maxlen: u64) -> Result<Vec<u8>> {
        self.recv_frame(maxlen.min(self.max_message), None)
    }

    /// Receive one message, waiting at most `timeout` ([`Error::Timeout`] then; a
    /// partial frame is kept and completed by the next receive).
    pub fn recv_bytes_timeout(&self, timeout: Duration) -> Result<Vec<u8>> {
        self.recv_frame(self.max_message, Some(Instant::now() + timeout))
    }

    /// Receive one message into `buf`, returning its length. If it does not fit, the
    /// error [`Error::BufferTooShort`] carries the whole message and `buf` is untouched.
    pub fn recv_bytes_into(&self, buf: &mut [u8]) -> Result<usize> {
        let message = self.recv_bytes()?;
        if message.len() > buf.len() {
            return Err(Error::BufferTooShort { message });
        }
        buf[..message.len()].copy_from_slice(&message);
        Ok(message.len())
    }

    /// Send `value` encoded with the compact [`Postcard`] codec (for Rust peers).
    pub fn send<T: Serialize>(&self, value: &T) -> Result<()> {
        self.send_with(&Postcard, value)
    }

    /// Receive a value sent with [`send`](Connection::send).
    pub fn recv<T: DeserializeOwned>(&self) -> Result<T> {
        self.recv_with(&Postcard)
    }

    /// Receive a value sent with [`send`](Connection::send), waiting at most `timeout`.
    pub fn recv_timeout<T: DeserializeOwned>(&self, timeout: Duration) -> Result<T> {
        Postcard.decode(&self.recv_bytes_timeout(timeout)?)
    }

    /// Send `value` encoded with `codec` (e.g. [`Pickle`](crate::Pickle) for python3).
    pub fn send_with<C: Codec, T: Serialize>(&self, codec: &C, value: &T) -> Result<()> {
        // Check before encoding, so a wrong-direction end fails without the work.
        self.check_writable()?;
        self.send_bytes(&codec.encode(value)?)
    }

    /// Receive a value encoded with `codec`.
    pub fn recv_with<C: Codec, T: DeserializeOwned>(&self, codec: &C) -> Result<T> {
        codec.decode(&self.recv_bytes()?)
    }

    /// Is a message (or its first byte, or end of file) ready to be received? Waits up to
    /// `timeout` (`None`: forever; zero: just look). Never reads from the stream.
    pub fn poll(&self, timeout: Option<Duration>) -> Result<bool> {
        let fd = self.check_readable()?;
        hook::point(Point::Poll);
        if let Some(ahead) = self.ahead.borrow_mut().as_mut() {
            ahead.check_owner()?;
            if ahead.buffered() > 0 {
                return Ok(true);
            }
        }
        let deadline = timeout.map(|t| Instant::now() + t);
        Ok(sys::poll_readable(&[fd], deadline)?[0])
    }
}

impl AsRawFd for Connection {
    /// The end's fd, or `-1` after [`close`](Connection::close).
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_ref().map_or(-1, |f| f.as_raw_fd())
    }
}
