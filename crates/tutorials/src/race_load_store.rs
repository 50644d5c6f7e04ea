//! Race r2: `v.store(v.load() + 1)` loses updates although every access takes the lock.
//!
//! This is CPython's `v.value += 1` on a `Value('i', 0)`: reading `v.value` takes the lock
//! and releases it, writing takes it again, so another process can read the same old value
//! in between. The forced schedule is the harness's canonical lost update.

use crate::race;
use crate::Error;
use procshare::strategy::FutexMutex;
use procshare_harness::scenarios::Increment;
use std::io::Write;

/// The shrunk failing schedule the harness finds for this program.
pub const TOKEN: &str = "ps1.AQI";

/// Run the forced demonstration and enumerate every schedule.
pub fn run(out: &mut dyn Write) -> Result<(), Error> {
    writeln!(
        out,
        "two processes each run `v.store(v.load()? + 1)?` once on a Value<u64> (FutexMutex): \
         the load and the store each hold the lock, the increment does not"
    )?;
    let program = race::program::<FutexMutex>(Increment::LoadThenStore);
    race::forced(out, &program, TOKEN)?;
    race::every_schedule(out, &program)
}

/// The free-running variant: how many increments were lost on this run.
pub fn free(out: &mut dyn Write) -> Result<(), Error> {
    race::free_run::<FutexMutex>(out, Increment::LoadThenStore)
}
