//! `Process`: a closure run in a forked child (CPython's `fork` start method).
//!
//! Exit codes follow CPython's `Process.exitcode`:
//!
//! | the child…                                  | exit code |
//! |---------------------------------------------|-----------|
//! | returns from its closure                    | `0`       |
//! | panics (message written to stderr)          | `1`       |
//! | calls [`exit(n)`](exit)                     | `n`       |
//! | is killed by signal `N`                     | `-N`      |
//!
//! # What a child may do
//!
//! `fork` copies only the calling thread. Any lock another thread of the parent held at
//! that instant stays locked forever in the child. The child therefore:
//!
//! * may compute, allocate (glibc's `malloc` is made consistent across `fork`), use
//!   procshare's primitives and raw system calls, and write to the [`ChildOutput`] it is
//!   given (raw `write(2)` on a pipe, no lock);
//! * should not use `println!`/`eprintln!` (the parent's stdout lock may have been held by
//!   another thread; under `cargo test` the output would go to a captured buffer that
//!   nobody reads), nor start threads that outlive the closure;
//! * never returns into the caller: after the closure the child leaves with `_exit`, so
//!   no destructor of the parent's objects, no `atexit` handler and no test harness code
//!   runs in it.
//!
//! A `Process` that is dropped without being joined is killed (SIGKILL) and reaped, so a
//! failing test never leaves children behind.
//!
//! # A handle acts only in the process that made it
//!
//! A `Process` remembers the process that forked it. Only there does it wait, signal or
//! kill-on-drop: a handle that travelled into another child (captured by its closure)
//! answers [`Error::NotCreator`] and does nothing when dropped, so it can never signal a
//! sibling. Signals go through the pidfd opened at fork (`pidfd_send_signal`), so they
//! reach the child itself and never a later process that reused its pid.
//!
//! # Shared memory outlives the parent's handles while a child lives
//!
//! A child may use every shared block that existed when it was forked, even if the
//! parent drops its handle meanwhile: the heap quarantines such blocks until the child is
//! reaped (see [`heap`](crate::heap)), so a block a live child can reach is never handed
//! out again.
//!
//! Tested by `tests/process.rs` (exit codes, timeouts, output capture) under the
//! multi-threaded libtest harness.

use crate::Error;
use nix::sys::signal::{kill as send_signal, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Set in a child forked by [`Process`], so that [`exit`] knows to unwind.
static IN_CHILD: AtomicBool = AtomicBool::new(false);

/// Serialises procshare's own forks against the creation of output pipes, so that no child
/// inherits the write end of another child's pipe (which would delay that pipe's EOF).
/// An atomic flag rather than a `Mutex`: a child must be able to reset it, as the thread
/// that held it in the parent does not exist in the child.
static FORKING: AtomicBool = AtomicBool::new(false);

struct ForkGuard;

impl ForkGuard {
    fn take() -> ForkGuard {
        while FORKING
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            std::thread::yield_now();
        }
        ForkGuard
    }
}

impl Drop for ForkGuard {
    fn drop(&mut self) {
        FORKING.store(false, Ordering::Release);
    }
}

/// The payload [`exit`] unwinds with.
struct ExitRequest(i32);

/// Leave the current child process with exit code `code`, like `sys.exit(code)` in a
/// CPython child: the closure's stack unwinds (destructors run), then the child `_exit`s
/// with `code` (truncated to 8 bits by the kernel). Outside a `Process` child this is
/// `std::process::exit`.
pub fn exit(code: i32) -> ! {
    if IN_CHILD.load(Ordering::Relaxed) {
        panic::resume_unwind(Box::new(ExitRequest(code)))
    }
    std::process::exit(code)
}

/// The write end of a child's output pipe: an unbuffered, lock-free [`Write`].
#[derive(Debug)]
pub struct ChildOutput {
    fd: OwnedFd,
}

impl Write for ChildOutput {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        loop {
            // SAFETY: writes from a valid buffer to an fd we own.
            let n = unsafe { libc::write(self.fd.as_raw_fd(), buf.as_ptr().cast(), buf.len()) };
            if n >= 0 {
                return Ok(n as usize);
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A child process running a closure.
#[derive(Debug)]
pub struct Process {
    pid: Pid,
    /// The process that forked the child: the only one that may wait for or signal it.
    creator: u32,
    exitcode: Option<i32>,
    output: Option<File>,
    pidfd: Option<OwnedFd>,
}

fn pipe() -> Result<(File, OwnedFd), Error> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: pipe2 writes two fds into the array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(Error::last_os("pipe2"));
    }
    // SAFETY: both fds were just created and are owned by nobody else.
    let (r, w) = unsafe { (File::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    Ok((r, w))
}

fn pidfd_open(pid: Pid) -> Option<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid.as_raw(), 0) };
    // SAFETY: a non-negative result is a fresh fd that we own.
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

fn pidfd_send_signal(pidfd: &OwnedFd, signal: i32) -> Result<(), Error> {
    // SAFETY: pidfd_send_signal takes a pidfd we own, a signal number, a null siginfo (the
    // kernel fills in a default one) and flags 0.
    let r = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            signal,
            std::ptr::null::<libc::siginfo_t>(),
            0u32,
        )
    };
    if r == 0 {
        return Ok(());
    }
    let e = std::io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::ESRCH) {
        // The child has exited and was reaped by someone else (a `waitpid(-1)`
        // elsewhere): the signal is moot. (A zombie still accepts signals, as with
        // `kill(2)`.)
        return Ok(());
    }
    Err(Error::os("pidfd_send_signal", e))
}

/// Write `msg` to fd 2 with raw writes (no lock: safe in a forked child).
fn write_stderr(msg: &str) {
    let mut rest = msg.as_bytes();
    while !rest.is_empty() {
        // SAFETY: writes from a valid buffer to stderr.
        let n = unsafe { libc::write(2, rest.as_ptr().cast(), rest.len()) };
        if n <= 0 {
            return;
        }
        rest = &rest[n as usize..];
    }
}

/// The child's side of a fork: run `f`, then `_exit` with CPython's code. Never returns.
fn child_main(f: impl FnOnce()) -> ! {
    procshare_sync::os::forget_cached_pid();
    FORKING.store(false, Ordering::Relaxed);
    IN_CHILD.store(true, Ordering::Relaxed);
    let code = match panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(()) => 0,
        Err(payload) => {
            let code = if let Some(ExitRequest(n)) = payload.downcast_ref::<ExitRequest>() {
                *n
            } else {
                let msg = payload
                    .downcast_ref::<&str>()
                    .copied()
                    .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
                    .unwrap_or("Box<dyn Any>");
                write_stderr(&format!(
                    "procshare: child process {} panicked: {msg}\n",
                    std::process::id()
                ));
                1
            };
            // Leak the payload: its destructor is user code we have no reason to run.
            std::mem::forget(payload);
            code
        }
    };
    // SAFETY: _exit ends the process at once, running no destructors or atexit handlers,
    // which is what a forked child of a multi-threaded parent must do.
    unsafe { libc::_exit(code) }
}

impl Process {
    /// Fork a child that runs `f` and exits.
    ///
    /// The closure may borrow from the caller: the child works on its own copy-on-write
    /// copy of the address space, and shared data lives in `MAP_SHARED` memory (`Value`,
    /// `Array`, …). What the closure captures *by move* belongs to the child: the parent
    /// never drops it (so a moved-in shared object is not freed under the child; the
    /// parent's copy of the captures is leaked). See the module docs for what a child may
    /// do.
    pub fn spawn<F: FnOnce()>(f: F) -> Result<Process, Error> {
        Self::fork_with(None, |_| f())
    }

    /// Like [`Process::spawn`], and the child gets a [`ChildOutput`] whose bytes the
    /// parent reads with [`Process::output`] or [`Process::read_output`].
    pub fn spawn_with_output<F: FnOnce(&mut ChildOutput)>(f: F) -> Result<Process, Error> {
        let guard = ForkGuard::take();
        let (read, write) = pipe()?;
        Self::fork_with(Some((guard, read, write)), |out| {
            f(out.expect("output pipe present"))
        })
    }

    fn fork_with(
        pipe: Option<(ForkGuard, File, OwnedFd)>,
        f: impl FnOnce(Option<&mut ChildOutput>),
    ) -> Result<Process, Error> {
        let (guard, read, write) = match pipe {
            Some((g, r, w)) => (g, Some(r), Some(w)),
            None => (ForkGuard::take(), None, None),
        };
        let heap = crate::heap::lock_for_fork();
        // SAFETY: the child branch below runs only `child_main`, which ends in `_exit`
        // and never returns into the caller; see the module docs for what the closure
        // may do in a child of a multi-threaded process.
        let forked = unsafe { fork() };
        if let Ok(ForkResult::Parent { child }) = &forked {
            heap.forked(child.as_raw() as u32);
        } else {
            drop(heap);
        }
        match forked.map_err(|e| Error::os("fork", e))? {
            ForkResult::Child => {
                drop(read);
                let mut out = write.map(|fd| ChildOutput { fd });
                child_main(move || f(out.as_mut()))
            }
            ForkResult::Parent { child } => {
                // The child owns what the closure captured by move: dropping it here would
                // free shared objects (a moved-in `Value`) that the child still uses, and
                // the heap could hand their blocks out again. So the parent forgets it
                // (its process-local captures leak; shared blocks stay allocated).
                std::mem::forget(f);
                drop(write);
                drop(guard);
                Ok(Process {
                    pid: child,
                    creator: std::process::id(),
                    exitcode: None,
                    output: read,
                    pidfd: pidfd_open(child),
                })
            }
        }
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.pid.as_raw() as u32
    }

    /// The exit code, once the child has been reaped (by `join`, `join_timeout` or
    /// `is_alive`); `None` while it runs.
    pub fn exitcode(&self) -> Option<i32> {
        self.exitcode
    }

    fn record(&mut self, status: WaitStatus) -> Option<i32> {
        let code = match status {
            WaitStatus::Exited(_, code) => code,
            WaitStatus::Signaled(_, sig, _) => -(sig as i32),
            _ => return None,
        };
        self.exitcode = Some(code);
        self.pidfd = None;
        crate::heap::child_reaped(self.pid());
        Some(code)
    }

    /// `Err(NotCreator)` unless the calling process forked the child.
    fn check_creator(&self) -> Result<(), Error> {
        let me = std::process::id();
        if me == self.creator {
            Ok(())
        } else {
            Err(Error::NotCreator {
                pid: self.pid(),
                creator: self.creator,
            })
        }
    }

    fn wait(&mut self, flags: Option<WaitPidFlag>) -> Result<Option<i32>, Error> {
        if let Some(code) = self.exitcode {
            return Ok(Some(code));
        }
        self.check_creator()?;
        loop {
            match waitpid(self.pid, flags) {
                Ok(status) => return Ok(self.record(status)),
                Err(nix::Error::EINTR) => continue,
                Err(nix::Error::ECHILD) => {
                    // Reaped by someone else (a `waitpid(-1)` elsewhere): it is gone.
                    crate::heap::child_reaped(self.pid());
                    return Err(Error::os("waitpid", nix::Error::ECHILD));
                }
                Err(e) => return Err(Error::os("waitpid", e)),
            }
        }
    }

    /// Wait for the child to end; its exit code.
    pub fn join(&mut self) -> Result<i32, Error> {
        loop {
            if let Some(code) = self.wait(None)? {
                return Ok(code);
            }
        }
    }

    /// Wait at most `timeout` for the child to end: `Ok(None)` if it is still running.
    /// Never returns `None` before `timeout` has passed.
    pub fn join_timeout(&mut self, timeout: Duration) -> Result<Option<i32>, Error> {
        let deadline = Instant::now().checked_add(timeout);
        loop {
            if let Some(code) = self.wait(Some(WaitPidFlag::WNOHANG))? {
                return Ok(Some(code));
            }
            let left = match deadline {
                None => Duration::from_secs(3600),
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => left,
                    _ => return Ok(None),
                },
            };
            // Round up to whole milliseconds so that we never wake before the deadline.
            let ms = left.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as i32;
            match &self.pidfd {
                Some(fd) => {
                    let mut pfd = libc::pollfd {
                        fd: fd.as_raw_fd(),
                        events: libc::POLLIN,
                        revents: 0,
                    };
                    // SAFETY: polls one valid pollfd on our stack.
                    unsafe { libc::poll(&mut pfd, 1, ms) };
                }
                // No pidfd (kernel before 5.3): poll waitpid every millisecond.
                None => std::thread::sleep(Duration::from_millis(1).min(left)),
            }
        }
    }

    /// Is the child still running? Reaps it (recording the exit code) if it has ended.
    pub fn is_alive(&mut self) -> bool {
        matches!(self.wait(Some(WaitPidFlag::WNOHANG)), Ok(None))
    }

    fn signal(&self, sig: Signal) -> Result<(), Error> {
        if self.exitcode.is_some() {
            // Reaped: the pid may already belong to someone else.
            return Err(Error::AlreadyJoined { pid: self.pid() });
        }
        self.check_creator()?;
        match &self.pidfd {
            Some(fd) => pidfd_send_signal(fd, sig as i32),
            // No pidfd (kernel before 5.3): the child is unreaped, so its pid is still
            // its own and cannot have been reused.
            None => send_signal(self.pid, sig).map_err(|e| Error::os("kill", e)),
        }
    }

    /// Ask the child to stop (SIGTERM), like CPython's `terminate()`.
    pub fn terminate(&self) -> Result<(), Error> {
        self.signal(Signal::SIGTERM)
    }

    /// Kill the child (SIGKILL), like CPython's `kill()`.
    pub fn kill(&self) -> Result<(), Error> {
        self.signal(Signal::SIGKILL)
    }

    /// The read end of the child's output pipe (children made by
    /// [`Process::spawn_with_output`] only), e.g. to read a line while the child runs.
    pub fn output(&mut self) -> Option<&mut File> {
        self.output.as_mut()
    }

    /// Read the child's output to its end (the child has exited or closed it), as text.
    /// Empty for children without an output pipe.
    pub fn read_output(&mut self) -> Result<String, Error> {
        let mut bytes = Vec::new();
        if let Some(out) = self.output.as_mut() {
            out.read_to_end(&mut bytes)
                .map_err(|e| Error::os("read", e))?;
        }
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        // Only the creator kills and reaps: a handle that travelled into another process
        // (a sibling's closure) must not signal the child from there.
        if self.exitcode.is_none() && self.check_creator().is_ok() {
            let _ = self.signal(Signal::SIGKILL);
            let _ = self.wait(None);
        }
    }
}
