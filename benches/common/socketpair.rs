//! The raw `socketpair` round trip of the connection and manager benches (no library
//! code but `Process`), included by each with `#[path]`.
#![allow(dead_code, reason = "each bench uses a different subset")]

use std::os::fd::RawFd;

/// A connected `socketpair(AF_UNIX, SOCK_STREAM)`: the raw baseline of the round-trip
/// benches (no library code).
pub(crate) fn raw_fd_pair() -> (RawFd, RawFd) {
    let mut fds = [0; 2];
    // SAFETY: socketpair writes two fds into the array.
    let r = unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0, fds.as_mut_ptr()) };
    assert_eq!(r, 0, "socketpair");
    (fds[0], fds[1])
}

/// Read exactly `buf.len()` bytes; false at end of file or on an error.
pub(crate) fn read_exact(fd: RawFd, buf: &mut [u8]) -> bool {
    let mut got = 0;
    while got < buf.len() {
        // SAFETY: reads into the unfilled tail of a live buffer.
        let n = unsafe { libc::read(fd, buf[got..].as_mut_ptr().cast(), buf.len() - got) };
        if n <= 0 {
            return false;
        }
        got += n as usize;
    }
    true
}

/// Write all of `buf`.
pub(crate) fn write_all(fd: RawFd, buf: &[u8]) {
    let mut done = 0;
    while done < buf.len() {
        // SAFETY: writes from a live buffer.
        let n = unsafe { libc::write(fd, buf[done..].as_ptr().cast(), buf.len() - done) };
        assert!(n > 0, "write");
        done += n as usize;
    }
}

/// Size of a raw round trip's message.
pub(crate) const RAW_LEN: usize = 64;

/// `rounds` raw socketpair round trips of [`RAW_LEN`] bytes to a fresh echoing child
/// ([`procshare::Process`]), after one untimed round; each one's latency in ns. The
/// parent checks every echo; a message starting with `0xff` stops the child.
pub(crate) fn raw_socketpair(rounds: usize) -> Vec<u64> {
    raw_socketpair_placed(rounds, || {})
}

/// [`raw_socketpair`], calling `after_spawn` in the parent once the child exists and
/// before the first round (to move the parent to another CPU than the child inherited).
pub(crate) fn raw_socketpair_placed(rounds: usize, after_spawn: impl FnOnce()) -> Vec<u64> {
    let (parent, child_fd) = raw_fd_pair();
    let mut child = procshare::Process::spawn(|| {
        let mut buf = [0u8; RAW_LEN];
        while read_exact(child_fd, &mut buf) && buf[0] != 0xff {
            write_all(child_fd, &buf);
        }
    })
    .unwrap();
    after_spawn();
    let mut msg = [7u8; RAW_LEN];
    let mut back = [0u8; RAW_LEN];
    let mut times = Vec::with_capacity(rounds);
    for i in 0..=rounds {
        msg[1] = i as u8;
        let t = std::time::Instant::now();
        write_all(parent, &msg);
        assert!(read_exact(parent, &mut back));
        if i > 0 {
            times.push(t.elapsed().as_nanos() as u64);
        }
        assert_eq!(back, msg);
    }
    write_all(parent, &[0xff; RAW_LEN]);
    assert_eq!(child.join().unwrap(), 0);
    // SAFETY: closing the two fds this function created.
    unsafe {
        libc::close(parent);
        libc::close(child_fd);
    }
    times
}
