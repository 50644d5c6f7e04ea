//! The raw system calls the hand-written baselines use: shared futex wait/wake, pipes and
//! socketpairs with exact reads and writes. Written here, sharing no code with the
//! library, so that a baseline measures the kernel and not procshare.

use std::os::fd::RawFd;
use std::sync::atomic::AtomicU32;

/// Sleep while `word` holds `expected` (or until a spurious wake-up or signal).
pub fn futex_wait(word: &AtomicU32, expected: u32) {
    // SAFETY: FUTEX_WAIT reads the aligned u32 behind `word`, which is borrowed and so
    // valid for the call; no timeout (null); the remaining arguments are ignored. Not
    // FUTEX_PRIVATE_FLAG: the word is in memory shared between processes. EAGAIN and
    // EINTR are fine: every caller re-checks the word.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT,
            expected,
            std::ptr::null::<libc::timespec>(),
            std::ptr::null::<u32>(),
            0u32,
        );
    }
}

/// Wake at most `n` sleepers of `word`.
pub fn futex_wake(word: &AtomicU32, n: i32) {
    // SAFETY: FUTEX_WAKE uses the address of `word` only as a key; shared, not private.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE,
            n,
            std::ptr::null::<libc::timespec>(),
            std::ptr::null::<u32>(),
            0u32,
        );
    }
}

/// A pair of file descriptors, closed when dropped (in the process that drops it: a
/// forked child leaves with `_exit` and drops nothing).
#[derive(Debug)]
pub struct FdPair(pub [RawFd; 2]);

impl FdPair {
    /// `socketpair(AF_UNIX, SOCK_STREAM)`: both ends read and write.
    pub fn socketpair() -> Result<FdPair, String> {
        let mut fds = [0; 2];
        // SAFETY: socketpair writes two fds into the array, which is large enough.
        let r = unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0, fds.as_mut_ptr()) };
        if r != 0 {
            return Err(format!("socketpair: {}", std::io::Error::last_os_error()));
        }
        Ok(FdPair(fds))
    }

    /// `pipe()`: `.0[0]` reads, `.0[1]` writes.
    pub fn pipe() -> Result<FdPair, String> {
        let mut fds = [0; 2];
        // SAFETY: pipe writes two fds into the array, which is large enough.
        if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
            return Err(format!("pipe: {}", std::io::Error::last_os_error()));
        }
        Ok(FdPair(fds))
    }
}

impl Drop for FdPair {
    fn drop(&mut self) {
        for fd in self.0 {
            // SAFETY: closing fds this pair created and owns.
            unsafe { libc::close(fd) };
        }
    }
}

/// Read exactly `buf.len()` bytes; false on end of file or error.
pub fn read_exact(fd: RawFd, buf: &mut [u8]) -> bool {
    let mut got = 0;
    while got < buf.len() {
        // SAFETY: reads into the unfilled tail of a live buffer, within its length.
        let n = unsafe { libc::read(fd, buf[got..].as_mut_ptr().cast(), buf.len() - got) };
        if n <= 0 {
            if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return false;
        }
        got += n as usize;
    }
    true
}

/// One `read` of at most `buf.len()` bytes: how many it returned (0 at end of file or on
/// error). A pipe shared by several readers must be read one record per call.
pub fn read_once(fd: RawFd, buf: &mut [u8]) -> usize {
    loop {
        // SAFETY: reads into a live buffer, within its length.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        return n.max(0) as usize;
    }
}

/// Write all of `buf`; false on error. A write of at most `PIPE_BUF` bytes to a pipe is
/// one atomic `write`.
pub fn write_all(fd: RawFd, buf: &[u8]) -> bool {
    let mut done = 0;
    while done < buf.len() {
        // SAFETY: writes from a live buffer, within its length.
        let n = unsafe { libc::write(fd, buf[done..].as_ptr().cast(), buf.len() - done) };
        if n <= 0 {
            if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return false;
        }
        done += n as usize;
    }
    true
}
