//! `mmadvise restore SNAPSHOT`: read a residency snapshot; the driver checks each file's identity and
//! loads exactly the ranges that were resident, in the order asked for and within the budget, for the
//! files that did not change; then the verdict on what could not be restored.

use std::io::BufReader;
use std::path::Path;

use serde_json::Map;

use crate::advise::pages_in;
use crate::cli::quote;
use crate::range::total;
use crate::snapshot::{FileRecord, read};

use super::RestoreArgs;
use super::driver::{Driver, Kind};
use super::report::percent;

/// The records of the snapshot at `path` (`-`: standard input).
pub fn read_snapshot(path: &Path) -> anyhow::Result<Vec<FileRecord>> {
    let result = if path.as_os_str() == "-" {
        read(std::io::stdin().lock())
    } else {
        let file = std::fs::File::open(path).map_err(|e| {
            let e = crate::error::Error::io(crate::error::Op::Open, path, e);
            anyhow::anyhow!(crate::cli::messages::message(&e))
        })?;
        read(BufReader::new(file))
    };
    let (_header, records) =
        result.map_err(|e| anyhow::anyhow!("{}:{}: {}", quote::name(path), e.line, e.why))?;
    Ok(records)
}

/// Runs `mmadvise restore`.
pub fn run(args: &RestoreArgs, driver: &mut Driver<'_, '_>) -> anyhow::Result<()> {
    driver.run(true, |d, items| {
        d.load(
            &items,
            Kind::Populate,
            &mut |_, _, _| Ok(Some(None)),
            &mut |report, s, o| {
                let restored = s.subject.resident_in(&s.wanted)?;
                let saved_pages = pages_in(&s.wanted);
                let saved = total(&s.wanted);
                o.fields.insert("saved_bytes".into(), saved.into());
                o.fields.insert("saved_pages".into(), saved_pages.into());
                o.fields.insert("restored_pages".into(), restored.into());
                o.fields
                    .insert("loaded_bytes".into(), total(&s.spans).into());
                o.tail = format!(
                    ", saved {}{}",
                    report.size(saved),
                    match restored {
                        Some(r) => format!(" resident again ({})", percent(r, saved_pages)),
                        None => String::new(),
                    }
                );
                Ok(())
            },
        )
    })?;
    let t = &driver.tally;
    let (changed, removed, listed) = (t.changed, t.removed, t.listed);
    let mut fields = Map::new();
    fields.insert("changed_files".into(), changed.into());
    fields.insert("removed_files".into(), removed.into());
    let mut tail = skipped_tail(changed, removed);
    tail.push_str(&driver.load_summary(&mut fields));
    let report = &mut driver.report;
    let (restored, skipped) = (report.files(), report.skipped_count());
    if args.strict && skipped > 0 {
        report.plain_error(&format!(
            "{skipped} file{} of the snapshot skipped, and --strict was given",
            if skipped == 1 { "" } else { "s" }
        ))?;
    } else if restored == 0 && listed > 0 {
        report.plain_error("nothing restored: no file of the snapshot could be loaded")?;
    }
    report.summary(fields, &tail)?;
    Ok(())
}

/// What the total line says of files skipped because they changed or were removed.
fn skipped_tail(changed: u64, removed: u64) -> String {
    let mut parts = Vec::new();
    if changed > 0 {
        parts.push(format!("{changed} changed"));
    }
    if removed > 0 {
        parts.push(format!("{removed} removed"));
    }
    if parts.is_empty() {
        return String::new();
    }
    format!(", skipped {} since the snapshot", parts.join(" and "))
}
