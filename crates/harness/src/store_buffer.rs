//! Store-buffer litmus tests for stress mode ([`stress`](crate::stress::stress)): what
//! x86 hardware does to the software-only mutual exclusion algorithms.
//!
//! * [`StoreBufferLitmus`]: the classic test `x = 1; r1 = y ‖ y = 1; r2 = x` between two
//!   processes (1024 independent instances per repetition, run back to back, so that the
//!   processes overlap), with or without a `fence(SeqCst)` between each store and load.
//!   An instance ending `r1 = r2 = 0` (both loads passed the other's buffered store) is
//!   allowed by x86-TSO without the fence (*interesting*) and forbidden with it.
//! * [`PairExclusionLitmus`]: two processes each run an entry protocol
//!   ([`EntryProtocol`]: `Peterson`, `Bakery`, or their unfenced twins) `rounds` times
//!   and count, with an atomic occupancy counter, how often they found each other inside.
//!   Any overlap is forbidden for the fenced locks and the expected (*interesting*)
//!   failure of the twins.
//!
//! Every shared word is an atomic: the "critical section" touches nothing but the
//! occupancy counter, so a broken protocol shows up as a count, never as undefined
//! behaviour.

use crate::stress::{Class, Litmus};
use procshare_shm::Shared;
use procshare_sync::{Bakery, Peterson, ProcessShared, RawLock, UnfencedBakery, UnfencedPeterson};
use std::sync::atomic::{fence, AtomicU32, Ordering};

/// Store-buffer instances per repetition: each actor runs them one after the other, so
/// that the two processes overlap on most of them even when they start apart.
pub const SB_INSTANCES: usize = 1024;

/// The shared words of [`StoreBufferLitmus`]: `SB_INSTANCES` independent instances.
#[repr(C)]
#[derive(Debug)]
pub struct StoreBufferState {
    x: [AtomicU32; SB_INSTANCES],
    y: [AtomicU32; SB_INSTANCES],
    r1: [AtomicU32; SB_INSTANCES],
    r2: [AtomicU32; SB_INSTANCES],
    rendezvous: AtomicU32,
}

// SAFETY: AtomicU32 words only.
unsafe impl ProcessShared for StoreBufferState {}

/// The store-buffer litmus test between two processes, [`SB_INSTANCES`] instances per
/// repetition. The outcome is how many instances ended `r1 = r2 = 0`, bucketed.
#[derive(Debug, Clone, Copy)]
pub struct StoreBufferLitmus {
    fenced: bool,
}

impl StoreBufferLitmus {
    /// The test, with a `fence(SeqCst)` between store and load if `fenced`.
    pub fn new(fenced: bool) -> Self {
        StoreBufferLitmus { fenced }
    }
}

impl Litmus for StoreBufferLitmus {
    type State = Shared<StoreBufferState>;

    fn name(&self) -> String {
        format!(
            "store-buffer/{} ({SB_INSTANCES} instances)",
            if self.fenced { "fenced" } else { "unfenced" }
        )
    }

    fn actors(&self) -> usize {
        2
    }

    fn setup(&self) -> Self::State {
        Shared::new(StoreBufferState {
            x: std::array::from_fn(|_| AtomicU32::new(0)),
            y: std::array::from_fn(|_| AtomicU32::new(0)),
            r1: std::array::from_fn(|_| AtomicU32::new(0)),
            r2: std::array::from_fn(|_| AtomicU32::new(0)),
            rendezvous: AtomicU32::new(0),
        })
        .expect("shared memory")
    }

    fn reset(&self, s: &Self::State) {
        for a in [&s.x, &s.y, &s.r1, &s.r2] {
            for w in a {
                w.store(0, Ordering::Relaxed);
            }
        }
        s.rendezvous.store(0, Ordering::Relaxed);
    }

    fn run(&self, s: &Self::State, actor: usize) {
        let (mine, theirs, r) = if actor == 0 {
            (&s.x, &s.y, &s.r1)
        } else {
            (&s.y, &s.x, &s.r2)
        };
        rendezvous(&s.rendezvous);
        for i in 0..SB_INSTANCES {
            mine[i].store(1, Ordering::Release);
            if self.fenced {
                fence(Ordering::SeqCst);
            }
            r[i].store(theirs[i].load(Ordering::Acquire) + 1, Ordering::Relaxed);
        }
    }

    fn outcome(&self, s: &Self::State) -> String {
        // r = loaded value + 1 (0: not run).
        let both_zero = (0..SB_INSTANCES)
            .filter(|&i| {
                s.r1[i].load(Ordering::Relaxed) == 1 && s.r2[i].load(Ordering::Relaxed) == 1
            })
            .count();
        match both_zero {
            0 => "r1=r2=0 in no instance".into(),
            1..=9 => "r1=r2=0 in 1-9 instances".into(),
            10..=99 => "r1=r2=0 in 10-99 instances".into(),
            _ => "r1=r2=0 in 100+ instances".into(),
        }
    }

    fn classify(&self, outcome: &str) -> (Class, String) {
        match outcome {
            "r1=r2=0 in no instance" => (Class::Acceptable, "sequentially consistent".into()),
            _ if self.fenced => (
                Class::Forbidden,
                "both loads passed a store despite the fences".into(),
            ),
            _ => (
                Class::Interesting,
                "both loads passed the other's buffered store (x86-TSO allows it)".into(),
            ),
        }
    }
}

/// Both actors meet here before their part, so that they run it at the same moment
/// (the stress driver's start signal reaches them microseconds apart). Spins, then
/// yields, so that a descheduled partner can get to it.
fn rendezvous(word: &AtomicU32) {
    word.fetch_add(1, Ordering::AcqRel);
    let mut spins = 0u32;
    while word.load(Ordering::Acquire) < 2 {
        if spins < 10_000 {
            spins += 1;
            std::hint::spin_loop();
        } else {
            std::thread::yield_now();
        }
    }
}

/// A mutual-exclusion entry protocol that the pair litmus runs: the fenced software-only
/// locks (through [`RawLock`]) and their unfenced twins (which are not `RawLock`s).
pub trait EntryProtocol: ProcessShared + Sized {
    /// Name for reports.
    const NAME: &'static str;
    /// Whether it is meant to exclude (false for the twins).
    const EXCLUDES: bool;
    /// A fresh instance.
    fn create() -> Self;
    /// Enter (waiting as long as it takes); a token for `leave`.
    fn enter(&self) -> usize;
    /// Leave after `enter` returned `token`.
    fn leave(&self, token: usize);
}

macro_rules! fenced_protocol {
    ($t:ty) => {
        impl EntryProtocol for $t {
            const NAME: &'static str = <$t as RawLock>::NAME;
            const EXCLUDES: bool = true;
            fn create() -> Self {
                <$t>::new()
            }
            fn enter(&self) -> usize {
                self.lock().expect("software-only locks do not fail");
                0
            }
            fn leave(&self, _: usize) {
                // SAFETY: the litmus calls `leave` only right after its own `enter`.
                unsafe { self.unlock() }.expect("software-only locks do not fail");
            }
        }
    };
}
fenced_protocol!(Peterson);
fenced_protocol!(Bakery<2>);

macro_rules! unfenced_protocol {
    ($t:ty, $name:literal) => {
        impl EntryProtocol for $t {
            const NAME: &'static str = $name;
            const EXCLUDES: bool = false;
            fn create() -> Self {
                <$t>::new()
            }
            fn enter(&self) -> usize {
                <$t>::enter(self)
            }
            fn leave(&self, token: usize) {
                <$t>::leave(self, token);
            }
        }
    };
}
unfenced_protocol!(UnfencedPeterson, "unfenced-peterson");
unfenced_protocol!(UnfencedBakery<2>, "unfenced-bakery");

/// The shared state of [`PairExclusionLitmus`].
#[repr(C)]
#[derive(Debug)]
pub struct PairState<P> {
    protocol: P,
    inside: AtomicU32,
    overlaps: AtomicU32,
    rendezvous: AtomicU32,
}

// SAFETY: the protocol is ProcessShared, the rest are AtomicU32 words.
unsafe impl<P: ProcessShared> ProcessShared for PairState<P> {}

/// Two processes each enter and leave `P` `rounds` times; the outcome is how many
/// entries found the other process inside.
#[derive(Debug)]
pub struct PairExclusionLitmus<P> {
    rounds: u32,
    _p: std::marker::PhantomData<fn() -> P>,
}

impl<P: EntryProtocol> PairExclusionLitmus<P> {
    /// `rounds` entries per process and repetition.
    pub fn new(rounds: u32) -> Self {
        PairExclusionLitmus {
            rounds,
            _p: std::marker::PhantomData,
        }
    }
}

/// Spin hints spent inside, so that an overlapping entry finds the other still there.
const INSIDE_SPINS: u32 = 20;

impl<P: EntryProtocol> Litmus for PairExclusionLitmus<P> {
    type State = Shared<PairState<P>>;

    fn name(&self) -> String {
        format!("pair-exclusion/{} (2x{})", P::NAME, self.rounds)
    }

    fn actors(&self) -> usize {
        2
    }

    fn setup(&self) -> Self::State {
        Shared::new(PairState {
            protocol: P::create(),
            inside: AtomicU32::new(0),
            overlaps: AtomicU32::new(0),
            rendezvous: AtomicU32::new(0),
        })
        .expect("shared memory")
    }

    fn reset(&self, s: &Self::State) {
        s.overlaps.store(0, Ordering::Relaxed);
        s.rendezvous.store(0, Ordering::Relaxed);
    }

    fn run(&self, s: &Self::State, _actor: usize) {
        rendezvous(&s.rendezvous);
        for _ in 0..self.rounds {
            let token = s.protocol.enter();
            if s.inside.fetch_add(1, Ordering::Relaxed) != 0 {
                s.overlaps.fetch_add(1, Ordering::Relaxed);
            }
            for _ in 0..INSIDE_SPINS {
                std::hint::spin_loop();
            }
            s.inside.fetch_sub(1, Ordering::Relaxed);
            s.protocol.leave(token);
        }
    }

    fn outcome(&self, s: &Self::State) -> String {
        match s.overlaps.load(Ordering::Relaxed) {
            0 => "exclusive".into(),
            _ => "both inside".into(),
        }
    }

    fn classify(&self, outcome: &str) -> (Class, String) {
        match outcome {
            "exclusive" => (Class::Acceptable, "never both inside".into()),
            _ if P::EXCLUDES => (Class::Forbidden, "both processes were inside".into()),
            _ => (
                Class::Interesting,
                "both processes were inside (store-buffer reordering)".into(),
            ),
        }
    }
}
