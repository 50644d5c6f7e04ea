//! Liveness: is the process that a lock, a slot or a barrier recorded still there?
//!
//! Every primitive that reacts to a peer's death (the takeover of `FutexMutex`,
//! `SpinLock` and `RLock`, the reclaim of `Condition` slots, a `Barrier` broken by a dead
//! party, a `Semaphore` sleeper that re-checks) asks this module, and only this module.
//!
//! # Only a proof of death counts as death
//!
//! [`probe`] answers [`Liveness::Dead`] only when the kernel proves it:
//!
//! 1. `kill(pid, 0)` fails with `ESRCH`: no process has the pid (it exited and was
//!    reaped); or
//! 2. a pidfd opened for the pid polls readable: the process has exited and is a zombie
//!    (no `/proc` parsing needed; Linux ≥ 5.3); or, only where pidfds are unavailable,
//! 3. `/proc/<pid>/stat` is readable and says `Z` (zombie).
//!
//! Anything the kernel will not say (no `/proc`, `hidepid`, another user's process, a
//! failing system call) is [`Liveness::Unknown`], which every caller treats as alive: a
//! lock whose holder cannot be proven dead is never taken over. The cost of being wrong
//! that way is a wait (bounded by the caller's timeout), never a broken exclusion.
//!
//! # Pid reuse
//!
//! Each check probes the pid afresh, and a pid names at most one process at a time, so
//! while a recorded holder lives no probe of its pid can find it dead: pid reuse can
//! never make a live holder look dead. The converse remains: if the holder dies and, before
//! a waiter's next check (at most one [`LIVENESS_SLICE`](crate::loom::LIVENESS_SLICE)
//! later), an unrelated process is given the same pid, waiters see that process and keep
//! waiting until it, too, exits. (Caching a pidfd across checks would close this window,
//! but would open a worse one: the holder releases, exits, and its reused pid takes the
//! lock again — the cached pidfd would then call the new, live holder dead.) Processes
//! that share a lock must share a pid namespace: a pid recorded in another namespace
//! names some other process here.
//!
//! # Tests and other sources
//!
//! A process may [`install`] its own [`LivenessSource`] (inherited by children forked
//! afterwards), e.g. one that answers `Unknown` to model a `/proc` that cannot be read.
//! `tests/liveness.rs` uses it to show that such a holder is never taken over, while a
//! really dead one still is. Under loom a process is dead once its model thread called
//! [`loom::die`](crate::loom::die), at a step the model checker chooses.

use std::sync::atomic::{AtomicPtr, Ordering};

/// What is known about a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Liveness {
    /// It runs (or is stopped): it has not exited.
    Alive,
    /// Proven dead: it exited (a zombie counts as dead) or no longer exists.
    Dead,
    /// The kernel would not say. Callers treat it as alive.
    Unknown,
}

impl Liveness {
    /// True only for a proven death.
    pub fn is_dead(self) -> bool {
        self == Liveness::Dead
    }
}

/// Where liveness answers come from (default: [`Kernel`]).
pub trait LivenessSource: Sync {
    /// What is known about process `pid`: a full probe.
    fn probe(&self, pid: u32) -> Liveness;

    /// A cheap probe for hot paths (default: [`LivenessSource::probe`]): may answer
    /// `Unknown` where the full probe would know more, never `Dead` where it would not.
    fn probe_quick(&self, pid: u32) -> Liveness {
        self.probe(pid)
    }
}

/// The kernel's answer: `kill(pid, 0)`, then a pidfd, then (without pidfds) `/proc`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Kernel;

#[cfg(not(loom))]
impl LivenessSource for Kernel {
    fn probe(&self, pid: u32) -> Liveness {
        use crate::sys::{self, Probe};
        match sys::kill_probe(pid) {
            Probe::NoSuchProcess => return Liveness::Dead,
            Probe::CannotTell => return Liveness::Unknown,
            Probe::Running | Probe::Exited => {}
        }
        let answer = match sys::pidfd_open(pid) {
            Ok(fd) => sys::pidfd_exited(&fd),
            Err(libc::ESRCH) => Probe::NoSuchProcess,
            // No pidfd support (ENOSYS), no fds left (EMFILE), …: fall back to /proc.
            Err(_) => sys::proc_state(pid),
        };
        match answer {
            Probe::NoSuchProcess | Probe::Exited => Liveness::Dead,
            Probe::Running => Liveness::Alive,
            Probe::CannotTell => Liveness::Unknown,
        }
    }

    fn probe_quick(&self, pid: u32) -> Liveness {
        match crate::sys::kill_probe(pid) {
            crate::sys::Probe::NoSuchProcess => Liveness::Dead,
            // It exists, but it may be a zombie: only the full probe can tell.
            _ => Liveness::Unknown,
        }
    }
}

#[cfg(loom)]
impl LivenessSource for Kernel {
    /// Under loom: dead once the model thread declared it ([`crate::loom::die`]).
    fn probe(&self, pid: u32) -> Liveness {
        if crate::loom::owner_dead(pid) {
            Liveness::Dead
        } else {
            Liveness::Alive
        }
    }
}

static SOURCE: AtomicPtr<&'static dyn LivenessSource> = AtomicPtr::new(std::ptr::null_mut());

/// Use `source` for every liveness question this process asks from now on (`None`: back
/// to [`Kernel`]). Children forked afterwards inherit it.
pub fn install(source: Option<&'static dyn LivenessSource>) {
    let ptr = match source {
        Some(s) => Box::into_raw(Box::new(s)),
        None => std::ptr::null_mut(),
    };
    // The previous box is leaked on purpose: another thread may still be reading it.
    SOURCE.store(ptr, Ordering::Release);
}

fn source() -> &'static dyn LivenessSource {
    let ptr = SOURCE.load(Ordering::Acquire);
    if ptr.is_null() {
        return &Kernel;
    }
    // SAFETY: only `install` stores non-null pointers, each from `Box::into_raw` of a box
    // that is never freed, holding a `'static` reference; Acquire pairs with its Release.
    unsafe { *ptr }
}

/// What is known about process `pid`.
pub fn probe(pid: u32) -> Liveness {
    source().probe(pid)
}

/// Is process `pid` proven dead? The question every takeover asks.
pub fn is_dead(pid: u32) -> bool {
    probe(pid).is_dead()
}

/// A cheap form of [`is_dead`] for hot paths (one `kill(pid, 0)` with the kernel
/// source): true only for a reaped process; a zombie needs [`is_dead`].
pub fn is_gone(pid: u32) -> bool {
    source().probe_quick(pid).is_dead()
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive() {
        assert_eq!(Kernel.probe(std::process::id()), Liveness::Alive);
        assert!(!is_dead(std::process::id()));
    }

    #[test]
    fn an_impossible_pid_is_unknown_not_dead() {
        assert_eq!(Kernel.probe(0), Liveness::Unknown);
        assert_eq!(Kernel.probe(u32::MAX), Liveness::Unknown);
    }

    #[test]
    fn a_reaped_child_is_dead_and_a_zombie_too() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        // Not reaped yet: wait until it has exited (a zombie), which the pidfd proves.
        let fd = crate::sys::pidfd_open(pid).unwrap();
        let mut pfd = libc::pollfd {
            fd: std::os::fd::AsRawFd::as_raw_fd(&fd),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: polls one valid pollfd on our stack (blocking until the child exits).
        assert_eq!(unsafe { libc::poll(&mut pfd, 1, -1) }, 1);
        assert_eq!(Kernel.probe(pid), Liveness::Dead, "zombie");
        child.wait().unwrap();
        assert_eq!(Kernel.probe(pid), Liveness::Dead, "reaped");
        assert!(Kernel.probe_quick(pid).is_dead());
    }
}
