//! Counting test results in libtest's output.
//!
//! Every test binary (unit tests, each integration test, the doctests of each crate) ends
//! with one line on stdout:
//!
//! ```text
//! test result: ok. 12 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.31s
//! test result: FAILED. 11 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.40s
//! ```
//!
//! A binary that dies before that line (a signal, an abort, a `process::exit` in the
//! harness) prints nothing of the kind; cargo then reports `error: test failed, to rerun
//! pass ...` on stderr (`error: doctest failed, ...` for doctests). Each such binary counts
//! as one failed test, so a crash can never look like a clean run.

/// Test counts summed over the binaries of one cargo run.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tally {
    /// Tests that passed.
    pub(crate) passed: u64,
    /// Tests that failed, plus one per binary that died without a result line.
    pub(crate) failed: u64,
    /// Tests marked ignored in their source (not run).
    pub(crate) ignored: u64,
    /// Binaries that died without a result line (included in `failed`).
    pub(crate) crashed: u64,
}

impl Tally {
    /// Count the results in one run's captured stdout and stderr.
    pub(crate) fn from_output(stdout: &str, stderr: &str) -> Tally {
        let mut tally = Tally::default();
        let mut failed_binaries = 0u64;
        for line in stdout.lines().map(strip_ansi) {
            // libtest's per-binary line, or the harness catalog's closing line
            // (`catalog: N passed, M failed`).
            let line = line.trim_start();
            let Some(rest) = line
                .strip_prefix("test result:")
                .or_else(|| line.strip_prefix("catalog:"))
            else {
                continue;
            };
            if rest.trim_start().starts_with("FAILED") {
                failed_binaries += 1;
            }
            for field in rest.split([';', ',']) {
                // "ok. 12 passed", " 0 failed", " 1 ignored", ...
                let mut words = field.split_whitespace().rev();
                let (Some(what), Some(n)) = (words.next(), words.next()) else {
                    continue;
                };
                let Ok(n) = n.parse::<u64>() else { continue };
                match what {
                    "passed" => tally.passed += n,
                    "failed" => tally.failed += n,
                    "ignored" => tally.ignored += n,
                    _ => {}
                }
            }
        }
        let reported_by_cargo = stderr
            .lines()
            .map(strip_ansi)
            .filter(|line| line.starts_with("error: ") && line.contains("failed, to rerun pass"))
            .count() as u64;
        tally.crashed = reported_by_cargo.saturating_sub(failed_binaries);
        tally.failed += tally.crashed;
        tally
    }

    /// Add another run's counts to this one.
    pub(crate) fn add(&mut self, other: Tally) {
        self.passed += other.passed;
        self.failed += other.failed;
        self.ignored += other.ignored;
        self.crashed += other.crashed;
    }

    /// A short description for the summary table: `312 tests`, `14 loom models, 1 failed`.
    pub(crate) fn describe(&self, unit: &str) -> String {
        let mut text = format!("{} {unit}", self.passed);
        if self.failed > 0 {
            text += &format!(", {} failed", self.failed);
        }
        if self.crashed > 0 {
            let s = if self.crashed == 1 { "y" } else { "ies" };
            text += &format!(" ({} binar{s} died without a result)", self.crashed);
        }
        if self.ignored > 0 {
            text += &format!(", {} ignored", self.ignored);
        }
        text
    }
}

/// `line` without ANSI colour sequences (`ESC [ ... letter`).
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.next() == Some('[') {
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSING: &str = "\
running 2 tests
test a ... ok
test b ... ignored

test result: ok. 1 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.00s

running 3 tests
test src/lib.rs - (line 7) ... ok

test result: ok. 3 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.52s
";

    #[test]
    fn sums_over_binaries() {
        let tally = Tally::from_output(PASSING, "     Running unittests src/lib.rs\n");
        assert_eq!(
            tally,
            Tally {
                passed: 4,
                failed: 0,
                ignored: 1,
                crashed: 0
            }
        );
        assert_eq!(tally.describe("tests"), "4 tests, 1 ignored");
    }

    #[test]
    fn counts_failures_once() {
        let stdout = "test result: FAILED. 11 passed; 2 failed; 0 ignored; 0 measured; \
                      0 filtered out; finished in 0.07s\n";
        let stderr = "error: test failed, to rerun pass `--test fail`\n";
        let tally = Tally::from_output(stdout, stderr);
        assert_eq!((tally.passed, tally.failed, tally.crashed), (11, 2, 0));
        assert_eq!(tally.describe("tests"), "11 tests, 2 failed");
    }

    #[test]
    fn a_binary_that_dies_counts_as_a_failure() {
        let stdout = "running 1 test\n";
        let stderr = "\
     Running tests/crash.rs (target/debug/deps/crash-88df463c50880bed)
error: test failed, to rerun pass `--test crash`

Caused by:
  process didn't exit successfully: `crash-88df463c50880bed` (signal: 6, SIGABRT)
";
        let tally = Tally::from_output(stdout, stderr);
        assert_eq!((tally.passed, tally.failed, tally.crashed), (0, 1, 1));
        assert_eq!(
            tally.describe("tests"),
            "0 tests, 1 failed (1 binary died without a result)"
        );
    }

    #[test]
    fn doctest_failures_and_colours_are_understood() {
        let stdout = "test result: \u{1b}[31mFAILED\u{1b}[0m. 0 passed; 1 failed; 0 ignored\n";
        let stderr = "\u{1b}[1m\u{1b}[31merror\u{1b}[0m: doctest failed, to rerun pass `--doc`\n";
        let tally = Tally::from_output(stdout, stderr);
        assert_eq!((tally.passed, tally.failed, tally.crashed), (0, 1, 0));
    }

    #[test]
    fn counts_the_harness_catalog_line() {
        let tally = Tally::from_output("catalog: 130 passed, 2 failed\n", "");
        assert_eq!((tally.passed, tally.failed), (130, 2));
    }

    #[test]
    fn ignores_lines_that_merely_mention_results() {
        let stdout = "println: the test result: ok. 99 passed was printed by a test\n";
        assert_eq!(Tally::from_output(stdout, ""), Tally::default());
    }
}
