//! Running CPython's side: `python/compare.py` under `python3`, one invocation per
//! repetition with every CPython cell of the run, its JSON read back.

use serde::Deserialize;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// The script, in this package.
pub fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("python")
        .join("compare.py")
}

/// `python3 --version` (e.g. `Python 3.11.7`), or `None` if python3 does not run.
pub fn version() -> Option<String> {
    let out = Command::new("python3")
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    Some(if text.is_empty() {
        String::from_utf8_lossy(&out.stderr).trim().to_string()
    } else {
        text
    })
}

/// One cell's sample as the script reports it.
#[derive(Debug, Deserialize)]
pub struct PySample {
    /// Workload key.
    pub workload: String,
    /// Case name.
    pub case: String,
    /// Processes.
    pub procs: usize,
    /// Counted processes' operation counts.
    #[serde(default)]
    pub per_process: Vec<u64>,
    /// Seconds from the first start to the last end.
    #[serde(default)]
    pub span: f64,
    /// Lost updates or messages.
    #[serde(default)]
    pub lost: Option<i64>,
    /// Latencies in nanoseconds.
    #[serde(default)]
    pub latencies_ns: Vec<u64>,
    /// Set when the cell failed.
    #[serde(default)]
    pub error: Option<String>,
}

/// The script's whole output.
#[derive(Debug, Deserialize)]
pub struct PyOutput {
    /// `platform.python_version()`.
    pub python: String,
    /// One per requested cell, in order.
    pub samples: Vec<PySample>,
}

/// Run the script for `cells` (`(workload, case, procs)`), `seconds` each.
pub fn run(cells: &[(String, String, usize)], seconds: f64) -> Result<PyOutput, String> {
    let list: Vec<String> = cells
        .iter()
        .map(|(w, c, p)| format!("{w}:{c}:{p}"))
        .collect();
    let out = Command::new("python3")
        .arg(script())
        .arg("--seconds")
        .arg(seconds.to_string())
        .arg("--cells")
        .arg(list.join(","))
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("python3: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "python3 compare.py failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    parse(&String::from_utf8_lossy(&out.stdout))
}

/// Parse the script's output.
pub fn parse(text: &str) -> Result<PyOutput, String> {
    serde_json::from_str(text.trim()).map_err(|e| format!("compare.py output: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_with_a_failed_cell_parses() {
        let out = parse(
            r#"{"python": "3.11.7", "samples": [
                {"workload": "counter", "case": "cpython_value_get_lock", "procs": 2,
                 "per_process": [3, 4], "span": 0.5, "lost": 0, "latencies_ns": []},
                {"workload": "queue1", "case": "cpython_queue", "procs": 2,
                 "error": "RuntimeError('x')"}]}"#,
        )
        .unwrap();
        assert_eq!(out.samples.len(), 2);
        assert_eq!(out.samples[0].per_process, [3, 4]);
        assert_eq!(out.samples[1].error.as_deref(), Some("RuntimeError('x')"));
        assert!(parse("not json").is_err());
    }

    /// The script knows every CPython case the registry names (and nothing else is
    /// registered as CPython): `compare.py --list` against `cases()`.
    #[test]
    fn the_script_has_every_registered_cpython_case() {
        if version().is_none() {
            eprintln!("python3 absent: skipping the script check");
            return;
        }
        let out = Command::new("python3")
            .arg(script())
            .args(["--seconds", "0", "--list"])
            .output()
            .unwrap();
        assert!(out.status.success());
        let listed = String::from_utf8(out.stdout).unwrap();
        let listed: Vec<&str> = listed.lines().collect();
        for case in crate::cases::cases() {
            if matches!(case.source, crate::cases::Source::Python) {
                let line = format!("{} {}", case.workload, case.name);
                assert!(listed.contains(&line.as_str()), "compare.py lacks {line}");
            }
        }
    }

    /// A real run of the script's cheapest cell: two processes, counts and no loss.
    #[test]
    fn the_script_measures_a_counter() {
        if version().is_none() {
            eprintln!("python3 absent: skipping the script run");
            return;
        }
        let out = run(
            &[("counter".into(), "cpython_value_get_lock".into(), 2)],
            0.05,
        )
        .unwrap();
        let s = &out.samples[0];
        assert_eq!(s.error, None);
        assert_eq!(s.per_process.len(), 2);
        assert!(s.per_process.iter().all(|&n| n > 0));
        assert_eq!(s.lost, Some(0));
    }
}
