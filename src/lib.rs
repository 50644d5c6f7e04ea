//! # procshare
//!
//! Sharing data between OS processes, the way Python's `multiprocessing` does it (shared
//! `Value`/`Array` behind a lock, forked `Process`es), rebuilt in Rust across real
//! processes, with lock protocols that are model-checked by loom.
//!
//! ```
//! use procshare::{Process, Value};
//!
//! let counter = Value::<u64>::new(0)?;              // FutexMutex by default
//! let mut children: Vec<Process> = (0..4)
//!     .map(|_| Process::spawn(|| {
//!         for _ in 0..1000 {
//!             *counter.lock().unwrap() += 1;         // with counter.get_lock(): ...
//!         }
//!     }))
//!     .collect::<Result<_, _>>()?;
//! for child in &mut children {
//!     assert_eq!(child.join()?, 0);
//! }
//! assert_eq!(counter.load()?, 4000);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Synchronisation objects (CPython's `Lock`, `RLock`, `Semaphore`, `BoundedSemaphore`,
//! `Condition`, `Event`, `Barrier`) are plain `ProcessShared` structs moved into shared
//! memory with [`Shared`]:
//!
//! ```
//! use procshare::{Process, Semaphore, Shared};
//!
//! let sem = Shared::new(Semaphore::new(1))?;
//! sem.acquire();
//! let mut child = Process::spawn(|| sem.release().unwrap())?;
//! child.join()?;
//! assert!(sem.try_acquire());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Messages between processes go through CPython's `Pipe` and `Connection`, with the same
//! wire format and handshake as `multiprocessing.connection` (a python3 process can be
//! the peer):
//!
//! ```
//! use procshare::{Pipe, Process};
//!
//! let (reader, writer) = Pipe::simplex()?;
//! let mut child = Process::spawn(|| writer.send_bytes(b"from the child").unwrap())?;
//! assert_eq!(reader.recv_bytes()?, b"from the child");
//! child.join()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The crates behind the facade: `procshare-sync` (lock protocols, the loom facade, the
//! futex shim, schedule points), `procshare-shm` (shared regions and heap, `Value`,
//! `Array`, `Process`) and `procshare-connection` (`Pipe`, `Connection`, `wait`,
//! `Listener`, `Client`). See `docs/architecture.md`.
#![deny(unsafe_op_in_unsafe_fn)]

pub use procshare_shm::SeqLock;
pub use procshare_shm::{
    heap, process, Array, ArrayGuard, AtomicInt, Error, GuardError, HandleGuard, LockHandle,
    Process, RawArray, RawValue, Region, Shared, Value, ValueGuard,
};
pub use procshare_shm::{
    RwArray, RwArrayReadGuard, RwArrayWriteGuard, RwValue, RwValueReadGuard, RwValueWriteGuard,
};
pub use procshare_shm::{RwLock, RwLockReadGuard, RwLockWriteGuard};
pub use procshare_sync::loom::Deadline;
/// The state word's bits of [`RwLock`]'s strategy (`WriterPreferringRwLock`), for tests
/// and diagnostics of [`RwLock::raw`]'s `state()`.
pub use procshare_sync::rw_lock as rw_lock_bits;
/// The adaptive wait (spin, then a futex sleep a waker makes only for announced sleepers)
/// that the blocking objects share; for researchers building their own.
pub use procshare_sync::AdaptiveWait;

/// The facade's atomics: `std`'s, with a schedule point before every access when a
/// controlled scheduler asks for atomic granularity. A strategy written with them gets
/// the harness's atomic-level interleavings for free.
pub mod atomic {
    pub use procshare_sync::loom::{
        fence, AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering,
    };
}
pub use procshare_sync::{
    hook, liveness, Barrier, BoundedSemaphore, Condition, ConditionLock, Event, GuardNoSend,
    GuardResult, GuardSend, Lock, LockError, LockGuard, ProcessShared, RLock, RawLock, Semaphore,
    SyncError, TryGuardResult,
};

/// CPython's `multiprocessing.connection`: frames, handshake, codecs, listeners, `wait`.
pub use procshare_connection as connection;
pub use procshare_connection::{Client, Connection, Listener, Pipe};

/// CPython's `multiprocessing.Manager`: a server process holding shared objects, and
/// typed proxies to them (see [`Manager`]).
pub use procshare_manager as manager;
pub use procshare_manager::{
    BarrierProxy, ConditionProxy, CustomProxy, DictProxy, EventProxy, JoinableQueueProxy,
    ListProxy, LockProxy, Manager, NamespaceProxy, QueueProxy, RLockProxy, SemaphoreProxy,
    ValueProxy,
};

/// CPython's `multiprocessing` queues in shared memory: `Queue`, `SimpleQueue`,
/// `JoinableQueue`, the byte ring under them and the ring protocol.
pub use procshare_queue as queue;
pub use procshare_queue::{ByteRing, JoinableQueue, Queue, QueueError, SimpleQueue};

/// Lock strategies: every one implements [`RawLock`], and `Value`/`Array` are generic over
/// them. Fairness, owner-death behaviour and cost are compared in `docs/strategies.md`.
pub mod strategy {
    pub use procshare_sync::{AdaptiveMutex, Bakery, ClhLock, McsLock, Peterson};
    pub use procshare_sync::{FutexMutex, NoLock, PthreadMutex, SpinLock, TicketLock};
    pub use procshare_sync::{RawRwLock, WriterPreferringRwLock};
}
