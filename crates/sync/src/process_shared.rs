//! `ProcessShared`: the marker for objects that may be moved into shared memory.

/// A type whose values keep working when their bytes are moved into a `MAP_SHARED`
/// mapping and used from several processes (the `Shared<T>` of `procshare-shm` requires it).
///
/// # Safety
///
/// An implementation guarantees that the type holds no pointers or references (another
/// process maps the memory at another address), no file descriptors or other
/// process-local handles, and no state that must not be moved once in use; that all of its
/// interior mutability is atomic; and that any futex it uses is waited on without
/// `FUTEX_PRIVATE_FLAG`. Moving a freshly constructed, never used value must be fine.
pub unsafe trait ProcessShared: Send + Sync {}

// SAFETY: one AtomicU32 word, no pointers, shared futex.
unsafe impl ProcessShared for crate::FutexMutex {}
// SAFETY: one AtomicU32 word, no pointers.
unsafe impl ProcessShared for crate::SpinLock {}
// SAFETY: two AtomicU32 words, no pointers, shared futex.
unsafe impl ProcessShared for crate::TicketLock {}
// SAFETY: zero-sized.
unsafe impl ProcessShared for crate::NoLock {}
