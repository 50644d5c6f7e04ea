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
//! ([`FutexMutex`], [`SpinLock`], [`TicketLock`], [`PthreadMutex`], [`NoLock`]). Safe typed
//! wrappers (`Value`, `Array`) live in `procshare-shm` and are generic over it.
#![deny(unsafe_op_in_unsafe_fn)]

pub mod loom;

mod error;
mod futex_mutex;
pub mod hook;
mod no_lock;
#[cfg(not(loom))]
mod pthread_mutex;
mod raw_lock;
mod spin_lock;
mod ticket_lock;

#[doc(hidden)]
pub mod broken;

pub use error::LockError;
pub use futex_mutex::FutexMutex;
pub use no_lock::NoLock;
#[cfg(not(loom))]
pub use pthread_mutex::PthreadMutex;
pub use raw_lock::RawLock;
pub use spin_lock::SpinLock;
pub use ticket_lock::TicketLock;
