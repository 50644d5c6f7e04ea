//! The facade's atomics outside loom: `std`'s, with a schedule point before every access.
//!
//! Each type is a `#[repr(transparent)]` wrapper around the `std` atomic of the same
//! name, so layouts in shared memory are unchanged. Every load, store, swap,
//! compare-and-swap and read-modify-write first calls [`hook::atomic`](crate::hook::atomic),
//! which is a schedule point only while a controlled scheduler asked for atomic
//! granularity ([`hook::set_atomic_points`](crate::hook::set_atomic_points)); otherwise it
//! is one relaxed load and a branch. The harness uses it to interleave processes between a
//! load and its store, or between releasing a lock and going to sleep, as shuttle's and
//! loom's atomics do. A researcher's primitive written with these types (re-exported by
//! `procshare` as `procshare::atomic`) gets the same points.
//!
//! Under `--cfg loom` the facade re-exports loom's atomics instead (loom explores every
//! access already). Tested by `crates/harness/tests/atomic_points.rs` (a spin lock whose
//! test and set are separate atomics: found only at atomic granularity) and by every
//! cross-process test (which run these types with no scheduler).

use crate::hook::{self, Point};
use std::sync::atomic::{self, Ordering};

macro_rules! atomic_int {
    ($(#[$doc:meta])* $name:ident, $int:ty) => {
        $(#[$doc])*
        #[repr(transparent)]
        #[derive(Debug, Default)]
        pub struct $name(atomic::$name);

        impl $name {
            /// A new atomic holding `v`.
            pub const fn new(v: $int) -> Self {
                $name(atomic::$name::new(v))
            }

            /// The `std` atomic inside, whose accesses pass no schedule point.
            #[inline(always)]
            pub fn as_std(&self) -> &atomic::$name {
                &self.0
            }

            /// A pointer to the value (e.g. a futex address).
            #[inline(always)]
            pub fn as_ptr(&self) -> *mut $int {
                self.0.as_ptr()
            }

            /// The value, consuming the atomic.
            pub fn into_inner(self) -> $int {
                self.0.into_inner()
            }

            /// The value, through an exclusive reference (no other access can race).
            pub fn get_mut(&mut self) -> &mut $int {
                self.0.get_mut()
            }

            /// `load` of the std atomic, after a schedule point.
            #[inline(always)]
            pub fn load(&self, order: Ordering) -> $int {
                hook::atomic(Point::AtomicLoad);
                self.0.load(order)
            }

            /// `store`, after a schedule point.
            #[inline(always)]
            pub fn store(&self, v: $int, order: Ordering) {
                hook::atomic(Point::AtomicStore);
                self.0.store(v, order)
            }

            /// `swap`, after a schedule point.
            #[inline(always)]
            pub fn swap(&self, v: $int, order: Ordering) -> $int {
                hook::atomic(Point::AtomicRmw);
                self.0.swap(v, order)
            }

            /// `compare_exchange`, after a schedule point.
            #[inline(always)]
            pub fn compare_exchange(
                &self,
                current: $int,
                new: $int,
                success: Ordering,
                failure: Ordering,
            ) -> Result<$int, $int> {
                hook::atomic(Point::AtomicRmw);
                self.0.compare_exchange(current, new, success, failure)
            }

            /// `compare_exchange_weak`, after a schedule point.
            #[inline(always)]
            pub fn compare_exchange_weak(
                &self,
                current: $int,
                new: $int,
                success: Ordering,
                failure: Ordering,
            ) -> Result<$int, $int> {
                hook::atomic(Point::AtomicRmw);
                self.0.compare_exchange_weak(current, new, success, failure)
            }

            /// `fetch_add`, after a schedule point.
            #[inline(always)]
            pub fn fetch_add(&self, v: $int, order: Ordering) -> $int {
                hook::atomic(Point::AtomicRmw);
                self.0.fetch_add(v, order)
            }

            /// `fetch_sub`, after a schedule point.
            #[inline(always)]
            pub fn fetch_sub(&self, v: $int, order: Ordering) -> $int {
                hook::atomic(Point::AtomicRmw);
                self.0.fetch_sub(v, order)
            }

            /// `fetch_or`, after a schedule point.
            #[inline(always)]
            pub fn fetch_or(&self, v: $int, order: Ordering) -> $int {
                hook::atomic(Point::AtomicRmw);
                self.0.fetch_or(v, order)
            }

            /// `fetch_and`, after a schedule point.
            #[inline(always)]
            pub fn fetch_and(&self, v: $int, order: Ordering) -> $int {
                hook::atomic(Point::AtomicRmw);
                self.0.fetch_and(v, order)
            }

            /// `fetch_max`, after a schedule point.
            #[inline(always)]
            pub fn fetch_max(&self, v: $int, order: Ordering) -> $int {
                hook::atomic(Point::AtomicRmw);
                self.0.fetch_max(v, order)
            }
        }
    };
}

atomic_int!(
    /// `std::sync::atomic::AtomicU32` with a schedule point before every access.
    AtomicU32,
    u32
);
atomic_int!(
    /// `std::sync::atomic::AtomicU64` with a schedule point before every access.
    AtomicU64,
    u64
);
atomic_int!(
    /// `std::sync::atomic::AtomicUsize` with a schedule point before every access.
    AtomicUsize,
    usize
);

/// `std::sync::atomic::AtomicBool` with a schedule point before every access.
#[repr(transparent)]
#[derive(Debug, Default)]
pub struct AtomicBool(atomic::AtomicBool);

impl AtomicBool {
    /// A new atomic holding `v`.
    pub const fn new(v: bool) -> Self {
        AtomicBool(atomic::AtomicBool::new(v))
    }

    /// `load`, after a schedule point.
    #[inline(always)]
    pub fn load(&self, order: Ordering) -> bool {
        hook::atomic(Point::AtomicLoad);
        self.0.load(order)
    }

    /// `store`, after a schedule point.
    #[inline(always)]
    pub fn store(&self, v: bool, order: Ordering) {
        hook::atomic(Point::AtomicStore);
        self.0.store(v, order)
    }

    /// `swap`, after a schedule point.
    #[inline(always)]
    pub fn swap(&self, v: bool, order: Ordering) -> bool {
        hook::atomic(Point::AtomicRmw);
        self.0.swap(v, order)
    }

    /// `compare_exchange`, after a schedule point.
    #[inline(always)]
    pub fn compare_exchange(
        &self,
        current: bool,
        new: bool,
        success: Ordering,
        failure: Ordering,
    ) -> Result<bool, bool> {
        hook::atomic(Point::AtomicRmw);
        self.0.compare_exchange(current, new, success, failure)
    }
}
