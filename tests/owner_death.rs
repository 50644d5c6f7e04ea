//! A holder SIGKILLed inside its critical section never hangs the others: the next locker
//! gets the owner-died error *with the lock held*, exactly once, and the lock works again
//! afterwards. Covered for `FutexMutex` (pid recorded in the lock word, detected by the
//! waiters' liveness checks), `SpinLock` (same, from its spin loop), `PthreadMutex`
//! (robust mutex, detected by the kernel) and the zoo's `AdaptiveMutex` (`FutexMutex`'s
//! word and park behind its spin).

mod common;

use common::first_line;
use procshare::process::exit;
use procshare::strategy::{AdaptiveMutex, FutexMutex, PthreadMutex, SpinLock};
use procshare::{GuardError, LockError, Process, RawLock, Value};
use std::io::Write;
use std::time::Duration;

/// How long any blocking step may take before the test fails instead of hanging.
const HANG: Duration = Duration::from_secs(60);

/// Lock `v`, failing the test (not hanging it) if that takes longer than [`HANG`].
fn lock_bounded<L: RawLock>(
    v: &Value<u64, L>,
) -> procshare::GuardResult<procshare::ValueGuard<'_, u64, L>> {
    match v.try_lock_for(HANG) {
        Ok(Some(g)) => Ok(g),
        Ok(None) => panic!("{}: locking hung for {HANG:?}", L::NAME),
        Err(e) => Err(e),
    }
}

/// Exit code of a waiter child that got `OwnerDied`.
const GOT_OWNER_DIED: i32 = 3;
/// Exit code of a waiter child that got the lock cleanly.
const GOT_LOCK: i32 = 4;

/// Fork a child that takes the lock, says so on its output pipe, and then waits to be
/// killed. Returns once the child holds the lock.
fn spawn_holder<L: RawLock>(v: &Value<u64, L>) -> Process {
    let mut p = Process::spawn_with_output(|out| {
        let mut g = v.lock().unwrap();
        *g = 13;
        writeln!(out, "locked").unwrap();
        loop {
            // SAFETY: pause() only waits for a signal.
            unsafe { libc::pause() };
        }
    })
    .unwrap();
    assert_eq!(first_line(&mut p), "locked\n");
    p
}

/// Fork a waiter that blocks on the lock and reports what it got through its exit code.
fn spawn_waiter<L: RawLock>(v: &Value<u64, L>) -> Process {
    Process::spawn(|| match lock_bounded(v) {
        Ok(_) => exit(GOT_LOCK),
        Err(GuardError::OwnerDied { .. }) => exit(GOT_OWNER_DIED),
        Err(e) => panic!("unexpected: {e}"),
    })
    .unwrap()
}

fn next_locker_gets_owner_died<L: RawLock>(reap_first: bool, expect_pid: bool) {
    let v = Value::<u64, L>::new(0).unwrap();
    let mut holder = spawn_holder(&v);
    let pid = holder.pid();
    holder.kill().unwrap();
    if reap_first {
        assert_eq!(holder.join().unwrap(), -libc::SIGKILL);
    } // else: the holder is a zombie while we lock.
    match lock_bounded(&v) {
        Err(GuardError::OwnerDied { pid: got, guard }) => {
            if expect_pid {
                assert_eq!(got, Some(pid));
            }
            // The dead holder never wrote its change back; the guard holds the lock.
            assert_eq!(*guard, 0);
            drop(guard);
        }
        Ok(_) => panic!("{}: the owner's death went unreported", L::NAME),
        Err(e) => panic!("{}: unexpected error {e}", L::NAME),
    }
    // Recovered: the lock works normally again, for us and for a child.
    *lock_bounded(&v).unwrap() += 1;
    let mut child = Process::spawn(|| *lock_bounded(&v).unwrap() += 1).unwrap();
    assert_eq!(child.join_timeout(HANG).unwrap(), Some(0));
    assert_eq!(v.load().unwrap(), 2);
    assert_eq!(holder.join().unwrap(), -libc::SIGKILL);
}

fn sleeping_waiters_wake_and_exactly_one_gets_owner_died<L: RawLock>() {
    let v = Value::<u64, L>::new(0).unwrap();
    let mut holder = spawn_holder(&v);
    let mut waiters = [spawn_waiter(&v), spawn_waiter(&v)];
    // Both waiters are (or soon will be) blocked; they must not finish while it lives.
    assert_eq!(
        waiters[0].join_timeout(Duration::from_millis(20)).unwrap(),
        None
    );
    holder.kill().unwrap();
    let mut codes: Vec<i32> = waiters
        .iter_mut()
        .map(|w| {
            w.join_timeout(Duration::from_secs(60))
                .unwrap()
                .expect("a waiter hung after the holder died")
        })
        .collect();
    codes.sort_unstable();
    assert_eq!(codes, [GOT_OWNER_DIED, GOT_LOCK], "{}", L::NAME);
    assert_eq!(holder.join().unwrap(), -libc::SIGKILL);
}

#[test]
fn futex_zombie_holder() {
    next_locker_gets_owner_died::<FutexMutex>(false, true);
}

#[test]
fn futex_reaped_holder() {
    next_locker_gets_owner_died::<FutexMutex>(true, true);
}

#[test]
fn futex_sleeping_waiters() {
    sleeping_waiters_wake_and_exactly_one_gets_owner_died::<FutexMutex>();
}

#[test]
fn adaptive_zombie_holder() {
    next_locker_gets_owner_died::<AdaptiveMutex>(false, true);
}

#[test]
fn adaptive_reaped_holder() {
    next_locker_gets_owner_died::<AdaptiveMutex>(true, true);
}

#[test]
fn adaptive_sleeping_waiters() {
    sleeping_waiters_wake_and_exactly_one_gets_owner_died::<AdaptiveMutex>();
}

#[test]
fn spin_zombie_holder() {
    next_locker_gets_owner_died::<SpinLock>(false, true);
}

#[test]
fn spin_sleeping_waiters() {
    sleeping_waiters_wake_and_exactly_one_gets_owner_died::<SpinLock>();
}

#[test]
fn pthread_zombie_holder() {
    next_locker_gets_owner_died::<PthreadMutex>(false, false);
}

#[test]
fn pthread_reaped_holder() {
    next_locker_gets_owner_died::<PthreadMutex>(true, false);
}

#[test]
fn pthread_sleeping_waiters() {
    sleeping_waiters_wake_and_exactly_one_gets_owner_died::<PthreadMutex>();
}

#[test]
fn load_and_store_report_owner_death_without_acting() {
    let v = Value::<u64>::new(5).unwrap();
    let mut holder = spawn_holder(&v);
    holder.kill().unwrap();
    // In a child, so that a hang fails the test after HANG instead of hanging it.
    let mut child = Process::spawn(|| {
        assert!(matches!(
            v.store(9),
            Err(LockError::OwnerDied { pid: Some(_) })
        ));
        // The failed store did nothing and released the lock again.
        assert_eq!(v.load().unwrap(), 5);
    })
    .unwrap();
    assert_eq!(
        child.join_timeout(HANG).unwrap(),
        Some(0),
        "store/load hung or failed"
    );
    holder.join().unwrap();
}

#[test]
fn timed_lock_on_a_dead_owner_reports_it_too() {
    let v = Value::<u64>::new(0).unwrap();
    let mut holder = spawn_holder(&v);
    holder.kill().unwrap();
    holder.join().unwrap();
    let err = v.try_lock_for(HANG).unwrap_err();
    assert!(err.is_owner_died());
    assert!(err.into_guard().is_some());
}

/// `TicketLock`'s documented failure: it records no pid per ticket, so a *waiter* killed
/// while queued wedges the lock for everyone behind it (as a dead holder does). Once the
/// holder releases, `serving` reaches the dead waiter's ticket and stays there: later
/// lockers wait for ever (`lock`), and `try_lock_for` cannot get in and reports it by
/// returning after its timeout. Use another strategy where processes may die.
#[test]
fn ticket_lock_is_wedged_by_a_waiter_killed_in_the_queue() {
    use procshare::strategy::TicketLock;
    let v = Value::<u64, TicketLock>::new(0).unwrap();
    let held = v.lock().unwrap(); // ticket 0
    let mut queued = Process::spawn(|| {
        let _never = v.lock(); // takes ticket 1, then waits
    })
    .unwrap();
    let t0 = std::time::Instant::now();
    while v.get_lock().raw().tickets_issued() != 2 {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "the waiter never queued"
        );
        std::thread::yield_now();
    }
    queued.kill().unwrap();
    assert_eq!(queued.join().unwrap(), -libc::SIGKILL);
    drop(held); // serving moves to ticket 1, whose owner is dead
    let t0 = std::time::Instant::now();
    let got = v.try_lock_for(Duration::from_millis(200)).unwrap();
    assert!(
        got.is_none(),
        "TicketLock recovered from a dead waiter: update the docs"
    );
    assert!(t0.elapsed() >= Duration::from_millis(200));
}
