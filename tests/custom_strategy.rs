//! The extension point: a strategy defined outside procshare (the `TasLock` of
//! `docs/guide.md`) plugs into `Value`/`Array` by implementing `RawLock` and nothing else.

mod common;

use common::run_children;
use procshare::{Array, LockError, Process, RawLock, Value};
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Test-and-set, no backoff.
#[repr(C)]
struct TasLock(AtomicU32);

// SAFETY: acquisitions are Acquire swaps from 0 to 1, the release a Release store of 0;
// one AtomicU32, no pointers; try_lock_for polls until its deadline has passed.
unsafe impl RawLock for TasLock {
    const NAME: &'static str = "tas";
    type GuardMarker = procshare::GuardSend;
    fn init(slot: &mut MaybeUninit<Self>) -> Result<(), LockError> {
        slot.write(TasLock(AtomicU32::new(0)));
        Ok(())
    }
    fn lock(&self) -> Result<(), LockError> {
        while self.0.swap(1, Ordering::Acquire) != 0 {
            std::thread::yield_now();
        }
        Ok(())
    }
    fn try_lock(&self) -> Result<bool, LockError> {
        Ok(self.0.swap(1, Ordering::Acquire) == 0)
    }
    fn try_lock_for(&self, timeout: Duration) -> Result<bool, LockError> {
        let deadline = Instant::now() + timeout;
        loop {
            if self.try_lock()? {
                return Ok(true);
            }
            if Instant::now() >= deadline {
                return Ok(false);
            }
            std::thread::yield_now();
        }
    }
    unsafe fn unlock(&self) -> Result<(), LockError> {
        self.0.store(0, Ordering::Release);
        Ok(())
    }
}

#[test]
fn a_user_strategy_excludes_across_processes() {
    let v = Value::<u64, TasLock>::new(0).unwrap();
    run_children(4, |_| {
        for _ in 0..20_000 {
            *v.lock().unwrap() += 1;
        }
    });
    assert_eq!(v.load().unwrap(), 80_000);
}

#[test]
fn a_user_strategy_guards_arrays_and_times_out() {
    let a = Array::<u8, TasLock>::from_slice(b"abc").unwrap();
    let g = a.lock().unwrap();
    let mut child = Process::spawn(|| {
        assert!(a.try_lock_for(Duration::from_millis(50)).unwrap().is_none());
    })
    .unwrap();
    assert_eq!(child.join().unwrap(), 0);
    drop(g);
    assert_eq!(a.to_vec().unwrap(), b"abc");
}
