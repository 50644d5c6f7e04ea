//! Shared memory and processes: the ground every procshare primitive stands on.
//!
//! * [`Region`]: a `memfd_create` file mapped `MAP_SHARED` (memmap2's `map_anon` would be
//!   private copy-on-write after `fork`, and so not shared at all);
//! * [`heap`]: small objects are carved out of shared arenas, as CPython's
//!   `multiprocessing.heap` does, so a `Value<u32>` does not cost an fd and a page;
//! * [`Value`], [`Array`]: typed shared data behind any [`RawLock`] strategy, and
//!   [`RawValue`], [`RawArray`]: the same data with no lock, reached with relaxed atomics;
//! * [`Shared`]: any `ProcessShared` object (`Semaphore`, `Condition`, `Barrier`, …)
//!   moved into the shared heap;
//! * [`Process`]: a closure run in a forked child, with CPython's exit-code convention.
//!
//! Memory shared between processes is only ever touched through atomics (relaxed ones for
//! the data, ordered by the lock's acquire/release), so even the racy `NoLock` control is
//! free of undefined behaviour: it loses updates, it does not tear the language's rules.
#![deny(unsafe_op_in_unsafe_fn)]

mod array;
mod atomic_copy;
mod error;
pub mod heap;
mod locking;
pub mod process;
mod region;
mod rw_lock;
mod rw_value;
mod seq_lock;
mod shared;
mod value;

pub use array::{Array, ArrayGuard, RawArray};
pub use atomic_copy::AtomicInt;
pub use error::Error;
pub use locking::{HandleGuard, LockHandle};
pub use process::Process;
pub use procshare_sync::{GuardError, GuardResult, LockError, RawLock, TryGuardResult};
pub use region::Region;
pub use rw_lock::{RwLock, RwLockReadGuard, RwLockWriteGuard};
pub use rw_value::{
    RwArray, RwArrayReadGuard, RwArrayWriteGuard, RwValue, RwValueReadGuard, RwValueWriteGuard,
};
pub use seq_lock::SeqLock;
pub use shared::Shared;
pub use value::{RawValue, Value, ValueGuard};
