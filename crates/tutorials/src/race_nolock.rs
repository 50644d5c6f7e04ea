//! Race r1: the counter with no lock at all loses updates.
//!
//! The program is `*v.lock() += 1` in two processes, on a `Value<u64, NoLock>`: `NoLock`
//! is the racy control strategy, whose `lock` excludes nobody (CPython's
//! `Value('i', 0, lock=False)` followed by `v.value += 1`). The forced schedule lets both
//! processes read 0 before either writes 1.

use crate::race;
use crate::Error;
use procshare::strategy::NoLock;
use procshare_harness::scenarios::Increment;
use std::io::Write;

/// The shrunk failing schedule the harness finds for this program.
pub const TOKEN: &str = "ps1.AQM";

/// Run the forced demonstration and enumerate every schedule.
pub fn run(out: &mut dyn Write) -> Result<(), Error> {
    writeln!(
        out,
        "two processes each run `*v.lock()? += 1` once on a Value<u64, NoLock> (a lock that \
         excludes nobody)"
    )?;
    let program = race::program::<NoLock>(Increment::Locked);
    race::forced(out, &program, TOKEN)?;
    race::every_schedule(out, &program)
}

/// The free-running variant: how many increments were lost on this run.
pub fn free(out: &mut dyn Write) -> Result<(), Error> {
    race::free_run::<NoLock>(out, Increment::Locked)
}
