//! `docs/results/compare.md`: the machine, date and command at the top, the targets,
//! then one table per workload, every table rendered by `procshare-table`.

use crate::cases::{workload, WORKLOADS};
use crate::model::{Cell, Report, Status};
use crate::targets::State;
use procshare_table::Table;

/// `12.3M`, `456k`, `789`: operations per second with an SI prefix, 3 significant digits.
pub fn rate(x: f64) -> String {
    let (v, unit) = if x >= 1e9 {
        (x / 1e9, "G")
    } else if x >= 1e6 {
        (x / 1e6, "M")
    } else if x >= 1e3 {
        (x / 1e3, "k")
    } else {
        (x, "")
    };
    let digits = if v >= 100.0 {
        0
    } else if v >= 10.0 {
        1
    } else {
        2
    };
    format!("{v:.digits$}{unit}")
}

/// A latency in nanoseconds, in µs.
fn micros(ns: Option<u64>) -> String {
    ns.map_or("-".into(), |ns| {
        let us = ns as f64 / 1e3;
        if us >= 100.0 {
            format!("{us:.0}")
        } else if us >= 10.0 {
            format!("{us:.1}")
        } else {
            format!("{us:.2}")
        }
    })
}

/// A ratio `x×`.
fn ratio(x: Option<f64>) -> String {
    x.map_or("-".into(), |x| {
        if x >= 100.0 {
            format!("{x:.0}×")
        } else if x >= 10.0 {
            format!("{x:.1}×")
        } else {
            format!("{x:.2}×")
        }
    })
}

/// `cell`'s median over the median of `case` of the same workload and process count.
fn against(report: &Report, cell: &Cell, case: Option<&str>) -> Option<f64> {
    let other = report.find(&cell.workload, case?, cell.procs)?;
    (cell.measured() && other.median > 0.0).then(|| cell.median / other.median)
}

/// The headline table: every target, met or not.
pub fn targets_table(report: &Report) -> String {
    let mut t = Table::new(["target (2 processes)", "goal", "measured", "verdict"]);
    for v in &report.targets {
        let measured = match v.measured {
            None => "-".into(),
            Some(m) if v.goal.contains("M/s") => format!("{} /s", rate(m)),
            Some(m) => ratio(Some(m)),
        };
        let verdict = match v.state {
            State::Met => "met",
            State::Missed => "MISSED",
            State::NotYetMeasured => "not yet measured",
        };
        t.row([v.what.clone(), v.goal.clone(), measured, verdict.into()]);
    }
    t.render_markdown()
}

/// One workload's table.
pub fn workload_table(report: &Report, key: &str) -> String {
    let w = workload(key);
    let mut t = Table::new([
        "case",
        "family",
        "procs",
        "ops/s (median)",
        "min..max",
        &format!("× {}", w.baseline.unwrap_or("baseline")),
        &format!("× {}", w.cpython.unwrap_or("CPython")),
        "p50 µs",
        "p99 µs",
        "fairness",
        "lost",
        "note",
    ])
    .numeric()
    .align(1, procshare_table::Align::Left)
    .align(11, procshare_table::Align::Left);
    let mut cells: Vec<&Cell> = report.cells.iter().filter(|c| c.workload == key).collect();
    cells.sort_by_key(|c| c.procs); // stable: registry order within a process count
    for c in cells {
        let procs = if c.oversubscribed {
            format!("{}*", c.procs)
        } else {
            c.procs.to_string()
        };
        let (median, spread, note) = match &c.status {
            Status::Measured => (
                rate(c.median),
                format!("{}..{}", rate(c.min), rate(c.max)),
                if c.excluding || c.lost.is_none() {
                    String::new()
                } else {
                    "control: loses updates by design".into()
                },
            ),
            Status::NotYetMeasured(why) => ("not yet measured".into(), "-".into(), why.clone()),
            Status::Failed(why) => ("FAILED".into(), "-".into(), why.clone()),
        };
        let lost = match c.lost {
            None => "-".into(),
            Some(n) if c.excluding && n > 0 => format!("{n} (BUG)"),
            Some(n) => n.to_string(),
        };
        t.row([
            c.case.clone(),
            c.family.label().into(),
            procs,
            median,
            spread,
            ratio(against(report, c, w.baseline)),
            ratio(against(report, c, w.cpython)),
            micros(c.p50_ns),
            micros(c.p99_ns),
            c.fairness.map_or("-".into(), |j| format!("{j:.3}")),
            lost,
            note,
        ]);
    }
    t.render_markdown()
}

/// The strategies of the oversubscription comparison (issue 17): the adaptive mutex
/// against the two it sits between, on the counter workload.
pub const OVERSUBSCRIBED_CASES: [&str; 3] = ["value<adaptive>", "value<futex>", "value<spin>"];

/// The oversubscription section: which counter process counts of this run exceed the CPU
/// count, and `AdaptiveMutex` against `FutexMutex` and `SpinLock` at each of them (a
/// sentence and a table, both from the cells; a run without such counts says so).
pub fn oversubscription(report: &Report) -> String {
    let cpus = report.machine.cpus;
    let cell = |case: &str, procs: usize| report.find("counter", case, procs);
    let mut procs: Vec<usize> = report
        .cells
        .iter()
        .filter(|c| c.workload == "counter" && c.measured())
        .filter(|c| OVERSUBSCRIBED_CASES.contains(&c.case.as_str()))
        .map(|c| c.procs)
        .collect();
    procs.sort_unstable();
    procs.dedup();
    let over: Vec<usize> = procs.iter().copied().filter(|&p| p > cpus).collect();
    let list = |ps: &[usize]| {
        ps.iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if over.is_empty() {
        return format!(
            "This run measured the counter workload of `AdaptiveMutex`, `FutexMutex` and \
             `SpinLock` at {} process(es) only, none above the {cpus} CPUs: it has **no \
             oversubscribed comparison** (a full run measures 4 and 8 processes).\n",
            if procs.is_empty() {
                "no".into()
            } else {
                list(&procs)
            }
        );
    }
    let mut out = format!(
        "This run covers oversubscription: the counter workload at {} processes on {cpus} \
         CPUs for `AdaptiveMutex`, `FutexMutex` and `SpinLock` (the rows below are also in \
         the counter table).",
        list(&over)
    );
    for &p in &over {
        let futex = cell("value<futex>", p).map(|c| c.median);
        let vs = |case: &str| {
            let c = cell(case, p)?;
            Some(c.median / futex.filter(|&f| f > 0.0)?)
        };
        let said = |case: &str| match vs(case) {
            Some(x) => format!("`{case}` {}", ratio(Some(x))),
            None => format!("`{case}` not measured in this run"),
        };
        out.push_str(&format!(
            " At {p} processes, against `value<futex>`'s throughput: {}, {}.",
            said("value<adaptive>"),
            said("value<spin>")
        ));
    }
    out.push_str("\n\n");
    let mut t = Table::new([
        "procs",
        "case",
        "ops/s (median)",
        "× value<futex>",
        "fairness",
        "lost",
    ])
    .numeric()
    .align(1, procshare_table::Align::Left);
    for &p in &over {
        for case in OVERSUBSCRIBED_CASES {
            let Some(c) = cell(case, p) else { continue };
            t.row([
                format!("{p}*"),
                case.to_string(),
                rate(c.median),
                ratio(against(report, c, Some("value<futex>"))),
                c.fairness.map_or("-".into(), |j| format!("{j:.3}")),
                c.lost.map_or("-".into(), |n| n.to_string()),
            ]);
        }
    }
    out.push_str(&t.render_markdown());
    out
}

/// The whole page.
pub fn markdown(report: &Report) -> String {
    let m = &report.machine;
    let mut out = String::new();
    out.push_str("# procshare compared: strategies and primitives against the raw limits, CPython and the Rust peers\n\n");
    out.push_str(&format!(
        "Generated by `{}` on {}; do not edit by hand (the raw data is [compare.json](compare.json)).\n\n",
        report.command, report.date
    ));
    out.push_str(&format!(
        "- **Machine**: {} CPUs ({}), {}; python3: {}.\n",
        m.cpus,
        m.cpu_model,
        m.kernel,
        m.python.as_deref().unwrap_or("absent")
    ));
    out.push_str(&format!(
        "- **Load average** (1, 5, 15 min) at the start: {}; at the end: {}. Other work on \
         the machine widens the spreads and hurts the spinning cases most.\n",
        m.load[0], m.load[1]
    ));
    out.push_str(&format!(
        "- **Method**: every cell is {} repetitions of {} s, interleaved (each repetition runs every \
         cell once, in a rotating order, then the CPython cells in one `python3` run); every \
         process is a real forked process (`Process::spawn`; CPython: the fork start method). \
         Throughput is the median over the repetitions of operations per second over the \
         common span of the processes, with the smallest and largest repetition beside it. \
         Ratios are between medians of the same run. Latency percentiles come from an HDR \
         histogram of every timed operation of every repetition. Fairness is the median over \
         repetitions of Jain's index of the per-process operation counts (1 = equal shares, \
         1/n = one process did everything). Lost is exact: operations each process counted \
         minus what the shared data shows, summed over repetitions (0 expected for every \
         excluding strategy and every channel; `NoLock` and CPython's `Value(lock=False)` \
         are the controls).\n",
        report.repetitions, report.seconds
    ));
    out.push_str(&format!(
        "- **Oversubscribed** rows (more processes than the {} CPUs) are marked `*`: there a \
         spinning waiter can hold the CPU its peer needs.\n",
        m.cpus
    ));
    if report.quick {
        out.push_str("- **Quick run** (`--quick`): CI-sized, fewer process counts, short repetitions; not a report to quote.\n");
    }
    for n in &report.notes {
        out.push_str(&format!("- **Note**: {n}\n"));
    }
    out.push_str("\n## Targets\n\n");
    out.push_str(
        "The project's targets (issue 16), each side read at its cells' process count n (a \
         manager cell's n counts its client processes; the server is one more). A time ratio \
         is the inverse of the throughput ratio (time per operation against the baseline's).\n\n",
    );
    out.push_str(&targets_table(report));
    out.push_str("\n## Oversubscription: adaptive, futex and spin\n\n");
    out.push_str(&oversubscription(report));
    for w in WORKLOADS {
        if !report.cells.iter().any(|c| c.workload == w.key) {
            continue;
        }
        out.push_str(&format!("\n## {}\n\n", w.title));
        out.push_str(&format!(
            "One operation: {}. Plot: [compare-{}.svg](compare-{}.svg).\n\n",
            w.op, w.key, w.key
        ));
        out.push_str(&workload_table(report, w.key));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_have_three_significant_digits_and_a_prefix() {
        assert_eq!(rate(12_345_678.0), "12.3M");
        assert_eq!(rate(456_000.0), "456k");
        assert_eq!(rate(7.891), "7.89");
        assert_eq!(rate(2.5e9), "2.50G");
    }

    fn cell(case: &str, procs: usize, median: f64) -> Cell {
        let mut c = Cell::empty(
            "counter",
            case,
            crate::model::Family::Procshare,
            procs,
            2,
            true,
            Status::Measured,
        );
        c.throughput = vec![median];
        c.summarise();
        c.fairness = Some(0.9);
        c.lost = Some(0);
        c
    }

    fn report(cells: Vec<Cell>) -> Report {
        Report {
            machine: crate::model::Machine {
                cpus: 2,
                cpu_model: "test".into(),
                kernel: "test".into(),
                python: None,
                load: Default::default(),
            },
            date: "today".into(),
            command: "test".into(),
            quick: true,
            repetitions: 1,
            seconds: 0.05,
            cells,
            notes: Vec::new(),
            targets: Vec::new(),
        }
    }

    #[test]
    fn the_oversubscription_section_compares_with_futex_at_each_count_above_the_cpus() {
        let r = report(vec![
            cell("value<futex>", 2, 10e6),
            cell("value<futex>", 4, 8e6),
            cell("value<adaptive>", 4, 12e6),
            cell("value<spin>", 4, 2e6),
        ]);
        let text = oversubscription(&r);
        assert!(text.contains("at 4 processes on 2 CPUs"), "{text}");
        assert!(
            text.contains("At 4 processes, against `value<futex>`'s throughput: `value<adaptive>` 1.50×, `value<spin>` 0.25×."),
            "{text}"
        );
        assert!(text.contains("| 4*"), "{text}");
        assert!(!text.contains("| 2 "), "only oversubscribed rows: {text}");
    }

    #[test]
    fn a_run_without_oversubscribed_counts_says_so() {
        let r = report(vec![
            cell("value<futex>", 1, 10e6),
            cell("value<spin>", 2, 9e6),
        ]);
        let partial = report(vec![
            cell("value<futex>", 8, 10e6),
            cell("value<spin>", 8, 9e6),
        ]);
        assert!(
            oversubscription(&partial).contains("`value<adaptive>` not measured in this run"),
            "{}",
            oversubscription(&partial)
        );
        let text = oversubscription(&r);
        assert!(text.contains("at 1, 2 process(es) only"), "{text}");
        assert!(text.contains("no oversubscribed comparison"), "{text}");
    }

    #[test]
    fn ratios_and_latencies_are_formatted() {
        assert_eq!(ratio(Some(0.876)), "0.88×");
        assert_eq!(ratio(Some(123.4)), "123×");
        assert_eq!(ratio(None), "-");
        assert_eq!(micros(Some(12_345)), "12.3");
        assert_eq!(micros(None), "-");
    }
}
