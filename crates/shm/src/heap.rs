//! The shared heap: small shared objects carved out of shared arenas.
//!
//! Mirrors CPython's `multiprocessing.heap`: shared objects are blocks inside a few large
//! `MAP_SHARED` arenas instead of one fd and one page each. Blocks are 64-byte aligned and
//! padded to 64 bytes (one cache line, so two objects never share a line). Freed blocks
//! coalesce with their neighbours (first fit). The bookkeeping is process-local: a process
//! whose pid differs from the one that last used the heap (a forked child) starts with
//! fresh arenas, exactly like CPython, so a child's allocations never collide with its
//! parent's. Blocks inherited from the parent stay valid in the child (the mapping is
//! inherited); only the process that allocated a block returns it to the heap.
//!
//! # No reuse under a live child
//!
//! A child forked by [`Process`](crate::Process) may still use every block that existed
//! when it was forked (its closure may have borrowed the handle, and the parent may drop
//! its own handle meanwhile). So the heap counts forks: a block freed while a child
//! forked after the block's allocation is still unreaped goes into *quarantine* instead
//! of the free list, and returns to the free list only once every such child has been
//! reaped (`join`, `join_timeout`, `is_alive`, or the kill-and-reap of a dropped
//! `Process`). A block reachable by a live child is therefore never handed out again.
//! Children forked by other means than `Process` are not tracked.
//!
//! Tested by the unit tests below and, through `Value`/`Array`, across processes.

use crate::{Error, Region};
use std::sync::{Arc, Mutex};

/// Alignment and granularity of every block.
pub const BLOCK_ALIGN: usize = 64;
/// Size of a regular arena.
pub const ARENA_SIZE: usize = 1 << 20;

/// A block of shared memory owned by one shared object.
#[derive(Debug)]
pub struct Block {
    region: Arc<Region>,
    offset: usize,
    len: usize,
    owner_pid: u32,
    /// The heap's fork count when the block was allocated: children forked later may
    /// reach it.
    born: u64,
}

impl Block {
    /// Address of the block's first byte (64-byte aligned, zero-filled when allocated).
    pub fn ptr(&self) -> *mut u8 {
        // SAFETY: offset + len lies inside the region (checked when allocated).
        unsafe { self.region.base().add(self.offset) }
    }

    /// Usable length in bytes (the request rounded up to [`BLOCK_ALIGN`]).
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the block has no usable bytes (never: blocks are at least 64 bytes).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Offset of the block inside its region: what shared memory stores instead of a
    /// pointer.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// The region the block lives in.
    pub fn region(&self) -> &Arc<Region> {
        &self.region
    }
}

impl Drop for Block {
    fn drop(&mut self) {
        if std::process::id() == self.owner_pid {
            free(self);
        }
    }
}

struct Arena {
    region: Arc<Region>,
    /// Free extents `(offset, len)`, sorted by offset, never adjacent.
    free: Vec<(usize, usize)>,
}

impl Arena {
    fn new(len: usize) -> Result<Arena, Error> {
        let region = Arc::new(Region::new(len)?);
        Ok(Arena {
            free: vec![(0, region.len())],
            region,
        })
    }

    fn alloc(&mut self, len: usize) -> Option<usize> {
        let i = self.free.iter().position(|&(_, l)| l >= len)?;
        let (offset, l) = self.free[i];
        if l == len {
            self.free.remove(i);
        } else {
            self.free[i] = (offset + len, l - len);
        }
        Some(offset)
    }

    fn release(&mut self, offset: usize, len: usize) {
        let i = self.free.partition_point(|&(o, _)| o < offset);
        self.free.insert(i, (offset, len));
        // Coalesce with the next, then with the previous extent.
        if i + 1 < self.free.len() && self.free[i].0 + self.free[i].1 == self.free[i + 1].0 {
            self.free[i].1 += self.free[i + 1].1;
            self.free.remove(i + 1);
        }
        if i > 0 && self.free[i - 1].0 + self.free[i - 1].1 == self.free[i].0 {
            self.free[i - 1].1 += self.free[i].1;
            self.free.remove(i);
        }
    }

    fn is_unused(&self) -> bool {
        self.free.len() == 1 && self.free[0] == (0, self.region.len())
    }
}

/// A freed block that a live child may still reach.
struct Quarantined {
    region: Arc<Region>,
    offset: usize,
    len: usize,
    born: u64,
}

struct Heap {
    pid: u32,
    arenas: Vec<Arena>,
    /// Forks made through `Process` by this process so far.
    forks: u64,
    /// Unreaped children: `(pid, the fork count that forked them)`.
    children: Vec<(u32, u64)>,
    quarantine: Vec<Quarantined>,
}

static HEAP: Mutex<Heap> = Mutex::new(Heap {
    pid: 0,
    arenas: Vec::new(),
    forks: 0,
    children: Vec::new(),
    quarantine: Vec::new(),
});

impl Heap {
    /// May a live child reach a block allocated at fork count `born`?
    fn reachable(&self, born: u64) -> bool {
        self.children.iter().any(|&(_, forked)| forked > born)
    }

    fn release(&mut self, region: &Arc<Region>, offset: usize, len: usize) {
        let Some(i) = self
            .arenas
            .iter()
            .position(|a| Arc::ptr_eq(&a.region, region))
        else {
            return;
        };
        self.arenas[i].release(offset, len);
        // Give a wholly unused arena back to the system, but keep the last one for reuse.
        if self.arenas[i].is_unused() && self.arenas.len() > 1 {
            self.arenas.swap_remove(i);
        }
    }
}

fn heap() -> std::sync::MutexGuard<'static, Heap> {
    let mut heap = HEAP.lock().unwrap_or_else(|e| e.into_inner());
    let pid = std::process::id();
    if heap.pid != pid {
        // A new process (or the first use): never allocate from the parent's free lists.
        // Forget the parent's arenas without unmapping them: blocks inherited from the
        // parent keep them alive through their own `Arc`s.
        heap.arenas = Vec::new();
        heap.children = Vec::new();
        heap.quarantine = Vec::new();
        heap.forks = 0;
        heap.pid = pid;
    }
    heap
}

/// The heap's lock, held across a `fork` (like glibc's malloc `atfork` handlers): the
/// forking thread holds it, so in the child it is held by the child's only thread and is
/// released normally, instead of staying locked forever by a thread that does not exist
/// there. Drop it in both parent and child right after the fork; in the parent, first
/// tell it the child's pid with [`ForkLock::forked`].
pub(crate) struct ForkLock {
    heap: std::sync::MutexGuard<'static, Heap>,
    fork: u64,
}

impl ForkLock {
    /// The fork succeeded in the parent: `pid` may reach every block allocated so far
    /// until it is reaped (see [`child_reaped`]).
    pub(crate) fn forked(mut self, pid: u32) {
        let fork = self.fork;
        self.heap.children.push((pid, fork));
    }
}

/// Take the heap's lock for a fork (see [`ForkLock`]).
pub(crate) fn lock_for_fork() -> ForkLock {
    let mut heap = heap();
    heap.forks += 1;
    let fork = heap.forks;
    ForkLock { heap, fork }
}

/// Child `pid` (forked by `Process`) has been reaped: blocks that only it could still
/// reach return to the free list.
pub(crate) fn child_reaped(pid: u32) {
    let mut heap = heap();
    let Some(i) = heap.children.iter().position(|&(p, _)| p == pid) else {
        return;
    };
    heap.children.swap_remove(i);
    let quarantine = std::mem::take(&mut heap.quarantine);
    for q in quarantine {
        if heap.reachable(q.born) {
            heap.quarantine.push(q);
        } else {
            heap.release(&q.region, q.offset, q.len);
        }
    }
}

/// Bytes freed by this process that live children may still reach (for tests and
/// diagnostics): they are not reused until those children are reaped.
pub fn quarantined_bytes() -> usize {
    heap().quarantine.iter().map(|q| q.len).sum()
}

/// Allocate a zero-filled block of at least `len` bytes, 64-byte aligned.
pub fn alloc(len: usize) -> Result<Block, Error> {
    let too_large = || Error::TooLarge {
        elements: len,
        element_size: 1,
    };
    let len = len
        .max(1)
        .checked_next_multiple_of(BLOCK_ALIGN)
        .ok_or_else(too_large)?;
    if len > isize::MAX as usize / 2 {
        return Err(too_large());
    }
    let mut heap = heap();
    let pid = heap.pid;
    let born = heap.forks;
    for arena in heap.arenas.iter_mut() {
        if let Some(offset) = arena.alloc(len) {
            let block = Block {
                region: arena.region.clone(),
                offset,
                len,
                owner_pid: pid,
                born,
            };
            // Recycled memory: zero it before handing it out. Nobody else uses a free block.
            zero(&block);
            return Ok(block);
        }
    }
    let mut arena = Arena::new(len.max(ARENA_SIZE))?;
    let offset = arena.alloc(len).expect("a fresh arena fits the request");
    let block = Block {
        region: arena.region.clone(),
        offset,
        len,
        owner_pid: pid,
        born,
    };
    heap.arenas.push(arena);
    Ok(block)
}

fn zero(block: &Block) {
    use std::sync::atomic::{AtomicU64, Ordering};
    for k in 0..block.len / 8 {
        // SAFETY: the block is 64-byte aligned, lies in the region, and is free (no other
        // object uses it); shared memory is written with atomics only.
        let word = unsafe { AtomicU64::from_ptr(block.ptr().add(k * 8).cast::<u64>()) };
        word.store(0, Ordering::Relaxed);
    }
}

fn free(block: &Block) {
    let mut heap = heap();
    if heap.pid != block.owner_pid {
        return;
    }
    if heap.reachable(block.born) {
        heap.quarantine.push(Quarantined {
            region: block.region.clone(),
            offset: block.offset,
            len: block.len,
            born: block.born,
        });
        return;
    }
    heap.release(&block.region, block.offset, block.len);
}

/// Number of arenas this process's heap currently holds (for tests and diagnostics).
pub fn arena_count() -> usize {
    heap().arenas.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_blocks_share_one_arena_and_are_aligned() {
        let blocks: Vec<Block> = (0..100).map(|_| alloc(8).unwrap()).collect();
        let first = blocks[0].region().clone();
        assert!(blocks.iter().all(|b| Arc::ptr_eq(b.region(), &first)));
        assert!(blocks.iter().all(|b| b.ptr() as usize % BLOCK_ALIGN == 0));
        let mut offsets: Vec<usize> = blocks.iter().map(Block::offset).collect();
        offsets.sort_unstable();
        offsets.dedup();
        assert_eq!(offsets.len(), 100, "blocks must not overlap");
    }

    #[test]
    fn arena_free_list_coalesces() {
        let mut arena = Arena::new(4096).unwrap();
        let a = arena.alloc(64).unwrap();
        let b = arena.alloc(64).unwrap();
        let c = arena.alloc(64).unwrap();
        arena.release(b, 64);
        arena.release(a, 64);
        arena.release(c, 64);
        assert!(arena.is_unused(), "free list: {:?}", arena.free);
    }

    #[test]
    fn large_requests_get_their_own_arena() {
        let big = alloc(3 * ARENA_SIZE).unwrap();
        assert!(big.region().len() >= 3 * ARENA_SIZE);
        assert_eq!(big.offset(), 0);
    }

    #[test]
    fn recycled_blocks_are_zeroed() {
        use std::sync::atomic::{AtomicU64, Ordering};
        let b = alloc(64).unwrap();
        // SAFETY: aligned word inside a block we own.
        unsafe { AtomicU64::from_ptr(b.ptr().cast::<u64>()) }.store(7, Ordering::Relaxed);
        drop(b);
        for _ in 0..4 {
            let b = alloc(64).unwrap();
            // SAFETY: as above.
            let w = unsafe { AtomicU64::from_ptr(b.ptr().cast::<u64>()) };
            assert_eq!(w.load(Ordering::Relaxed), 0);
        }
    }

    #[test]
    fn absurd_sizes_are_errors() {
        assert!(matches!(alloc(usize::MAX), Err(Error::TooLarge { .. })));
    }
}
