//! The ring: a bounded multi-producer multi-consumer queue of variable-size messages in
//! one block of shared memory, written once against the `procshare_sync::loom` facade.
//!
//! # Algorithm
//!
//! Dmitry Vyukov's bounded MPMC queue (per-slot sequence numbers, a `tail` that producers
//! advance with a CAS and a `head` that consumers advance with a CAS), extended in three
//! ways:
//!
//! * **Variable-size messages.** A message of `len` bytes takes `k = ⌈len / S⌉` (at least 1)
//!   *consecutive* slots of `S` payload bytes each; the producer checks that all `k` are free
//!   and claims them with one CAS `tail: t → t + k`; the consumer reads `len` from the first
//!   slot and claims all `k` with one CAS `head: h → h + k`. Only the first slot is
//!   published (one Release store); the others ride on it. A message that needs more
//!   slots than the ring has is refused at once ([`PutError::TooLarge`]). So the ring is
//!   bounded by count (`slots` messages at most) and by bytes (`slots × S`).
//! * **Announced claims, for crash recovery.** Every participant (a thread of a process)
//!   owns a [`Record`] in the block. Before its claiming CAS a producer writes the claim
//!   `(t, k)` into its record, a consumer `(h, k)`; after publishing (releasing) it clears
//!   it. A consumer that finds the head slot claimed but unpublished for a liveness slice
//!   looks for the records that cover the position: if every one of them belongs to a
//!   process that [`liveness`] proves dead, the claimant is dead (its own record covers the
//!   position until it publishes), and the consumer turns the slot into a one-slot
//!   *tombstone* (a CAS on its sequence word) that consumers skip. Symmetrically a producer
//!   that finds a slot consumed but never released by a dead consumer releases it.
//! * **Announced sleepers.** Blocking put/get wait on the shared
//!   [`AdaptiveWait`] (`ready` for consumers, `space` for producers, `joined` for `join`):
//!   first a clock-free poll ([`AdaptiveWait::poll`], so a message that comes within a
//!   few hundred nanoseconds costs no clock read), then a short spin, then an announced
//!   futex sleep; every publish and release notifies, which
//!   is a system call only if a sleeper announced itself, so with both sides keeping up
//!   there is none. Each sleep is bounded by the liveness slice: when it passes, the waiter
//!   recovers dead claims and checks whether the other side is gone (`Disconnected`); no
//!   liveness probe is made before the first slice has passed. While it waits, a consumer
//!   re-checks only its head slot (and `head`), a producer only its tail slots (and
//!   `tail`): neither reads the other side's position word on every check, which would
//!   pull that cache line away from the side about to CAS it and put a cache miss on the
//!   path of every message. Whether the slot is stuck behind a dead claimant (which needs
//!   the other side's position) is asked only when a liveness check is due, and whether a
//!   claim is pending (see below) only once per sleep, after the announcement.
//!
//! # Wake-ups without a fence
//!
//! Every publish and every release is made by the thread that claimed the position with a
//! `SeqCst` CAS on `tail` (`head`) just before. So the publisher's notify can skip the
//! adaptive wait's `fence(SeqCst)` ([`AdaptiveWait::notify_all_after_claim`]: a `SeqCst`
//! load of `sleepers`), and a waiter, after its own fence, tells two cases apart
//! ([`AdaptiveWait::wait_until_pending`]): nobody has claimed the position it waits for —
//! then the claimant's CAS follows the waiter's fence in the total order of `SeqCst`
//! operations, its notify sees the waiter, and the waiter sleeps until woken — or a claim
//! is pending (a consumer sees `tail > head`: a message claimed and not taken; a producer
//! sees `head + N > tail`: room claimed by a consumer, whether released yet or not — a
//! check of the slot's state instead would race with the publish, and loom finds that
//! lost wake-up) — then the notify may miss it, and it naps (50 µs, doubling to 1 ms) and
//! re-checks. The proof is in the adaptive wait's docs ("Claimed changes"); the
//! loom suites check it with both cases, and `loom_ring_broken.rs` keeps a ring whose
//! waiters ignore the pending claim, which loom must find losing a wake-up. It takes a
//! full barrier off each message on both sides (1→1 throughput 0.44× → 0.55× the raw
//! ring's, interleaved runs); recovery, `close` and task counts keep the fenced notify.
//!
//! # Slot states
//!
//! Positions are absolute (`u64`, below 2⁶² in practice: centuries at 10⁸ messages per
//! second); position `q` lives in slot `q mod N`. The slot's sequence word `seq` holds
//! `2q` ("free for `q`") or `2q + 1` ("published at `q`"), so that even a one-slot ring
//! tells "published at `q`" from "free for `q + 1`" (Vyukov's `q`/`q + 1` encoding needs
//! two slots at least), plus the `TOMB` bit:
//!
//! | `seq`                 | state of the slot for position `q`                   | next, made by |
//! |-----------------------|------------------------------------------------------|---------------|
//! | `2q`, `tail ≤ q`       | free for the producer of `q`                          | producer CASes `tail` over it (claim) |
//! | `2q`, `tail > q`, `head ≤ q` | claimed, being written (or its producer died)  | producer stores `2q + 1` (publish, Release); or a consumer, once every covering producer record is dead, CASes `2q → (2q+1)\|TOMB` |
//! | `2q + 1`              | published: first slot of a message, `meta` = length   | consumer CASes `head` over it (claim), reads |
//! | `(2q + 1) \| TOMB`     | tombstone of a dead claim, one slot                   | consumer CASes `head` by one, skips it |
//! | any of these, `head > q` | claimed by a consumer, being read (or its consumer died) | consumer stores `2(q + N)` (release); or a producer, once every covering consumer record is dead, CASes it to `2(q + N)` |
//! | `2(q + N)`            | released: free for position `q + N`                   | — |
//!
//! A continuation slot (position `p + j` of a message at `p`, `0 < j < k`) keeps `2(p + j)`
//! from claim to release: it is reached only through its first slot. A value below the
//! expected one is an earlier lap (the slot is still in use: full); a value above it means
//! the reader's `head`/`tail` is stale.
//!
//! # Records
//!
//! | field          | meaning                                                     | written by |
//! |----------------|-------------------------------------------------------------|------------|
//! | `owner`        | `pid << 32 \| tid`, 0 = free                                  | CAS by a registering thread (from 0, or from a dead owner whose claims are passed) |
//! | `roles`        | `PRODUCER`, `CONSUMER` bits                                 | the owner (register, `close`) |
//! | `pclaim, plen` | the producer claim in progress (`NONE` = none)              | the owner, a seqlock: `pclaim = NONE`, fence, `plen`, `pclaim = t` |
//! | `cclaim, clen` | the consumer claim in progress                              | the owner, likewise |
//!
//! Why the rule "every covering record is dead" is sound: the claimant of `q` wrote its
//! claim before the CAS that claimed `q`, and keeps it until it published (released), so
//! while `q` is stuck the claimant's record covers `q`; a reader that saw `tail > q`
//! (`head > q`) with Acquire sees that claim. Other records may cover `q` too (a
//! participant that announced and then lost the CAS, and died, or has not re-announced
//! yet); a live one makes the recoverer wait, a dead one is harmless. The claim `(p, k)`
//! is read as a seqlock (`pclaim`, `plen`, fence, `pclaim` again), so a claim is never
//! combined with another claim's length.
//!
//! # Delivery guarantee
//!
//! Every message whose `put` returned is delivered exactly once, except a message that a
//! consumer had claimed when it was killed, which is delivered at most once (the dead
//! consumer may or may not have copied it out; nobody else gets it). A `put` that was
//! killed before it returned delivers its message at most once: exactly once if it had
//! published, never if it died between claim and publish (its slot becomes a tombstone).
//! Messages of one producer thread are delivered in the order they were put (FIFO per
//! producer), and the ring as a whole hands messages out in claim order.
//!
//! Linearizability is *not* claimed: a message becomes visible only when it is published,
//! after its claim, so a `get` may return `Empty` (or wait) while an earlier-claimed message
//! is still being written and a later one is already published behind it; and a consumer
//! killed mid-read removes a message that nobody receives. Neither case loses an
//! acknowledged message. The harness's queue scenarios (`procshare-harness`,
//! `scenarios/queue.rs`) check recorded histories, kills included, as a FIFO queue with
//! the empty answers dropped, and show that with them kept a history is rejected.
//!
//! # Tasks (`JoinableQueue`)
//!
//! A joinable ring counts the tasks put in the producers' records and the tasks done in
//! the header: `unfinished = Σ ptasks − done`, summed over the records ever used
//! (`records_used`). A put counts its task *after* its claiming CAS and *before* its
//! publish, in one store to its own record that also sets the record's `COUNTED` bit
//! ("the claim in `pclaim` has counted its task"; cleared before the next claim is
//! announced):
//!
//! | producer killed …                    | its task            | made right by |
//! |--------------------------------------|---------------------|---------------|
//! | before its claiming CAS              | never counted       | — |
//! | after the CAS, before the count      | never counted; slot stuck | the consumer that tombstones the slot (bit clear: nothing to take back) |
//! | after the count, before the publish  | counted; slot stuck | that consumer first CASes the record's count down and clears the bit (once, whoever does it), then tombstones the slot |
//! | after the publish                    | counted, delivered  | the consumer's `task_done` |
//!
//! So a killed producer leaves no task behind, and `join` stays exact. No consumer can
//! take a message, and call `task_done` for it, before it is counted (the count is
//! published with the message). `task_done` increments `done` with a CAS that refuses to
//! pass the sum (more calls than tasks put is an error), and `join` waits on `joined`
//! until `unfinished` is 0 (it reads `done` first: every count a successful `task_done`
//! relied on is then visible to it). A reused record keeps its count. A failed put
//! (timeout, `Disconnected`) never counted anything.
//!
//! A consumer killed holding a task (after taking its message, before `task_done`)
//! leaves that task unfinished, by the contract: nobody can finish it. A `task_done`
//! called before its item was taken may be charged to a put that a kill then voids.
//! Until this design the count was one global word incremented *before* the claim, and a
//! producer killed between the two left `join` one short for good; the kill-point matrix
//! keeps that protocol as a broken variant (`Faults::count_before_claim`) and reports its
//! rows as the *known limit* they were.
//!
//! # Schedule points
//!
//! Under a controlled scheduler (`procshare_sync::hook`) a put passes `Claim` (before it
//! looks for room), `Write`, `Publish` and, when somebody is announced on the other side,
//! `Wake` (before its notify); a get `Claim`, `Read`, `Release` and `Wake` likewise; a
//! blocking put or get `Sleep` once it has announced itself, before each sleep;
//! `task_done` `Store` and, when it may finish the last task and `join` sleeps, `Wake`;
//! `join` `Sleep` per failed check. At atomic
//! granularity every access to a word of the ring is a point too. The kill-point matrix
//! (`cargo xtask killpoints`) kills a producer or a consumer at each of them.
//!
//! # Tests
//!
//! `tests/loom_ring.rs` checks the protocol under loom with 2 and 3 threads (FIFO per
//! producer, no loss, no duplication, no lost wake-up, timeouts, a dead producer's claim
//! is skipped, a dead consumer's claim is released, a joinable ring's producer dead
//! before or after counting its task leaves no task behind) and `tests/loom_ring_broken.rs` shows
//! the models catch a ring that forgets to wake and one whose consumers take the head
//! without a CAS. The root package's `tests/queue.rs` runs it across processes, SIGKILL
//! included.

use procshare_sync::hook::{self, Point};
use procshare_sync::liveness;
use procshare_sync::loom::{
    after_seq_cst_rmw, current_thread, fence, spin_loop, AtomicU32, AtomicU64, Deadline,
    LivenessTimer, Ordering,
};
use procshare_sync::AdaptiveWait;

/// No claim in progress.
pub const NONE: u64 = u64::MAX;
/// The tombstone bit of a slot's sequence word.
const TOMB: u64 = 1 << 63;
/// The sequence value of a slot free for position `q`.
#[inline(always)]
fn free(q: u64) -> u64 {
    q << 1
}

/// The sequence value of a slot published at position `q` (first slot of a message).
#[inline(always)]
fn full(q: u64) -> u64 {
    (q << 1) | 1
}

/// Words at the start of every slot: `seq` and `meta` (the message length).
pub const SLOT_HEADER_WORDS: usize = 2;

/// Record role: the owner has put (or registered to put).
pub const PRODUCER: u32 = 1;
/// Record role: the owner has taken (or registered to take).
pub const CONSUMER: u32 = 2;
/// Header flag: the ring counts unfinished tasks (`JoinableQueue`).
pub const JOINABLE: u32 = 4;

/// Pads (and aligns) its content to a cache line, so the producers' and consumers' words
/// never share one.
#[repr(C, align(64))]
#[derive(Debug, Default)]
pub struct Padded<T>(pub T);

/// The ring's shared header.
#[repr(C)]
#[derive(Debug)]
pub struct Header {
    /// Identifies the ring (for per-thread caches of record indices).
    pub(crate) uid: AtomicU64,
    /// `PRODUCER`/`CONSUMER`: some participant ever registered in that role; `JOINABLE`.
    pub(crate) flags: AtomicU32,
    /// Next position a producer claims.
    pub(crate) tail: Padded<AtomicU64>,
    /// Next position a consumer claims.
    pub(crate) head: Padded<AtomicU64>,
    /// Consumers wait here for a message.
    pub(crate) ready: Padded<AdaptiveWait>,
    /// Producers wait here for space.
    pub(crate) space: Padded<AdaptiveWait>,
    /// `JoinableQueue`: `task_done` calls so far (the tasks put are counted in the
    /// records, see [`Record`]'s `ptasks`).
    pub(crate) done: Padded<AtomicU64>,
    /// One past the highest record index ever taken: the records `join` and `task_done`
    /// sum the producers' task counts over.
    pub(crate) records_used: AtomicU32,
    /// `join` waits here.
    pub(crate) joined: Padded<AdaptiveWait>,
}

impl Header {
    /// A fresh header: empty ring, nobody registered.
    pub fn new(uid: u64, flags: u32) -> Self {
        Header {
            uid: AtomicU64::new(uid),
            flags: AtomicU32::new(flags & JOINABLE),
            tail: Padded(AtomicU64::new(0)),
            head: Padded(AtomicU64::new(0)),
            ready: Padded(AdaptiveWait::new()),
            space: Padded(AdaptiveWait::new()),
            done: Padded(AtomicU64::new(0)),
            records_used: AtomicU32::new(0),
            joined: Padded(AdaptiveWait::new()),
        }
    }
}

/// One participant's registration and claims (see the module's record table).
#[repr(C, align(64))]
#[derive(Debug)]
pub struct Record {
    owner: AtomicU64,
    roles: AtomicU32,
    pclaim: AtomicU64,
    plen: AtomicU64,
    cclaim: AtomicU64,
    clen: AtomicU64,
    /// Joinable rings: `(tasks << 1) | COUNTED`, the tasks this record's puts counted
    /// (kept when the record is reused), and whether the claim in `pclaim` is counted.
    ptasks: AtomicU64,
}

/// The `ptasks` bit: the producer claim in progress has counted its task.
const COUNTED: u64 = 1;

impl Default for Record {
    fn default() -> Self {
        Self::new()
    }
}

impl Record {
    /// A free record.
    pub fn new() -> Self {
        Record {
            owner: AtomicU64::new(0),
            roles: AtomicU32::new(0),
            pclaim: AtomicU64::new(NONE),
            plen: AtomicU64::new(0),
            cclaim: AtomicU64::new(NONE),
            clen: AtomicU64::new(0),
            ptasks: AtomicU64::new(0),
        }
    }

    fn claim_words(&self, consumer: bool) -> (&AtomicU64, &AtomicU64) {
        if consumer {
            (&self.cclaim, &self.clen)
        } else {
            (&self.pclaim, &self.plen)
        }
    }

    /// Announce the claim `(pos, k)` (the writer side of the seqlock; the previous claim
    /// was cleared with a Release store).
    #[inline]
    fn announce(&self, consumer: bool, pos: u64, k: u64) {
        let (claim, len) = self.claim_words(consumer);
        fence(Ordering::Release);
        len.store(k, Ordering::Relaxed);
        claim.store(pos, Ordering::Release);
    }

    #[inline]
    fn clear(&self, consumer: bool) {
        self.claim_words(consumer).0.store(NONE, Ordering::Release);
    }

    /// The claim in progress, read consistently (the reader side of the seqlock).
    fn read_claim(&self, consumer: bool) -> Option<(u64, u64)> {
        let (claim, len) = self.claim_words(consumer);
        loop {
            let p1 = claim.load(Ordering::Acquire);
            if p1 == NONE {
                return None;
            }
            let k = len.load(Ordering::Relaxed);
            fence(Ordering::Acquire);
            let p2 = claim.load(Ordering::Relaxed);
            if p1 == p2 {
                return Some((p1, k));
            }
        }
    }
}

/// The shape of a ring: fixed at creation, copied into every handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    /// Slots (`N`): the most messages the ring holds.
    pub slots: u64,
    /// 8-byte words per slot, the two header words included.
    pub slot_words: usize,
    /// Participant records.
    pub records: usize,
}

impl Geometry {
    /// Payload bytes per slot (`S`).
    pub fn slot_payload(&self) -> usize {
        (self.slot_words - SLOT_HEADER_WORDS) * 8
    }

    /// The largest message the ring can ever hold: all of its slots.
    pub fn max_message(&self) -> usize {
        self.slot_payload().saturating_mul(self.slots as usize)
    }

    /// Slots a message of `len` bytes takes.
    #[inline]
    pub fn slots_for(&self, len: usize) -> u64 {
        let s = self.slot_payload();
        if len <= s {
            // The common case, without a division.
            return 1;
        }
        len.div_ceil(s) as u64
    }
}

/// Why a single put attempt did not put.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutError {
    /// No room now.
    Full,
    /// No room now, and the slot needed is still held by the consumer of `pos` (maybe dead).
    Held(u64),
    /// The message can never fit.
    TooLarge,
}

/// Why a single get attempt did not get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GetError {
    /// Nothing published.
    Empty,
    /// The head position `pos` is claimed by a producer but not published (maybe dead).
    Stalled(u64),
}

/// Why a blocking operation returned without its message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitError {
    /// The deadline passed (`Full` for a put, `Empty` for a get).
    TimedOut,
    /// Every participant of the other side ever registered has exited.
    Disconnected,
    /// The message can never fit.
    TooLarge,
}

/// Deliberately broken variants, for the loom suite's teeth (`tests/loom_ring_broken.rs`).
#[doc(hidden)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Faults {
    /// Never wake a sleeper: a lost wake-up.
    pub no_wake: bool,
    /// Consumers take the head with a load and a store instead of a CAS.
    pub racy_head: bool,
    /// Under loom: the producer's process dies right after its claiming CAS.
    pub die_after_put_claim: bool,
    /// Under loom: the consumer's process dies right after its claiming CAS.
    pub die_after_get_claim: bool,
    /// Under loom: a joinable ring's producer dies right after counting its task
    /// (after its claim, before its publish).
    pub die_after_put_count: bool,
    /// A joinable ring's put counts its task *before* its claim, as the ring once did: a
    /// producer killed between the count and the claiming CAS leaves a task nobody can
    /// finish (`join` one short). For the kill-point matrix's teeth.
    pub count_before_claim: bool,
    /// Waiters trust the fence-free notify of a claimed change: they sleep until woken
    /// even while the slot they wait for is claimed and not yet published (released),
    /// instead of napping. A lost wake-up (see "Wake-ups without a fence").
    pub ignore_pending_claim: bool,
}

/// Under loom, with the fault set: die here (the caller returns at once).
#[inline(always)]
fn maybe_die(fault: bool) -> bool {
    #[cfg(loom)]
    if fault {
        procshare_sync::loom::die();
        return true;
    }
    let _ = fault;
    false
}

/// Who covers a stuck position.
enum Cover {
    /// Nobody's record covers it (yet).
    Nobody,
    /// A live (not proven dead) participant covers it.
    Alive(u32),
    /// Every covering participant is dead; `first`: one of them claimed from exactly here.
    Dead { first: bool },
}

/// The ring protocol over borrowed shared memory: a header, `records` records and
/// `slots × slot_words` words. Cheap to build: handles make one per operation.
#[derive(Clone, Copy)]
pub struct RingRef<'a> {
    /// The shared header.
    pub hdr: &'a Header,
    /// The slots, `slot_words` words each.
    pub words: &'a [AtomicU64],
    /// The participant records.
    pub recs: &'a [Record],
    /// The shape.
    pub geo: Geometry,
    /// Broken variants (all off in real use).
    #[doc(hidden)]
    pub faults: Faults,
}

impl std::fmt::Debug for RingRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RingRef")
            .field("geo", &self.geo)
            .field("tail", &self.hdr.tail.0.load(Ordering::Relaxed))
            .field("head", &self.hdr.head.0.load(Ordering::Relaxed))
            .finish()
    }
}

/// System calls this process made inside ring operations (futex waits and wakes,
/// liveness probes): what the benches report per message. Only slow paths count.
#[cfg(not(loom))]
static SYSCALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

#[inline]
fn count_syscall() {
    #[cfg(not(loom))]
    SYSCALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

/// How many system calls this process has made inside ring operations so far (futex
/// waits and wakes, liveness probes; a probe counts as one). The fast paths make none.
#[cfg(not(loom))]
pub fn syscalls() -> u64 {
    SYSCALLS.load(std::sync::atomic::Ordering::Relaxed)
}

/// Wake every waiter of `w` (after publishing); counts the system call if one was made.
#[inline]
fn notify(w: &AdaptiveWait) {
    if w.notify_all() {
        count_syscall();
    }
}

/// [`notify`] for a publish (release) that follows this thread's claiming `SeqCst` CAS:
/// no fence (see "Wake-ups without a fence").
#[inline]
fn notify_claimed(w: &AdaptiveWait) {
    if w.notify_all_after_claim() {
        count_syscall();
    }
}

/// The `Wake` schedule point before a notify of `w`, passed only when somebody is
/// announced on it (the point is "about to wake sleepers": a kill there leaves a sleeper
/// to its liveness slice). Outside a controlled scheduler one relaxed load and a branch.
#[inline(always)]
fn wake_point(w: &AdaptiveWait) {
    if hook::is_active() && w.sleepers() > 0 {
        hook::point(Point::Wake);
    }
}

/// Is the process `pid` proven dead?
fn dead(pid: u32) -> bool {
    count_syscall();
    liveness::is_dead(pid)
}

/// The calling thread as a record owner.
#[inline]
pub fn owner_id() -> u64 {
    let (pid, tid) = current_thread();
    (u64::from(pid) << 32) | u64::from(tid)
}

impl<'a> RingRef<'a> {
    /// Set every slot's sequence word to its first position (the ring's initial state).
    /// Only for fresh memory nobody else uses yet.
    pub fn init_slots(&self) {
        for i in 0..self.geo.slots {
            self.seq(i as usize).store(free(i), Ordering::Relaxed);
        }
    }

    #[inline]
    fn idx(&self, pos: u64) -> usize {
        let n = self.geo.slots;
        if n.is_power_of_two() {
            (pos & (n - 1)) as usize
        } else {
            (pos % n) as usize
        }
    }

    #[inline]
    fn seq(&self, slot: usize) -> &'a AtomicU64 {
        &self.words[slot * self.geo.slot_words]
    }

    #[inline]
    fn meta(&self, slot: usize) -> &'a AtomicU64 {
        &self.words[slot * self.geo.slot_words + 1]
    }

    #[inline]
    fn payload(&self, slot: usize) -> &'a [AtomicU64] {
        let start = slot * self.geo.slot_words + SLOT_HEADER_WORDS;
        &self.words[start..start + self.geo.slot_words - SLOT_HEADER_WORDS]
    }

    /// Approximate number of slots in use (claimed by producers, not yet claimed by
    /// consumers). Equals the number of messages when every message fits in one slot.
    pub fn len(&self) -> u64 {
        let head = self.hdr.head.0.load(Ordering::Acquire);
        let tail = self.hdr.tail.0.load(Ordering::Acquire);
        tail.saturating_sub(head)
    }

    /// Is the ring (approximately) empty?
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    // ----------------------------------------------------------------- registration

    /// The record of the calling thread, registering it (with `roles`) if needed.
    /// `None`: every record is taken by a live participant.
    pub fn register(&self, roles: u32) -> Option<usize> {
        let me = owner_id();
        if let Some(i) = self
            .recs
            .iter()
            .position(|r| r.owner.load(Ordering::Acquire) == me)
        {
            self.add_roles(i, roles);
            return Some(i);
        }
        for (i, r) in self.recs.iter().enumerate() {
            let o = r.owner.load(Ordering::Acquire);
            let free = o == 0 || (dead((o >> 32) as u32) && self.passed(r));
            if free
                && r.owner
                    .compare_exchange(o, me, Ordering::AcqRel, Ordering::Relaxed)
                    .is_ok()
            {
                r.clear(false);
                r.clear(true);
                r.roles.store(0, Ordering::Relaxed);
                // A reused record keeps its task count (`ptasks`): the dead owner's tasks
                // are still to be done.
                self.hdr
                    .records_used
                    .fetch_max(i as u32 + 1, Ordering::AcqRel);
                self.add_roles(i, roles);
                return Some(i);
            }
        }
        None
    }

    /// Give record `i` the roles `roles` (and mark them as ever registered).
    pub fn add_roles(&self, i: usize, roles: u32) {
        let r = &self.recs[i];
        let roles = roles & (PRODUCER | CONSUMER);
        if r.roles.load(Ordering::Relaxed) & roles != roles {
            r.roles.fetch_or(roles, Ordering::AcqRel);
        }
        if self.hdr.flags.load(Ordering::Relaxed) & roles != roles {
            self.hdr.flags.fetch_or(roles, Ordering::AcqRel);
        }
    }

    /// Drop the roles `roles` from every record of the calling process, and wake every
    /// sleeper of the other side so that it re-checks whether it is disconnected.
    pub fn deregister_process(&self, roles: u32) {
        let pid = owner_id() >> 32;
        for r in self.recs {
            if r.owner.load(Ordering::Acquire) >> 32 == pid {
                r.roles.fetch_and(!roles, Ordering::AcqRel);
            }
        }
        if roles & PRODUCER != 0 {
            notify(&self.hdr.ready.0);
        }
        if roles & CONSUMER != 0 {
            notify(&self.hdr.space.0);
        }
    }

    /// Are a dead owner's claims irrelevant now (so its record may be reused)?
    fn passed(&self, r: &Record) -> bool {
        let head = self.hdr.head.0.load(Ordering::Acquire);
        let tail = self.hdr.tail.0.load(Ordering::Acquire);
        let p_ok = r
            .read_claim(false)
            .is_none_or(|(p, k)| p.saturating_add(k) <= head);
        let c_ok = r
            .read_claim(true)
            .is_none_or(|(p, k)| p.saturating_add(k).saturating_add(self.geo.slots) <= tail);
        p_ok && c_ok
    }

    /// Has every participant that ever registered with `role` exited (or deregistered)?
    /// `Err(pid)`: no, `pid` lives (another process's, if any lives: the one worth
    /// watching). `Ok(false)`: nobody ever registered.
    fn others_gone(&self, role: u32) -> Result<bool, u32> {
        if self.hdr.flags.load(Ordering::Acquire) & role == 0 {
            return Ok(false);
        }
        let mine = (owner_id() >> 32) as u32;
        let mut live_self = false;
        let mut a_dead = 0;
        for r in self.recs {
            let o = r.owner.load(Ordering::Acquire);
            if o != 0 && r.roles.load(Ordering::Acquire) & role != 0 {
                let pid = (o >> 32) as u32;
                if pid == mine {
                    live_self = true;
                } else if !dead(pid) {
                    return Err(pid);
                } else {
                    a_dead = pid;
                }
            }
        }
        if live_self {
            // Under loom a liveness slice passes only when the owner it watches dies (or
            // has died): watching a dead participant of the other side stands for the
            // slice that, in a real run, passes every `LIVENESS_SLICE` and finds what it
            // left behind. (This thread may not have seen its claim yet.)
            if cfg!(loom) && a_dead != 0 {
                return Err(a_dead);
            }
            Err(mine)
        } else {
            Ok(true)
        }
    }

    /// A dead participant whose claim on the given side may still hold a slot (its
    /// pid), or 0. A sleeper watches it: a sleep bounded by a dead owner's liveness check
    /// ends at once, so the sleeper recovers the claim instead of waiting for a wake that
    /// the dead will never send.
    fn dead_claimant(&self, consumer: bool) -> u32 {
        let head = self.hdr.head.0.load(Ordering::Acquire);
        let tail = self.hdr.tail.0.load(Ordering::Acquire);
        for r in self.recs {
            let o = r.owner.load(Ordering::Acquire);
            if o == 0 {
                continue;
            }
            let Some((p, k)) = r.read_claim(consumer) else {
                continue;
            };
            let relevant = if consumer {
                p.saturating_add(k).saturating_add(self.geo.slots) > tail
            } else {
                p.saturating_add(k) > head
            };
            let pid = (o >> 32) as u32;
            if relevant && dead(pid) {
                return pid;
            }
        }
        0
    }

    // ----------------------------------------------------------------- producing

    /// One attempt to put `data` as record `me`: never waits.
    #[inline]
    pub fn try_put(&self, me: usize, data: &[u8]) -> Result<(), PutError> {
        self.fits(data.len())?;
        self.attempt_put(me, data)
    }

    /// Refuse a message that can never fit.
    #[inline]
    fn fits(&self, len: usize) -> Result<(), PutError> {
        if self.geo.slots_for(len) > self.geo.slots {
            return Err(PutError::TooLarge);
        }
        Ok(())
    }

    #[inline]
    fn attempt_put(&self, me: usize, data: &[u8]) -> Result<(), PutError> {
        let k = self.geo.slots_for(data.len());
        self.put_claimed(me, data, k, true)
    }

    /// One attempt to put `data` in `k` slots. With `tell_held` false a full ring is
    /// `Full` without a look at `head` (see [`RingRef::take`]: the blocking `put`
    /// re-checks many times and asks `held_slot` when a liveness check is due).
    #[inline(always)]
    fn put_claimed(&self, me: usize, data: &[u8], k: u64, tell_held: bool) -> Result<(), PutError> {
        let rec = &self.recs[me];
        let joinable = self.hdr.flags.load(Ordering::Relaxed) & JOINABLE != 0;
        let tasks = if joinable {
            // Only this record's owner writes its count (a recoverer writes it only once
            // the owner is dead); the bit of the previous claim goes before this claim
            // is announced.
            let n = rec.ptasks.load(Ordering::Relaxed);
            if self.faults.count_before_claim {
                rec.ptasks
                    .store((((n >> 1) + 1) << 1) | COUNTED, Ordering::Release);
            } else if n & COUNTED != 0 {
                rec.ptasks.store(n & !COUNTED, Ordering::Relaxed);
            }
            n >> 1
        } else {
            0
        };
        hook::point(Point::Claim);
        let r = self.claim_and_write(rec, data, k, tell_held, joinable, tasks);
        if r.is_err() && joinable && self.faults.count_before_claim {
            rec.ptasks.store(tasks << 1, Ordering::Release);
        }
        r
    }

    /// [`RingRef::put_claimed`] after the task bookkeeping that comes before the claim.
    #[inline(always)]
    fn claim_and_write(
        &self,
        rec: &Record,
        data: &[u8],
        k: u64,
        tell_held: bool,
        joinable: bool,
        tasks: u64,
    ) -> Result<(), PutError> {
        let tail = &self.hdr.tail.0;
        let mut t = tail.load(Ordering::Relaxed);
        'claim: loop {
            for j in 0..k {
                let q = t + j;
                let s = self.seq(self.idx(q)).load(Ordering::Acquire);
                if s == free(q) {
                    continue;
                }
                if s & !TOMB < free(q) {
                    // Still holding position q - N.
                    let o = q.saturating_sub(self.geo.slots);
                    if tell_held && self.hdr.head.0.load(Ordering::Acquire) > o {
                        return Err(PutError::Held(o));
                    }
                    return Err(PutError::Full);
                }
                // Somebody claimed past t already (or our view of `tail` is stale).
                spin_loop();
                t = tail.load(Ordering::Relaxed);
                continue 'claim;
            }
            rec.announce(false, t, k);
            match tail.compare_exchange(t, t + k, Ordering::SeqCst, Ordering::Relaxed) {
                Ok(_) => {
                    after_seq_cst_rmw();
                    break;
                }
                Err(now) => {
                    rec.clear(false);
                    t = now;
                }
            }
        }
        if maybe_die(self.faults.die_after_put_claim) {
            return Ok(());
        }
        if joinable && !self.faults.count_before_claim {
            // Count the task, after the claim (a put that never claims never counts) and
            // before the publish (no consumer can take the message, and call
            // `task_done` for it, before it is counted); one store that also says "the
            // claim in `pclaim` is counted", for the recoverer of a dead claim.
            rec.ptasks
                .store(((tasks + 1) << 1) | COUNTED, Ordering::Release);
            if maybe_die(self.faults.die_after_put_count) {
                return Ok(());
            }
        }
        hook::point(Point::Write);
        let first = self.idx(t);
        self.meta(first).store(data.len() as u64, Ordering::Relaxed);
        let s = self.geo.slot_payload();
        for (j, chunk) in data.chunks(s).enumerate() {
            write_words(self.payload(self.idx(t + j as u64)), chunk);
        }
        hook::point(Point::Publish);
        self.seq(first).store(full(t), Ordering::Release);
        rec.clear(false);
        if !self.faults.no_wake {
            wake_point(&self.hdr.ready.0);
            notify_claimed(&self.hdr.ready.0);
        }
        Ok(())
    }

    /// Put `data`, waiting until `deadline` for room.
    pub fn put(&self, me: usize, data: &[u8], deadline: &Deadline) -> Result<(), WaitError> {
        if self.fits(data.len()).is_err() {
            return Err(WaitError::TooLarge);
        }
        self.put_waiting(me, data, deadline)
    }

    fn put_waiting(&self, me: usize, data: &[u8], deadline: &Deadline) -> Result<(), WaitError> {
        let space = &self.hdr.space.0;
        let mut timer = LivenessTimer::new();
        let mut held = None;
        let mut first = true;
        let k = self.geo.slots_for(data.len());
        loop {
            let watch = if first && !cfg!(loom) {
                // The common case: room comes soon. No liveness probe before the first
                // liveness slice has passed.
                0
            } else {
                if let Some(o) = held.take().or_else(|| self.held_slot(k)) {
                    if self.recover_consumer(o) {
                        continue;
                    }
                }
                match self.others_gone(CONSUMER) {
                    Ok(true) => {
                        // A consumer may have made room just before it exited.
                        return match self.attempt_put(me, data) {
                            Ok(()) => Ok(()),
                            Err(_) => Err(WaitError::Disconnected),
                        };
                    }
                    Ok(false) => self.dead_claimant(true),
                    Err(pid) => match self.dead_claimant(true) {
                        0 => pid,
                        dead => dead,
                    },
                }
            };
            // The first round polls before it computes its deadline (a clock read): with
            // both sides running, room comes within the poll.
            let polling = first && !cfg!(loom) && !hook::is_active();
            first = false;
            let mut outcome = Ok(false);
            let mut fails = 0u32;
            let mut attempt = || match self.put_claimed(me, data, k, false) {
                Ok(()) => {
                    outcome = Ok(true);
                    true
                }
                Err(PutError::TooLarge) => {
                    outcome = Err(WaitError::TooLarge);
                    true
                }
                Err(PutError::Full | PutError::Held(_)) => {
                    fails += 1;
                    if fails > 1 {
                        // Announced, about to sleep (the first failure is the check
                        // before the announcement).
                        hook::point(Point::Sleep);
                    }
                    // A consumer that died holding the slot: recover without waiting
                    // for the slice (rate-limited: each check probes).
                    if timer.due() {
                        if let Some(o) = self.held_slot(k) {
                            if !self.recover_consumer(o) {
                                held = Some(o);
                            }
                        }
                    }
                    false
                }
            };
            // A consumer that claimed the slot we need may not see us announced when it
            // releases it: nap instead of sleeping until woken.
            let pending = || !self.faults.ignore_pending_claim && self.room_claimed();
            let done = (polling && space.poll(&mut attempt))
                || space.wait_until_pending(
                    &mut attempt,
                    pending,
                    &deadline.or_liveness_check_of(watch),
                );
            if done {
                return outcome.map(drop);
            }
            if deadline.expired() {
                return Err(WaitError::TimedOut);
            }
        }
    }

    // ----------------------------------------------------------------- consuming

    /// One attempt to take a message as record `me` into `out` (cleared first); returns
    /// its length. Never waits. Tombstones are skipped.
    #[inline]
    pub fn try_get(&self, me: usize, out: &mut Vec<u8>) -> Result<usize, GetError> {
        self.take(me, out, true)
    }

    /// [`RingRef::try_get`] for a receiver that polls: an unpublished head is `Empty`,
    /// never `Stalled`, because telling them apart reads the producers' `tail` line, and
    /// a poller reading it on every attempt pulls it away from the producer about to
    /// claim with it (a cache miss on the claim of every message, a large part of a
    /// cross-CPU round trip). A poller that gives up waits with [`RingRef::get`], which
    /// looks for a stalled head when its liveness check is due.
    #[inline]
    pub fn poll_get(&self, me: usize, out: &mut Vec<u8>) -> Result<usize, GetError> {
        self.take(me, out, false)
    }

    /// [`RingRef::try_get`]; with `tell_stalled` false an unpublished head is `Empty`
    /// without a look at `tail`: the blocking `get` re-checks many times while it waits,
    /// and reading the producers' `tail` line on every check would pull it away from
    /// the producer that is about to claim with it (a cache miss on the claim of every
    /// message). It asks `stalled_head` when a liveness check is due instead.
    #[inline(always)]
    fn take(&self, me: usize, out: &mut Vec<u8>, tell_stalled: bool) -> Result<usize, GetError> {
        let rec = &self.recs[me];
        let head = &self.hdr.head.0;
        hook::point(Point::Claim);
        let mut h = head.load(Ordering::Relaxed);
        loop {
            let first = self.idx(h);
            let s = self.seq(first).load(Ordering::Acquire);
            if s & !TOMB == full(h) {
                let tomb = s & TOMB != 0;
                let (len, k) = if tomb {
                    (0, 1)
                } else {
                    // Clamped: a producer never writes more than the ring holds, so
                    // only a peer scribbling on the ring's memory (the Manager's fast
                    // path maps a client's ring) could claim more; it must not make
                    // this consumer allocate without bound.
                    let len = (self.meta(first).load(Ordering::Relaxed) as usize)
                        .min(self.geo.max_message());
                    (len, self.geo.slots_for(len).min(self.geo.slots))
                };
                rec.announce(true, h, k);
                if self.faults.racy_head {
                    head.store(h + k, Ordering::Relaxed);
                } else {
                    match head.compare_exchange(h, h + k, Ordering::SeqCst, Ordering::Relaxed) {
                        Ok(_) => after_seq_cst_rmw(),
                        Err(now) => {
                            rec.clear(true);
                            h = now;
                            continue;
                        }
                    }
                }
                if maybe_die(self.faults.die_after_get_claim) {
                    return Ok(0);
                }
                if !tomb {
                    hook::point(Point::Read);
                    out.clear();
                    out.resize(len, 0);
                    let sp = self.geo.slot_payload();
                    for (j, chunk) in out.chunks_mut(sp).enumerate() {
                        read_words(self.payload(self.idx(h + j as u64)), chunk);
                    }
                }
                hook::point(Point::Release);
                for j in 0..k {
                    let q = h + j;
                    self.seq(self.idx(q))
                        .store(free(q + self.geo.slots), Ordering::Release);
                }
                rec.clear(true);
                if !self.faults.no_wake {
                    wake_point(&self.hdr.space.0);
                    notify_claimed(&self.hdr.space.0);
                }
                if tomb {
                    h += 1;
                    continue;
                }
                return Ok(len);
            }
            if s & !TOMB < full(h) {
                let now = head.load(Ordering::Relaxed);
                if now != h {
                    h = now;
                    continue;
                }
                if tell_stalled && self.hdr.tail.0.load(Ordering::Acquire) > h {
                    return Err(GetError::Stalled(h));
                }
                return Err(GetError::Empty);
            }
            // Our head is stale: somebody took position h already.
            spin_loop();
            h = head.load(Ordering::Relaxed);
        }
    }

    /// Take a message into `out`, waiting until `deadline`; returns its length.
    pub fn get(
        &self,
        me: usize,
        out: &mut Vec<u8>,
        deadline: &Deadline,
    ) -> Result<usize, WaitError> {
        let ready = &self.hdr.ready.0;
        let mut timer = LivenessTimer::new();
        let mut stalled = None;
        let mut first = true;
        loop {
            let watch = if first && !cfg!(loom) {
                // The common case: a message comes soon. No liveness probe before the
                // first liveness slice has passed.
                0
            } else {
                let mut watch = 0;
                if let Some(q) = stalled.take().or_else(|| self.stalled_head()) {
                    match self.unstick_producer(q) {
                        Ok(()) => continue,
                        Err(pid) => watch = pid,
                    }
                }
                match self.others_gone(PRODUCER) {
                    Ok(true) if watch == 0 => {
                        // A producer may have published just before it exited.
                        match self.try_get(me, out) {
                            Ok(n) => return Ok(n),
                            Err(GetError::Empty) => return Err(WaitError::Disconnected),
                            Err(GetError::Stalled(q)) => {
                                stalled = Some(q);
                                continue;
                            }
                        }
                    }
                    Ok(_) => {}
                    Err(pid) => {
                        if watch == 0 {
                            watch = match self.dead_claimant(false) {
                                0 => pid,
                                dead => dead,
                            };
                        }
                    }
                }
                watch
            };
            // As in `put_waiting`: poll first, read the clock only if that fails.
            let polling = first && !cfg!(loom) && !hook::is_active();
            first = false;
            let mut got = 0;
            let mut fails = 0u32;
            let mut attempt = || match self.take(me, out, false) {
                Ok(n) => {
                    got = n;
                    true
                }
                Err(_) => {
                    fails += 1;
                    if fails > 1 {
                        // As in `put_waiting`: announced, about to sleep.
                        hook::point(Point::Sleep);
                    }
                    // A producer that died mid-put: recover without waiting for the
                    // slice (rate-limited: each check probes).
                    if timer.due() {
                        if let Some(q) = self.stalled_head() {
                            if !self.recover_producer(q) {
                                stalled = Some(q);
                            }
                        }
                    }
                    false
                }
            };
            // Likewise a producer that claimed the head, when it publishes it.
            let pending = || !self.faults.ignore_pending_claim && self.message_claimed();
            let done = (polling && ready.poll(&mut attempt))
                || ready.wait_until_pending(
                    &mut attempt,
                    pending,
                    &deadline.or_liveness_check_of(watch),
                );
            if done {
                return Ok(got);
            }
            if deadline.expired() {
                return Err(WaitError::TimedOut);
            }
        }
    }

    // ----------------------------------------------------------------- pending claims

    /// Has a producer claimed a position that no consumer has taken yet (`tail > head`)?
    /// Its publish may be visible already or not; either way its fence-free notify may
    /// miss a consumer that announced itself after the claim (see "Wake-ups without a
    /// fence"). Read after the waiter's fence.
    fn message_claimed(&self) -> bool {
        let h = self.hdr.head.0.load(Ordering::Acquire);
        self.hdr.tail.0.load(Ordering::Acquire) > h
    }

    /// Has a consumer claimed a position of the lap before `tail` (`head + N > tail`),
    /// i.e. room a producer waits for that is being (or has been) released? The
    /// producers' counterpart of [`RingRef::message_claimed`].
    fn room_claimed(&self) -> bool {
        let h = self.hdr.head.0.load(Ordering::Acquire);
        h.saturating_add(self.geo.slots) > self.hdr.tail.0.load(Ordering::Acquire)
    }

    // ----------------------------------------------------------------- recovery

    /// The position `o` whose consumer still holds a slot that a put of `k` slots at the
    /// tail needs (maybe it died reading), else `None`.
    fn held_slot(&self, k: u64) -> Option<u64> {
        let t = self.hdr.tail.0.load(Ordering::Acquire);
        for q in t..t.saturating_add(k) {
            let s = self.seq(self.idx(q)).load(Ordering::Acquire);
            if s & !TOMB < free(q) {
                let o = q.saturating_sub(self.geo.slots);
                return (self.hdr.head.0.load(Ordering::Acquire) > o).then_some(o);
            }
        }
        None
    }

    /// The head position if it is claimed by a producer and not published yet (maybe
    /// the producer died there), else `None`.
    fn stalled_head(&self) -> Option<u64> {
        let h = self.hdr.head.0.load(Ordering::Acquire);
        let s = self.seq(self.idx(h)).load(Ordering::Acquire);
        (s == free(h) && self.hdr.tail.0.load(Ordering::Acquire) > h).then_some(h)
    }

    /// Who covers position `pos` with a claim of the given side?
    fn cover(&self, consumer: bool, pos: u64) -> Cover {
        let mut covered = false;
        let mut first = false;
        for r in self.recs {
            let owner = r.owner.load(Ordering::Acquire);
            if owner == 0 {
                continue;
            }
            let Some((p, k)) = r.read_claim(consumer) else {
                continue;
            };
            if pos < p || pos >= p.saturating_add(k) {
                continue;
            }
            let pid = (owner >> 32) as u32;
            if !dead(pid) {
                return Cover::Alive(pid);
            }
            covered = true;
            first |= p == pos;
        }
        if covered {
            Cover::Dead { first }
        } else {
            Cover::Nobody
        }
    }

    /// The head position `q` is claimed by a producer but unpublished: if its claimant is
    /// dead, make it a tombstone. True if `q` is no longer stuck.
    pub fn recover_producer(&self, q: u64) -> bool {
        self.unstick_producer(q).is_ok()
    }

    /// [`RingRef::recover_producer`]; `Err(pid)`: still stuck, `pid` is a live
    /// participant covering `q` (0: none known).
    fn unstick_producer(&self, q: u64) -> Result<(), u32> {
        let seq = self.seq(self.idx(q));
        if seq.load(Ordering::Acquire) != free(q) {
            return Ok(());
        }
        if self.hdr.tail.0.load(Ordering::Acquire) <= q {
            return Err(0);
        }
        let first = match self.cover(false, q) {
            Cover::Dead { first } => first,
            Cover::Alive(pid) => return Err(pid),
            Cover::Nobody => return Err(0),
        };
        if first && self.hdr.flags.load(Ordering::Relaxed) & JOINABLE != 0 {
            // Before the tombstone, so that a recoverer killed in between leaves the
            // next one to do it: the count is taken back exactly once (a CAS on the bit),
            // whoever makes the tombstone.
            self.uncount_dead_put(q);
        }
        let _ = seq.compare_exchange(free(q), full(q) | TOMB, Ordering::AcqRel, Ordering::Acquire);
        notify(&self.hdr.ready.0);
        Ok(())
    }

    /// A dead producer claimed position `q` and never published it: if it had counted the
    /// claim's task (its `COUNTED` bit is set for a claim starting at `q`; only the
    /// claim's winner sets it, after its CAS), take that task back, and wake `join`.
    fn uncount_dead_put(&self, q: u64) {
        for r in self.recs {
            if r.owner.load(Ordering::Acquire) == 0 {
                continue;
            }
            if r.read_claim(false).is_none_or(|(p, _)| p != q) {
                continue;
            }
            let n = r.ptasks.load(Ordering::Acquire);
            if n & COUNTED != 0
                && r.ptasks
                    .compare_exchange(n, ((n >> 1) - 1) << 1, Ordering::AcqRel, Ordering::Relaxed)
                    .is_ok()
            {
                notify(&self.hdr.joined.0);
            }
        }
    }

    /// Position `o`'s slot was claimed by a consumer and never released: if that consumer
    /// is dead, release it. True if the slot is no longer held.
    pub fn recover_consumer(&self, o: u64) -> bool {
        self.unstick_consumer(o).is_ok()
    }

    /// [`RingRef::recover_consumer`]; `Err(pid)`: still held, `pid` is a live consumer
    /// covering `o` (0: none known).
    fn unstick_consumer(&self, o: u64) -> Result<(), u32> {
        let seq = self.seq(self.idx(o));
        let s = seq.load(Ordering::Acquire);
        if s & !TOMB >= free(o + self.geo.slots) {
            return Ok(());
        }
        if self.hdr.head.0.load(Ordering::Acquire) <= o {
            return Err(0);
        }
        match self.cover(true, o) {
            Cover::Dead { .. } => {}
            Cover::Alive(pid) => return Err(pid),
            Cover::Nobody => return Err(0),
        }
        let _ = seq.compare_exchange(
            s,
            free(o + self.geo.slots),
            Ordering::AcqRel,
            Ordering::Acquire,
        );
        notify(&self.hdr.space.0);
        Ok(())
    }

    // ----------------------------------------------------------------- tasks

    /// Tasks counted by every put so far: the sum of the records' counts.
    fn tasks_put(&self) -> u64 {
        let used = (self.hdr.records_used.load(Ordering::Acquire) as usize).min(self.recs.len());
        self.recs[..used]
            .iter()
            .map(|r| r.ptasks.load(Ordering::Acquire) >> 1)
            .fold(0u64, u64::wrapping_add)
    }

    /// `task_done`: one task fewer. False if there was none (more calls than puts).
    pub fn task_done(&self) -> bool {
        hook::point(Point::Store);
        let done = &self.hdr.done.0;
        let mut d = done.load(Ordering::Acquire);
        let mut put = self.tasks_put();
        loop {
            if d >= put {
                // Counts only grow (but for a dead put's taken back): look once more.
                put = self.tasks_put();
                if d >= put {
                    return false;
                }
            }
            match done.compare_exchange(d, d + 1, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => break,
                Err(now) => d = now,
            }
        }
        if d + 1 >= put {
            wake_point(&self.hdr.joined.0);
            notify(&self.hdr.joined.0);
        }
        true
    }

    /// Tasks put and not yet done. `done` is read first: every count it depends on
    /// (a `task_done` succeeds only below the counts it read) is then seen too.
    pub fn unfinished(&self) -> u64 {
        let d = self.hdr.done.0.load(Ordering::Acquire);
        self.tasks_put().saturating_sub(d)
    }

    /// Wait until every task put has been done, or `deadline`. True if they were.
    pub fn join(&self, deadline: &Deadline) -> bool {
        loop {
            if self.hdr.joined.0.wait_until(
                || {
                    let ready = self.unfinished() == 0;
                    if !ready {
                        hook::point(Point::Sleep);
                    }
                    ready
                },
                deadline,
            ) {
                return true;
            }
            if deadline.expired() {
                return false;
            }
        }
    }
}

/// Copy `bytes` into `words` (little-endian, relaxed atomic stores; the last word
/// zero-padded).
#[inline]
fn write_words(words: &[AtomicU64], bytes: &[u8]) {
    let mut chunks = bytes.chunks_exact(8);
    let mut i = 0;
    for c in &mut chunks {
        let v = u64::from_le_bytes(c.try_into().expect("8 bytes"));
        data_store(&words[i], v);
        i += 1;
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut b = [0u8; 8];
        b[..rest.len()].copy_from_slice(rest);
        data_store(&words[i], u64::from_le_bytes(b));
    }
}

/// Copy `out.len()` bytes out of `words`.
#[inline]
fn read_words(words: &[AtomicU64], out: &mut [u8]) {
    let mut chunks = out.chunks_exact_mut(8);
    let mut i = 0;
    for c in &mut chunks {
        c.copy_from_slice(&data_load(&words[i]).to_le_bytes());
        i += 1;
    }
    let rest = chunks.into_remainder();
    if !rest.is_empty() {
        let n = rest.len();
        rest.copy_from_slice(&data_load(&words[i]).to_le_bytes()[..n]);
    }
}

/// A payload store: relaxed, and (outside loom) without a schedule point: payload words are
/// ordered by the slot's sequence word, they are not protocol state.
#[inline(always)]
fn data_store(w: &AtomicU64, v: u64) {
    #[cfg(not(loom))]
    w.as_std().store(v, Ordering::Relaxed);
    #[cfg(loom)]
    w.store(v, Ordering::Relaxed);
}

#[inline(always)]
fn data_load(w: &AtomicU64) -> u64 {
    #[cfg(not(loom))]
    return w.as_std().load(Ordering::Relaxed);
    #[cfg(loom)]
    return w.load(Ordering::Relaxed);
}
