//! The built-in scenario catalog. Each lock scenario is generic over the strategy, so any
//! `RawLock` — the built-in ones or a researcher's own — runs the whole catalog
//! ([`catalog`]). Adding a scenario is adding a file here (or anywhere: [`Scenario`] is
//! public) and a line in [`catalog`].

mod barrier_phases;
mod broken_queue;
mod counter;
mod holder_killed;
mod joinable;
mod managed_dict;
mod producer_consumer;
mod queue;
mod rw_lock;
mod semaphore_bound;
mod seq_lock;
mod shared_connection;
mod sync_paths;
mod ticket_fifo;
mod transfer;

pub use barrier_phases::{BarrierPhases, BarrierState};
pub use broken_queue::{NoRecoveryCells, NoRecoveryQueue};
pub use counter::{Increment, LockedCounter};
pub use holder_killed::{HolderKilled, HolderState};
pub use joinable::{HarnessJoinable, JoinableScenario, KNOWN_LIMIT};
pub use managed_dict::{DictState, ManagedDict};
pub use producer_consumer::{BufferState, ProducerConsumer};
pub use queue::{CountBeforeClaimQueue, HarnessQueue, PeekCells, PeekQueue, QueueScenario};
pub use rw_lock::{ReaderDeath, RegisterOnlyRwLock, RwHow, RwScenario, RwState};
pub use semaphore_bound::{SemaphoreBound, SemaphoreState};
pub use seq_lock::SeqScenario;
pub use shared_connection::{ConnectionState, SharedConnection};
pub use sync_paths::{
    BarrierBreak, BoundedOverRelease, BoundedState, BreakHow, BreakState, EventSetClear,
    EventState, NestingState, NotifyAll, NotifyState, RLockNesting, WaiterKilled, WaiterState,
};
pub use ticket_fifo::{check_fifo_log, FifoState, TicketFifo};
pub use transfer::{ArrayTransfer, TransferHow};

use crate::search::{search, SearchConfig, SearchReport};
use crate::{HarnessError, Scenario};
use procshare_sync::{RawLock, RawRwLock};

/// A scenario in the catalog, with what a correct implementation should produce.
pub trait CatalogEntry: Sync {
    /// The scenario's name.
    fn name(&self) -> String;
    /// True if the scenario demonstrates a bug, so a search *must* find a failure (the
    /// lost update, `NoLock`); false if every schedule must pass.
    fn expects_failure(&self) -> bool;
    /// Search it.
    fn search(&self, config: &SearchConfig) -> Result<SearchReport, HarnessError>;
    /// Replay one schedule and render it (for `cargo xtask replay`).
    fn replay(&self, schedule: Vec<u32>) -> Result<(crate::CaseReport, String), HarnessError>;
    /// Run one case with a random chooser seeded with `seed`, then replay its schedule
    /// `times` times on the same (pooled) runner: the first report and the replays. A
    /// replay must reproduce the case exactly (the determinism check).
    fn replays(
        &self,
        seed: u64,
        times: usize,
    ) -> Result<(crate::CaseReport, Vec<crate::CaseReport>), HarnessError>;
}

struct Entry<S> {
    scenario: S,
    expects_failure: bool,
}

impl<S: Scenario + Sync> CatalogEntry for Entry<S> {
    fn name(&self) -> String {
        self.scenario.name()
    }
    fn expects_failure(&self) -> bool {
        self.expects_failure
    }
    fn search(&self, config: &SearchConfig) -> Result<SearchReport, HarnessError> {
        search(&self.scenario, config)
    }
    fn replay(&self, schedule: Vec<u32>) -> Result<(crate::CaseReport, String), HarnessError> {
        let mut runner = crate::Runner::new(&self.scenario)?;
        let report = runner.run_case(&mut crate::Replay::new(schedule))?;
        let table = crate::render_trace_with(&report.trace, self.scenario.actors(), &|op| {
            self.scenario.op_name(op)
        });
        Ok((report, table))
    }
    fn replays(
        &self,
        seed: u64,
        times: usize,
    ) -> Result<(crate::CaseReport, Vec<crate::CaseReport>), HarnessError> {
        let mut runner = crate::Runner::new(&self.scenario)?;
        let first = runner.run_case(&mut crate::RandomChooser::new(seed))?;
        let token = crate::encode_token(&first.schedule());
        let schedule = crate::decode_token(&token).expect("a token we just encoded");
        let replays = (0..times)
            .map(|_| runner.run_case(&mut crate::Replay::new(schedule.clone())))
            .collect::<Result<_, _>>()?;
        Ok((first, replays))
    }
}

fn entry<S: Scenario + Sync + 'static>(
    scenario: S,
    expects_failure: bool,
) -> Box<dyn CatalogEntry> {
    Box::new(Entry {
        scenario,
        expects_failure,
    })
}

/// The lock scenarios, run with strategy `L`. `L::EXCLUSIVE == false` (`NoLock`) turns
/// the locked scenarios into demonstrations that must fail.
pub fn lock_catalog<L: RawLock + 'static>() -> Vec<Box<dyn CatalogEntry>> {
    let broken = !L::EXCLUSIVE;
    vec![
        entry(LockedCounter::<L>::new(2, 2, Increment::Locked), broken),
        entry(LockedCounter::<L>::new(3, 1, Increment::Locked), broken),
        entry(LockedCounter::<L>::new(4, 1, Increment::Locked), broken),
        entry(LockedCounter::<L>::new(3, 1, Increment::Timed), broken),
        entry(
            LockedCounter::<L>::new(2, 1, Increment::LoadThenStore),
            true,
        ),
        entry(ArrayTransfer::<L>::new(2, TransferHow::Atomic), broken),
        entry(ArrayTransfer::<L>::new(3, TransferHow::Atomic), broken),
        entry(ArrayTransfer::<L>::new(2, TransferHow::PerElement), true),
    ]
}

/// The lock scenarios with a holder killed mid-critical-section (crash injection): the
/// survivors must finish, recovering the lock through the owner-died error. Only for
/// strategies that detect a dead owner (`FutexMutex`, `SpinLock`, `PthreadMutex`,
/// `AdaptiveMutex`).
pub fn crash_catalog<L: RawLock + 'static>() -> Vec<Box<dyn CatalogEntry>> {
    vec![
        entry(
            LockedCounter::<L>::new(2, 1, Increment::Locked).with_kills(1),
            false,
        ),
        // The holder killed while two wait: the death is reported exactly once.
        entry(HolderKilled::<L>::new(3), false),
    ]
}

/// The synchronisation-object scenarios (they use their own protocols, not a strategy).
pub fn sync_catalog() -> Vec<Box<dyn CatalogEntry>> {
    vec![
        entry(ProducerConsumer::new(3), false),
        entry(SemaphoreBound::new(3), false),
        entry(SemaphoreBound::new(3).timed(), false),
        entry(BarrierPhases::new(2, 2), false),
        entry(BarrierPhases::new(3, 2), false),
        entry(NotifyAll::new(2), false),
        entry(NotifyAll::new(3), false),
        // A waiter killed while it waits must not swallow a live one's notification.
        entry(WaiterKilled::new(), false),
        entry(EventSetClear::new(2), false),
        entry(EventSetClear::new(3), false),
        entry(BarrierBreak::new(2, BreakHow::Abort), false),
        entry(BarrierBreak::new(2, BreakHow::Reset), false),
        entry(BoundedOverRelease::new(3), false),
        entry(RLockNesting::new(2), false),
        entry(SharedConnection, false),
        entry(TicketFifo::new(3, 2), false),
        // The barrier's state words at atomic granularity: a point at every access to
        // its count, state and party slots, so a monitor that excludes nothing is found.
        entry(crate::AtomicGranularity(BarrierPhases::new(2, 2)), false),
        entry(crate::AtomicGranularity(BarrierPhases::new(3, 1)), false),
        entry(ManagedDict::new(2), false),
        entry(ManagedDict::new(3), false),
        entry(ManagedDict::new(2).with_kills(1), false),
        entry(ManagedDict::new(2).stale_reads(), true),
        // SeqLock (issue 17): reads retried around writes; a writer killed mid-write.
        entry(SeqScenario::new(2, 1, 2), false),
        entry(SeqScenario::new(1, 2, 2), false),
        entry(SeqScenario::new(2, 1, 2).with_kills(1), false),
    ]
}

/// The queue scenarios, run on queue `Q` (procshare's [`ByteRing`](procshare_queue::ByteRing)
/// or a researcher's own [`HarnessQueue`]). `broken` declares that `Q` is expected to
/// fail the two-consumer scenario (the [`PeekQueue`] control): the one-consumer ones
/// must pass even then, and the crash-injection ones are left out.
pub fn queue_catalog<Q: HarnessQueue>(broken: bool) -> Vec<Box<dyn CatalogEntry>> {
    let mut entries = vec![
        entry(QueueScenario::<Q>::new(1, 1, 2, 2), false),
        entry(QueueScenario::<Q>::new(2, 1, 1, 2), false),
        entry(QueueScenario::<Q>::new(1, 2, 3, 2), broken),
    ];
    if !broken {
        // Crash injection: a killed actor's in-flight item at most once, nothing
        // acknowledged lost. Left out for a broken queue: a search spends cases on kills,
        // so 64 of them are no reliable detector of a bug without one.
        entries.push(entry(
            QueueScenario::<Q>::new(1, 2, 3, 2).with_kills(1),
            false,
        ));
        entries.push(entry(
            QueueScenario::<Q>::new(2, 1, 1, 2).with_kills(1),
            false,
        ));
    }
    entries
}

/// The typed `Queue<u64>` and `JoinableQueue<u64>` scenarios (the ring's own are in
/// [`queue_catalog`]): two producers and a consumer, a killed consumer on a one-slot
/// queue, and `task_done`/`join` with and without a kill.
pub fn typed_queue_catalog() -> Vec<Box<dyn CatalogEntry>> {
    use procshare_queue::{JoinableQueue, Queue};
    vec![
        entry(QueueScenario::<Queue<u64>>::new(2, 1, 1, 2), false),
        entry(
            QueueScenario::<Queue<u64>>::new(1, 2, 2, 1)
                .capacity(1)
                .with_kills(1),
            false,
        ),
        entry(
            JoinableScenario::<JoinableQueue<u64>>::new(1, 2, 2, 1),
            false,
        ),
        entry(
            JoinableScenario::<JoinableQueue<u64>>::new(1, 2, 2, 1).with_kills(1),
            false,
        ),
    ]
}

/// The reader-writer scenarios, run with reader-writer strategy `L` (procshare's
/// `WriterPreferringRwLock` or a researcher's own). `broken` declares that `L` is
/// expected to break exclusion (the [`RegisterOnlyRwLock`] control): the
/// readers-and-writers scenarios must then fail, and the crash-injection ones are left
/// out. `reader_death` is what `L` documents for a reader killed while holding.
pub fn rw_catalog<L: RawRwLock + 'static>(
    broken: bool,
    reader_death: ReaderDeath,
) -> Vec<Box<dyn CatalogEntry>> {
    let mut entries = vec![
        entry(RwScenario::<L>::new(2, 1, 1, RwHow::Blocking), broken),
        entry(RwScenario::<L>::new(1, 2, 1, RwHow::Blocking), broken),
        entry(RwScenario::<L>::new(1, 1, 2, RwHow::Blocking), broken),
        entry(RwScenario::<L>::new(2, 1, 1, RwHow::Timed), broken),
    ];
    if !broken {
        // A writer or a reader killed anywhere, also while holding: the outcome the
        // strategy documents (takeover with OwnerDied; a wedge, bounded by the timeouts).
        entries.push(entry(
            RwScenario::<L>::new(1, 2, 1, RwHow::Timed).with_kills(1, reader_death),
            false,
        ));
        entries.push(entry(
            RwScenario::<L>::new(2, 1, 1, RwHow::Timed).with_kills(1, reader_death),
            false,
        ));
    }
    entries
}

/// The whole built-in catalog: every lock scenario with every built-in strategy, the
/// crash scenarios, and the synchronisation objects.
pub fn catalog() -> Vec<Box<dyn CatalogEntry>> {
    use procshare_sync::{FutexMutex, NoLock, PthreadMutex, SpinLock, TicketLock};
    let mut all = Vec::new();
    all.extend(lock_catalog::<FutexMutex>());
    all.extend(lock_catalog::<SpinLock>());
    all.extend(lock_catalog::<TicketLock>());
    all.extend(lock_catalog::<PthreadMutex>());
    all.extend(lock_catalog::<NoLock>());
    // The strategy zoo (issue 17).
    all.extend(lock_catalog::<procshare_sync::Peterson>());
    all.extend(lock_catalog::<procshare_sync::Bakery>());
    all.extend(lock_catalog::<procshare_sync::McsLock>());
    all.extend(lock_catalog::<procshare_sync::ClhLock>());
    all.extend(lock_catalog::<procshare_sync::AdaptiveMutex>());
    all.extend(crash_catalog::<FutexMutex>());
    all.extend(crash_catalog::<SpinLock>());
    all.extend(crash_catalog::<PthreadMutex>());
    all.extend(crash_catalog::<procshare_sync::AdaptiveMutex>());
    all.extend(rw_catalog::<procshare_sync::WriterPreferringRwLock>(
        false,
        ReaderDeath::Wedges,
    ));
    all.extend(rw_catalog::<RegisterOnlyRwLock>(true, ReaderDeath::Wedges));
    all.extend(sync_catalog());
    all.extend(queue_catalog::<procshare_queue::ByteRing>(false));
    all.extend(queue_catalog::<PeekQueue>(true));
    // The typed queues (postcard over the same ring), task_done and join included.
    all.extend(typed_queue_catalog());
    // The ring is not linearizable (its docs say why): with the empty answers of
    // timed-out gets kept, two producers and a consumer produce a history the FIFO
    // checker rejects.
    all.push(entry(
        QueueScenario::<procshare_queue::ByteRing>::new(2, 1, 1, 2).strict(),
        true,
    ));
    // The managed dict over the socket (the other entries take the local fast path).
    // New entries go at the end, so that the entries before them keep their positions
    // (the determinism test seeds each entry by its position).
    all.push(entry(ManagedDict::new(2).over_socket(), false));
    // The queue locks' try_lock at atomic granularity: a try_lock preempted between its
    // read of a released tail and its compare-and-swap, while one actor locks and
    // unlocks and the next enqueues on the recycled node, must see its CAS fail (CLH's
    // tail counter; an ABA otherwise).
    all.push(entry(
        crate::AtomicGranularity(LockedCounter::<procshare_sync::ClhLock>::new(
            3,
            2,
            Increment::Timed,
        )),
        false,
    ));
    all.push(entry(
        crate::AtomicGranularity(LockedCounter::<procshare_sync::McsLock>::new(
            3,
            1,
            Increment::Timed,
        )),
        false,
    ));
    all
}
