//! Output as the files are measured, in bounded memory whatever the size of the tree: the summary
//! (`--summary`), JSON Lines and the table in the order found print each file as it comes; `--top N`
//! keeps the N best files in a heap; `--group-by` adds each file to its group as it comes (keeping
//! each group's N best with --top) and prints the groups at the end. Only sorted output of every
//! file, `--save`, `--watch` and Prometheus samples of every file (whose format groups each metric's
//! samples together) keep a record per file, through [`super::measure::collect`].
//!
//! The output goes where [`super::output`] sends it: with `--output-file`, rows stream into the
//! anonymous file that is linked in whole at the end, so memory stays bounded there too.
//!
//! The table in the order found measures its columns on the first [`TABLE_SAMPLE`] files, prints
//! them, and aligns later rows to the same widths (a wider value widens its column from then on).

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashSet};
use std::io::{self, Write};
use std::ops::ControlFlow;
use std::time::Duration;

use super::args::{Format, Plan, SortKey};
use super::group::{self, Grouper, Kept};
use super::measure::{FileStat, Outcome, Totals, stream};
use super::table::{self, Table};
use super::{Digest, Frame, bar, by_key, json, notes, output, problem, problem_record, prometheus};
use crate::cli::common::{JsonLines, Reporter};

/// Files the streamed table measures its columns on before printing.
pub const TABLE_SAMPLE: usize = 1000;

/// Whether the plan's output can be written as the files are measured.
pub fn streams(plan: &Plan) -> bool {
    let heap_or_order = plan.sort.is_none() || plan.top.is_some();
    plan.watch.is_none()
        && plan.save.is_none()
        && (!plan.rows
            || plan.group_by.is_some()
            || (heap_or_order && !(plan.format == Format::Prometheus && plan.top.is_none())))
}

/// A file ranked for --top: `Greater` is worse, ties go to the file met first.
struct Ranked {
    file: Box<FileStat>,
    seq: u64,
    key: SortKey,
}

impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> Ordering {
        by_key(self.key, &self.file, &other.file).then(self.seq.cmp(&other.seq))
    }
}

impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Ranked {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Ranked {}

/// The best N files met so far.
struct Best {
    key: SortKey,
    most: usize,
    seq: u64,
    heap: BinaryHeap<Ranked>,
}

impl Best {
    fn new(key: SortKey, most: usize) -> Self {
        Best {
            key,
            most,
            seq: 0,
            heap: BinaryHeap::with_capacity(most + 1),
        }
    }

    fn offer(&mut self, file: Box<FileStat>) {
        self.seq += 1;
        self.heap.push(Ranked {
            file,
            seq: self.seq,
            key: self.key,
        });
        if self.heap.len() > self.most {
            self.heap.pop();
        }
    }

    /// The files, best first.
    fn into_files(self) -> Vec<FileStat> {
        self.heap
            .into_sorted_vec()
            .into_iter()
            .map(|r| *r.file)
            .collect()
    }
}

/// Where the rows go.
enum Rows<'p> {
    /// No rows (--summary, -q).
    None,
    /// Added up per directory, written at the end (--group-by).
    Groups(Grouper<'p, 'static>),
    /// Kept in a heap, written at the end (--top N with a sort key).
    Best(Best),
    /// JSON records in the order found.
    Json,
    /// A table in the order found: `sample` until the columns are measured, then `table`.
    Table {
        sample: Vec<Outcome>,
        files: usize,
        table: Option<Table<'p>>,
    },
}

/// Measures and writes everything the plan names as it comes, to the destination the plan names;
/// returns the totals. A termination signal caught (under --output-file) stops the walk and leaves
/// the old file in place.
pub fn run(plan: &Plan, reporter: &Reporter) -> anyhow::Result<Totals> {
    let mut reported = HashSet::new();
    let mut frame = Frame {
        refresh: None,
        tty: false,
        interval: Duration::ZERO,
        reported: &mut reported,
    };
    let mut result = None;
    output::write(plan, false, |out| {
        let (totals, digest) = write(plan, reporter, out, &mut frame)?;
        if crate::sys::signals::caught().is_some() {
            return Err(io::Error::from(io::ErrorKind::Interrupted));
        }
        result = Some((totals, digest));
        Ok(())
    })?;
    let (totals, digest) = result.expect("written");
    for note in notes(&totals, &digest) {
        if frame.reported.insert(note.clone()) {
            reporter.warn(note);
        }
    }
    Ok(totals)
}

/// Measures and writes everything to `out`; returns the totals and what the notes are made of.
fn write(
    plan: &Plan,
    reporter: &Reporter,
    mut out: &mut dyn Write,
    frame: &mut Frame,
) -> io::Result<(Totals, Digest)> {
    let json = plan.format == Format::Json;
    let mut rows = match (plan.rows, plan.sort, plan.top) {
        _ if let Some(by) = plan.group_by => Rows::Groups(Grouper::new(plan, by)),
        (false, _, _) => Rows::None,
        (true, Some(key), Some(n)) => Rows::Best(Best::new(key, n)),
        (true, _, _) if json => Rows::Json,
        _ => Rows::Table {
            sample: Vec::new(),
            files: 0,
            table: None,
        },
    };
    let mut digest = Digest::default();
    let mut shown = 0usize;
    let most = plan.top.unwrap_or(usize::MAX);
    let mut failed: Option<io::Error> = None;
    let totals = stream(plan, |outcome| {
        digest.add(&outcome);
        if failed.is_some() || crate::sys::signals::caught().is_some() {
            return ControlFlow::Break(());
        }
        let result = (|| -> io::Result<()> {
            match &mut rows {
                Rows::Json => match &outcome {
                    Outcome::File(f) if shown < most => {
                        shown += 1;
                        JsonLines::new(&mut out).record(&json::file(plan, f, None))?;
                    }
                    Outcome::File(_) => {}
                    other => others(json, &mut out, reporter, other, frame)?,
                },
                Rows::Table {
                    sample,
                    files,
                    table,
                } => match table {
                    None => {
                        *files += usize::from(matches!(outcome, Outcome::File(_)));
                        sample.push(outcome);
                        if *files >= TABLE_SAMPLE {
                            let started = start_table(plan, reporter, sample, &mut out, frame)?;
                            shown = started.1;
                            *table = Some(started.0);
                        }
                    }
                    Some(table) => match &outcome {
                        Outcome::File(f) if shown < most => {
                            shown += 1;
                            writeln!(out, "{}", table.later_row(f))?;
                            for line in table::extra_lines(plan, f) {
                                writeln!(out, "{line}")?;
                            }
                        }
                        Outcome::File(_) => {}
                        other => {
                            out.flush()?;
                            problem(reporter, other, frame);
                        }
                    },
                },
                Rows::Best(best) => match outcome {
                    Outcome::File(f) => best.offer(f),
                    other => others(json, &mut out, reporter, &other, frame)?,
                },
                Rows::Groups(groups) => match outcome {
                    Outcome::File(f) => groups.add(Kept::Owned(f)),
                    other => others(json, &mut out, reporter, &other, frame)?,
                },
                Rows::None => others(json, &mut out, reporter, &outcome, frame)?,
            }
            Ok(())
        })();
        match result {
            Ok(()) => ControlFlow::Continue(()),
            // The output is closed or full: nothing more to measure for it.
            Err(e) => {
                failed = Some(e);
                ControlFlow::Break(())
            }
        }
    });
    if let Some(e) = failed {
        return Err(e);
    }
    let kept: Vec<FileStat> = match rows {
        Rows::Groups(groups) => {
            group::write(out, plan, &groups.finish(), &totals, None, frame)?;
            out.flush()?;
            return Ok((totals, digest));
        }
        Rows::Best(best) => best.into_files(),
        Rows::Table {
            mut sample,
            table: None,
            ..
        } => {
            start_table(plan, reporter, &mut sample, &mut out, frame)?;
            Vec::new()
        }
        _ => Vec::new(),
    };
    let kept: Vec<&FileStat> = kept.iter().collect();
    match plan.format {
        Format::Text => {
            if plan.rows && plan.sort.is_some() {
                let table = Table::new(plan, &kept, None);
                if !kept.is_empty() {
                    heading(plan, &table, out)?;
                }
                for (i, f) in kept.iter().enumerate() {
                    writeln!(out, "{}", table.row(i))?;
                    for line in table::extra_lines(plan, f) {
                        writeln!(out, "{line}")?;
                    }
                }
            }
            if plan.summary {
                writeln!(out, "{}", table::summary_line(plan, &totals, None))?;
            }
        }
        Format::Json => {
            let mut lines = JsonLines::new(&mut out);
            for f in &kept {
                lines.record(&json::file(plan, f, None))?;
            }
            lines.write("summary", json::summary(plan, &totals, None))?;
        }
        Format::Prometheus => {
            out.write_all(prometheus::render(&totals, &kept).as_bytes())?;
        }
    }
    out.flush()?;
    Ok((totals, digest))
}

/// An outcome that is not a row: its JSON record, if JSON is written, and its message.
fn others(
    json: bool,
    out: &mut impl Write,
    reporter: &Reporter,
    outcome: &Outcome,
    frame: &mut Frame,
) -> io::Result<()> {
    if matches!(outcome, Outcome::File(_)) {
        return Ok(());
    }
    if json {
        problem_record(&mut JsonLines::new(&mut *out), reporter, outcome, frame)
    } else {
        problem(reporter, outcome, frame);
        Ok(())
    }
}

/// The table's heading (under the map's legend), unless the plan asks for none.
fn heading(plan: &Plan, table: &Table<'_>, out: &mut (impl Write + ?Sized)) -> io::Result<()> {
    if plan.headings {
        if let Some(style) = plan.map {
            writeln!(out, "{}", bar::legend(style.ascii))?;
        }
        writeln!(out, "{}", table.heading())?;
    }
    Ok(())
}

/// Measures the columns on the sample, prints the heading (above the first row, if any) and the
/// sample's rows (and messages, in order), and returns the table that later rows are aligned to, with the number of rows printed.
fn start_table<'p>(
    plan: &'p Plan,
    reporter: &Reporter,
    sample: &mut Vec<Outcome>,
    out: &mut impl Write,
    frame: &mut Frame,
) -> io::Result<(Table<'p>, usize)> {
    let most = plan.top.unwrap_or(usize::MAX);
    let files: Vec<&FileStat> = sample
        .iter()
        .filter_map(|o| match o {
            Outcome::File(f) => Some(&**f),
            _ => None,
        })
        .take(most)
        .collect();
    let mut table = Table::new(plan, &files, None);
    let mut i = 0;
    for outcome in sample.iter() {
        match outcome {
            Outcome::File(f) if i < files.len() => {
                // The heading goes right above the first row: none when every path failed.
                if i == 0 {
                    heading(plan, &table, out)?;
                }
                writeln!(out, "{}", table.row(i))?;
                for line in table::extra_lines(plan, f) {
                    writeln!(out, "{line}")?;
                }
                i += 1;
            }
            Outcome::File(_) => {}
            other => {
                out.flush()?;
                problem(reporter, other, frame);
            }
        }
    }
    drop(files);
    table.forget_rows();
    sample.clear();
    Ok((table, i))
}
