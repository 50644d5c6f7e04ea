//! SVG plots of a report, one per workload (`compare-<workload>.svg`), with plotters.
//!
//! A workload measured at several process counts is a line per case: processes on a
//! log₂ x axis, operations per second on a log y axis (the cases span decades: CPython
//! and oversubscribed spinning sit orders of magnitude below the raw limits). A workload
//! measured at one process count is a bar per case on the same log y axis. Axes are
//! labelled; only measured cells are drawn.

use crate::cases::WORKLOADS;
use crate::model::{Cell, Report};
use crate::report::rate;
use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

/// Draw every workload's plot into `dir`; returns the files written.
pub fn write_all(report: &Report, dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut written = Vec::new();
    for w in WORKLOADS {
        let cells: Vec<&Cell> = report
            .cells
            .iter()
            .filter(|c| c.workload == w.key && c.measured() && c.median > 0.0)
            .collect();
        if cells.is_empty() {
            continue;
        }
        let path = dir.join(format!("compare-{}.svg", w.key));
        let title = format!("{} ({} CPUs)", w.title, report.machine.cpus);
        let mut procs: Vec<usize> = cells.iter().map(|c| c.procs).collect();
        procs.sort_unstable();
        procs.dedup();
        if procs.len() > 1 {
            lines(&path, &title, &cells, &procs, report.machine.cpus)
                .map_err(|e| format!("{}: {e}", path.display()))?;
        } else {
            bars(&path, &title, &cells, procs[0])
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
        written.push(path);
    }
    Ok(written)
}

/// The y range: a decade-aligned log range around every median.
fn y_range(cells: &[&Cell]) -> std::ops::Range<f64> {
    let lo = cells
        .iter()
        .map(|c| c.min.max(1.0))
        .fold(f64::INFINITY, f64::min);
    let hi = cells.iter().map(|c| c.max).fold(1.0, f64::max);
    10f64.powf(lo.log10().floor())..10f64.powf(hi.log10().ceil().max(lo.log10().floor() + 1.0))
}

/// Distinguishable colours (Tableau 10), cycled.
fn color(i: usize) -> RGBAColor {
    const COLORS: [(u8, u8, u8); 10] = [
        (31, 119, 180),
        (255, 127, 14),
        (44, 160, 44),
        (214, 39, 40),
        (148, 103, 189),
        (140, 86, 75),
        (227, 119, 194),
        (127, 127, 127),
        (188, 189, 34),
        (23, 190, 207),
    ];
    let (r, g, b) = COLORS[i % COLORS.len()];
    RGBColor(r, g, b).to_rgba()
}

/// Cases in first-seen (registry) order.
fn case_names(cells: &[&Cell]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for c in cells {
        if !names.contains(&c.case) {
            names.push(c.case.clone());
        }
    }
    names
}

fn lines(
    path: &Path,
    title: &str,
    cells: &[&Cell],
    procs: &[usize],
    cpus: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::new(path, (960, 600)).into_drawing_area();
    root.fill(&WHITE)?;
    let x_max = *procs.last().unwrap_or(&8) as f64;
    let x_min = procs[0] as f64;
    let keys: Vec<f64> = procs.iter().map(|&p| p as f64).collect();
    let y = y_range(cells);
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(80)
        .build_cartesian_2d(
            ((x_min * 0.85)..(x_max * 1.15))
                .log_scale()
                .with_key_points(keys),
            // One decade of head room above the data, for the legend.
            (y.start..y.end * 10.0).log_scale(),
        )?;
    chart
        .configure_mesh()
        .x_desc("processes (log scale; * = more than the CPUs)")
        .y_desc("operations per second (log scale, median)")
        .x_label_formatter(&|x| {
            if x.round() as usize > cpus {
                format!("{x:.0}*")
            } else {
                format!("{x:.0}")
            }
        })
        .y_label_formatter(&|y| rate(*y))
        .draw()?;
    for (i, name) in case_names(cells).iter().enumerate() {
        let color = color(i);
        let mut points: Vec<(f64, f64)> = cells
            .iter()
            .filter(|c| &c.case == name)
            .map(|c| (c.procs as f64, c.median))
            .collect();
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        let dashed =
            name.starts_with("cpython") || name.starts_with("raw") || name.starts_with("bare");
        let style = color.stroke_width(if dashed { 1 } else { 2 });
        chart
            .draw_series(LineSeries::new(points.clone(), style))?
            .label(name.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
        chart.draw_series(points.iter().map(|&p| Circle::new(p, 3, color.filled())))?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE)
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .draw()?;
    root.present()?;
    Ok(())
}

fn bars(
    path: &Path,
    title: &str,
    cells: &[&Cell],
    procs: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::new(path, (960, 600)).into_drawing_area();
    root.fill(&WHITE)?;
    let names = case_names(cells);
    let range = y_range(cells);
    let floor = range.start;
    let mut chart = ChartBuilder::on(&root)
        .caption(format!("{title}, {procs} processes"), ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(80)
        // A segmented `0..n` has a segment for `n` too: end at the last case.
        .build_cartesian_2d(
            (0..names.len().saturating_sub(1)).into_segmented(),
            range.log_scale(),
        )?;
    let labels = names.clone();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_desc("case")
        .y_desc("operations per second (log scale, median)")
        .x_label_formatter(&move |v| match v {
            SegmentValue::CenterOf(i) => labels.get(*i).cloned().unwrap_or_default(),
            _ => String::new(),
        })
        .y_label_formatter(&|y| rate(*y))
        .draw()?;
    chart.draw_series(names.iter().enumerate().filter_map(|(i, name)| {
        let c = cells.iter().find(|c| &c.case == name)?;
        let color = color(i);
        let mut bar = Rectangle::new(
            [
                (SegmentValue::Exact(i), floor),
                (SegmentValue::Exact(i + 1), c.median),
            ],
            color.filled(),
        );
        bar.set_margin(0, 0, 12, 12);
        Some(bar)
    }))?;
    chart.draw_series(names.iter().enumerate().filter_map(|(i, name)| {
        let c = cells.iter().find(|c| &c.case == name)?;
        Some(Text::new(
            format!("{}/s", rate(c.median)),
            (SegmentValue::CenterOf(i), c.median * 1.15),
            ("sans-serif", 15),
        ))
    }))?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Family, Machine, Status};

    fn cell(workload: &str, case: &str, procs: usize, median: f64) -> Cell {
        let mut c = Cell::empty(
            workload,
            case,
            Family::Procshare,
            procs,
            2,
            true,
            Status::Measured,
        );
        c.throughput = vec![median * 0.9, median, median * 1.1];
        c.summarise();
        c
    }

    #[test]
    fn plots_have_labelled_axes_and_one_series_per_case() {
        let report = Report {
            machine: Machine {
                cpus: 2,
                cpu_model: "test".into(),
                kernel: "test".into(),
                python: None,
                load: Default::default(),
            },
            date: String::new(),
            command: String::new(),
            quick: true,
            repetitions: 3,
            seconds: 0.1,
            cells: vec![
                cell("counter", "bare_futex", 1, 5e7),
                cell("counter", "bare_futex", 2, 3e7),
                cell("counter", "cpython_value_get_lock", 1, 2e6),
                cell("counter", "cpython_value_get_lock", 2, 1e6),
                cell("queue1", "raw_pipe", 2, 2e6),
                cell("queue1", "cpython_queue", 2, 1e5),
            ],
            notes: Vec::new(),
            targets: Vec::new(),
        };
        let dir = std::env::temp_dir().join(format!("compare-plot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let files = write_all(&report, &dir).unwrap();
        assert_eq!(files.len(), 2);
        let counter = std::fs::read_to_string(dir.join("compare-counter.svg")).unwrap();
        assert!(counter.contains("processes (log scale"));
        assert!(counter.contains("operations per second"));
        assert!(counter.contains("bare_futex") && counter.contains("cpython_value_get_lock"));
        let queue = std::fs::read_to_string(dir.join("compare-queue1.svg")).unwrap();
        assert!(queue.contains("raw_pipe") && queue.contains("cpython_queue"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
