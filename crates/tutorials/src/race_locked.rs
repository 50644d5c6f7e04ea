//! Race r3: the same counter under `lock()` never loses an update.
//!
//! The program of [`race_nolock`](crate::race_nolock), `*v.lock()? += 1` in two
//! processes, with the default `FutexMutex`: the guard holds the lock from the read to the
//! write. Replaying the schedule that broke the `NoLock` counter, the second process now
//! blocks until the first releases; and no schedule at all loses an update.

use crate::race;
use crate::Error;
use procshare::strategy::FutexMutex;
use procshare_harness::scenarios::Increment;
use std::io::Write;

/// Run the forced schedule of `race-nolock` on the locked counter, then every schedule.
pub fn run(out: &mut dyn Write) -> Result<(), Error> {
    writeln!(
        out,
        "two processes each run `*v.lock()? += 1` once on a Value<u64> (FutexMutex), \
         replaying race-nolock's schedule"
    )?;
    let program = race::program::<FutexMutex>(Increment::Locked);
    race::forced(out, &program, crate::race_nolock::TOKEN)?;
    race::every_schedule(out, &program)
}

/// The free-running variant: how many increments were lost on this run (always 0).
pub fn free(out: &mut dyn Write) -> Result<(), Error> {
    race::free_run::<FutexMutex>(out, Increment::Locked)
}
