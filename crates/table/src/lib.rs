//! The one table renderer of procshare's reports: the harness's traces, catalog and
//! stress histograms, the linearizability checker's witnesses, the benchmarks' ratio
//! tables and `cargo xtask verify`'s summary all go through [`Table`], so every report
//! lines up the same way and a fix to the layout is made once.
//!
//! Two renderings of the same cells:
//!
//! * [`Table::render_markdown`]: a GitHub-flavoured Markdown table, padded so that it
//!   also reads as plain text, with `:` in the rule marking right-aligned columns and `|`
//!   inside a cell escaped;
//! * [`Table::render_plain`]: columns separated by ` | `, a `-+-` rule under the header,
//!   no outer border and no trailing spaces (for terminals and snapshots).
//!
//! ```
//! use procshare_table::{Align, Table};
//!
//! let mut table = Table::new(["case", "M/s"]).align(1, Align::Right);
//! table.row(["futex", "84.6"]).row(["spin", "152.5"]);
//! assert_eq!(
//!     table.render_markdown(),
//!     "| case  |   M/s |\n|-------|------:|\n| futex |  84.6 |\n| spin  | 152.5 |\n"
//! );
//! assert_eq!(
//!     table.render_plain(),
//!     "case  |   M/s\n------+------\nfutex |  84.6\nspin  | 152.5\n"
//! );
//! ```
//!
//! Widths are counted in `char`s, which is right for the ASCII, `µ` and `→` these
//! reports contain (not for wide East Asian characters or emoji). std only: `cargo xtask`
//! uses it and must build in seconds.

/// How the cells of a column are padded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Align {
    /// Text: padded on the right (the default).
    #[default]
    Left,
    /// Numbers: padded on the left.
    Right,
}

/// A table: a header row, a column alignment each, and rows of cells.
///
/// A row shorter than the header is filled with empty cells; a longer one adds columns
/// (with empty headers), so no cell is ever dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    headers: Vec<String>,
    aligns: Vec<Align>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headers, every column left-aligned, and no rows.
    pub fn new<I, S>(headers: I) -> Table
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let headers: Vec<String> = headers.into_iter().map(Into::into).collect();
        Table {
            aligns: vec![Align::Left; headers.len()],
            headers,
            rows: Vec::new(),
        }
    }

    /// Align column `column` (from 0) as `align`.
    pub fn align(mut self, column: usize, align: Align) -> Table {
        if self.aligns.len() <= column {
            self.aligns.resize(column + 1, Align::Left);
        }
        self.aligns[column] = align;
        self
    }

    /// Right-align every column but the first (a name column followed by numbers).
    pub fn numeric(mut self) -> Table {
        for a in self.aligns.iter_mut().skip(1) {
            *a = Align::Right;
        }
        self
    }

    /// Append a row of cells.
    pub fn row<I, S>(&mut self, cells: I) -> &mut Table
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.rows.push(cells.into_iter().map(Into::into).collect());
        self
    }

    /// The number of rows, not counting the header.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True if there are no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    fn columns(&self) -> usize {
        self.rows
            .iter()
            .map(Vec::len)
            .chain([self.headers.len()])
            .max()
            .unwrap_or(0)
    }

    /// Every row, the header first, as exactly `columns()` cells transformed by `cell`.
    fn grid(&self, cell: impl Fn(&str) -> String) -> Vec<Vec<String>> {
        let n = self.columns();
        std::iter::once(&self.headers)
            .chain(&self.rows)
            .map(|row| {
                (0..n)
                    .map(|c| row.get(c).map_or_else(String::new, |s| cell(s)))
                    .collect()
            })
            .collect()
    }

    fn align_of(&self, column: usize) -> Align {
        self.aligns.get(column).copied().unwrap_or_default()
    }

    fn widths(grid: &[Vec<String>], min: usize) -> Vec<usize> {
        let n = grid.first().map_or(0, Vec::len);
        (0..n)
            .map(|c| {
                grid.iter()
                    .map(|r| r[c].chars().count())
                    .max()
                    .unwrap_or(0)
                    .max(min)
            })
            .collect()
    }

    /// `cell` padded to `width` characters. By hand, not with `{:<width$}`: a format
    /// width above `u16::MAX` panics, and a cell (a long failure message) can be wider.
    fn pad(&self, out: &mut String, column: usize, cell: &str, width: usize) {
        let fill = width.saturating_sub(cell.chars().count());
        match self.align_of(column) {
            Align::Left => {
                out.push_str(cell);
                out.extend(std::iter::repeat_n(' ', fill));
            }
            Align::Right => {
                out.extend(std::iter::repeat_n(' ', fill));
                out.push_str(cell);
            }
        }
    }

    /// The table as GitHub-flavoured Markdown, one line per row, each ending in `\n`.
    /// Empty (no columns at all) renders as the empty string.
    pub fn render_markdown(&self) -> String {
        let grid = self.grid(|s| s.replace('|', "\\|").replace('\n', " "));
        // A rule cell needs at least three characters (`---`, `--:`).
        let widths = Self::widths(&grid, 3);
        let mut out = String::new();
        if widths.is_empty() {
            return out;
        }
        for (i, row) in grid.iter().enumerate() {
            out.push('|');
            for (c, (cell, &w)) in row.iter().zip(&widths).enumerate() {
                out.push(' ');
                self.pad(&mut out, c, cell, w);
                out.push_str(" |");
            }
            out.push('\n');
            if i == 0 {
                out.push('|');
                for (c, &w) in widths.iter().enumerate() {
                    match self.align_of(c) {
                        Align::Left => out.push_str(&"-".repeat(w + 2)),
                        Align::Right => {
                            out.push_str(&"-".repeat(w + 1));
                            out.push(':');
                        }
                    }
                    out.push('|');
                }
                out.push('\n');
            }
        }
        out
    }

    /// The table as plain text: cells separated by ` | `, a `-+-` rule under the header,
    /// trailing spaces trimmed; one line per row, each ending in `\n`.
    pub fn render_plain(&self) -> String {
        let grid = self.grid(|s| s.replace('\n', " "));
        let widths = Self::widths(&grid, 0);
        let mut out = String::new();
        if widths.is_empty() {
            return out;
        }
        for (i, row) in grid.iter().enumerate() {
            let mut line = String::new();
            for (c, (cell, &w)) in row.iter().zip(&widths).enumerate() {
                if c > 0 {
                    line.push_str(" | ");
                }
                self.pad(&mut line, c, cell, w);
            }
            out.push_str(line.trim_end());
            out.push('\n');
            if i == 0 {
                let rule: Vec<String> = widths.iter().map(|&w| "-".repeat(w)).collect();
                out.push_str(&rule.join("-+-"));
                out.push('\n');
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Table {
        let mut t = Table::new(["scenario", "cases", "status"]).align(1, Align::Right);
        t.row(["counter-2x2/futex", "256", "ok"]);
        t.row(["lost-update", "13", "found: ps1.AQI"]);
        t
    }

    #[test]
    fn markdown_pads_aligns_and_marks_the_rule() {
        assert_eq!(
            sample().render_markdown(),
            "\
| scenario          | cases | status         |
|-------------------|------:|----------------|
| counter-2x2/futex |   256 | ok             |
| lost-update       |    13 | found: ps1.AQI |
"
        );
    }

    #[test]
    fn plain_has_no_border_and_no_trailing_spaces() {
        assert_eq!(
            sample().render_plain(),
            "\
scenario          | cases | status
------------------+-------+---------------
counter-2x2/futex |   256 | ok
lost-update       |    13 | found: ps1.AQI
"
        );
    }

    #[test]
    fn short_rows_are_filled_and_long_rows_add_columns() {
        let mut t = Table::new(["a", "b"]);
        t.row(["1"]).row(["1", "2", "3"]);
        assert_eq!(t.len(), 2);
        // Only spaces are trimmed: the separators still show where the empty cells are.
        assert_eq!(t.render_plain(), "a | b |\n--+---+--\n1 |   |\n1 | 2 | 3\n");
        assert_eq!(
            t.render_markdown(),
            "| a   | b   |     |\n|-----|-----|-----|\n| 1   |     |     |\n| 1   | 2   | 3   |\n"
        );
    }

    #[test]
    fn markdown_escapes_pipes_and_newlines() {
        let mut t = Table::new(["cell"]);
        t.row(["a|b\nc"]);
        assert_eq!(t.render_markdown(), "| cell   |\n|--------|\n| a\\|b c |\n");
        // Plain text keeps the pipe (nothing parses it) but not the line break.
        assert_eq!(t.render_plain(), "cell\n-----\na|b c\n");
    }

    #[test]
    fn widths_count_characters_not_bytes() {
        let mut t = Table::new(["µs", "x"]).numeric();
        t.row(["→ 1", "2"]);
        assert_eq!(t.render_plain(), "µs  | x\n----+--\n→ 1 | 2\n");
    }

    #[test]
    fn numeric_right_aligns_all_but_the_first_column() {
        let mut t = Table::new(["name", "a", "b"]).numeric();
        t.row(["x", "1", "22"]);
        assert_eq!(
            t.render_plain(),
            "name | a |  b\n-----+---+---\nx    | 1 | 22\n"
        );
    }

    #[test]
    fn empty_tables() {
        assert_eq!(Table::default().render_markdown(), "");
        assert_eq!(Table::default().render_plain(), "");
        let t = Table::new(["time"]);
        assert!(t.is_empty());
        assert_eq!(t.render_plain(), "time\n----\n");
        assert_eq!(t.render_markdown(), "| time |\n|------|\n");
    }

    #[test]
    fn a_cell_wider_than_a_format_width_renders() {
        let wide = "x".repeat(70_000);
        let mut t = Table::new(["a", "b"]).align(1, Align::Right);
        t.row([wide.as_str(), "1"]);
        t.row(["y", wide.as_str()]);
        let md = t.render_markdown();
        assert!(md
            .lines()
            .all(|l| l.chars().count() == md.lines().next().unwrap().chars().count()));
        assert!(t.render_plain().contains(&wide));
    }
}
