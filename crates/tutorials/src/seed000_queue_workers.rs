//! Seed 000 (b): a `Queue` feeds the items 0..9, then one `None` sentinel per worker, to
//! four worker processes, which double each item until they take a sentinel.
//!
//! Python: the parent `put`s 0..9 and four `None`s *before* starting the workers; each
//! worker loops `item = queue.get()`, stops at `None`, and prints
//! `Processed <item> Result <2 * item>`. Rust: `Queue::<Option<u32>>`, `put(&Some(i))` and
//! `put(&None)`, four children.
//!
//! Which worker takes which item changes from run to run (it does in Python too), so the
//! lines cannot be printed in the order they happened and stay the same: each worker
//! writes its lines to its output pipe, the parent collects all of them and prints them
//! sorted by item, then checks what must hold whatever the interleaving: every item was
//! processed exactly once, and each worker stopped at a sentinel (the queue ends empty).

use crate::{child, Error};
use procshare::Queue;
use std::io::Write;

/// Workers, as in the original.
const WORKERS: usize = 4;

/// Run the example.
pub fn run(out: &mut dyn Write) -> Result<(), Error> {
    let queue = Queue::<Option<u32>>::new(0)?;
    for i in 0..10 {
        queue.put(&Some(i))?;
    }
    for _ in 0..WORKERS {
        queue.put(&None)?;
    }
    let mut workers = Vec::new();
    for _ in 0..WORKERS {
        workers.push(child::spawn(|out| {
            while let Some(item) = queue.get()? {
                let result = item * 2;
                writeln!(out, "Processed {item} Result {result}")?;
            }
            Ok(())
        })?);
    }
    let mut lines = Vec::new();
    for w in &mut workers {
        lines.extend(child::join("worker", w)?.lines().map(str::to_string));
    }
    let item_of = |l: &str| -> u32 {
        l.split(' ')
            .nth(1)
            .and_then(|n| n.parse().ok())
            .unwrap_or(u32::MAX)
    };
    lines.sort_by_key(|l| item_of(l));
    for l in &lines {
        writeln!(out, "{l}")?;
    }
    let items: Vec<u32> = lines.iter().map(|l| item_of(l)).collect();
    let exact = items == (0..10).collect::<Vec<_>>();
    writeln!(
        out,
        "{} lines from {WORKERS} workers; every item processed exactly once: {exact}; \
         queue empty at the end: {}",
        lines.len(),
        queue.is_empty()
    )?;
    Ok(())
}
