//! Copying `Pod` values in and out of shared memory with relaxed atomics.
//!
//! Shared data is never read or written with plain loads and stores: another process may
//! be writing it (always so under `NoLock`), and a plain racing access would be undefined
//! behaviour. Instead a value is moved as a sequence of relaxed atomic words, each as wide
//! as possible (8, 4, 2 or 1 bytes) while dividing the element size, so element `i` of an
//! array starts on a word boundary and neighbouring elements are never touched. Under a
//! lock, the lock's acquire/release orders these relaxed accesses; without one, a racing
//! reader may see a torn multi-word value, but never undefined behaviour. For a `u64` the
//! compiler emits one plain `mov`, so the lock-protected path costs nothing extra.

use bytemuck::Pod;
use std::sync::atomic::{AtomicI32, AtomicI64, AtomicU16, AtomicU32, AtomicU64, AtomicU8};
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering::Relaxed};

/// Width of the atomic words used for `T`: the largest of 8, 4, 2, 1 dividing its size.
pub(crate) const fn word_size<T>() -> usize {
    let size = std::mem::size_of::<T>();
    if size % 8 == 0 {
        8
    } else if size % 4 == 0 {
        4
    } else if size % 2 == 0 {
        2
    } else {
        1
    }
}

/// Read a `T` from shared memory.
///
/// # Safety
///
/// `src` is valid for `size_of::<T>()` bytes for the duration of the call, aligned to
/// `word_size::<T>()`, and every other access to those bytes is made through this module
/// with the same `T` (so with atomics of the same width).
#[inline]
pub(crate) unsafe fn load<T: Pod>(src: *const u8) -> T {
    let mut out = T::zeroed();
    let bytes = bytemuck::bytes_of_mut(&mut out);
    macro_rules! copy {
        ($atomic:ty, $w:expr) => {
            for (k, chunk) in bytes.chunks_exact_mut($w).enumerate() {
                // SAFETY: in bounds and aligned (caller's contract); only atomic accesses
                // of this width reach these bytes.
                let word = unsafe { <$atomic>::from_ptr(src.add(k * $w).cast_mut().cast()) };
                chunk.copy_from_slice(&word.load(Relaxed).to_ne_bytes());
            }
        };
    }
    match word_size::<T>() {
        8 => copy!(AtomicU64, 8),
        4 => copy!(AtomicU32, 4),
        2 => copy!(AtomicU16, 2),
        _ => copy!(AtomicU8, 1),
    }
    out
}

/// Write a `T` to shared memory.
///
/// # Safety
///
/// As for [`load`], with `dst` valid for writes.
#[inline]
pub(crate) unsafe fn store<T: Pod>(dst: *mut u8, value: &T) {
    let bytes = bytemuck::bytes_of(value);
    macro_rules! copy {
        ($atomic:ty, $int:ty, $w:expr) => {
            for (k, chunk) in bytes.chunks_exact($w).enumerate() {
                // SAFETY: in bounds and aligned (caller's contract); only atomic accesses
                // of this width reach these bytes.
                let word = unsafe { <$atomic>::from_ptr(dst.add(k * $w).cast()) };
                word.store(<$int>::from_ne_bytes(chunk.try_into().unwrap()), Relaxed);
            }
        };
    }
    match word_size::<T>() {
        8 => copy!(AtomicU64, u64, 8),
        4 => copy!(AtomicU32, u32, 4),
        2 => copy!(AtomicU16, u16, 2),
        _ => copy!(AtomicU8, u8, 1),
    }
}

/// Integers that support a lock-free `fetch_add` in shared memory (`RawValue`/`RawArray`).
///
/// The atomic used has the same width as the one the shared-memory loads and stores use for the type, so
/// mixing `fetch_add` with loads and stores is well defined.
pub trait AtomicInt: Pod + sealed::Sealed {
    /// Atomically add `delta` (wrapping) to the integer at `ptr`, returning the old value.
    ///
    /// # Safety
    ///
    /// `ptr` is valid and aligned for `Self`, and only accessed atomically.
    #[doc(hidden)]
    unsafe fn fetch_add_at(ptr: *mut u8, delta: Self) -> Self;
}

mod sealed {
    pub trait Sealed {}
}

macro_rules! atomic_int {
    ($($t:ty => $atomic:ty),*) => {$(
        impl sealed::Sealed for $t {}
        impl AtomicInt for $t {
            #[inline]
            unsafe fn fetch_add_at(ptr: *mut u8, delta: Self) -> Self {
                // SAFETY: forwarded from the caller's contract.
                unsafe { <$atomic>::from_ptr(ptr.cast()) }.fetch_add(delta, Relaxed)
            }
        }
    )*};
}

atomic_int!(u8 => AtomicU8, u16 => AtomicU16, u32 => AtomicU32, u64 => AtomicU64,
            i32 => AtomicI32, i64 => AtomicI64, usize => AtomicUsize, isize => AtomicIsize);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_sizes() {
        assert_eq!(word_size::<u64>(), 8);
        assert_eq!(word_size::<[u8; 16]>(), 8);
        assert_eq!(word_size::<[u16; 6]>(), 4);
        assert_eq!(word_size::<[u8; 6]>(), 2);
        assert_eq!(word_size::<[u8; 3]>(), 1);
    }

    #[test]
    fn round_trip_of_odd_sizes() {
        #[repr(C, align(8))]
        struct Buf([u8; 64]);
        let mut buf = Buf([0; 64]);
        let p = buf.0.as_mut_ptr();
        // SAFETY: the buffer is 8-aligned, 64 bytes, used only through this module.
        unsafe {
            store(p, &[1u8, 2, 3]);
            assert_eq!(load::<[u8; 3]>(p), [1, 2, 3]);
            store(p, &[1.5f64, 7.25]);
            assert_eq!(load::<[f64; 2]>(p), [1.5, 7.25]);
            store(p.add(8), &0xdead_beef_u32);
            assert_eq!(load::<u32>(p.add(8)), 0xdead_beef);
            assert_eq!(u64::fetch_add_at(p.add(16), 5), 0);
            assert_eq!(load::<u64>(p.add(16)), 5);
        }
    }
}
