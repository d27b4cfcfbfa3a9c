//! The text report: the table of files (columns chosen with -o), the lines under a row (a residency map,
//! resident ranges), and the summary line.

use super::args::{Column, Plan};
use super::bar;
use super::measure::{FileStat, Totals, row_name};
use super::watch::Previous;
use crate::residency::FsKind;
use crate::size::human;

/// Formats bytes as the plan asks: human-readable, or exact with --bytes.
pub fn size_text(plan: &Plan, bytes: u64) -> String {
    if plan.bytes {
        bytes.to_string()
    } else {
        human(bytes)
    }
}

/// The largest binary unit (1, K, M, G, T) that every offset is a whole multiple of, as (scale, suffix).
fn common_unit(offsets: impl Iterator<Item = u64>) -> (u64, &'static str) {
    let units = [
        (1u64 << 40, "T"),
        (1 << 30, "G"),
        (1 << 20, "M"),
        (1 << 10, "K"),
    ];
    let mut any = 0u64;
    for offset in offsets {
        any |= offset;
    }
    units
        .into_iter()
        .find(|(scale, _)| any.is_multiple_of(*scale))
        .unwrap_or((1, ""))
}

/// Byte ranges as text, exact: `0-24M resident, 24M-64M missing`, every offset in the one unit that
/// all of them are whole multiples of (except the end of the file, in bytes when it is not); exact
/// bytes with --bytes.
pub fn runs_text(plan: &Plan, runs: &[crate::residency::Run]) -> String {
    let Some(last) = runs.last() else {
        return String::new();
    };
    let (scale, suffix) = if plan.bytes {
        (1, "")
    } else {
        common_unit(
            runs.iter()
                .flat_map(|r| [r.range.start(), r.range.end()])
                .filter(|&o| o != last.range.end()),
        )
    };
    let text = |o: u64| {
        if o == 0 {
            "0".to_string()
        } else if o.is_multiple_of(scale) {
            format!("{}{suffix}", o / scale)
        } else {
            o.to_string()
        }
    };
    runs.iter()
        .map(|r| {
            format!(
                "{}-{} {}",
                text(r.range.start()),
                text(r.range.end()),
                if r.resident { "resident" } else { "missing" }
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A change of bytes, signed: `+1.5M`, `-4.0K`, `0`.
pub(super) fn signed_size(plan: &Plan, change: i64) -> String {
    let text = size_text(plan, change.unsigned_abs());
    match change {
        0 => text,
        c if c > 0 => format!("+{text}"),
        _ => format!("-{text}"),
    }
}

pub(super) fn signed(change: i64) -> String {
    if change > 0 {
        format!("+{change}")
    } else {
        change.to_string()
    }
}

pub use crate::cli::common::percent_text;

fn or_dash(value: Option<u64>) -> String {
    value.map_or_else(|| "-".into(), |v| v.to_string())
}

/// The text of one column for one file.
pub(super) fn value(
    plan: &Plan,
    column: Column,
    f: &FileStat,
    previous: Option<&Previous>,
) -> String {
    let detail = f.residency.detail;
    match column {
        Column::Res => f
            .resident_bytes
            .map_or_else(|| "-".into(), |b| size_text(plan, b)),
        Column::Pages => format!("{}/{}", or_dash(f.resident()), f.residency.pages),
        Column::Size => size_text(plan, f.len()),
        Column::Pct => percent_text(f.percent()),
        Column::Dirty => or_dash(detail.map(|d| d.dirty)),
        Column::Writeback => or_dash(detail.map(|d| d.writeback)),
        Column::Evicted => or_dash(detail.map(|d| d.evicted)),
        Column::RecentlyEvicted => or_dash(detail.map(|d| d.recently_evicted)),
        Column::Delta => previous
            .and_then(|p| p.change(f).resident_bytes)
            .map_or_else(|| "-".into(), |c| signed_size(plan, c)),
        Column::RecentlyEvictedDelta => previous
            .and_then(|p| p.change(f).recently_evicted)
            .map_or_else(|| "-".into(), signed),
        Column::File => match f.residency.fs {
            FsKind::Tmpfs => format!("{} [tmpfs]", row_name(f)),
            FsKind::Hugetlbfs => format!("{} [hugetlbfs]", row_name(f)),
            FsKind::Storage => row_name(f),
        },
    }
}

/// A table of files with aligned columns: numbers to the right, the file name to the left.
pub struct Table<'a> {
    plan: &'a Plan,
    cells: Vec<Vec<String>>,
    widths: Vec<usize>,
}

impl<'a> Table<'a> {
    /// Formats `rows` and measures the columns.
    pub fn new(plan: &'a Plan, rows: &[&FileStat], previous: Option<&Previous>) -> Self {
        let widths: Vec<usize> = plan.columns.iter().map(|c| c.heading().len()).collect();
        let mut table = Table {
            plan,
            cells: Vec::with_capacity(rows.len()),
            widths,
        };
        for f in rows {
            let line = table.cells_of(f, previous);
            table.cells.push(line);
        }
        table
    }

    /// The texts of a file's columns, with the columns widened to fit them.
    fn cells_of(&mut self, f: &FileStat, previous: Option<&Previous>) -> Vec<String> {
        let line: Vec<String> = self
            .plan
            .columns
            .iter()
            .map(|&c| value(self.plan, c, f, previous))
            .collect();
        for (w, text) in self.widths.iter_mut().zip(&line) {
            *w = (*w).max(text.chars().count());
        }
        line
    }

    /// The line of a file met after the table was made (a streamed table): aligned with the rows
    /// before it, widening a column that it overflows from then on.
    pub fn later_row(&mut self, f: &FileStat) -> String {
        let line = self.cells_of(f, None);
        self.line(line.iter().map(String::as_str))
    }

    /// Drops the formatted rows, once printed: the widths stay.
    pub fn forget_rows(&mut self) {
        self.cells = Vec::new();
    }

    fn line<'s>(&self, texts: impl Iterator<Item = &'s str>) -> String {
        let last = self.plan.columns.len().saturating_sub(1);
        let mut line = String::new();
        for (i, (text, column)) in texts.zip(&self.plan.columns).enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            let pad = self.widths[i].saturating_sub(text.chars().count());
            if *column == Column::File {
                line.push_str(text);
                if i != last {
                    line.extend(std::iter::repeat_n(' ', pad));
                }
            } else {
                line.extend(std::iter::repeat_n(' ', pad));
                line.push_str(text);
            }
        }
        line
    }

    /// The heading line.
    pub fn heading(&self) -> String {
        self.line(self.plan.columns.iter().map(|c| c.heading()))
    }

    /// The i-th row's line.
    pub fn row(&self, i: usize) -> String {
        self.line(self.cells[i].iter().map(String::as_str))
    }
}

/// The lines drawn under a file's row: its map (-v) and its ranges (--ranges).
pub fn extra_lines(plan: &Plan, f: &FileStat) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(style) = plan.map {
        lines.push(match &f.cells {
            Some(cells) => bar::draw(cells, style.ascii),
            None => "  (residency unknown)".into(),
        });
    }
    if plan.ranges {
        lines.push(match &f.runs {
            Some(runs) if runs.is_empty() => "  (empty)".into(),
            Some(runs) => format!("  {}", runs_text(plan, runs)),
            None => "  (residency unknown)".into(),
        });
    }
    lines
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A duration as `4.2 ms` or `1.25 s`.
pub fn elapsed_text(d: std::time::Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 1.0 {
        format!("{:.1} ms", secs * 1000.0)
    } else {
        format!("{secs:.2} s")
    }
}

/// The summary line: `3 files, 1 directory: 1.2M of 3.1M resident (300 of 784 pages, 38.3%) in 4.2 ms`,
/// then what else happened.
pub fn summary_line(plan: &Plan, t: &Totals, previous: Option<&Previous>) -> String {
    let known = t.pages - t.unknown_pages;
    let mut line = format!(
        "{}, {}: {} of {} resident ({} of {} pages, {}) in {}",
        plural(t.files, "file", "files"),
        plural(t.dirs, "directory", "directories"),
        size_text(plan, t.resident_bytes),
        size_text(plan, t.size - t.unknown_size),
        t.resident_pages,
        known,
        percent_text(t.percent()),
        elapsed_text(t.elapsed),
    );
    if let Some(change) = previous.map(|p| p.total_change(t)) {
        line.push_str(&format!(
            "; {} resident, {} recently evicted pages since the last refresh",
            signed_size(plan, change.resident_bytes.unwrap_or(0)),
            change.recently_evicted.map_or_else(|| "-".into(), signed),
        ));
    }
    let mut extras = Vec::new();
    if t.unknown_files > 0 {
        extras.push(format!(
            "{} of unknown residency ({}, {}, not counted)",
            plural(t.unknown_files, "file", "files"),
            size_text(plan, t.unknown_size),
            plural(t.unknown_pages, "page", "pages")
        ));
    }
    if t.links > 0 {
        extras.push(format!(
            "{} to files already counted",
            plural(t.links, "more path", "more paths")
        ));
    }
    if t.skipped > 0 {
        extras.push(format!("{} skipped", t.skipped));
    }
    if t.gone > 0 {
        extras.push(format!(
            "{} of exited processes",
            plural(t.gone, "file", "files")
        ));
    }
    if t.errors > 0 {
        extras.push(plural(t.errors, "error", "errors"));
    }
    for extra in extras {
        line.push_str("; ");
        line.push_str(&extra);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_never_round_to_the_ends() {
        assert_eq!(percent_text(None), "-");
        assert_eq!(percent_text(Some(0.0)), "0.0%");
        assert_eq!(percent_text(Some(0.001)), "<0.1%");
        assert_eq!(percent_text(Some(37.54)), "37.5%");
        assert_eq!(percent_text(Some(99.99)), ">99.9%");
        assert_eq!(percent_text(Some(100.0)), "100.0%");
    }

    #[test]
    fn one_unit_per_list() {
        assert_eq!(
            common_unit([0, 3 << 20, 10 << 20].into_iter()),
            (1 << 20, "M")
        );
        assert_eq!(common_unit([4096, 3 << 20].into_iter()), (1 << 10, "K"));
        assert_eq!(common_unit([100, 4096].into_iter()), (1, ""));
        assert_eq!(common_unit([0].into_iter()), (1 << 40, "T"));
    }

    #[test]
    fn durations() {
        assert_eq!(
            elapsed_text(std::time::Duration::from_micros(4200)),
            "4.2 ms"
        );
        assert_eq!(
            elapsed_text(std::time::Duration::from_millis(1250)),
            "1.25 s"
        );
    }
}
