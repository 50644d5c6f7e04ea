//! The system calls the crate makes: `socketpair`, `pipe2`, `read`, `writev`/`sendmsg`,
//! `ppoll`. Nothing else in the crate calls libc.
//!
//! Every call retries on `EINTR`. Sockets are written with `sendmsg(MSG_NOSIGNAL)`, so a
//! closed peer is an `EPIPE` error and never a `SIGPIPE`; pipes are written with
//! `writev` (Rust programs ignore `SIGPIPE` by default; a program that restores it gets
//! the signal, as with any pipe).

use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// A connected pair of `AF_UNIX`/`SOCK_STREAM` sockets, close-on-exec.
pub(crate) fn socketpair() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: socketpair writes two fds into the array on success.
    cvt(unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    })?;
    // SAFETY: both fds were just created and nobody else owns them.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// A pipe, close-on-exec: `(read end, write end)`.
pub(crate) fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: pipe2 writes two fds into the array on success.
    cvt(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) })?;
    // SAFETY: both fds were just created and nobody else owns them.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Is `fd` a socket?
pub(crate) fn is_socket(fd: RawFd) -> bool {
    // SAFETY: fstat fills a zeroed stat struct; an invalid fd only yields an error.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `st` is a valid, writable stat buffer.
    let r = unsafe { libc::fstat(fd, &mut st) };
    r == 0 && (st.st_mode & libc::S_IFMT) == libc::S_IFSOCK
}

/// One `read(2)` into `buf`, retried on `EINTR`. `Ok(0)` is end of file.
pub(crate) fn read(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        // SAFETY: reads at most buf.len() bytes into a valid, writable buffer.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n >= 0 {
            return Ok(n as usize);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Write every byte of `buf` (`send` with `MSG_NOSIGNAL` on sockets, `write` otherwise).
fn write_all(fd: RawFd, socket: bool, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        let n = if socket {
            // SAFETY: sends from a live buffer of `buf.len()` bytes.
            unsafe { libc::send(fd, buf.as_ptr().cast(), buf.len(), libc::MSG_NOSIGNAL) }
        } else {
            // SAFETY: writes from a live buffer of `buf.len()` bytes.
            unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) }
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        buf = &buf[n as usize..];
    }
    Ok(())
}

/// Write every byte of `header` then `body` with as few system calls as the kernel
/// allows: one gathered write (`sendmsg` with `MSG_NOSIGNAL` on sockets, `writev`
/// otherwise), continued after partial writes.
pub(crate) fn write_frame(fd: RawFd, socket: bool, header: &[u8], body: &[u8]) -> io::Result<()> {
    // A small frame: one contiguous buffer on the stack, so the kernel gets one plain
    // `send`/`write` (cheaper than importing an iovec array); the copy is tiny.
    const SMALL: usize = 512;
    if header.len() + body.len() <= SMALL {
        let mut buf = [0u8; SMALL];
        let n = header.len() + body.len();
        buf[..header.len()].copy_from_slice(header);
        buf[header.len()..n].copy_from_slice(body);
        return write_all(fd, socket, &buf[..n]);
    }
    let mut parts = [header, body];
    let mut first = usize::from(header.is_empty());
    while first < 2 {
        if parts[first].is_empty() {
            first += 1;
            continue;
        }
        let iov = [parts[0], parts[1]].map(|p| libc::iovec {
            iov_base: p.as_ptr() as *mut libc::c_void,
            iov_len: p.len(),
        });
        let iov = &iov[first..];
        let n = if socket {
            // SAFETY: a zeroed msghdr is valid (no name, no control data).
            let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
            msg.msg_iov = iov.as_ptr() as *mut libc::iovec;
            msg.msg_iovlen = iov.len() as _;
            // SAFETY: the iovecs point into live slices borrowed for this call; the
            // kernel only reads through them.
            unsafe { libc::sendmsg(fd, &msg, libc::MSG_NOSIGNAL) }
        } else {
            // SAFETY: the iovecs point into live slices borrowed for this call.
            unsafe { libc::writev(fd, iov.as_ptr(), iov.len() as libc::c_int) }
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        let mut n = n as usize;
        while n > 0 && first < 2 {
            let len = parts[first].len();
            if n >= len {
                n -= len;
                parts[first] = &[];
                first += 1;
            } else {
                parts[first] = &parts[first][n..];
                n = 0;
            }
        }
    }
    Ok(())
}

/// `ppoll(2)` for readability on `fds` until one is ready or `deadline` passes (`None`:
/// no deadline). Returns the `revents` of each fd (all zero on timeout). Negative fds
/// are ignored, as poll(2) ignores them.
pub(crate) fn poll_readable(fds: &[RawFd], deadline: Option<Instant>) -> io::Result<Vec<bool>> {
    let mut pfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|&fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    loop {
        let ts = match deadline {
            None => None,
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                Some(timespec(left))
            }
        };
        let tsp = ts
            .as_ref()
            .map_or(std::ptr::null(), |t| t as *const libc::timespec);
        // SAFETY: `pfds` is a valid array of pollfd; `tsp` is null or points to a live
        // timespec; no signal mask.
        let r = unsafe {
            libc::ppoll(
                pfds.as_mut_ptr(),
                pfds.len() as libc::nfds_t,
                tsp,
                std::ptr::null(),
            )
        };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        // POLLHUP and POLLERR count as readable: the next read reports EOF or the error.
        return Ok(pfds
            .iter()
            .map(|p| p.revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0)
            .collect());
    }
}

fn timespec(d: Duration) -> libc::timespec {
    libc::timespec {
        tv_sec: d.as_secs().min(i64::MAX as u64) as libc::time_t,
        tv_nsec: d.subsec_nanos() as libc::c_long,
    }
}
