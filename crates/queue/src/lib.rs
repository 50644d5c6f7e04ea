//! `Queue`, `SimpleQueue` and `JoinableQueue`: CPython's `multiprocessing` queues as a
//! multi-producer multi-consumer ring in shared memory.
//!
//! * [`ring`]: the protocol (Vyukov's bounded MPMC queue of variable-size messages, with
//!   announced claims for crash recovery and announced sleepers), written once against
//!   the `procshare_sync::loom` facade and model-checked by loom (`tests/loom_ring.rs`);
//! * [`ByteRing`]: the ring in a block of the shared heap, with the byte interface
//!   (`put_bytes`, `get_bytes_into`: no allocation per message) that other primitives
//!   build on;
//! * [`Queue`], [`SimpleQueue`], [`JoinableQueue`]: typed layers (serde + postcard).
//!
//! No feeder thread: `put` returns once the message is in shared memory, so a producer
//! that exits (or is SIGKILLed) right after loses nothing. Participants register on first
//! use; a `get` on an empty queue whose every producer has exited returns
//! [`QueueError::Disconnected`] instead of hanging, and so does a `put` on a full queue
//! whose every consumer has exited. The delivery guarantee is in [`ring`]'s docs.
#![deny(unsafe_op_in_unsafe_fn)]

#[cfg(not(loom))]
mod bytes;
mod error;
#[cfg(not(loom))]
mod queue;
pub mod ring;

#[cfg(not(loom))]
pub use bytes::{ByteRing, MAX_RING_BYTES, MAX_SLOTS};
pub use error::QueueError;
#[cfg(not(loom))]
pub use queue::{JoinableQueue, Queue, SimpleQueue, DEFAULT_BYTES};
