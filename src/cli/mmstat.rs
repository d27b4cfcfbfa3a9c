//! mmstat's command line: page-cache residency of files, trees and processes. `args` turns the command
//! line into a plan, `measure` hands it to the core (`residency::scan`), and the report goes out as a table
//! (`table`, with maps from `bar`), JSON Lines (`json`) or Prometheus text (`prometheus`), once or
//! again and again (`watch`), with an optional snapshot (`save`) and exit status threshold (--check).

mod args;
mod bar;
mod group;
mod json;
mod man;
mod measure;
mod output;
mod prometheus;
mod save;
mod stream;
mod system;
mod table;
mod watch;

use std::collections::{BTreeMap, HashSet};
use std::io::{self, Write};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use clap::CommandFactory;

pub use args::Args;
pub use man::MAN_SECTIONS;

use args::{Format, Plan, SortKey};
use measure::{FileStat, Outcome, Report, Shown, Totals};
use table::Table;
use watch::Previous;

use crate::cli::common::{EXIT_USAGE, JsonLines, Reporter, insert_name, parse_args, usage_error};

const TOOL: &str = "mmstat";

/// The clap command, for man pages and completions.
pub fn command() -> clap::Command {
    Args::command()
}

/// How one report is shown: once, or as a refresh of --watch.
pub(crate) struct Frame<'a> {
    /// The refresh number under --watch.
    refresh: Option<u64>,
    /// Whether stdout is a terminal (refreshes redraw the screen).
    tty: bool,
    /// The --watch interval.
    interval: Duration,
    /// Problems and notes already reported (each is reported once per run).
    reported: &'a mut HashSet<String>,
}

/// The order of two files under a sort key (`Less` when `a` comes first): largest first, names in
/// byte order; every file ties under `none`, the order found.
pub(crate) fn by_key(key: SortKey, a: &FileStat, b: &FileStat) -> std::cmp::Ordering {
    let pct = |f: &FileStat| f.percent().unwrap_or(-1.0);
    let dirty = |f: &FileStat| f.residency.detail.map(|d| d.dirty);
    match key {
        SortKey::Res => b.resident_bytes.cmp(&a.resident_bytes),
        SortKey::Size => b.len().cmp(&a.len()),
        SortKey::Pct => pct(b).total_cmp(&pct(a)),
        SortKey::Dirty => dirty(b).cmp(&dirty(a)),
        SortKey::Name => a.path.cmp(&b.path),
        SortKey::None => std::cmp::Ordering::Equal,
    }
}

/// The files to show as rows, sorted and cut to --top as asked; ties keep the input order.
fn ordered<'r>(plan: &Plan, report: &'r Report) -> Vec<&'r FileStat> {
    let mut files: Vec<&FileStat> = report.files().collect();
    if let Some(key) = plan.sort {
        files.sort_by(|a, b| by_key(key, a, b));
    }
    if let Some(n) = plan.top {
        files.truncate(n);
    }
    files
}

/// The message for a failure, as printed after `mmstat: ` (and in the JSON record's `error`).
fn error_text(outcome: &Outcome) -> Option<String> {
    match outcome {
        Outcome::Failed(e) => Some(crate::cli::messages::message(e)),
        Outcome::Error { path, message } => Some(
            path.as_ref()
                .map_or_else(|| message.clone(), |p| format!("{}: {message}", p.shown())),
        ),
        _ => None,
    }
}

/// Reports an error or a skipped path on stderr (each once under --watch).
pub(crate) fn problem(reporter: &Reporter, outcome: &Outcome, frame: &mut Frame) {
    let (text, is_error) = match outcome {
        Outcome::Skipped { path, why } => (
            format!("{}: skipped: {why}", crate::cli::quote::name(path)),
            false,
        ),
        _ => match error_text(outcome) {
            Some(text) => (text, true),
            None => return,
        },
    };
    if frame.refresh.is_some() && !frame.reported.insert(text.clone()) {
        return;
    }
    if is_error {
        reporter.error(text);
    } else {
        reporter.warn(text);
    }
}

/// What the notes need of the outcomes, gathered as they pass: files of processes that vanished, and
/// whether cachestat was refused for a file the caller may write.
#[derive(Debug, Default)]
pub(crate) struct Digest {
    gone: BTreeMap<(u32, bool), u64>,
    blocked: bool,
}

impl Digest {
    /// Takes in one outcome.
    pub(crate) fn add(&mut self, outcome: &Outcome) {
        match outcome {
            Outcome::Gone { pid, exited } => *self.gone.entry((*pid, *exited)).or_default() += 1,
            Outcome::Failed(e)
                if e.reason_text()
                    .contains("cachestat: Operation not permitted") =>
            {
                self.blocked = true
            }
            _ => {}
        }
    }

    /// The digest of a whole report.
    pub(crate) fn of(report: &Report) -> Digest {
        let mut digest = Digest::default();
        for outcome in &report.outcomes {
            digest.add(outcome);
        }
        digest
    }
}

/// The notes a run calls for: why residency is unknown, why mincore stood in for cachestat, which
/// processes exited.
pub(crate) fn notes(t: &Totals, digest: &Digest) -> Vec<String> {
    let mut notes = Vec::new();
    let files = |n: u64| {
        if n == 1 {
            "1 file".to_string()
        } else {
            format!("{n} files")
        }
    };
    if t.not_writable > 0 {
        notes.push(format!(
            "the residency of {} is unknown (shown as -): the kernel does not tell the page-cache \
residency of files you may not write (mincore would claim every page resident); run as the owner or root",
            files(t.not_writable)
        ));
    }
    if t.hugetlbfs > 0 {
        notes.push(format!(
            "the residency of {} on hugetlbfs is unknown: neither cachestat nor mincore supports hugetlbfs",
            files(t.hugetlbfs)
        ));
    }
    match t.refused {
        Some(libc::EPERM) => notes.push(
            "cachestat(2) was refused (Operation not permitted) for files you may write, so a seccomp \
filter blocks it: mincore(2) was used instead, without dirty, writeback and evicted counts"
                .into(),
        ),
        Some(libc::ENOSYS) => notes.push(
            "cachestat(2) is not available (it needs Linux 6.5 or later): mincore(2) was used \
instead, without dirty, writeback and evicted counts"
                .into(),
        ),
        Some(errno) => notes.push(format!(
            "cachestat(2) failed ({}): mincore(2) was used instead",
            crate::error::describe(&io::Error::from_raw_os_error(errno))
        )),
        None => {}
    }
    if digest.blocked {
        notes.push(
            "cachestat(2) was refused for files you may write, so a seccomp filter blocks it: \
--method auto or --method mincore measure them with mincore(2)"
                .into(),
        );
    }
    for (&(pid, exited), &n) in &digest.gone {
        notes.push(if exited {
            format!(
                "process {pid} exited during the scan: {} of its files were not measured",
                files(n)
            )
        } else {
            format!(
                "process {pid} closed, unmapped or deleted {} during the scan: not measured",
                files(n)
            )
        });
    }
    notes
}

/// Writes one report in the plan's format (per file, or per directory with --group-by) to where the
/// plan sends it ([`output::write`]), with its problems and notes on stderr.
pub(crate) fn emit(
    plan: &Plan,
    reporter: &Reporter,
    report: &Report,
    previous: Option<&Previous>,
    frame: &mut Frame,
) -> anyhow::Result<()> {
    let in_place = plan.format == Format::Text && frame.tty && frame.refresh.is_some();
    let groups = plan.group_by.map(|by| group::Groups::of(plan, by, report));
    output::write(plan, in_place, |out| {
        if let Some(groups) = &groups {
            return group::emit(out, plan, reporter, report, groups, previous, frame);
        }
        match plan.format {
            Format::Text => text(out, plan, reporter, report, previous, frame),
            Format::Json => {
                let mut out = JsonLines::new(out);
                records(&mut out, plan, reporter, report, previous, frame)?;
                out.flush()
            }
            Format::Prometheus => {
                for outcome in &report.outcomes {
                    problem(reporter, outcome, frame);
                }
                let files = if plan.rows {
                    ordered(plan, report)
                } else {
                    Vec::new()
                };
                out.write_all(prometheus::render(&report.totals, &files).as_bytes())
            }
        }
    })?;
    for note in notes(&report.totals, &Digest::of(report)) {
        if frame.reported.insert(note.clone()) {
            reporter.warn(note);
        }
    }
    Ok(())
}

fn text(
    out: &mut dyn Write,
    plan: &Plan,
    reporter: &Reporter,
    report: &Report,
    previous: Option<&Previous>,
    frame: &mut Frame,
) -> io::Result<()> {
    let rows = if plan.rows {
        ordered(plan, report)
    } else {
        Vec::new()
    };
    let table = Table::new(plan, &rows, previous);
    let in_place = frame.tty && frame.refresh.is_some();
    refresh_heading(out, plan, frame)?;
    let extra = usize::from(plan.map.is_some()) + usize::from(plan.ranges);
    let limit = match (in_place, plan.tty_rows) {
        (true, Some(height)) => (height.saturating_sub(5) / (1 + extra)).max(1),
        _ => usize::MAX,
    };
    let write_row = |out: &mut dyn Write, i: usize| -> io::Result<()> {
        if i < limit {
            writeln!(out, "{}", table.row(i))?;
            for line in table::extra_lines(plan, rows[i]) {
                writeln!(out, "{line}")?;
            }
        }
        Ok(())
    };
    if plan.rows {
        // No heading over no row (every path failed), except in a refreshed screen, which keeps its shape.
        if plan.headings && (!rows.is_empty() || in_place) {
            if let Some(style) = plan.map {
                writeln!(out, "{}", bar::legend(style.ascii))?;
            }
            writeln!(out, "{}", table.heading())?;
        }
        let interleave = plan.sort.is_none() && !in_place;
        let mut i = 0;
        for outcome in &report.outcomes {
            match outcome {
                Outcome::File(_) if plan.sort.is_none() => {
                    write_row(out, i)?;
                    i += 1;
                }
                Outcome::File(_) => {}
                other => {
                    if interleave {
                        out.flush()?;
                    }
                    problem(reporter, other, frame);
                }
            }
        }
        if plan.sort.is_some() {
            for i in 0..rows.len() {
                write_row(out, i)?;
            }
        }
        if rows.len() > limit {
            writeln!(
                out,
                "... {} more files (see them all with --top N, or off the terminal)",
                rows.len() - limit
            )?;
        }
    } else {
        for outcome in &report.outcomes {
            problem(reporter, outcome, frame);
        }
    }
    summary_text(out, plan, &report.totals, previous, frame)
}

/// The line above a refresh of the table under --watch: what, when, and how to stop on a terminal.
fn refresh_heading(out: &mut dyn Write, plan: &Plan, frame: &Frame) -> io::Result<()> {
    let Some(n) = frame.refresh else {
        return Ok(());
    };
    let now = watch::timestamp(SystemTime::now());
    if frame.tty {
        writeln!(
            out,
            "Every {}s: mmstat, refresh {n}, {now} (Ctrl-C to stop)",
            frame.interval.as_secs_f64()
        )
    } else if plan.rows {
        writeln!(out, "# refresh {n} at {now}")
    } else {
        Ok(())
    }
}

/// The summary line of the table (stamped with the time under --watch when it stands alone).
fn summary_text(
    out: &mut dyn Write,
    plan: &Plan,
    totals: &Totals,
    previous: Option<&Previous>,
    frame: &Frame,
) -> io::Result<()> {
    if !plan.summary {
        return Ok(());
    }
    let line = table::summary_line(plan, totals, previous);
    if frame.refresh.is_some() && !frame.tty && !plan.rows {
        let now = watch::timestamp(SystemTime::now());
        writeln!(out, "{now}  {line}")
    } else {
        writeln!(out, "{line}")
    }
}

fn records<W: Write>(
    out: &mut JsonLines<W>,
    plan: &Plan,
    reporter: &Reporter,
    report: &Report,
    previous: Option<&Previous>,
    frame: &mut Frame,
) -> io::Result<()> {
    let mut other = |out: &mut JsonLines<W>, outcome: &Outcome| -> io::Result<()> {
        problem_record(out, reporter, outcome, frame)
    };
    if plan.rows && plan.sort.is_none() {
        for outcome in &report.outcomes {
            match outcome {
                Outcome::File(f) => out.record(&json::file(plan, f, previous))?,
                o => other(out, o)?,
            }
        }
    } else {
        for outcome in &report.outcomes {
            if !matches!(outcome, Outcome::File(_)) {
                other(out, outcome)?;
            }
        }
        if plan.rows {
            for f in ordered(plan, report) {
                out.record(&json::file(plan, f, previous))?;
            }
        }
    }
    summary_record(out, plan, &report.totals, previous, frame)
}

/// Writes the "error" or "skipped" record of an outcome that is not a file, and reports it on stderr.
pub(crate) fn problem_record<W: Write>(
    out: &mut JsonLines<W>,
    reporter: &Reporter,
    outcome: &Outcome,
    frame: &mut Frame,
) -> io::Result<()> {
    match outcome {
        Outcome::Failed(_) | Outcome::Error { .. } => {
            let mut record = serde_json::Map::new();
            record.insert("type".into(), "error".into());
            match outcome {
                Outcome::Failed(e) => insert_name(&mut record, "path", e.path().as_os_str()),
                Outcome::Error {
                    path: Some(subject),
                    ..
                } => subject.insert_json(&mut record),
                _ => {
                    record.insert("path".into(), serde_json::Value::Null);
                }
            }
            record.insert(
                "error".into(),
                error_text(outcome).unwrap_or_default().into(),
            );
            out.record(&record)?
        }
        Outcome::Skipped { path, why } => {
            let mut record = serde_json::Map::new();
            record.insert("type".into(), "skipped".into());
            insert_name(&mut record, "path", path.as_os_str());
            record.insert("reason".into(), why.as_str().into());
            out.record(&record)?
        }
        _ => {}
    }
    out.flush()?;
    problem(reporter, outcome, frame);
    Ok(())
}

/// Writes the "summary" record (with the refresh number and time under --watch).
pub(crate) fn summary_record<W: Write>(
    out: &mut JsonLines<W>,
    plan: &Plan,
    totals: &Totals,
    previous: Option<&Previous>,
    frame: &Frame,
) -> io::Result<()> {
    let mut summary = json::summary(plan, totals, previous);
    if let Some(n) = frame.refresh {
        summary.insert("refresh".into(), n.into());
        summary.insert(
            "timestamp".into(),
            watch::timestamp(SystemTime::now()).into(),
        );
    }
    out.write("summary", summary)
}

/// Whether the totals meet a --check threshold. With no known page, it passes only when there is no
/// page at all.
pub(crate) fn check_passes(t: &Totals, threshold: f64) -> bool {
    match t.percent() {
        Some(p) => p >= threshold,
        None => t.unknown_pages == 0,
    }
}

/// Reports a failed --check (which makes the exit status 1).
pub(crate) fn check(reporter: &Reporter, t: &Totals, threshold: f64) {
    if check_passes(t, threshold) {
        return;
    }
    match t.percent() {
        Some(p) => reporter.error(format_args!(
            "check failed: {p:.2}% of the pages are resident, less than {threshold}%"
        )),
        None => reporter.error(format_args!(
            "check failed: the residency of every page is unknown, so {threshold}% cannot be confirmed"
        )),
    }
}

/// Dies of the termination signal caught since [`crate::sys::signals::catch_termination`], if any.
fn die_if_signalled() {
    if let Some(signal) = crate::sys::signals::caught() {
        crate::sys::signals::die_of(signal);
    }
}

/// Measures, reports, saves and checks.
pub fn run(plan: &Plan, reporter: &Reporter) -> anyhow::Result<()> {
    if let Some(options) = &plan.system {
        return system::run(plan, options, reporter);
    }
    if plan.watch.is_some() {
        return watch::run(plan, reporter);
    }
    if plan.output.is_some() {
        // A report cut short by a signal is not written over the last whole one, and a write under
        // way completes first: no partial file and no temporary are left.
        crate::sys::signals::catch_termination();
    }
    if stream::streams(plan) {
        let totals = stream::run(plan, reporter);
        die_if_signalled();
        let totals = totals?;
        if let Some(threshold) = plan.check {
            check(reporter, &totals, threshold);
        }
        return Ok(());
    }
    let report = measure::collect(plan);
    die_if_signalled();
    let mut reported = HashSet::new();
    let mut frame = Frame {
        refresh: None,
        tty: false,
        interval: Duration::ZERO,
        reported: &mut reported,
    };
    emit(plan, reporter, &report, None, &mut frame)?;
    die_if_signalled();
    if let Some(path) = &plan.save {
        save::save(path, &report, plan.fingerprint).with_context(|| {
            format!(
                "cannot write the snapshot {}",
                crate::cli::quote::always(path)
            )
        })?;
    }
    if let Some(threshold) = plan.check {
        check(reporter, &report.totals, threshold);
    }
    Ok(())
}

/// The entry point of the `mmstat` binary.
pub fn main() -> ExitCode {
    crate::sys::signals::ignore_file_size_limit();
    let args: Args = parse_args(command(), std::env::args_os(), EXIT_USAGE);
    if let Err(message) = args::validate(&args) {
        usage_error(TOOL, message, EXIT_USAGE);
    }
    let reporter = Reporter::new(TOOL);
    let result = args::plan(&args)
        .and_then(|plan| crate::cli::common::in_pool(plan.threads, || run(&plan, &reporter))?);
    reporter.finish(result)
}
