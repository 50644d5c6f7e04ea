//! The replay-token decoder against hostile input: it never panics, and what it allocates
//! is bounded by the token's own length plus the schedule it returns (at most
//! `MAX_TOKEN_STEPS` choices), whatever run lengths and counts the payload claims.
//!
//! Allocation is measured by a counting global allocator that tracks, per thread, the
//! bytes live and their peak while a decode runs; only this file's one test uses it, and
//! only around the `decode_token` call.

use procshare_harness::{decode_token, encode_token, TokenError, MAX_TOKEN_STEPS};
use proptest::prelude::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    static TRACKING: Cell<bool> = const { Cell::new(false) };
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn note(delta: isize) {
    // `try_with`: an allocation during thread teardown must not panic in the allocator.
    let _ = TRACKING.try_with(|t| {
        if t.get() {
            LIVE.with(|live| {
                live.set(live.get() + delta);
                PEAK.with(|peak| peak.set(peak.get().max(live.get())));
            });
        }
    });
}

// SAFETY: every method forwards to the system allocator with the caller's arguments
// unchanged, so `System`'s guarantees carry over; the bookkeeping touches only
// const-initialised thread-locals of `Cell`s, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size() as isize);
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract; forwarded as is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note(-(layout.size() as isize));
        // SAFETY: `ptr` was allocated by `System` (through us) with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size as isize - layout.size() as isize);
        // SAFETY: the caller upholds `GlobalAlloc::realloc`'s contract; forwarded as is.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Decode `token`, returning the result and the peak of bytes allocated meanwhile.
fn measured_decode(token: &str) -> (Result<Vec<u32>, TokenError>, usize) {
    LIVE.with(|l| l.set(0));
    PEAK.with(|p| p.set(0));
    TRACKING.with(|t| t.set(true));
    let result = decode_token(token);
    TRACKING.with(|t| t.set(false));
    (result, PEAK.with(Cell::get).max(0) as usize)
}

/// The allocation bound `decode_token` documents: a small multiple of the token's length,
/// plus the returned schedule itself.
fn bound(token: &str, steps: usize) -> usize {
    8 * token.len() + 64 + 4 * steps
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// A token whose payload is exactly `bytes`.
fn token_of_bytes(bytes: &[u8]) -> String {
    let mut out = String::from("ps1.");
    for chunk in bytes.chunks(3) {
        let v = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (k, &b)| acc | u32::from(b) << (16 - 8 * k));
        for k in 0..=chunk.len() {
            out.push(B64[(v >> (18 - 6 * k) & 63) as usize] as char);
        }
    }
    out
}

/// LEB128 varint pairs `(choice, run)`, as a token carries them, with whatever values.
fn pairs_token(pairs: &[(u64, u64)]) -> String {
    let mut bytes = Vec::new();
    for &(c, run) in pairs {
        for mut x in [c, run] {
            loop {
                let b = (x & 0x7f) as u8;
                x >>= 7;
                if x == 0 {
                    bytes.push(b);
                    break;
                }
                bytes.push(b | 0x80);
            }
        }
    }
    token_of_bytes(&bytes)
}

fn check(token: &str) -> Result<(), TestCaseError> {
    let (result, peak) = measured_decode(token);
    let steps = match &result {
        Ok(s) => {
            prop_assert!(s.len() <= MAX_TOKEN_STEPS);
            s.len()
        }
        Err(_) => 0,
    };
    prop_assert!(
        peak <= bound(token, steps),
        "{token:?} ({} chars, {result:?}) allocated {peak} bytes, bound {}",
        token.len(),
        bound(token, steps)
    );
    Ok(())
}

#[test]
fn decoding_never_panics_and_allocates_in_proportion() {
    // The allocator really counts: a decode that returns 500 000 choices allocates
    // at least their 2 MB.
    let (big, peak) = measured_decode(&pairs_token(&[(1, 500_000)]));
    assert_eq!(big.map(|s| s.len()), Ok(500_000));
    assert!(peak >= 4 * 500_000, "{peak}");
    // A hostile token: a handful of characters claiming 2^63 steps.
    let hostile = pairs_token(&[(0, 1 << 63)]);
    let (result, peak) = measured_decode(&hostile);
    assert_eq!(result, Err(TokenError::TooLong));
    assert!(peak <= bound(&hostile, 0), "{peak}");

    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 512,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    // Any string at all, and any string of the token alphabet after the prefix.
    runner
        .run(&any::<String>(), |s| check(&s))
        .expect("arbitrary strings");
    runner
        .run(&"ps1\\.[A-Za-z0-9_-]{0,200}", |s| check(&s))
        .expect("arbitrary payloads");
    // Well-formed pairs with hostile values: huge run lengths and choices, many pairs.
    let pair = (
        prop_oneof![0..4u64, any::<u64>()],
        prop_oneof![1..2_000u64, any::<u64>(), Just(MAX_TOKEN_STEPS as u64)],
    );
    runner
        .run(&proptest::collection::vec(pair, 0..40), |pairs| {
            check(&pairs_token(&pairs))
        })
        .expect("hostile pairs");
    // And real schedules still round-trip.
    runner
        .run(&proptest::collection::vec(0..5u32, 0..300), |s| {
            let token = encode_token(&s);
            check(&token)?;
            prop_assert_eq!(decode_token(&token), Ok(s));
            Ok(())
        })
        .expect("round trips");
}
