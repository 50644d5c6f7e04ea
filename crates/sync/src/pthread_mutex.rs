//! `PthreadMutex`: glibc's robust, process-shared `pthread_mutex_t`.
//!
//! The mutex is initialised in place with `PTHREAD_PROCESS_SHARED` and
//! `PTHREAD_MUTEX_ROBUST`. When its owner dies, the kernel walks the owner's robust list
//! and marks the futex `FUTEX_OWNER_DIED`; the next locker gets `EOWNERDEAD`. This strategy
//! then calls `pthread_mutex_consistent` at once (so the mutex stays usable) and returns
//! [`LockError::OwnerDied`] with the lock held, the same contract as `FutexMutex`. glibc does
//! not expose the dead owner's pid, so `pid` is `None`. Timed waits use
//! `pthread_mutex_clocklock` on `CLOCK_MONOTONIC`.
//!
//! Not model-checked (its protocol is glibc's); tested by the cross-process tests of
//! `procshare`, including a holder killed with SIGKILL.

use crate::{LockError, RawLock};
use std::cell::UnsafeCell;
use std::mem::MaybeUninit;
use std::time::Duration;

extern "C" {
    // glibc ≥ 2.30; not (yet) declared by the libc crate for this target.
    fn pthread_mutex_clocklock(
        mutex: *mut libc::pthread_mutex_t,
        clock: libc::clockid_t,
        abstime: *const libc::timespec,
    ) -> libc::c_int;
}

/// A robust, process-shared pthread mutex.
///
/// Fairness: whatever glibc's futex-based mutex gives (none guaranteed). Cost: a CAS
/// uncontended, like `FutexMutex`, plus a function call into libc; owner death is detected
/// by the kernel at the owner's exit, with no polling.
#[repr(C)]
pub struct PthreadMutex {
    inner: UnsafeCell<libc::pthread_mutex_t>,
}

impl std::fmt::Debug for PthreadMutex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PthreadMutex").finish_non_exhaustive()
    }
}

// SAFETY: the pthread_mutex_t is only ever touched through pthread functions, which are
// thread- and (with PTHREAD_PROCESS_SHARED) process-safe.
unsafe impl Send for PthreadMutex {}
// SAFETY: as above.
unsafe impl Sync for PthreadMutex {}

fn check(op: &'static str, r: libc::c_int) -> Result<(), LockError> {
    if r == 0 {
        Ok(())
    } else {
        Err(LockError::os(op, r))
    }
}

impl PthreadMutex {
    fn raw(&self) -> *mut libc::pthread_mutex_t {
        self.inner.get()
    }

    /// Map a pthread lock result to ours; `busy` is the errno meaning "not acquired".
    fn acquired(
        &self,
        op: &'static str,
        r: libc::c_int,
        busy: libc::c_int,
    ) -> Result<bool, LockError> {
        match r {
            0 => Ok(true),
            libc::EOWNERDEAD => {
                // SAFETY: EOWNERDEAD means we hold the mutex, the one case in which
                // pthread_mutex_consistent may be called.
                let c = unsafe { libc::pthread_mutex_consistent(self.raw()) };
                if c != 0 {
                    // SAFETY: we hold the mutex (EOWNERDEAD); unlocking without
                    // consistent makes it permanently unrecoverable, which we report. The
                    // unlock's own result cannot change that answer.
                    let _unrecoverable_anyway = unsafe { libc::pthread_mutex_unlock(self.raw()) };
                    return Err(LockError::NotRecoverable);
                }
                Err(LockError::OwnerDied { pid: None })
            }
            libc::ENOTRECOVERABLE => Err(LockError::NotRecoverable),
            r if r == busy => Ok(false),
            r => Err(LockError::os(op, r)),
        }
    }
}

// SAFETY: glibc's robust process-shared mutex provides exclusion and acquire/release
// ordering across processes; its state holds no pointers that matter across processes
// (the robust-list links are per-thread and maintained by glibc and the kernel). EOWNERDEAD
// is mapped to OwnerDied with the lock held, anything else that is not success to an error
// without it. clocklock on CLOCK_MONOTONIC does not time out early.
unsafe impl RawLock for PthreadMutex {
    const NAME: &'static str = "pthread";
    /// glibc answers `EPERM` to an unlock from a thread that does not own the mutex.
    type GuardMarker = crate::GuardNoSend;

    fn init(slot: &mut MaybeUninit<Self>) -> Result<(), LockError> {
        let mut attr = MaybeUninit::<libc::pthread_mutexattr_t>::uninit();
        // SAFETY: attr is a valid, writable pthread_mutexattr_t; it is initialised before
        // use and destroyed after. `slot` is exclusively ours and not yet shared, and
        // pthread_mutex_init initialises the mutex in place (it never moves afterwards).
        unsafe {
            check(
                "pthread_mutexattr_init",
                libc::pthread_mutexattr_init(attr.as_mut_ptr()),
            )?;
            let result = (|| {
                check(
                    "pthread_mutexattr_setpshared",
                    libc::pthread_mutexattr_setpshared(
                        attr.as_mut_ptr(),
                        libc::PTHREAD_PROCESS_SHARED,
                    ),
                )?;
                check(
                    "pthread_mutexattr_setrobust",
                    libc::pthread_mutexattr_setrobust(
                        attr.as_mut_ptr(),
                        libc::PTHREAD_MUTEX_ROBUST,
                    ),
                )?;
                let mutex = slot.as_mut_ptr().cast::<libc::pthread_mutex_t>();
                check(
                    "pthread_mutex_init",
                    libc::pthread_mutex_init(mutex, attr.as_ptr()),
                )
            })();
            libc::pthread_mutexattr_destroy(attr.as_mut_ptr());
            result
        }
    }

    fn lock(&self) -> Result<(), LockError> {
        if crate::hook::is_active() {
            // Under a controlled scheduler a sleep inside glibc would be invisible to it:
            // poll, with a spin schedule point between attempts.
            while !self.try_lock()? {
                crate::hook::point(crate::hook::Point::Spin);
            }
            return Ok(());
        }
        // SAFETY: the mutex was initialised by `init` and is never moved.
        let r = unsafe { libc::pthread_mutex_lock(self.raw()) };
        self.acquired("pthread_mutex_lock", r, -1).map(|_| ())
    }

    fn try_lock(&self) -> Result<bool, LockError> {
        // SAFETY: as for `lock`.
        let r = unsafe { libc::pthread_mutex_trylock(self.raw()) };
        self.acquired("pthread_mutex_trylock", r, libc::EBUSY)
    }

    fn try_lock_for(&self, timeout: Duration) -> Result<bool, LockError> {
        if crate::hook::is_active() {
            let deadline = crate::loom::Deadline::after(timeout);
            loop {
                if self.try_lock()? {
                    return Ok(true);
                }
                if deadline.expired() {
                    return Ok(false);
                }
                crate::hook::point(crate::hook::Point::Spin);
            }
        }
        let mut now = MaybeUninit::<libc::timespec>::uninit();
        // SAFETY: clock_gettime writes a timespec into `now`.
        let r = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, now.as_mut_ptr()) };
        if r != 0 {
            return Err(LockError::Os {
                op: "clock_gettime",
                source: std::io::Error::last_os_error(),
            });
        }
        // SAFETY: initialised by the successful clock_gettime above.
        let now = unsafe { now.assume_init() };
        let nanos = now.tv_nsec as u64 + u64::from(timeout.subsec_nanos());
        let secs = (now.tv_sec as u64)
            .saturating_add(timeout.as_secs())
            .saturating_add(nanos / 1_000_000_000)
            .min(libc::time_t::MAX as u64);
        let abs = libc::timespec {
            tv_sec: secs as libc::time_t,
            tv_nsec: (nanos % 1_000_000_000) as libc::c_long,
        };
        // SAFETY: the mutex is initialised; `abs` is a valid timespec on our stack.
        let r = unsafe { pthread_mutex_clocklock(self.raw(), libc::CLOCK_MONOTONIC, &abs) };
        self.acquired("pthread_mutex_clocklock", r, libc::ETIMEDOUT)
    }

    unsafe fn unlock(&self) -> Result<(), LockError> {
        // SAFETY: the caller holds the mutex (trait contract); it was initialised by `init`.
        check("pthread_mutex_unlock", unsafe {
            libc::pthread_mutex_unlock(self.raw())
        })
    }
}
