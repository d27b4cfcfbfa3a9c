//! `mmadvise restore SNAPSHOT`: read a residency snapshot, check each file's identity, and load exactly
//! the ranges that were resident, for the files that did not change.

use std::io::BufReader;
use std::path::Path;

use serde_json::Map;

use crate::advise::load::{Job, load};
use crate::advise::restore::{Verdict, map_paths, unique, verdict};
use crate::advise::{Span, Subject, pages_in, total};
use crate::cli::common::Reporter;
use crate::cli::quote;
use crate::error::describe;
use crate::size::ByteRange;
use crate::snapshot::{FileRecord, Identity, read};

use super::RestoreArgs;
use super::report::{Report, percent};
use super::run::{
    Caps, Opened, PROGRESS_THRESHOLD, batch, load_options, open, outcome, run_in_pool,
};

fn read_snapshot(path: &Path) -> anyhow::Result<Vec<FileRecord>> {
    let result = if path.as_os_str() == "-" {
        read(std::io::stdin().lock())
    } else {
        let file = std::fs::File::open(path)
            .map_err(|e| anyhow::anyhow!("{}: {}", quote::name(path), describe(&e)))?;
        read(BufReader::new(file))
    };
    let (_header, records) =
        result.map_err(|e| anyhow::anyhow!("{}:{}: {}", quote::name(path), e.line, e.why))?;
    Ok(records)
}

/// Runs `mmadvise restore`.
pub fn run(args: &RestoreArgs, reporter: &Reporter) -> anyhow::Result<()> {
    // One file is one file, however many times the snapshot names it.
    let records = unique(map_paths(read_snapshot(&args.snapshot)?, &args.map_prefix));
    let mut report = Report::new("restore", &args.common, reporter);
    let saved: u64 = records
        .iter()
        .map(|r| {
            r.resident
                .iter()
                .map(|(s, e)| e.saturating_sub(*s))
                .sum::<u64>()
        })
        .sum();
    let bar = args.common.progress.bar(saved, PROGRESS_THRESHOLD);
    bar.set_length(0);
    report.set_bar(bar);
    let options = load_options(&args.loading);
    let whole = ByteRange {
        offset: 0,
        len: None,
    };
    let mut caps = Caps::default();
    for batch in records.chunks(batch()) {
        let mut opened: Vec<(Opened, Vec<Span>)> = Vec::new();
        for record in batch {
            let Some(o) = open(&record.path, &mut report)? else {
                continue;
            };
            let shown = record.path.as_path();
            let meta = match o.input.file().metadata() {
                Ok(m) => m,
                Err(e) => {
                    report.error(shown, &describe(&e))?;
                    continue;
                }
            };
            let how = args.matching.into();
            match verdict(record, &Identity::of(&meta), how, o.input.file()) {
                Verdict::Changed(why) => {
                    report.skipped(shown, &format!("changed since the snapshot: {why}"))?
                }
                Verdict::Unknown(why) => {
                    report.skipped(shown, &format!("cannot be matched: {why}"))?
                }
                Verdict::Restore(spans) => opened.push((o, spans)),
            }
        }
        let mut subjects = Vec::new();
        for (o, spans) in &opened {
            match Subject::new(o.input.file(), o.input.name(), o.len, whole) {
                Ok(s) => subjects.push((s, spans)),
                Err(e) => report.core_error(&e)?,
            }
        }
        let mut jobs = Vec::new();
        let mut befores = Vec::new();
        for (subject, spans) in &subjects {
            let prepared = subject.measure().and_then(|before| {
                let data = subject.data()?;
                Ok((before, data, subject.missing(spans)?))
            });
            match prepared {
                Ok((before, data, missing)) => {
                    report.bar().inc_length(total(&missing));
                    befores.push((before, data, *spans));
                    jobs.push(Job {
                        subject,
                        cap: caps.of(subject),
                        spans: missing,
                        map: None,
                    });
                }
                Err(e) => report.core_error(&e)?,
            }
        }
        let bar = report.bar().clone();
        let errors = run_in_pool(&args.common, || load(&jobs, &options, &|n| bar.inc(n)))?;
        for ((job, error), (before, data, spans)) in jobs.iter().zip(errors).zip(befores) {
            if let Some(e) = error {
                report.core_error(&e)?;
                continue;
            }
            let measured = job
                .subject
                .measure()
                .and_then(|after| Ok((after, job.subject.resident_in(spans)?)));
            let (after, restored) = match measured {
                Ok(m) => m,
                Err(e) => {
                    report.core_error(&e)?;
                    continue;
                }
            };
            let mut o = outcome(job.subject, &data, before, after);
            let saved_pages = pages_in(spans);
            o.fields.insert("saved_bytes".into(), total(spans).into());
            o.fields.insert("saved_pages".into(), saved_pages.into());
            o.fields.insert("restored_pages".into(), restored.into());
            o.fields
                .insert("loaded_bytes".into(), total(&job.spans).into());
            o.tail = format!(
                ", saved {}{}",
                report.size(total(spans)),
                match restored {
                    Some(r) => format!(" resident again ({})", percent(r, saved_pages)),
                    None => String::new(),
                }
            );
            report.file(&o)?;
        }
    }
    report.summary(Map::new(), "")?;
    Ok(())
}
