//! The kernel calls behind the facade: `futex(2)`, process ids, and the probes of
//! [`liveness`](crate::liveness). Nothing else in this crate makes a system call (the
//! `PthreadMutex` strategy calls glibc, whose protocol it is).
//!
//! Not compiled under loom, where the facade models all of this.

use crate::loom::Wake;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::AtomicU32;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

pub(crate) fn futex_wait(word: &AtomicU32, expected: u32, timeout: Option<Duration>) -> Wake {
    let ts = timeout.map(|d| libc::timespec {
        tv_sec: d.as_secs().min(libc::time_t::MAX as u64) as libc::time_t,
        tv_nsec: d.subsec_nanos() as libc::c_long,
    });
    let ts_ptr = ts
        .as_ref()
        .map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: FUTEX_WAIT reads the aligned u32 behind `word` (valid for the call, as it
    // is borrowed) and the optional timespec on our stack; the other arguments are
    // ignored for FUTEX_WAIT. No FUTEX_PRIVATE_FLAG: the word may be shared between
    // processes. The relative timeout is measured on CLOCK_MONOTONIC.
    let r = unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT,
            expected,
            ts_ptr,
            std::ptr::null::<u32>(),
            0u32,
        )
    };
    if r == 0 {
        return Wake::Woken;
    }
    match std::io::Error::last_os_error().raw_os_error() {
        Some(libc::EAGAIN) => Wake::Changed,
        Some(libc::ETIMEDOUT) => Wake::TimedOut,
        // EINTR and anything unexpected: report a spurious wake; callers re-check.
        _ => Wake::Woken,
    }
}

pub(crate) fn futex_wake(word: &AtomicU32, n: u32) {
    let n = n.min(i32::MAX as u32) as i32;
    // SAFETY: FUTEX_WAKE only uses the address of `word` as a key (no memory is
    // accessed through it besides the kernel's hash); shared, not private.
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

static PID: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
/// Not a `Once`: a child forked while another thread ran `call_once` would inherit a
/// `Once` stuck in its running state and block on it forever.
static ATFORK_REGISTERED: AtomicBool = AtomicBool::new(false);

extern "C" fn forget_pid_in_child() {
    PID.store(0, Ordering::Relaxed);
}

/// Forget the cached pid; called in a freshly forked child.
pub(crate) fn forget_pid() {
    forget_pid_in_child();
}

#[inline]
pub(crate) fn current_pid() -> u32 {
    let pid = PID.load(Ordering::Relaxed);
    if pid != 0 {
        return pid;
    }
    current_pid_slow()
}

#[cold]
fn current_pid_slow() -> u32 {
    if !ATFORK_REGISTERED.swap(true, Ordering::Relaxed) {
        // SAFETY: registers a plain extern "C" function that only stores to an atomic,
        // which is async-signal-safe and therefore fine in a child right after fork.
        unsafe {
            libc::pthread_atfork(None, None, Some(forget_pid_in_child));
        }
    }
    let pid = std::process::id();
    PID.store(pid, Ordering::Relaxed);
    pid
}

std::thread_local! {
    /// `(pid, tid)` of this thread, as last seen; the pid tells a stale entry inherited
    /// through `fork` (the child's thread has a new tid).
    static TID: std::cell::Cell<(u32, u32)> = const { std::cell::Cell::new((0, 0)) };
}

#[inline]
pub(crate) fn current_tid() -> u32 {
    let pid = current_pid();
    TID.with(|cell| {
        let (seen_pid, tid) = cell.get();
        if seen_pid == pid {
            return tid;
        }
        // SAFETY: gettid has no preconditions.
        let tid = unsafe { libc::gettid() } as u32;
        cell.set((pid, tid));
        tid
    })
}

/// What the kernel says about a pid, before any interpretation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Probe {
    /// `ESRCH`: no process has this pid (it exited and was reaped).
    NoSuchProcess,
    /// The process has exited and not been reaped yet (a zombie).
    Exited,
    /// The process is running (or stopped): it has not exited.
    Running,
    /// The kernel would not say (permissions, no `/proc`, no pidfd support, …).
    CannotTell,
}

fn errno() -> Option<i32> {
    std::io::Error::last_os_error().raw_os_error()
}

/// `kill(pid, 0)`: sends nothing, only asks whether the pid exists.
pub(crate) fn kill_probe(pid: u32) -> Probe {
    if pid == 0 || pid > i32::MAX as u32 {
        return Probe::CannotTell;
    }
    // SAFETY: kill with signal 0 sends nothing; it only checks that the pid exists.
    let r = unsafe { libc::kill(pid as libc::pid_t, 0) };
    match (r, errno()) {
        (0, _) => Probe::Running,
        (_, Some(libc::ESRCH)) => Probe::NoSuchProcess,
        // EPERM: it exists, but belongs to someone else. It may still be a zombie.
        (_, Some(libc::EPERM)) => Probe::Running,
        _ => Probe::CannotTell,
    }
}

/// Open a pidfd for `pid` (Linux ≥ 5.3). `Err(errno)` on failure.
pub(crate) fn pidfd_open(pid: u32) -> Result<OwnedFd, i32> {
    if pid == 0 || pid > i32::MAX as u32 {
        return Err(libc::EINVAL);
    }
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if fd < 0 {
        return Err(errno().unwrap_or(libc::EINVAL));
    }
    // SAFETY: a non-negative result is a fresh fd that nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Has the process behind `pidfd` exited? A pidfd polls readable once its process has
/// exited (zombies included), so this needs no `/proc`.
pub(crate) fn pidfd_exited(pidfd: &OwnedFd) -> Probe {
    let mut pfd = libc::pollfd {
        fd: pidfd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: polls one valid pollfd on our stack, without waiting.
    let r = unsafe { libc::poll(&mut pfd, 1, 0) };
    match r {
        1 if pfd.revents & libc::POLLIN != 0 => Probe::Exited,
        0 => Probe::Running,
        _ => Probe::CannotTell,
    }
}

/// The process state letter in `/proc/<pid>/stat` (`Z` for a zombie), if readable.
pub(crate) fn proc_state(pid: u32) -> Probe {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            // The state follows the last ')' (the command name may contain parentheses).
            let state = stat
                .rfind(')')
                .and_then(|i| stat[i + 1..].split_whitespace().next());
            match state {
                Some("Z") | Some("X") | Some("x") => Probe::Exited,
                Some(_) => Probe::Running,
                None => Probe::CannotTell,
            }
        }
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Probe::CannotTell,
        Err(_) => Probe::CannotTell,
    }
}
