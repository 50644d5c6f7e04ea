//! [`Link`]: the manager's socket transport — the Connection's frames, read through a
//! buffer.
//!
//! A manager connection belongs to one client thread and one server thread, so nobody
//! else reads from it and reading ahead is safe (a `Connection` end may be shared between
//! processes, so it never reads past a frame). Frames are parsed by the Connection's own
//! [`FrameReader`] (the same limits: a claim over the limit is `TooLarge` before any
//! allocation, and a body grows only as bytes arrive); the buffer turns the two reads per
//! message (prefix, then body) into one. A frame is written with one `send` (prefix and
//! body together, `MSG_NOSIGNAL`: a closed peer is an error, never a SIGPIPE).
//!
//! Every send passes [`Point::Send`] before it writes, every receive [`Point::Recv`]
//! after its frame arrived (see [`Link::recv_frame`]), so a controlled scheduler
//! interleaves whole requests and can kill a client before a request or after its reply.

use crate::client::Transport;
use crate::error::{Error, Result};
use procshare_connection::frame::{FrameReader, Header};
use procshare_sync::hook::{self, Point};
use std::cell::RefCell;
use std::io::{self, BufReader, Read};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

/// Reads from a raw socket descriptor, retrying on `EINTR`.
struct FdRead(RawFd);

impl Read for FdRead {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            // SAFETY: reads into a live buffer from a descriptor the Link owns.
            let n = unsafe { libc::read(self.0, buf.as_mut_ptr().cast(), buf.len()) };
            if n >= 0 {
                return Ok(n as usize);
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }
}

/// A buffered, framed socket owned by one thread at each end.
pub(crate) struct Link {
    fd: OwnedFd,
    reader: RefCell<(BufReader<FdRead>, FrameReader)>,
    /// The frame being sent (prefix and body), kept between sends.
    out: RefCell<Vec<u8>>,
    max: u64,
}

/// A kept buffer (a link's send buffer, a server connection's request and reply buffers,
/// a thread's call buffers) grown past this is freed after use instead of kept.
pub(crate) const KEEP_OUT: usize = 64 * 1024;

impl Link {
    /// Take over an authenticated connection's socket; frames over `max` bytes are
    /// refused.
    pub(crate) fn new(fd: OwnedFd, max: u64) -> Link {
        let raw = fd.as_raw_fd();
        Link {
            fd,
            reader: RefCell::new((
                BufReader::with_capacity(16 * 1024, FdRead(raw)),
                FrameReader::new(),
            )),
            out: RefCell::new(Vec::new()),
            max,
        }
    }

    /// Receive one frame, with the Connection's errors. The schedule point comes *after*
    /// the frame has arrived: a client's request is then applied entirely between its
    /// `Send` point and this one, so a controlled schedule of clients decides every
    /// outcome (replays are exact) and a kill lands before a request or after its reply.
    pub(crate) fn recv_frame(&self) -> std::result::Result<Vec<u8>, procshare_connection::Error> {
        let mut r = self.reader.borrow_mut();
        let (buf, frames) = &mut *r;
        let frame = frames.read_frame(buf, self.max);
        hook::point(Point::Recv);
        frame
    }

    /// Bytes read from the socket and not yet handed out (the fast path's hand-over
    /// needs none: the descriptor must come next on the socket itself).
    pub(crate) fn buffered(&self) -> usize {
        self.reader.borrow().0.buffer().len()
    }

    /// Send one frame (prefix and body in one `send`).
    pub(crate) fn send_frame(&self, body: &[u8]) -> io::Result<()> {
        hook::point(Point::Send);
        let header = Header::for_len(body.len() as u64);
        let mut out = self.out.borrow_mut();
        out.clear();
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(body);
        let r = self.send_all(&out);
        if out.capacity() > KEEP_OUT {
            *out = Vec::new();
        }
        r
    }

    fn send_all(&self, out: &[u8]) -> io::Result<()> {
        let mut done = 0;
        while done < out.len() {
            // SAFETY: sends from a live buffer on a socket the Link owns.
            let n = unsafe {
                libc::send(
                    self.fd.as_raw_fd(),
                    out[done..].as_ptr().cast(),
                    out.len() - done,
                    libc::MSG_NOSIGNAL,
                )
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            done += n as usize;
        }
        Ok(())
    }
}

impl AsRawFd for Link {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl Transport for Link {
    fn send_message(&self, bytes: &[u8]) -> Result<()> {
        Ok(self.send_frame(bytes)?)
    }
    fn recv_message(&self) -> Result<Vec<u8>> {
        self.recv_frame().map_err(Error::Connection)
    }
}
