//! `Array` and `RawArray` across processes: element access, whole-array guards, bounds
//! errors, visibility both ways, and a sum invariant kept by locked transfers.

mod common;

use common::run_children;
use procshare::strategy::SpinLock;
use procshare::{Array, Error, RawArray};

#[test]
fn zeroed_and_from_slice() {
    let a = Array::<u16>::zeroed(5).unwrap();
    assert_eq!(a.len(), 5);
    assert_eq!(a.to_vec().unwrap(), [0; 5]);
    let b = Array::<f32>::from_slice(&[1.0, 2.5, -3.0]).unwrap();
    assert_eq!(b.to_vec().unwrap(), [1.0, 2.5, -3.0]);
    let empty = Array::<u8>::zeroed(0).unwrap();
    assert!(empty.is_empty());
    assert_eq!(empty.to_vec().unwrap(), Vec::<u8>::new());
}

#[test]
fn out_of_range_is_an_error_not_ub() {
    let a = Array::<u32>::from_slice(&[1, 2, 3]).unwrap();
    assert!(matches!(
        a.get(3),
        Err(Error::IndexOutOfRange { index: 3, len: 3 })
    ));
    assert!(matches!(
        a.set(usize::MAX, 9),
        Err(Error::IndexOutOfRange { .. })
    ));
    let r = RawArray::<u8>::zeroed(2).unwrap();
    assert!(matches!(r.get(2), Err(Error::IndexOutOfRange { .. })));
    assert!(matches!(
        r.fetch_add(5, 1),
        Err(Error::IndexOutOfRange { .. })
    ));
    assert_eq!(
        a.to_vec().unwrap(),
        [1, 2, 3],
        "failed calls change nothing"
    );
}

#[test]
fn absurd_lengths_are_errors() {
    assert!(matches!(
        Array::<u64>::zeroed(usize::MAX / 4),
        Err(Error::TooLarge { .. })
    ));
}

#[test]
fn byte_elements_do_not_clobber_neighbours() {
    // Odd-sized elements are moved with byte atomics: writing one leaves the next alone.
    let a = Array::<[u8; 3]>::zeroed(4).unwrap();
    run_children(4, |i| a.set(i, [i as u8 + 1; 3]).unwrap());
    assert_eq!(a.to_vec().unwrap(), [[1; 3], [2; 3], [3; 3], [4; 3]]);
}

#[test]
fn writes_are_seen_both_ways() {
    let a = Array::<i32>::from_slice(&[10, 20, 30]).unwrap();
    run_children(1, |_| {
        assert_eq!(a.get(1).unwrap(), 20);
        let mut g = a.lock().unwrap();
        g.iter_mut().for_each(|x| *x = -*x);
    });
    assert_eq!(a.to_vec().unwrap(), [-10, -20, -30]);
}

#[test]
fn locked_transfers_keep_the_sum() {
    const SLOTS: usize = 8;
    let a = Array::<i64, SpinLock>::from_slice(&[100; SLOTS]).unwrap();
    run_children(4, |child| {
        for k in 0..5_000usize {
            let from = (k * 7 + child) % SLOTS;
            let to = (k * 3 + child + 1) % SLOTS;
            let mut g = a.lock().unwrap();
            g[from] -= 3;
            g[to] += 3;
        }
    });
    assert_eq!(a.to_vec().unwrap().iter().sum::<i64>(), 100 * SLOTS as i64);
}

#[test]
fn raw_array_fetch_add_is_exact() {
    let a = RawArray::<u32>::zeroed(3).unwrap();
    run_children(3, |_| {
        for k in 0..30_000 {
            a.fetch_add(k % 3, 1).unwrap();
        }
    });
    assert_eq!(a.to_vec(), [30_000; 3]);
}
