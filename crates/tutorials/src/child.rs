//! Children that report through their output pipe, and joining them in a fixed order.
//!
//! A child never prints (see `procshare::process`): it writes its lines to the
//! [`ChildOutput`] it is given, and the parent copies them to the tutorial's output when it
//! joins the child. Joining in a fixed order is what makes the output the same on every
//! run, however the children were interleaved.

use crate::Error;
use procshare::process::{self, ChildOutput};
use procshare::Process;
use std::io::Write;

/// Fork a child that runs `f` with its output pipe. An `Err` from `f` is written to the
/// pipe and ends the child with exit code 1, which [`join`] reports.
pub(crate) fn spawn<F>(f: F) -> Result<Process, Error>
where
    F: FnOnce(&mut ChildOutput) -> Result<(), Error>,
{
    Ok(Process::spawn_with_output(|out| {
        if let Err(e) = f(out) {
            let _ = writeln!(out, "error: {e}");
            process::exit(1);
        }
    })?)
}

/// Read `child`'s output to its end, reap it, and return the output; an [`Error::Child`]
/// if it did not exit with code 0.
pub(crate) fn join(name: &'static str, child: &mut Process) -> Result<String, Error> {
    let output = child.read_output()?;
    match child.join()? {
        0 => Ok(output),
        code => Err(Error::Child { name, code, output }),
    }
}

/// [`join`] `child` and copy its output to `out`.
pub(crate) fn join_into(
    out: &mut dyn Write,
    name: &'static str,
    child: &mut Process,
) -> Result<(), Error> {
    let output = join(name, child)?;
    out.write_all(output.as_bytes())?;
    Ok(())
}
