//! The `procshare-compare` binary behind `cargo xtask compare`: parse the options, run
//! the comparison, write `compare.md`, `compare.json` and the SVG plots, print the report
//! (or the JSON with `--json`), and fail if an excluding case lost an update or a cell
//! failed.

use procshare_compare::compare::{run, Plan};
use procshare_compare::model::{lost_update_violations, Status};
use procshare_compare::{plot, report, workspace_root};
use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask compare [--quick] [--json] [options]

  --quick            CI-sized run: fewer process counts, 0.05 s repetitions, no Rust peers;
                     written to target/compare-quick/ unless --out is given
  --json             print the raw data (JSON) on stdout instead of the report
  --out DIR          write compare.md, compare.json and the plots to DIR
                     (default: docs/results/ for a full run)
  --repetitions N    repetitions per cell (default 5)
  --seconds S        seconds per repetition (default 0.5, 0.05 with --quick)
  --only WORKLOAD    only this workload (repeatable): counter, array64, pingpong,
                     roundtrip, queue1, queue4, manager
  --no-progress      no progress bar
  --quiet            print only the targets table (the files are written in full)
  --command TEXT     the command line to print in the report";

struct Options {
    plan: Plan,
    json: bool,
    quiet: bool,
    out: Option<PathBuf>,
}

fn parse() -> Result<Option<Options>, lexopt::Error> {
    use lexopt::prelude::*;
    let mut parser = lexopt::Parser::from_env();
    let mut quick = false;
    let mut json = false;
    let mut quiet = false;
    let mut out = None;
    let mut repetitions = None;
    let mut seconds = None;
    let mut only = Vec::new();
    let mut progress = true;
    let mut command = None;
    while let Some(arg) = parser.next()? {
        match arg {
            Long("quick") => quick = true,
            Long("json") => json = true,
            Long("out") => out = Some(PathBuf::from(parser.value()?)),
            Long("repetitions") => repetitions = Some(parser.value()?.parse::<usize>()?),
            Long("seconds") => seconds = Some(parser.value()?.parse::<f64>()?),
            Long("only") => only.push(parser.value()?.string()?),
            Long("no-progress") => progress = false,
            Long("quiet") => quiet = true,
            Long("command") => command = Some(parser.value()?.string()?),
            Short('h') | Long("help") => return Ok(None),
            _ => return Err(arg.unexpected()),
        }
    }
    let mut plan = Plan::new(quick);
    if let Some(r) = repetitions {
        plan.repetitions = r.max(1);
    }
    if let Some(s) = seconds {
        plan.seconds = s;
    }
    plan.only = only;
    plan.progress = progress;
    plan.command = command.unwrap_or_else(|| {
        let args: Vec<String> = std::env::args().skip(1).collect();
        format!("procshare-compare {}", args.join(" "))
            .trim()
            .to_string()
    });
    Ok(Some(Options {
        plan,
        json,
        quiet,
        out,
    }))
}

fn main() -> ExitCode {
    let options = match parse() {
        Ok(Some(o)) => o,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("error: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    for key in &options.plan.only {
        if !procshare_compare::cases::WORKLOADS
            .iter()
            .any(|w| w.key == key)
        {
            eprintln!("error: unknown workload `{key}`\n\n{USAGE}");
            return ExitCode::from(2);
        }
    }
    let root = workspace_root();
    let dir = options.out.clone().unwrap_or_else(|| {
        if options.plan.quick {
            root.join("target").join("compare-quick")
        } else {
            root.join("docs").join("results")
        }
    });

    let report = run(&options.plan);

    let json = serde_json::to_string_pretty(&report).expect("a report serialises");
    let page = report::markdown(&report);
    let written = std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(dir.join("compare.json"), format!("{json}\n")))
        .and_then(|()| std::fs::write(dir.join("compare.md"), &page));
    if let Err(e) = written {
        eprintln!("error: cannot write to {}: {e}", dir.display());
        return ExitCode::FAILURE;
    }
    match plot::write_all(&report, &dir) {
        Ok(files) => eprintln!(
            "compare: wrote compare.md, compare.json and {} plots to {}",
            files.len(),
            dir.display()
        ),
        Err(e) => {
            eprintln!("error: plotting: {e}");
            return ExitCode::FAILURE;
        }
    }
    if options.json {
        println!("{json}");
    } else if options.quiet {
        print!("{}", report::targets_table(&report));
    } else {
        print!("{page}");
    }

    let mut ok = true;
    for c in lost_update_violations(&report.cells) {
        eprintln!(
            "compare: FAIL: {} / {} with {} processes lost {} updates but promises to exclude",
            c.workload,
            c.case,
            c.procs,
            c.lost.unwrap_or(0)
        );
        ok = false;
    }
    for c in &report.cells {
        if let Status::Failed(why) = &c.status {
            eprintln!(
                "compare: FAIL: {} / {} with {} processes: {why}",
                c.workload, c.case, c.procs
            );
            ok = false;
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
