//! mmadvise's output: a line per file (`path: size, resident BEFORE -> AFTER`, explanations indented
//! below), a total, notes and errors on stderr; or JSON Lines of "file", "skipped", "error" and
//! "summary" objects.

use std::ffi::OsStr;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use indicatif::ProgressBar;
use serde_json::{Map, Value};

use crate::cli::common::{JsonLines, Reporter, insert_name};
use crate::cli::mmadvise::Common;
use crate::cli::quote;
use crate::map::page_size;
use crate::range::Range;
use crate::residency::{Residency, Unknown};
use crate::size::human;

/// What one file's action did, ready to print.
#[derive(Debug)]
pub struct Outcome {
    /// The path, exactly.
    pub path: PathBuf,
    /// The file's size.
    pub size: u64,
    /// The covered range.
    pub span: Range,
    /// Bytes of data in the covered range (less than its length when it has holes).
    pub data: u64,
    /// Residency before.
    pub before: Residency,
    /// Residency after.
    pub after: Residency,
    /// Text appended to the file's line, such as `, locked 1.0G`.
    pub tail: String,
    /// Explanations, one per line under the file's line.
    pub notes: Vec<String>,
    /// Action-specific JSON fields.
    pub fields: Map<String, Value>,
}

/// Totals over the files reported.
#[derive(Debug, Default)]
struct Totals {
    files: u64,
    skipped: u64,
    errors: u64,
    size: u64,
    pages: u64,
    before: u64,
    after: u64,
    /// Resident bytes before and after, each file's as its line shows it (its last page partial).
    before_bytes: u64,
    after_bytes: u64,
    unknown: u64,
}

/// The output of one run.
#[derive(Debug)]
pub struct Report<'r> {
    action: &'static str,
    json: Option<JsonLines<io::Stdout>>,
    exact: bool,
    /// -q: no per-file lines and no total in text (JSON is what was asked for, and stays).
    quiet: bool,
    totals: Totals,
    reporter: &'r Reporter,
    bar: ProgressBar,
}

impl<'r> Report<'r> {
    /// A report of `action`, as JSON Lines or text, with exact byte counts with --bytes, and no lines
    /// with -q.
    pub fn new(action: &'static str, common: &Common, reporter: &'r Reporter) -> Self {
        Report {
            action,
            json: common.json.then(|| JsonLines::new(io::stdout())),
            exact: common.bytes,
            quiet: common.progress.quiet,
            totals: Totals::default(),
            reporter,
            bar: ProgressBar::hidden(),
        }
    }

    /// Shows `bar` while working; output is printed around it.
    pub fn set_bar(&mut self, bar: ProgressBar) {
        self.bar = bar;
    }

    /// The progress bar (hidden unless one was set).
    pub fn bar(&self) -> &ProgressBar {
        &self.bar
    }

    /// Files reported so far.
    pub fn files(&self) -> u64 {
        self.totals.files
    }

    /// Paths passed over so far.
    pub fn skipped_count(&self) -> u64 {
        self.totals.skipped
    }

    /// A size as this report shows sizes.
    pub fn size(&self, bytes: u64) -> String {
        if self.exact {
            bytes.to_string()
        } else {
            human(bytes)
        }
    }

    fn residency(&self, r: &Residency, span_len: u64) -> String {
        match r.resident {
            None => "unknown".into(),
            Some(pages) => format!(
                "{} ({})",
                self.size(pages_to_bytes(pages, span_len)),
                percent(pages, r.pages)
            ),
        }
    }

    /// Reports one file.
    pub fn file(&mut self, o: &Outcome) -> io::Result<()> {
        let t = &mut self.totals;
        t.files += 1;
        t.size += o.size;
        let span_len = o.span.len();
        match (o.before.resident, o.after.resident) {
            (Some(b), Some(a)) => {
                t.pages += o.after.pages;
                t.before += b;
                t.after += a;
                t.before_bytes += pages_to_bytes(b, span_len);
                t.after_bytes += pages_to_bytes(a, span_len);
            }
            _ => t.unknown += 1,
        }
        let mut notes = o.notes.clone();
        if let Some(why) = o.after.unknown.or(o.before.unknown) {
            notes.push(format!("residency unknown: {}", unknown_text(why)));
        }
        if let Some(json) = &mut self.json {
            let mut object = Map::new();
            object.insert("action".into(), self.action.into());
            insert_name(&mut object, "path", o.path.as_os_str());
            object.insert("size".into(), o.size.into());
            object.insert("offset".into(), o.span.start().into());
            object.insert("length_bytes".into(), span_len.into());
            object.insert("pages".into(), o.after.pages.into());
            object.insert("data_bytes".into(), o.data.into());
            object.insert("resident_pages_before".into(), o.before.resident.into());
            object.insert("resident_pages_after".into(), o.after.resident.into());
            if let Some(why) = o.after.unknown.or(o.before.unknown) {
                object.insert("unknown_reason".into(), unknown_text(why).into());
            }
            object.extend(o.fields.clone());
            object.insert("notes".into(), notes.into());
            return json.write("file", object);
        }
        if self.quiet {
            return Ok(());
        }
        let mut line = format!("{}: {}", quote::row(&o.path), self.size(o.size));
        if span_len != o.size {
            line.push_str(&format!(
                " (range {}..{})",
                self.size(o.span.start()),
                self.size(o.span.end())
            ));
        }
        if o.data < span_len {
            line.push_str(&format!(
                ", {} data, {} in holes",
                self.size(o.data),
                self.size(span_len - o.data)
            ));
        }
        line.push_str(&format!(
            ", resident {} -> {}{}",
            self.residency(&o.before, span_len),
            self.residency(&o.after, span_len),
            o.tail
        ));
        self.bar.suspend(|| {
            let mut out = io::stdout().lock();
            writeln!(out, "{line}")?;
            for note in notes {
                writeln!(out, "  {note}")?;
            }
            out.flush()
        })
    }

    /// Reports a path passed over (a FIFO, a device, a changed file): a note on stderr, or a "skipped"
    /// object. Not a failure.
    pub fn skipped(&mut self, path: &Path, reason: &str) -> io::Result<()> {
        self.totals.skipped += 1;
        if let Some(json) = &mut self.json {
            let mut record = Map::new();
            insert_name(&mut record, "path", path.as_os_str());
            record.insert("reason".into(), reason.into());
            return json.write("skipped", record);
        }
        self.bar.suspend(|| {
            self.reporter
                .warn(format_args!("{}: skipped: {reason}", quote::name(path)))
        });
        Ok(())
    }

    /// Reports a failed file for a reason of the tool's own: `mmadvise: path: reason` on stderr, and
    /// an "error" object with --json.
    pub fn error(&mut self, path: &Path, reason: &str) -> io::Result<()> {
        self.failed(path, &format!("{}: {reason}", quote::name(path)))
    }

    /// Reports a failed file with its whole message: `mmadvise: message` on stderr, and an "error"
    /// object whose `error` is the message, with --json.
    fn failed(&mut self, path: &Path, message: &str) -> io::Result<()> {
        self.totals.errors += 1;
        self.bar.suspend(|| self.reporter.error(message));
        if let Some(json) = &mut self.json {
            json.error(path.as_os_str(), message)?;
        }
        Ok(())
    }

    /// Reports an error that names no file (a bad entry of a --files0-from list).
    pub fn plain_error(&mut self, message: &str) -> io::Result<()> {
        self.totals.errors += 1;
        self.bar.suspend(|| self.reporter.error(message));
        if let Some(json) = &mut self.json {
            json.error(OsStr::new(""), message)?;
        }
        Ok(())
    }

    /// Reports a core error about a file, in the shared table's words ([`crate::cli::messages`]).
    pub fn core_error(&mut self, e: &crate::error::Error) -> io::Result<()> {
        self.failed(e.path(), &crate::cli::messages::message(e))
    }

    /// The total line (text, when more than one file was reported) or the "summary" object, with
    /// `fields` added to the summary and `tail` to the text.
    pub fn summary(&mut self, fields: Map<String, Value>, tail: &str) -> io::Result<()> {
        self.bar.finish_and_clear();
        let t = &self.totals;
        if let Some(json) = &mut self.json {
            let mut object = Map::new();
            object.insert("action".into(), self.action.into());
            object.insert("files".into(), t.files.into());
            object.insert("skipped".into(), t.skipped.into());
            object.insert("errors".into(), t.errors.into());
            object.insert("size".into(), t.size.into());
            object.insert("pages".into(), t.pages.into());
            object.insert("resident_pages_before".into(), t.before.into());
            object.insert("resident_pages_after".into(), t.after.into());
            object.insert("unknown_files".into(), t.unknown.into());
            object.extend(fields);
            json.write("summary", object)?;
            return json.flush();
        }
        let mut out = io::stdout().lock();
        if !self.quiet && (t.files > 1 || !tail.is_empty()) {
            let known = t.files - t.unknown;
            // The sum of what the lines show, in bytes: a total agrees with its lines.
            let res = |bytes: u64, pages: u64| {
                format!("{} ({})", self.size(bytes), percent(pages, t.pages))
            };
            let mut line = format!(
                "total: {} file{}, {}",
                t.files,
                if t.files == 1 { "" } else { "s" },
                self.size(t.size)
            );
            if known > 0 {
                line.push_str(&format!(
                    ", resident {} -> {}",
                    res(t.before_bytes, t.before),
                    res(t.after_bytes, t.after)
                ));
            }
            if t.unknown > 0 {
                line.push_str(&format!(", {} of unknown residency", t.unknown));
            }
            line.push_str(tail);
            writeln!(out, "{line}")?;
        }
        out.flush()
    }
}

/// Pages as bytes, never more than the span's length (the last page may be partial).
pub fn pages_to_bytes(pages: u64, span_len: u64) -> u64 {
    pages.saturating_mul(page_size() as u64).min(span_len)
}

pub use crate::cli::common::share_text as percent;

/// Why residency is unknown, in words.
pub fn unknown_text(why: Unknown) -> &'static str {
    match why {
        Unknown::NotWritable => {
            "the kernel hides the page cache state of files this user may not write"
        }
        Unknown::Hugetlbfs => "hugetlbfs files are not in the page cache",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_never_lie_at_the_ends() {
        assert_eq!(percent(0, 10), "0.0%");
        assert_eq!(percent(10, 10), "100.0%");
        assert_eq!(percent(1, 100_000), "<0.1%");
        assert_eq!(percent(99_999, 100_000), ">99.9%");
        assert_eq!(percent(1, 3), "33.3%");
        assert_eq!(percent(0, 0), "-");
    }
}
