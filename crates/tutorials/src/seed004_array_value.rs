//! Seed 004 (b): squares into a shared `Array`, their sum into a shared `Value`.
//!
//! Python: `Array('i', 4)` and `Value('i')` (which starts at 0); p1 sets
//! `result[i] = num * num` for `[1, 2, 3, 4]` and `square_sum.value = sum(result)`, and
//! both processes print the array and the sum. Rust: `Array::<i32>::zeroed(4)`,
//! `Value::<i32>::new(0)`, `set`, `to_vec` and `store`.

use crate::{child, Error};
use procshare::{Array, Value};
use std::io::Write;

/// Run the example.
pub fn run(out: &mut dyn Write) -> Result<(), Error> {
    let mylist = [1i32, 2, 3, 4];
    let result = Array::<i32>::zeroed(mylist.len())?;
    let square_sum = Value::<i32>::new(0)?;
    let mut p1 = child::spawn(|out| {
        for (idx, num) in mylist.iter().enumerate() {
            result.set(idx, num * num)?;
        }
        square_sum.store(result.to_vec()?.iter().sum())?;
        writeln!(out, "Result(in process p1): {:?}", result.to_vec()?)?;
        writeln!(out, "Sum of squares(in process p1): {}", square_sum.load()?)?;
        Ok(())
    })?;
    child::join_into(out, "p1", &mut p1)?;
    writeln!(out, "Result(in main program): {:?}", result.to_vec()?)?;
    writeln!(
        out,
        "Sum of squares(in main program): {}",
        square_sum.load()?
    )?;
    Ok(())
}
