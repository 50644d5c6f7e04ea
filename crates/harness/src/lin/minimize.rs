//! Shrinking a non-linearizable history to a small witness.
//!
//! Lincheck minimises a failing *scenario* by dropping operations and re-running it. A
//! recorded history cannot be re-run, and simply deleting an operation from it is not
//! sound: deleting the write that explains a read makes the read illegal for a new reason,
//! so a "minimal" history found that way may blame the wrong thing (drop `write(1)` from
//! `write(1); write(2); read → 1` and the stale read becomes a read of a value nobody
//! wrote).
//!
//! So an operation is dropped by *weakening* it to indeterminate: the history must stay
//! non-linearizable when the dropped operations may take effect at any time after their
//! call, or not at all. Then:
//!
//! * the witness (the kept operations) is non-linearizable on its own, since leaving an
//!   indeterminate operation out is one of its options;
//! * whatever the dropped operations did, they cannot explain the violation away.
//!
//! Weakening is monotone (weakening more operations only adds linearizations), so an
//! operation that could not be dropped never can be later: one pass gives a 1-minimal
//! witness.
//!
//! # Order
//!
//! The pass walks the operations from the latest call to the earliest, trying to drop a
//! block of the `c` next ones, doubling `c` after a success and halving it after a
//! failure (galloping, so the long tail after the violation and the long prefix before it
//! go in a few checks each). Going backwards keeps each check cheap: weakened operations
//! are all *later* than the still-completed ones they might explain, so the search walks
//! the completed prefix almost linearly and only meets many indeterminate operations
//! near the end, where the few kept ones are. (Weakening early operations first would
//! leave many completed operations depending on many indeterminate ones, an exponential
//! search.)
//!
//! Each check gets at most `per_check` steps of the minimisation budget; a check that
//! runs out counts as "not proved", so the operation stays. The result is then still a correct
//! witness, only perhaps not 1-minimal.

use super::model::Model;
use super::search::{search, Budget, Exhausted, Prepared, SearchResult, Weakened};

/// Returns which of `ops` (known to be non-linearizable) to keep, and whether the witness
/// is 1-minimal (no check ran out of budget). Each re-check may use at most `per_check`
/// steps of `budget`. `classes[i]` is operation `i`'s class by its call alone (the
/// weakened searches treat weakened operations of one class as interchangeable).
pub(super) fn minimize<M: Model>(
    model: &M,
    ops: &[&Prepared<M>],
    classes: &[u32],
    budget: &mut Budget,
    per_check: u64,
) -> (Vec<bool>, bool) {
    let n = ops.len();
    // Positions in order of call time.
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| (ops[i].call, ops[i].ret.unwrap_or(u64::MAX), i));

    let mut dropped = vec![false; n];
    let mut complete = true;
    let mut end = n; // `order[..end]` is still to be tried
    let mut block = 1;
    while end > 0 {
        let start = end.saturating_sub(block);
        for &i in &order[start..end] {
            dropped[i] = true;
        }
        let mut slice = budget.slice(per_check);
        let weakened = Weakened {
            dropped: &dropped,
            classes,
        };
        let verdict = search(model, ops, Some(&weakened), &mut slice);
        budget.charge(&slice);
        if verdict == SearchResult::Illegal {
            end = start;
            block *= 2;
            continue;
        }
        for &i in &order[start..end] {
            dropped[i] = false;
        }
        if block > 1 {
            block /= 2;
            continue;
        }
        // `order[end - 1]` is needed (or could not be shown not to be).
        end -= 1;
        match verdict {
            SearchResult::Exhausted(Exhausted::Timeout) => return (keep(&dropped), false),
            SearchResult::Exhausted(Exhausted::Steps) => complete = false,
            _ => {}
        }
    }
    (keep(&dropped), complete)
}

fn keep(dropped: &[bool]) -> Vec<bool> {
    dropped.iter().map(|d| !d).collect()
}
