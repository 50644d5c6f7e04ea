//! Lock protocols on words that live in memory shared between processes.
//!
//! Every protocol in this crate is written once, against the [`loom`] facade module,
//! and compiled two ways:
//!
//! * normally, where the facade re-exports `std`'s atomics and a real `futex(2)` shim
//!   (without `FUTEX_PRIVATE_FLAG`, so the word may be shared between processes);
//! * under `RUSTFLAGS="--cfg loom"`, where the facade re-exports loom's atomics and models
//!   the futex as a mutex + condition variable keyed by the word, so that loom explores every
//!   interleaving and reports a lost wake-up as a deadlock.
//!
//! The seam is [`RawLock`]: an `unsafe trait` that each strategy implements
//! ([`FutexMutex`], [`SpinLock`], [`TicketLock`], [`PthreadMutex`], [`NoLock`], and the
//! strategy zoo: [`Peterson`], [`Bakery`], [`McsLock`], [`ClhLock`], [`AdaptiveMutex`]; the list of all of
//! them is [`with_all_strategies!`]). Safe typed
//! wrappers (`Value`, `Array`) live in `procshare-shm` and are generic over it.
//!
//! CPython's synchronisation objects are protocols on the same facade: [`Lock`],
//! [`RLock`], [`Semaphore`], [`BoundedSemaphore`], [`Condition`], [`Event`] and
//! [`Barrier`]. Each is a [`ProcessShared`] struct of atomics, placed in shared memory by
//! `procshare-shm`'s `Shared<T>`, and model-checked by its own loom suite. The blocking
//! ones wait through one [`AdaptiveWait`] (spin briefly, then a futex sleep that a waker
//! pays for only when the sleeper announced itself).
//!
//! [`hook`] holds the schedule points through which the harness controls interleavings.
#![deny(unsafe_op_in_unsafe_fn)]

#[cfg(not(loom))]
mod atomic;
pub mod liveness;
pub mod loom;
#[cfg(not(loom))]
pub mod os;
#[cfg(not(loom))]
mod sys;

mod adaptive_mutex;
pub mod adaptive_wait;
mod bakery;
mod barrier;
mod clh_lock;
mod condition;
mod error;
mod event;
mod futex_mutex;
pub mod hook;
mod lock;
mod mcs_lock;
mod monitor;
mod no_lock;
mod peterson;
mod process_shared;
#[cfg(not(loom))]
mod pthread_mutex;
mod raw_lock;
mod rlock;
pub mod rw_lock;
mod semaphore;
mod seq_lock;
mod slots;
mod spin_lock;
mod ticket_lock;

#[doc(hidden)]
pub mod broken;

pub use adaptive_mutex::AdaptiveMutex;
pub use adaptive_wait::AdaptiveWait;
pub use bakery::{Bakery, UnfencedBakery};
pub use barrier::Barrier;
pub use clh_lock::ClhLock;
pub use condition::{Condition, ConditionLock};
pub use error::{GuardError, GuardResult, LockError, SyncError, TryGuardResult};
pub use event::Event;
pub use futex_mutex::FutexMutex;
pub use lock::{Lock, LockGuard};
pub use mcs_lock::McsLock;
pub use no_lock::NoLock;
pub use peterson::{Peterson, UnfencedPeterson};
pub use process_shared::ProcessShared;
#[cfg(not(loom))]
pub use pthread_mutex::PthreadMutex;
pub use raw_lock::{GuardNoSend, GuardSend, RawLock};
pub use rlock::RLock;
pub use rw_lock::{RawRwLock, WriterPreferringRwLock};
pub use semaphore::{BoundedSemaphore, Semaphore};
pub use seq_lock::RawSeqLock;
pub use spin_lock::SpinLock;
pub use ticket_lock::TicketLock;

/// Calls macro `$m` once with every excluding [`RawLock`] strategy of this crate, as
/// `name: Type;` pairs, so that tests, benches and comparisons list them in one place:
/// `procshare_sync::with_all_strategies!(my_macro);`. (`NoLock`, which excludes nothing,
/// is not in the list.)
#[cfg(not(loom))]
#[macro_export]
macro_rules! with_all_strategies {
    ($m:ident) => {
        $m! {
            futex: $crate::FutexMutex;
            spin: $crate::SpinLock;
            ticket: $crate::TicketLock;
            pthread: $crate::PthreadMutex;
            peterson: $crate::Peterson;
            bakery: $crate::Bakery;
            mcs: $crate::McsLock;
            clh: $crate::ClhLock;
            adaptive: $crate::AdaptiveMutex;
        }
    };
}
