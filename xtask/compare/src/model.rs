//! The data of a comparison: what the JSON file holds and the report and plots are made
//! from, with the statistics that reduce repetitions to a cell (median, spread, Jain's
//! fairness index) and the correctness check `verify` relies on
//! ([`lost_update_violations`]).

use serde::{Deserialize, Serialize};

/// Who a row measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    /// A procshare primitive or strategy.
    Procshare,
    /// A hand-written raw limit (bare futex, socketpair, pipe, ...).
    Baseline,
    /// CPython's `multiprocessing`, run by `xtask/compare/python/compare.py`.
    Cpython,
    /// A Rust IPC crate (iceoryx2, ipc-channel).
    Peer,
}

impl Family {
    /// Lower-case name, as in the report.
    pub fn label(self) -> &'static str {
        match self {
            Family::Procshare => "procshare",
            Family::Baseline => "baseline",
            Family::Cpython => "cpython",
            Family::Peer => "peer",
        }
    }
}

/// Whether a cell has numbers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state", content = "why")]
pub enum Status {
    /// Measured: the statistics below are filled in.
    Measured,
    /// A row kept in place for something not built yet (or not available here).
    NotYetMeasured(String),
    /// A repetition failed (a process panicked or hung, or the script failed).
    Failed(String),
}

/// One row of one workload at one process count.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    /// The workload's key (`counter`, `array64`, `pingpong`, `roundtrip`, `queue1`,
    /// `queue4`, `manager`).
    pub workload: String,
    /// The case's name (`value<futex>`, `bare_futex`, `cpython_queue`, ...).
    pub case: String,
    /// Who it measures.
    pub family: Family,
    /// Processes taking part.
    pub procs: usize,
    /// More processes than CPUs.
    pub oversubscribed: bool,
    /// True if the case promises to lose nothing (every excluding lock strategy, every
    /// channel); then any lost update fails `verify`.
    pub excluding: bool,
    /// Numbers or why there are none.
    pub status: Status,
    /// Operations per second, one per repetition, in the order they ran.
    pub throughput: Vec<f64>,
    /// Median of `throughput`.
    pub median: f64,
    /// Smallest of `throughput`.
    pub min: f64,
    /// Largest of `throughput`.
    pub max: f64,
    /// Median operation latency in nanoseconds, over every repetition (HDR histogram).
    pub p50_ns: Option<u64>,
    /// 99th percentile latency in nanoseconds.
    pub p99_ns: Option<u64>,
    /// Median over repetitions of Jain's index of the per-process operation counts.
    pub fairness: Option<f64>,
    /// Updates (or messages) lost, summed over every repetition; `None` where the
    /// workload cannot tell.
    pub lost: Option<u64>,
}

impl Cell {
    /// A cell with no numbers yet.
    pub fn empty(
        workload: &str,
        case: &str,
        family: Family,
        procs: usize,
        cpus: usize,
        excluding: bool,
        status: Status,
    ) -> Cell {
        Cell {
            workload: workload.into(),
            case: case.into(),
            family,
            procs,
            oversubscribed: procs > cpus,
            excluding,
            status,
            throughput: Vec::new(),
            median: 0.0,
            min: 0.0,
            max: 0.0,
            p50_ns: None,
            p99_ns: None,
            fairness: None,
            lost: None,
        }
    }

    /// True when the cell has numbers.
    pub fn measured(&self) -> bool {
        self.status == Status::Measured
    }

    /// Recompute median, min and max from `throughput`.
    pub fn summarise(&mut self) {
        self.median = median(&self.throughput);
        self.min = self
            .throughput
            .iter()
            .copied()
            .fold(f64::INFINITY, f64::min);
        self.max = self.throughput.iter().copied().fold(0.0, f64::max);
        if self.throughput.is_empty() {
            self.min = 0.0;
        }
    }
}

/// The machine a report was measured on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    /// CPUs available to this process.
    pub cpus: usize,
    /// `model name` from `/proc/cpuinfo`.
    pub cpu_model: String,
    /// `uname -sr`.
    pub kernel: String,
    /// `python3 --version`, if python3 runs.
    pub python: Option<String>,
    /// `/proc/loadavg`'s 1, 5 and 15 minute load averages when the run started and when
    /// it ended: other work on the machine widens the spreads.
    #[serde(default)]
    pub load: [String; 2],
}

/// A whole comparison run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Where it ran.
    pub machine: Machine,
    /// When it started, UTC, ISO 8601.
    pub date: String,
    /// The command that made it.
    pub command: String,
    /// `--quick`.
    pub quick: bool,
    /// Repetitions per cell.
    pub repetitions: usize,
    /// Seconds per repetition.
    pub seconds: f64,
    /// Every cell, in registry order.
    pub cells: Vec<Cell>,
    /// What the report must say besides the numbers (python3 absent, peers not built).
    pub notes: Vec<String>,
    /// The project's targets, evaluated on these cells.
    pub targets: Vec<crate::targets::Verdict>,
}

impl Report {
    /// The measured cell of `case` in `workload` at `procs`, if any.
    pub fn find(&self, workload: &str, case: &str, procs: usize) -> Option<&Cell> {
        self.cells
            .iter()
            .find(|c| c.workload == workload && c.case == case && c.procs == procs)
            .filter(|c| c.measured())
    }
}

/// The median (the upper one of an even count); 0 for no values.
pub fn median(values: &[f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Jain's fairness index of `counts`: `(Σx)² / (n · Σx²)`, 1 when every process did the
/// same, `1/n` when one did everything. `None` for no counts or all zero.
pub fn jain(counts: &[u64]) -> Option<f64> {
    let sum: f64 = counts.iter().map(|&x| x as f64).sum();
    let squares: f64 = counts.iter().map(|&x| (x as f64) * (x as f64)).sum();
    if counts.is_empty() || squares == 0.0 {
        return None;
    }
    Some(sum * sum / (counts.len() as f64 * squares))
}

/// The cells that break the correctness promise: an excluding case that lost updates.
/// `cargo xtask verify` fails when this is not empty.
pub fn lost_update_violations(cells: &[Cell]) -> Vec<&Cell> {
    cells
        .iter()
        .filter(|c| c.excluding && c.lost.is_some_and(|n| n > 0))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jain_is_one_for_equal_counts_and_one_over_n_for_a_monopoly() {
        assert_eq!(jain(&[5, 5, 5, 5]), Some(1.0));
        assert_eq!(jain(&[8, 0, 0, 0]), Some(0.25));
        let j = jain(&[3, 1]).unwrap();
        assert!((j - 16.0 / 20.0).abs() < 1e-12, "{j}");
        assert_eq!(jain(&[]), None);
        assert_eq!(jain(&[0, 0]), None);
    }

    #[test]
    fn median_takes_the_middle_of_unsorted_values() {
        assert_eq!(median(&[5.0, 1.0, 3.0]), 3.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 3.0);
        assert_eq!(median(&[]), 0.0);
    }

    fn counter_cell(case: &str, excluding: bool, lost: Option<u64>) -> Cell {
        let mut c = Cell::empty(
            "counter",
            case,
            Family::Procshare,
            2,
            2,
            excluding,
            Status::Measured,
        );
        c.lost = lost;
        c
    }

    /// The check fails on an excluding row that lost updates, such as a `NoLock` row
    /// wrongly marked excluding, and passes the same row marked as the control it is.
    #[test]
    fn a_lost_update_in_an_excluding_row_is_a_violation() {
        let nolock_marked_excluding = counter_cell("value<nolock>", true, Some(1234));
        let futex = counter_cell("value<futex>", true, Some(0));
        let cells = vec![futex.clone(), nolock_marked_excluding];
        let bad = lost_update_violations(&cells);
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].case, "value<nolock>");

        let nolock_as_control = counter_cell("value<nolock>", false, Some(1234));
        assert!(lost_update_violations(&[futex, nolock_as_control]).is_empty());
        assert!(lost_update_violations(&[counter_cell("x", true, None)]).is_empty());
    }

    #[test]
    fn oversubscription_is_more_processes_than_cpus() {
        let c = |procs| {
            Cell::empty(
                "counter",
                "x",
                Family::Baseline,
                procs,
                2,
                true,
                Status::Measured,
            )
        };
        assert!(!c(2).oversubscribed);
        assert!(c(4).oversubscribed);
    }
}

#[cfg(test)]
mod json_tests {
    use super::*;

    /// A report survives a JSON round trip unchanged, including every status variant.
    #[test]
    fn a_report_round_trips_through_json() {
        let mut measured = Cell::empty(
            "counter",
            "value<futex>",
            Family::Procshare,
            2,
            2,
            true,
            Status::Measured,
        );
        measured.throughput = vec![1.0, 3.0, 2.0];
        measured.summarise();
        measured.p50_ns = Some(120);
        measured.fairness = Some(0.99);
        measured.lost = Some(0);
        let report = Report {
            machine: Machine {
                cpus: 2,
                cpu_model: "cpu".into(),
                kernel: "Linux".into(),
                python: Some("Python 3.11.7".into()),
                load: Default::default(),
            },
            date: "2026-12-01 22:00 UTC".into(),
            command: "cargo xtask compare".into(),
            quick: false,
            repetitions: 5,
            seconds: 0.5,
            cells: vec![
                measured,
                Cell::empty(
                    "queue1",
                    "procshare_queue",
                    Family::Procshare,
                    2,
                    2,
                    true,
                    Status::NotYetMeasured("later".into()),
                ),
                Cell::empty(
                    "queue1",
                    "cpython_queue",
                    Family::Cpython,
                    2,
                    2,
                    true,
                    Status::Failed("boom".into()),
                ),
            ],
            notes: vec!["a note".into()],
            targets: Vec::new(),
        };
        let text = serde_json::to_string_pretty(&report).unwrap();
        let back: Report = serde_json::from_str(&text).unwrap();
        assert_eq!(back, report);
        assert_eq!(back.cells[0].median, 2.0);
    }
}
