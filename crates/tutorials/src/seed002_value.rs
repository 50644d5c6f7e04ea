//! Seed 002 (c): a float `Value` changed in a child is seen by the parent.
//!
//! Python: `Value('d', 3.14)`, the child sets `val.value = 11.24`, both print it.
//! Rust: `Value::<f64>::new(3.14)`, `store(11.24)` and `load()`.

use crate::{child, Error};
use procshare::Value;
use std::io::Write;

/// Run the example.
pub fn run(out: &mut dyn Write) -> Result<(), Error> {
    #[allow(
        clippy::approx_constant,
        reason = "the original's literal 3.14, not an approximation of pi"
    )]
    let val = Value::<f64>::new(3.14)?;
    let mut p = child::spawn(|out| {
        val.store(11.24)?;
        writeln!(out, "value inside process: {}", val.load()?)?;
        Ok(())
    })?;
    child::join_into(out, "foo", &mut p)?;
    writeln!(out, "value outside process: {}", val.load()?)?;
    Ok(())
}
