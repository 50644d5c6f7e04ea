//! `procshare-tutorial`: list and run the ported seed tutorials.
//!
//! ```text
//! procshare-tutorial list
//! procshare-tutorial run <name> [--free]
//! procshare-tutorial run --all [--free]
//! ```
//!
//! `--free` also runs a race demonstration's free-running variant, whose output varies
//! from run to run. Exit status: 0 on success, 1 when a tutorial fails or is pending,
//! 2 on a usage error.

use procshare_tutorials::{find, list, Status, Tutorial, ALL};
use std::io::{self, Write};
use std::process::ExitCode;

const USAGE: &str = "\
usage: procshare-tutorial list
       procshare-tutorial run <name> [--free]
       procshare-tutorial run --all [--free]";

/// Run one tutorial (and its free variant if asked); false if it failed or is pending.
fn run_one(t: &Tutorial, free: bool, out: &mut dyn Write) -> io::Result<bool> {
    let Status::Ready(run) = t.status else {
        if let Status::Pending(reason) = t.status {
            eprintln!("{} is pending: {reason}", t.name);
        }
        return Ok(false);
    };
    if let Err(e) = run(out) {
        out.flush()?;
        eprintln!("error: {} failed: {e}", t.name);
        return Ok(false);
    }
    if let (true, Some(free_run)) = (free, t.free) {
        if let Err(e) = free_run(out) {
            out.flush()?;
            eprintln!("error: {} --free failed: {e}", t.name);
            return Ok(false);
        }
    }
    Ok(true)
}

/// `run --all`: every ready tutorial under a `== name ==` header; pending ones are named.
fn run_all(free: bool, out: &mut dyn Write) -> io::Result<bool> {
    let mut ok = true;
    for (i, t) in ALL.iter().enumerate() {
        if i > 0 {
            writeln!(out)?;
        }
        match t.status {
            Status::Ready(_) => {
                writeln!(out, "== {} ==", t.name)?;
                ok &= run_one(t, free, out)?;
            }
            Status::Pending(reason) => writeln!(out, "== {} == pending: {reason}", t.name)?,
        }
    }
    Ok(ok)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let result = match args.as_slice() {
        ["list"] => list(&mut out).map(|()| true),
        ["run", rest @ ..] => {
            let free = rest.contains(&"--free");
            let names: Vec<&str> = rest.iter().copied().filter(|a| *a != "--free").collect();
            match names.as_slice() {
                ["--all"] => run_all(free, &mut out),
                [name] if !name.starts_with('-') => match find(name) {
                    Some(t) => run_one(t, free, &mut out),
                    None => {
                        eprintln!("error: no tutorial named `{name}` (see `list`)");
                        return ExitCode::from(2);
                    }
                },
                _ => {
                    eprintln!("{USAGE}");
                    return ExitCode::from(2);
                }
            }
        }
        ["help" | "-h" | "--help"] => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result.and_then(|ok| out.flush().map(|()| ok)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: writing the output: {e}");
            ExitCode::FAILURE
        }
    }
}
