//! Seed 002 (b): an `Array` filled with squares in a child is seen by the parent.
//!
//! Python: `Array('i', 6)`, the child sets `result[i] = n * n` for
//! `[2, 3, 4, 5, 8, 19]` and both print `result[:]`. Rust: `Array::<i32>::zeroed(6)`,
//! `set(i, x)` (one locked write, like `result[i] = x`) and `to_vec()` (`result[:]`).

use crate::{child, Error};
use procshare::Array;
use std::io::Write;

/// Run the example.
pub fn run(out: &mut dyn Write) -> Result<(), Error> {
    let numbers = [2i32, 3, 4, 5, 8, 19];
    let result = Array::<i32>::zeroed(numbers.len())?;
    let mut p = child::spawn(|out| {
        for (i, n) in numbers.iter().enumerate() {
            result.set(i, n * n)?;
        }
        writeln!(out, "inside process: {:?}", result.to_vec()?)?;
        Ok(())
    })?;
    child::join_into(out, "calc_square_using_array", &mut p)?;
    writeln!(out, "outside process: {:?}", result.to_vec()?)?;
    Ok(())
}
