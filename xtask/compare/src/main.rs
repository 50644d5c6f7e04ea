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
  --only WORKLOAD    only this workload (repeatable): counter, array64, rw_read90,
                     rw_write, pingpong, roundtrip, queue1, queue4, manager
  --no-progress      no progress bar
  --quiet            print only the targets table (the files are written in full)
  --command TEXT     the command line to print in the report

usage: cargo xtask compare --render DIR
  re-render DIR/compare.md from DIR/compare.json (no measuring; the targets are
  evaluated again on the stored cells)

usage: cargo xtask compare --strategies-table [--from JSON] [--doc FILE]
  rewrite the generated table of FILE (default docs/strategies.md) from JSON
  (default docs/results/compare.json), no measuring (a full default run does this
  itself after writing docs/results/)";

/// What the invocation does besides (or instead of) measuring.
enum Action {
    Measure,
    Render(PathBuf),
    StrategiesTable {
        from: Option<PathBuf>,
        doc: Option<PathBuf>,
    },
}

struct Options {
    action: Action,
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
    let mut action = Action::Measure;
    let (mut from, mut doc) = (None, None);
    while let Some(arg) = parser.next()? {
        match arg {
            Long("render") => action = Action::Render(PathBuf::from(parser.value()?)),
            Long("strategies-table") => {
                action = Action::StrategiesTable {
                    from: None,
                    doc: None,
                }
            }
            Long("from") => from = Some(PathBuf::from(parser.value()?)),
            Long("doc") => doc = Some(PathBuf::from(parser.value()?)),
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
    if let Action::StrategiesTable { .. } = action {
        action = Action::StrategiesTable { from, doc };
    }
    Ok(Some(Options {
        action,
        plan,
        json,
        quiet,
        out,
    }))
}

fn load(json: &std::path::Path) -> Result<procshare_compare::model::Report, String> {
    let text = std::fs::read_to_string(json).map_err(|e| format!("{}: {e}", json.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: not a comparison: {e}", json.display()))
}

/// `--render DIR`: DIR/compare.md from DIR/compare.json, with the targets evaluated
/// again on its cells (so a changed target definition reaches the page without a new
/// measurement; the JSON's `targets` are rewritten to match).
fn render(dir: &std::path::Path) -> ExitCode {
    let written = load(&dir.join("compare.json")).and_then(|mut r| {
        r.targets = procshare_compare::targets::evaluate(&r);
        let json = serde_json::to_string_pretty(&r).expect("a report serialises");
        std::fs::write(dir.join("compare.json"), format!("{json}\n"))
            .and_then(|()| std::fs::write(dir.join("compare.md"), report::markdown(&r)))
            .map_err(|e| format!("{}: {e}", dir.display()))
    });
    match written {
        Ok(()) => {
            eprintln!("compare: rendered {}", dir.join("compare.md").display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `--strategies-table`: the generated section of `doc` from `json`.
fn strategies_table(json: &std::path::Path, doc: &std::path::Path) -> ExitCode {
    use procshare_compare::strategies;
    let done = load(json).and_then(|r| {
        let text = std::fs::read_to_string(doc).map_err(|e| format!("{}: {e}", doc.display()))?;
        let new = strategies::splice(&text, &strategies::section(&r))
            .map_err(|e| format!("{}: {e}", doc.display()))?;
        std::fs::write(doc, new).map_err(|e| format!("{}: {e}", doc.display()))
    });
    match done {
        Ok(()) => {
            eprintln!(
                "compare: wrote the strategies table of {} from {}",
                doc.display(),
                json.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
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
    match &options.action {
        Action::Measure => {}
        Action::Render(dir) => return render(dir),
        Action::StrategiesTable { from, doc } => {
            let from = from
                .clone()
                .unwrap_or_else(|| root.join("docs/results/compare.json"));
            let doc = doc
                .clone()
                .unwrap_or_else(|| root.join("docs/strategies.md"));
            return strategies_table(&from, &doc);
        }
    }
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
    if options.out.is_none() && !options.plan.quick && options.plan.only.is_empty() {
        // A full default run is the one docs/strategies.md's table comes from.
        if strategies_table(&dir.join("compare.json"), &root.join("docs/strategies.md"))
            != ExitCode::SUCCESS
        {
            return ExitCode::FAILURE;
        }
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
