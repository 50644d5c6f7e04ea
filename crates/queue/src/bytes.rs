//! `ByteRing`: the ring of [`crate::ring`] in one block of the shared heap, with a byte
//! interface.
//!
//! The block is laid out as `[Header | Record × R | slot × N]`, every part 64-byte
//! aligned; shared memory holds no pointers (the ring addresses slots by index). A
//! process forked after the ring was created inherits the mapping, so the handle it
//! captured works there as it does in the parent. Each thread that puts or gets owns a
//! participant record, found through a small per-thread cache keyed by the ring's id and
//! the thread's `(pid, tid)` (a forked child's thread misses and registers anew).
//!
//! Tested through the typed queues by the root package's `tests/queue.rs` (across forked
//! processes, SIGKILL included) and by the unit tests below.

use crate::ring::{
    owner_id, Faults, Geometry, GetError, Header, PutError, Record, RingRef, WaitError, CONSUMER,
    PRODUCER, SLOT_HEADER_WORDS,
};
use crate::QueueError;
use procshare_shm::heap::{self, Block};
use procshare_sync::loom::{AtomicU64, Deadline};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

/// Participant records per ring: at most this many threads use one ring at once.
pub(crate) const RECORDS: usize = 128;
/// The most shared memory one ring may take (header, records and slots): 16 GiB. A
/// request above it (or above [`MAX_SLOTS`]) is refused with
/// [`QueueError::CapacityTooLarge`] before anything is allocated: a typo such as
/// `Queue::new(usize::MAX)` is an error, not an attempt to map terabytes.
pub const MAX_RING_BYTES: u64 = 1 << 34;
/// The most slots one ring may have (2³²): positions stay far below the ring's 2⁶² bound
/// and a slot index fits a `u32`.
pub const MAX_SLOTS: u64 = 1 << 32;
/// Payload bytes per slot when the ring is bounded by bytes only.
const SMALL_SLOT_PAYLOAD: usize = 112;

/// Rings created by this process so far (for unique ids).
static NEXT_RING: AtomicU32 = AtomicU32::new(0);

#[derive(Clone, Copy)]
struct CacheEntry {
    uid: u64,
    owner: u64,
    idx: u32,
    roles: u32,
}

const EMPTY_ENTRY: CacheEntry = CacheEntry {
    uid: 0,
    owner: 0,
    idx: 0,
    roles: 0,
};

const CACHE: usize = 4;

std::thread_local! {
    /// This thread's records in the rings it used last: `(ring id, owner, index, roles)`.
    static RECORD_CACHE: Cell<([CacheEntry; CACHE], usize)> =
        const { Cell::new(([EMPTY_ENTRY; CACHE], 0)) };
}

/// A bounded MPMC ring of byte messages in shared memory (see [`crate::ring`]).
///
/// Bounded by count (at most [`Geometry::slots`] messages) and by bytes (a message of
/// `len` bytes takes `⌈len / slot_payload⌉` slots); a message longer than
/// [`ByteRing::max_message`] is refused at once with [`QueueError::TooLarge`].
pub struct ByteRing {
    block: Block,
    geo: Geometry,
    uid: u64,
    records_at: usize,
    slots_at: usize,
    /// This process's handle was closed (`close`): process-local, like CPython's.
    closed: AtomicBool,
    faults: Faults,
}

impl std::fmt::Debug for ByteRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ByteRing")
            .field("geometry", &self.geo)
            .field("len", &self.len())
            .finish()
    }
}

fn round64(n: usize) -> usize {
    n.div_ceil(64) * 64
}

impl ByteRing {
    /// A ring for at most `max_items` messages (0: bounded by bytes only) and
    /// `max_bytes` bytes of payload. With `max_items > 0` every slot holds
    /// `⌈max_bytes / max_items⌉` bytes (rounded up to 8), so `max_items` small messages
    /// always fit; with 0, slots hold 112 bytes and there are `⌈max_bytes / 112⌉`.
    ///
    /// A ring of more than [`MAX_SLOTS`] slots or [`MAX_RING_BYTES`] bytes of shared
    /// memory is refused with [`QueueError::CapacityTooLarge`] before anything is
    /// allocated (so is every typed queue built on one).
    pub fn new(max_items: usize, max_bytes: usize) -> Result<Self, QueueError> {
        Self::with_flags(max_items, max_bytes, 0)
    }

    pub(crate) fn with_flags(
        max_items: usize,
        max_bytes: usize,
        flags: u32,
    ) -> Result<Self, QueueError> {
        if max_bytes == 0 {
            return Err(QueueError::Capacity("max_bytes must be at least 1"));
        }
        // Sizes are computed in u128, so that no request can overflow before it is
        // compared with the bounds.
        let (slots, payload) = if max_items == 0 {
            (
                (max_bytes as u128).div_ceil(SMALL_SLOT_PAYLOAD as u128),
                SMALL_SLOT_PAYLOAD as u128,
            )
        } else {
            let per_item = (max_bytes as u128).div_ceil(max_items as u128);
            (max_items as u128, per_item.div_ceil(8) * 8)
        };
        let slot_words = payload / 8 + SLOT_HEADER_WORDS as u128;
        let header = round64(std::mem::size_of::<Header>());
        let records_at = header;
        let slots_at = records_at + RECORDS * std::mem::size_of::<Record>();
        let total = slots * slot_words * 8 + slots_at as u128;
        if slots > u128::from(MAX_SLOTS) || total > u128::from(MAX_RING_BYTES) {
            return Err(QueueError::CapacityTooLarge {
                slots,
                bytes: total,
                max_slots: MAX_SLOTS,
                max_bytes: MAX_RING_BYTES,
            });
        }
        // Within the bounds, everything fits a usize (64-bit targets only: the crate
        // maps memory with 64-bit offsets).
        let (slots, slot_words, total) = (slots as usize, slot_words as usize, total as usize);
        let geo = Geometry {
            slots: slots as u64,
            slot_words,
            records: RECORDS,
        };
        let block = heap::alloc(total)?;
        let uid = (u64::from(std::process::id()) << 32)
            | u64::from(NEXT_RING.fetch_add(1, Ordering::Relaxed).wrapping_add(1));
        let base = block.ptr();
        // SAFETY: the block is fresh (nobody else knows it yet), 64-byte aligned and
        // `total` bytes long, so the header at offset 0, the records at `records_at` (a
        // multiple of 64) and the zero-filled slot words at `slots_at` are in bounds and
        // aligned for their types; every type written holds only atomics.
        unsafe {
            base.cast::<Header>().write(Header::new(uid, flags));
            let recs = base.add(records_at).cast::<Record>();
            for i in 0..RECORDS {
                recs.add(i).write(Record::new());
            }
        }
        let ring = ByteRing {
            block,
            geo,
            uid,
            records_at,
            slots_at,
            closed: AtomicBool::new(false),
            faults: Faults::default(),
        };
        ring.ring().init_slots();
        Ok(ring)
    }

    /// The ring protocol over this handle's memory.
    #[inline]
    pub fn ring(&self) -> RingRef<'_> {
        let base = self.block.ptr();
        // SAFETY: `with_flags` laid out and initialised the header, `RECORDS` records and
        // `slots × slot_words` words at these offsets of the block, which lives as long
        // as `self`. Everything there is an atomic, so shared references are fine while
        // other processes use the same memory.
        unsafe {
            RingRef {
                hdr: &*base.cast::<Header>(),
                recs: std::slice::from_raw_parts(
                    base.add(self.records_at).cast::<Record>(),
                    RECORDS,
                ),
                words: std::slice::from_raw_parts(
                    base.add(self.slots_at).cast::<AtomicU64>(),
                    self.geo.slots as usize * self.geo.slot_words,
                ),
                geo: self.geo,
                faults: self.faults,
            }
        }
    }

    /// A copy of this ring with deliberately broken behaviour, for tests of the tests.
    #[doc(hidden)]
    pub fn set_faults(&mut self, faults: Faults) {
        self.faults = faults;
    }

    /// The ring's shape.
    pub fn geometry(&self) -> Geometry {
        self.geo
    }

    /// The largest message the ring can ever hold, in bytes.
    pub fn max_message(&self) -> usize {
        self.geo.max_message()
    }

    /// The calling thread's record, registered with `role` if needed.
    #[inline]
    fn me(&self, role: u32) -> Result<usize, QueueError> {
        if self.closed.load(Ordering::Relaxed) {
            return Err(QueueError::Closed);
        }
        let owner = owner_id();
        let hit = RECORD_CACHE.with(|c| {
            let (entries, _) = c.get();
            entries
                .iter()
                .find(|e| e.uid == self.uid && e.owner == owner && e.roles & role == role)
                .map(|e| e.idx as usize)
        });
        match hit {
            Some(i) => Ok(i),
            None => self.me_slow(owner, role),
        }
    }

    #[cold]
    fn me_slow(&self, owner: u64, role: u32) -> Result<usize, QueueError> {
        let i = self
            .ring()
            .register(role)
            .ok_or(QueueError::Registry { records: RECORDS })?;
        RECORD_CACHE.with(|c| {
            let (mut entries, next) = c.get();
            let slot = entries
                .iter()
                .position(|e| e.uid == self.uid && e.owner == owner)
                .unwrap_or(next);
            let roles = if entries[slot].uid == self.uid && entries[slot].owner == owner {
                entries[slot].roles | role
            } else {
                role
            };
            entries[slot] = CacheEntry {
                uid: self.uid,
                owner,
                idx: i as u32,
                roles,
            };
            c.set((entries, (next + 1) % CACHE));
        });
        Ok(i)
    }

    /// Register the calling thread as a producer now (it is on its first put anyway): a
    /// consumer waiting on an empty ring is told [`QueueError::Disconnected`] only once
    /// every registered producer has exited.
    pub fn register_producer(&self) -> Result<(), QueueError> {
        self.me(PRODUCER).map(drop)
    }

    /// Register the calling thread as a consumer now (see [`ByteRing::register_producer`]).
    pub fn register_consumer(&self) -> Result<(), QueueError> {
        self.me(CONSUMER).map(drop)
    }

    fn too_large(&self, len: usize) -> QueueError {
        QueueError::TooLarge {
            len,
            max: self.max_message(),
        }
    }

    /// Put `data`, waiting for room as long as it takes.
    pub fn put_bytes(&self, data: &[u8]) -> Result<(), QueueError> {
        self.put_bytes_deadline(data, &Deadline::never())
    }

    /// Put `data`, waiting for room at most `timeout` ([`QueueError::Full`] after it).
    pub fn put_bytes_timeout(&self, data: &[u8], timeout: Duration) -> Result<(), QueueError> {
        self.put_bytes_deadline(data, &Deadline::after(timeout))
    }

    /// Put `data`, waiting for room until `deadline`.
    pub fn put_bytes_deadline(&self, data: &[u8], deadline: &Deadline) -> Result<(), QueueError> {
        let me = self.me(PRODUCER)?;
        match self.ring().put(me, data, deadline) {
            Ok(()) => Ok(()),
            Err(WaitError::TimedOut) => Err(QueueError::Full),
            Err(WaitError::Disconnected) => Err(QueueError::Disconnected),
            Err(WaitError::TooLarge) => Err(self.too_large(data.len())),
        }
    }

    /// Put `data` if there is room now; [`QueueError::Full`] otherwise.
    pub fn try_put_bytes(&self, data: &[u8]) -> Result<(), QueueError> {
        let me = self.me(PRODUCER)?;
        let ring = self.ring();
        let mut recovered = false;
        loop {
            return match ring.try_put(me, data) {
                Ok(()) => Ok(()),
                Err(PutError::TooLarge) => Err(self.too_large(data.len())),
                Err(PutError::Full) => Err(QueueError::Full),
                Err(PutError::Held(o)) => {
                    if !recovered && ring.recover_consumer(o) {
                        recovered = true;
                        continue;
                    }
                    Err(QueueError::Full)
                }
            };
        }
    }

    /// Take the next message into `out` (cleared first; it grows only if the message is
    /// longer than its capacity), waiting as long as it takes. Returns the length.
    pub fn get_bytes_into(&self, out: &mut Vec<u8>) -> Result<usize, QueueError> {
        self.get_bytes_deadline(out, &Deadline::never())
    }

    /// [`ByteRing::get_bytes_into`], waiting at most `timeout` ([`QueueError::Empty`]
    /// after it).
    pub fn get_bytes_into_timeout(
        &self,
        out: &mut Vec<u8>,
        timeout: Duration,
    ) -> Result<usize, QueueError> {
        self.get_bytes_deadline(out, &Deadline::after(timeout))
    }

    /// [`ByteRing::get_bytes_into`], waiting until `deadline`.
    pub fn get_bytes_deadline(
        &self,
        out: &mut Vec<u8>,
        deadline: &Deadline,
    ) -> Result<usize, QueueError> {
        let me = self.me(CONSUMER)?;
        match self.ring().get(me, out, deadline) {
            Ok(n) => Ok(n),
            Err(WaitError::TimedOut) => Err(QueueError::Empty),
            Err(WaitError::Disconnected) => Err(QueueError::Disconnected),
            Err(WaitError::TooLarge) => unreachable!("a get has no message of its own"),
        }
    }

    /// Take a message into `out` if one is published now; [`QueueError::Empty`]
    /// otherwise.
    pub fn try_get_bytes_into(&self, out: &mut Vec<u8>) -> Result<usize, QueueError> {
        let me = self.me(CONSUMER)?;
        let ring = self.ring();
        let mut recovered = false;
        loop {
            return match ring.try_get(me, out) {
                Ok(n) => Ok(n),
                Err(GetError::Empty) => Err(QueueError::Empty),
                Err(GetError::Stalled(q)) => {
                    if !recovered && ring.recover_producer(q) {
                        recovered = true;
                        continue;
                    }
                    Err(QueueError::Empty)
                }
            };
        }
    }

    /// Approximate number of messages (exact when no put or get is in progress and every
    /// message fits one slot; a message of `k` slots counts `k`).
    pub fn len(&self) -> usize {
        self.ring().len() as usize
    }

    /// Is the ring (approximately) empty? CPython's `empty()`, with the same caveat: the
    /// answer may be stale by the time the caller acts on it.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Is every slot (approximately) in use?
    pub fn is_full(&self) -> bool {
        self.len() as u64 >= self.geo.slots
    }

    /// Close this process's handle, like CPython's `close()`: from now on this process's
    /// puts and gets return [`QueueError::Closed`], and it no longer counts as a producer
    /// (or consumer): once every producer has closed or exited, consumers waiting on an
    /// empty ring get [`QueueError::Disconnected`]. Other processes' handles stay open.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Relaxed);
        self.ring().deregister_process(PRODUCER | CONSUMER);
    }

    /// Has this process closed its handle?
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed)
    }

    /// `JoinableQueue::task_done`.
    pub(crate) fn task_done(&self) -> Result<(), QueueError> {
        if self.ring().task_done() {
            Ok(())
        } else {
            Err(QueueError::TaskDone)
        }
    }

    /// `JoinableQueue::join`: true once every task put was done, false at `deadline`.
    pub(crate) fn join(&self, deadline: &Deadline) -> bool {
        self.ring().join(deadline)
    }

    /// Tasks put and not yet done (`JoinableQueue`).
    pub(crate) fn unfinished(&self) -> u64 {
        self.ring().unfinished()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_of_every_size_round_trip_in_order() {
        let ring = ByteRing::new(8, 8 * 24).unwrap();
        assert_eq!(ring.geometry().slot_payload(), 24);
        assert_eq!(ring.max_message(), 8 * 24);
        let mut out = Vec::new();
        for len in [0usize, 1, 7, 8, 9, 23, 24, 25, 100, 192] {
            let msg: Vec<u8> = (0..len).map(|i| (i * 7 + len) as u8).collect();
            ring.try_put_bytes(&msg).unwrap();
            assert_eq!(ring.try_get_bytes_into(&mut out).unwrap(), len);
            assert_eq!(out, msg, "len {len}");
        }
        assert!(matches!(
            ring.try_put_bytes(&[0; 193]),
            Err(QueueError::TooLarge { len: 193, max: 192 })
        ));
    }

    #[test]
    fn the_ring_is_bounded_by_count_and_by_bytes() {
        let ring = ByteRing::new(4, 4 * 16).unwrap();
        for i in 0..4u8 {
            ring.try_put_bytes(&[i]).unwrap();
        }
        assert!(ring.is_full());
        assert!(matches!(ring.try_put_bytes(&[9]), Err(QueueError::Full)));
        let mut out = Vec::new();
        ring.try_get_bytes_into(&mut out).unwrap();
        assert_eq!(out, [0]);
        // One slot free: a two-slot message does not fit, a one-slot one does.
        assert!(matches!(
            ring.try_put_bytes(&[1; 17]),
            Err(QueueError::Full)
        ));
        ring.try_put_bytes(&[4; 16]).unwrap();
        for want in [vec![1u8], vec![2], vec![3], vec![4; 16]] {
            ring.try_get_bytes_into(&mut out).unwrap();
            assert_eq!(out, want);
        }
        assert!(matches!(
            ring.try_get_bytes_into(&mut out),
            Err(QueueError::Empty)
        ));
    }

    #[test]
    fn a_message_may_wrap_around_the_end_of_the_ring() {
        let ring = ByteRing::new(3, 3 * 8).unwrap();
        let mut out = Vec::new();
        for round in 0..10u8 {
            let msg: Vec<u8> = (0..16).map(|i| i ^ round).collect();
            ring.try_put_bytes(&msg).unwrap();
            ring.try_put_bytes(&[round]).unwrap();
            ring.try_get_bytes_into(&mut out).unwrap();
            assert_eq!(out, msg);
            ring.try_get_bytes_into(&mut out).unwrap();
            assert_eq!(out, [round]);
        }
    }

    /// A peer that writes into the ring's memory instead of putting (the Manager's fast
    /// path maps a client's ring) can claim any length: the consumer reads at most the
    /// ring, never allocates what was claimed.
    #[test]
    fn a_scribbled_message_length_is_clamped_to_the_ring() {
        let ring = ByteRing::new(4, 4 * 16).unwrap();
        ring.try_put_bytes(b"hello").unwrap();
        // Slot 0's `meta` word (the length), as a hostile peer would overwrite it.
        ring.ring().words[1].store(u64::MAX, std::sync::atomic::Ordering::Relaxed);
        let mut out = Vec::new();
        let n = ring.try_get_bytes_into(&mut out).unwrap();
        assert_eq!(n, ring.max_message());
        assert_eq!(&out[..5], b"hello");
    }

    #[test]
    fn an_absurd_capacity_is_refused_before_allocating() {
        let too_large = |r: Result<ByteRing, QueueError>| {
            matches!(r, Err(QueueError::CapacityTooLarge { max_bytes, max_slots, .. })
                if max_bytes == MAX_RING_BYTES && max_slots == MAX_SLOTS)
        };
        assert!(too_large(ByteRing::new(usize::MAX, 1)));
        assert!(too_large(ByteRing::new(0, usize::MAX)));
        assert!(too_large(ByteRing::new(usize::MAX, usize::MAX)));
        assert!(too_large(ByteRing::new(1 << 20, 1 << 40)));
        // Just above the slot bound, with the smallest slots: refused on the count.
        assert!(too_large(ByteRing::new(MAX_SLOTS as usize + 1, 1)));
        // A ring just under the byte bound is only laid out, not refused: check the
        // arithmetic with one that is small enough to allocate here.
        let ring = ByteRing::new(1 << 16, 1 << 19).unwrap();
        assert_eq!(ring.geometry().slots, 1 << 16);
        assert_eq!(ring.geometry().slot_payload(), 8);
        let q = crate::Queue::<u64>::with_capacity(usize::MAX, 8);
        assert!(matches!(q, Err(QueueError::CapacityTooLarge { .. })));
        let j = crate::JoinableQueue::<u64>::new(usize::MAX);
        assert!(matches!(j, Err(QueueError::CapacityTooLarge { .. })));
        let s = crate::SimpleQueue::<u64>::with_bytes(usize::MAX);
        assert!(matches!(s, Err(QueueError::CapacityTooLarge { .. })));
    }

    #[test]
    fn a_closed_handle_refuses_puts_and_gets() {
        let ring = ByteRing::new(0, 1024).unwrap();
        ring.put_bytes(b"x").unwrap();
        ring.close();
        assert!(matches!(ring.put_bytes(b"y"), Err(QueueError::Closed)));
        let mut out = Vec::new();
        assert!(matches!(
            ring.get_bytes_into(&mut out),
            Err(QueueError::Closed)
        ));
    }
}
