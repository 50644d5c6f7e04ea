//! A deliberately broken queue for the kill-point matrix's teeth: correct while nobody
//! dies, wedged by a producer killed between claiming and publishing.
//!
//! [`NoRecoveryQueue`] claims a slot with a `fetch_add` on the tail, writes it and
//! publishes it, and its consumers take the head slot once it is published, as a Vyukov
//! queue does; but it has no crash recovery (no announced claims, no tombstones): a
//! producer SIGKILLed after its claim leaves a slot that is never published, and every
//! item behind it, acknowledged ones included, is never delivered (the failure mode of
//! ipmpsc #11). Every queue scenario passes on it without kills; the matrix's put rows
//! at `write` and `publish` must fail (`tests/killpoints.rs`). Not a production type.

use super::queue::HarnessQueue;
use procshare_shm::Shared;
use procshare_sync::hook::{self, Point};
use procshare_sync::ProcessShared;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Slots of [`NoRecoveryQueue`] (it never wraps: reset between cases).
const SLOTS: usize = 32;

/// The shared words of [`NoRecoveryQueue`].
#[derive(Debug)]
pub struct NoRecoveryCells {
    head: AtomicU64,
    tail: AtomicU64,
    published: [AtomicU64; SLOTS],
    items: [AtomicU64; SLOTS],
}

// SAFETY: atomics only.
unsafe impl ProcessShared for NoRecoveryCells {}

/// A queue without crash recovery (see the module docs).
#[derive(Debug)]
pub struct NoRecoveryQueue(Shared<NoRecoveryCells>);

impl NoRecoveryQueue {
    fn take(&self) -> Option<u64> {
        let c = &self.0;
        loop {
            hook::point(Point::Claim);
            let h = c.head.load(Ordering::Acquire);
            if c.published.get(h as usize)?.load(Ordering::Acquire) == 0 {
                return None;
            }
            if c.head
                .compare_exchange(h, h + 1, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                hook::point(Point::Read);
                return Some(c.items[h as usize].load(Ordering::Relaxed));
            }
        }
    }
}

impl HarnessQueue for NoRecoveryQueue {
    const NAME: &'static str = "no-recovery-queue";

    fn create(_capacity: usize) -> Result<Self, String> {
        let cells = NoRecoveryCells {
            head: AtomicU64::new(0),
            tail: AtomicU64::new(0),
            published: std::array::from_fn(|_| AtomicU64::new(0)),
            items: std::array::from_fn(|_| AtomicU64::new(0)),
        };
        Shared::new(cells)
            .map(NoRecoveryQueue)
            .map_err(|e| e.to_string())
    }

    fn put(&self, item: u64) -> Result<(), String> {
        hook::point(Point::Claim);
        let t = self.0.tail.fetch_add(1, Ordering::AcqRel) as usize;
        if t >= SLOTS {
            return Err("no-recovery-queue full".into());
        }
        hook::point(Point::Write);
        self.0.items[t].store(item, Ordering::Relaxed);
        hook::point(Point::Publish);
        self.0.published[t].store(1, Ordering::Release);
        Ok(())
    }

    fn get_timeout(&self, _timeout: Duration) -> Result<Option<u64>, String> {
        // "Waits" by retrying a few times; each retry is a schedule point.
        for _ in 0..3 {
            if let Some(v) = self.take() {
                return Ok(Some(v));
            }
            hook::point(Point::Sleep);
        }
        Ok(None)
    }

    fn try_get(&self) -> Result<Option<u64>, String> {
        Ok(self.take())
    }

    fn reset(&self) {
        let c = &self.0;
        c.head.store(0, Ordering::Relaxed);
        c.tail.store(0, Ordering::Relaxed);
        for s in c.published.iter().chain(&c.items) {
            s.store(0, Ordering::Relaxed);
        }
    }
}
