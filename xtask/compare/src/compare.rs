//! The run: every cell of the registry, repetition by repetition.
//!
//! Repetitions are interleaved: repetition `r` runs every Rust cell once (starting at a
//! different cell each time, so no case always follows the same neighbour), then every
//! CPython cell in one `python3` invocation; so a burst of load from elsewhere on the
//! machine hits all cases alike, and a cell's median is over `repetitions` samples taken
//! minutes apart. A cell whose repetition fails is marked failed and not run again.

use crate::cases::{cases, workload, Source};
use crate::model::{jain, median, Cell, Machine, Report, Status};
use crate::runner::sample;
use crate::targets;
use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressStyle};
use std::time::Duration;

/// How much to measure.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// `--quick`: the CI-sized process counts and durations.
    pub quick: bool,
    /// Repetitions per cell (at least 5 for a report).
    pub repetitions: usize,
    /// Seconds per repetition.
    pub seconds: f64,
    /// Only these workloads (keys); empty means all.
    pub only: Vec<String>,
    /// Show a progress bar on stderr.
    pub progress: bool,
    /// The command line, for the report.
    pub command: String,
}

impl Plan {
    /// The defaults of a full run (`quick == false`) or a `--quick` one.
    pub fn new(quick: bool) -> Plan {
        Plan {
            quick,
            repetitions: 5,
            seconds: if quick { 0.05 } else { 0.5 },
            only: Vec::new(),
            progress: true,
            command: String::new(),
        }
    }
}

/// What one cell gathers over its repetitions.
struct Gathered {
    cell: Cell,
    source: Source,
    histogram: Histogram<u64>,
    fairness: Vec<f64>,
}

impl Gathered {
    fn add(&mut self, throughput: f64, per_process: &[u64], lost: Option<u64>, lat: &[u64]) {
        self.cell.throughput.push(throughput);
        if let Some(j) = jain(per_process) {
            self.fairness.push(j);
        }
        if let Some(n) = lost {
            *self.cell.lost.get_or_insert(0) += n;
        }
        for &ns in lat {
            self.histogram.saturating_record(ns.max(1));
        }
    }

    fn fail(&mut self, why: String) {
        self.cell.status = Status::Failed(why);
    }

    fn finish(mut self) -> Cell {
        if self.cell.measured() {
            self.cell.summarise();
            if !self.fairness.is_empty() {
                self.cell.fairness = Some(median(&self.fairness));
            }
            if !self.histogram.is_empty() {
                self.cell.p50_ns = Some(self.histogram.value_at_quantile(0.5));
                self.cell.p99_ns = Some(self.histogram.value_at_quantile(0.99));
            }
        }
        self.cell
    }
}

/// The machine this runs on.
pub fn machine(python: Option<String>) -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu_model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map_or("unknown CPU".into(), |m| m.trim().to_string());
    let read = |p: &str| {
        std::fs::read_to_string(p)
            .unwrap_or_default()
            .trim()
            .to_string()
    };
    Machine {
        cpus: cpus(),
        cpu_model,
        kernel: format!(
            "{} {}",
            read("/proc/sys/kernel/ostype"),
            read("/proc/sys/kernel/osrelease")
        ),
        python,
        load: [load_average(), String::new()],
    }
}

/// `/proc/loadavg`'s first three fields (`1.02 0.88 0.71`), or `unknown`.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

/// CPUs available to this process.
pub fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Now, UTC, as `YYYY-MM-DD HH:MM UTC`.
pub fn now_utc() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as i64;
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        rest / 3600,
        rest % 3600 / 60
    )
}

/// Measure every cell of `plan` and return the report.
pub fn run(plan: &Plan) -> Report {
    let python = crate::python::version();
    let mut machine = machine(python.clone());
    let date = now_utc();
    let cpus = cpus();
    let mut cells: Vec<Gathered> = Vec::new();
    for case in cases() {
        let w = workload(case.workload);
        if !plan.only.is_empty() && !plan.only.iter().any(|k| k == w.key) {
            continue;
        }
        let procs = if plan.quick { w.quick_procs } else { w.procs };
        for &p in procs {
            let status = match &case.source {
                Source::Todo(why) => Status::NotYetMeasured(why.clone()),
                Source::Python if python.is_none() => {
                    Status::NotYetMeasured("python3 is not installed on this machine".into())
                }
                _ => Status::Measured,
            };
            let source = match &case.source {
                Source::Rust(f) => Source::Rust(*f),
                Source::Python => Source::Python,
                Source::Todo(why) => Source::Todo(why.clone()),
            };
            cells.push(Gathered {
                cell: Cell::empty(
                    w.key,
                    &case.name,
                    case.family,
                    p,
                    cpus,
                    case.excluding,
                    status,
                ),
                source,
                histogram: Histogram::new_with_bounds(1, 600_000_000_000, 3)
                    .expect("histogram bounds"),
                fairness: Vec::new(),
            });
        }
    }

    let runnable = |g: &Gathered| g.cell.measured();
    let rust: Vec<usize> = (0..cells.len())
        .filter(|&i| runnable(&cells[i]) && matches!(cells[i].source, Source::Rust(_)))
        .collect();
    let py: Vec<usize> = (0..cells.len())
        .filter(|&i| runnable(&cells[i]) && matches!(cells[i].source, Source::Python))
        .collect();
    let total = (plan.repetitions * (rust.len() + py.len())) as u64;
    let bar = if plan.progress {
        let bar = ProgressBar::new(total);
        bar.set_style(
            ProgressStyle::with_template(
                "{elapsed_precise} [{bar:40}] {pos}/{len} cells·repetitions, ETA {eta} {msg}",
            )
            .expect("progress template")
            .progress_chars("=> "),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let duration = Duration::from_secs_f64(plan.seconds);

    for rep in 0..plan.repetitions {
        let start = if rust.is_empty() {
            0
        } else {
            rep * 7 % rust.len()
        };
        for k in 0..rust.len() {
            let i = rust[(start + k) % rust.len()];
            let g = &mut cells[i];
            bar.set_message(format!(
                "{} {} ×{}",
                g.cell.workload, g.cell.case, g.cell.procs
            ));
            if g.cell.measured() {
                if let Source::Rust(prepare) = g.source {
                    let latency = workload(&g.cell.workload).latency;
                    match prepare(g.cell.procs)
                        .and_then(|run| sample(run.as_ref(), g.cell.procs, duration, latency))
                    {
                        Ok(s) => g.add(s.throughput, &s.per_process, s.lost, &s.latencies),
                        Err(e) => g.fail(e),
                    }
                }
            }
            bar.inc(1);
        }
        let wanted: Vec<usize> = py
            .iter()
            .copied()
            .filter(|&i| cells[i].cell.measured())
            .collect();
        if !wanted.is_empty() {
            bar.set_message("CPython".to_string());
            let list: Vec<(String, String, usize)> = wanted
                .iter()
                .map(|&i| {
                    let c = &cells[i].cell;
                    (c.workload.clone(), c.case.clone(), c.procs)
                })
                .collect();
            match crate::python::run(&list, plan.seconds) {
                Ok(out) => {
                    for (&i, s) in wanted.iter().zip(&out.samples) {
                        let g = &mut cells[i];
                        if let Some(e) = &s.error {
                            g.fail(format!("compare.py: {e}"));
                        } else if s.workload != g.cell.workload
                            || s.case != g.cell.case
                            || s.procs != g.cell.procs
                        {
                            g.fail("compare.py answered for another cell".into());
                        } else {
                            let ops: u64 = s.per_process.iter().sum();
                            let lost = s.lost.map(|n| n.unsigned_abs());
                            g.add(
                                ops as f64 / s.span.max(1e-9),
                                &s.per_process,
                                lost,
                                &s.latencies_ns,
                            );
                        }
                    }
                    if out.samples.len() < wanted.len() {
                        for &i in &wanted[out.samples.len()..] {
                            cells[i].fail("compare.py gave no sample".into());
                        }
                    }
                }
                Err(e) => {
                    for &i in &wanted {
                        cells[i].fail(e.clone());
                    }
                }
            }
            bar.inc(wanted.len() as u64);
        }
    }
    bar.finish_and_clear();

    let mut notes = Vec::new();
    if python.is_none() {
        notes.push(
            "python3 is not installed on this machine: the CPython rows are not measured."
                .to_string(),
        );
    }
    if !cfg!(feature = "peers") {
        notes.push(
            "Built without the `peers` feature (a `--quick` run): the iceoryx2 and ipc-channel \
             rows are not measured."
                .to_string(),
        );
    }
    let cells: Vec<Cell> = cells.into_iter().map(Gathered::finish).collect();
    machine.load[1] = load_average();
    let mut report = Report {
        machine,
        date,
        command: plan.command.clone(),
        quick: plan.quick,
        repetitions: plan.repetitions,
        seconds: plan.seconds,
        cells,
        notes,
        targets: Vec::new(),
    };
    report.targets = targets::evaluate(&report);
    report
}
