//! Liveness: only a proof of death counts as death.
//!
//! A waiter whose liveness source cannot tell (modelled by installing a source that
//! answers `Unknown` to everything, as a machine without a readable `/proc` would) must
//! never take a lock over, even when its holder really is dead; with the kernel's answer,
//! the same dead holder is still detected. Sources are installed only in forked children,
//! so the test binary's other tests keep the kernel's source.

mod common;

use common::first_line;
use procshare::liveness::{self, Liveness, LivenessSource};
use procshare::process::exit;
use procshare::strategy::{FutexMutex, SpinLock};
use procshare::{GuardError, LockError, Process, RLock, RawLock, Shared, SyncError, Value};
use std::io::Write;
use std::time::Duration;

/// A source that never knows: `/proc` unreadable, no pidfds, another user.
struct CannotTell;

impl LivenessSource for CannotTell {
    fn probe(&self, _pid: u32) -> Liveness {
        Liveness::Unknown
    }
}

const NOT_TAKEN_OVER: i32 = 3;
const TOOK_OVER: i32 = 4;

/// Fork a child that takes a lock with `lock` (and keeps it), says so, and is then
/// killed and reaped: a dead holder.
fn dead_holder(lock: impl FnOnce()) {
    let mut holder = Process::spawn_with_output(|out| {
        lock();
        writeln!(out, "locked").unwrap();
        loop {
            // SAFETY: pause() only waits for a signal.
            unsafe { libc::pause() };
        }
    })
    .unwrap();
    assert_eq!(first_line(&mut holder), "locked\n");
    holder.kill().unwrap();
    assert_eq!(holder.join().unwrap(), -libc::SIGKILL);
}

fn unknown_is_never_dead<L: RawLock>() {
    let v = Value::<u64, L>::new(0).unwrap();
    dead_holder(|| std::mem::forget(v.lock().unwrap()));
    // A waiter that cannot tell: several liveness slices pass, and it must not take over.
    let mut blind = Process::spawn(|| {
        liveness::install(Some(&CannotTell));
        match v.try_lock_for(Duration::from_millis(300)) {
            Ok(None) => exit(NOT_TAKEN_OVER),
            Ok(Some(_)) | Err(GuardError::OwnerDied { .. }) => exit(TOOK_OVER),
            Err(e) => panic!("{e}"),
        }
    })
    .unwrap();
    assert_eq!(blind.join().unwrap(), NOT_TAKEN_OVER, "{}", L::NAME);
    // The kernel's answer proves the death: the next locker takes over.
    assert!(
        matches!(v.lock(), Err(GuardError::OwnerDied { .. })),
        "{}: a really dead holder must still be detected",
        L::NAME
    );
}

#[test]
fn futex_mutex_never_takes_over_a_holder_it_cannot_prove_dead() {
    unknown_is_never_dead::<FutexMutex>();
}

#[test]
fn spin_lock_never_takes_over_a_holder_it_cannot_prove_dead() {
    unknown_is_never_dead::<SpinLock>();
}

#[test]
fn rlock_never_takes_over_an_owner_it_cannot_prove_dead() {
    let rlock = Shared::new(RLock::new()).unwrap();
    dead_holder(|| rlock.acquire().unwrap());
    let mut blind = Process::spawn(|| {
        liveness::install(Some(&CannotTell));
        match rlock.acquire_timeout(Duration::from_millis(300)) {
            Ok(false) => exit(NOT_TAKEN_OVER),
            _ => exit(TOOK_OVER),
        }
    })
    .unwrap();
    assert_eq!(blind.join().unwrap(), NOT_TAKEN_OVER);
    assert!(matches!(
        rlock.acquire(),
        Err(SyncError::Lock(LockError::OwnerDied { .. }))
    ));
}

#[test]
fn the_kernel_source_tells_the_living_from_the_dead() {
    assert_eq!(liveness::probe(std::process::id()), Liveness::Alive);
    let mut child = Process::spawn(|| {}).unwrap();
    let pid = child.pid();
    child.join().unwrap();
    assert!(liveness::is_dead(pid), "a reaped child");
}
