//! Party slots: how the software-only and queue strategies ([`Peterson`](crate::Peterson),
//! [`Bakery`](crate::Bakery), [`McsLock`](crate::McsLock), [`ClhLock`](crate::ClhLock))
//! give each caller an index of its own.
//!
//! Those algorithms are written for "process `i` of `n`": each party owns a fixed slot
//! (a flag, a ticket number, a queue node). Across real processes and threads nobody hands
//! out such indices, so a caller *claims* a free slot for the duration of one acquisition
//! (a compare-and-swap of the slot's owner word from 0 to its thread id) and frees it when
//! it releases. A slot is an index into an array inside the lock, never a pointer, so the
//! lock works at any mapping address.
//!
//! The owner word holds the caller's thread id (Linux thread ids are unique across the
//! processes of one pid namespace, so two threads of one process never share a slot); the
//! slot's `pid` word, where a strategy has one, holds the process id for liveness probes.
//! Under loom both are the model thread's ids.

use crate::loom::{self, AtomicU32, Ordering};

/// The caller's identity for a slot: its thread id (never 0).
#[inline]
pub(crate) fn me() -> u32 {
    loom::current_thread().1
}

/// Claim a free slot of `owners` for `me`: the index of the claimed slot, or `None` if
/// every slot is taken. Acquire: the claimer sees everything the slot's previous owner
/// wrote before it freed the slot with [`free`].
#[inline]
pub(crate) fn claim(owners: &[AtomicU32], me: u32) -> Option<usize> {
    owners.iter().position(|o| {
        o.load(Ordering::Relaxed) == 0
            && o.compare_exchange(0, me, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
    })
}

/// Give slot `owner` back (Release: the next claimer sees the slot as this owner left it).
#[inline]
pub(crate) fn free(owner: &AtomicU32) {
    owner.store(0, Ordering::Release);
}
