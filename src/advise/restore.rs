//! Restoring a residency snapshot (`mmstat --save`): for each saved file whose identity (device, inode,
//! size, modification time) still matches, the ranges that were resident, as page-aligned spans to load.

use std::collections::HashMap;
use std::path::PathBuf;

use crate::map::align_down;
use crate::snapshot::{FileRecord, Identity};

use super::{Span, round_up};

/// What to do with one saved file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The file is the one saved: load these spans.
    Restore(Vec<Span>),
    /// The file changed since the snapshot (the reason in words): leave it alone.
    Changed(String),
}

/// Whether opening a saved file failed because it no longer exists: removed since the snapshot (or a
/// directory leading to it was). Such a file is skipped, as a changed one is, not an error.
pub fn vanished(e: &crate::error::Error) -> bool {
    matches!(
        (e.op(), e.reason()),
        (crate::error::Op::Open, crate::error::Reason::Io(io))
            if matches!(io.raw_os_error(), Some(libc::ENOENT) | Some(libc::ENOTDIR))
    )
}

/// Compares a saved file with what is at its path now (`now`, from fstat of the opened file).
pub fn verdict(record: &FileRecord, now: &Identity) -> Verdict {
    match record.identity.mismatch(now) {
        Some(why) => Verdict::Changed(why),
        None => Verdict::Restore(spans(&record.resident, now.size)),
    }
}

/// The records of a snapshot with each file once: a later record of the same path, or of the same
/// device and inode (another name of the file), is merged into the first, its ranges added. A snapshot
/// that names one file a million times restores one file.
pub fn unique(records: Vec<FileRecord>) -> Vec<FileRecord> {
    let mut by_path: HashMap<PathBuf, usize> = HashMap::new();
    let mut by_id: HashMap<(u64, u64), usize> = HashMap::new();
    let mut out: Vec<FileRecord> = Vec::new();
    for record in records {
        let id = (record.identity.dev, record.identity.ino);
        let first = by_path
            .get(&record.path)
            .or_else(|| by_id.get(&id))
            .copied();
        match first {
            Some(i) => {
                let into = &mut out[i].resident;
                into.extend(record.resident);
                // Keep the ranges merged as they grow, so that duplicates hold no memory.
                if into.len() > 64 {
                    *into = merged(std::mem::take(into));
                }
            }
            None => {
                by_path.insert(record.path.clone(), out.len());
                by_id.entry(id).or_insert(out.len());
                out.push(record);
            }
        }
    }
    out
}

/// Byte ranges sorted and merged where they touch or overlap.
fn merged(mut ranges: Vec<(u64, u64)>) -> Vec<(u64, u64)> {
    ranges.sort_unstable();
    let mut out: Vec<(u64, u64)> = Vec::with_capacity(ranges.len());
    for (s, e) in ranges {
        match out.last_mut() {
            Some(last) if last.1 >= s => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out
}

/// Saved ranges widened to whole pages, clipped to the file's size, sorted and merged.
pub fn spans(resident: &[(u64, u64)], size: u64) -> Vec<Span> {
    let spans: Vec<Span> = resident
        .iter()
        .filter(|(s, e)| s < e && *s < size)
        .map(|&(s, e)| (align_down(s), round_up(e).min(size)))
        .collect();
    merged(spans)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::map::page_size;

    #[test]
    fn spans_are_pages_clipped_and_merged() {
        let p = page_size() as u64;
        assert_eq!(
            spans(
                &[(3 * p, 4 * p), (1, 10), (p + 1, 2 * p), (9 * p, 20 * p)],
                10 * p - 5
            ),
            vec![(0, 2 * p), (3 * p, 4 * p), (9 * p, 10 * p - 5)]
        );
        assert_eq!(spans(&[(20 * p, 21 * p), (5, 5)], 10 * p), vec![]);
        let id = Identity {
            dev: 1,
            ino: 2,
            size: 10 * p,
            mtime_ns: 3,
        };
        let record = FileRecord {
            path: "x".into(),
            identity: id,
            resident: vec![(0, p)],
        };
        assert_eq!(verdict(&record, &id), Verdict::Restore(vec![(0, p)]));
        let moved = Identity { ino: 9, ..id };
        assert!(matches!(verdict(&record, &moved), Verdict::Changed(_)));
    }

    #[test]
    fn each_file_once_with_its_ranges_merged() {
        let id = |ino| Identity {
            dev: 1,
            ino,
            size: 100,
            mtime_ns: 3,
        };
        let rec = |path: &str, ino, resident: Vec<(u64, u64)>| FileRecord {
            path: path.into(),
            identity: id(ino),
            resident,
        };
        let mut records = vec![rec("a", 1, vec![(0, 10)]), rec("b", 2, vec![])];
        for i in 0..1000 {
            records.push(rec("a", 1, vec![(i, i + 10)]));
        }
        records.push(rec("link-to-b", 2, vec![(50, 60)]));
        records.push(rec("c", 3, vec![]));
        let out = unique(records);
        let paths: Vec<_> = out.iter().map(|r| r.path.to_str().unwrap()).collect();
        assert_eq!(paths, ["a", "b", "c"]);
        assert_eq!(merged(out[0].resident.clone()), [(0, 1009)]);
        assert!(out[0].resident.len() <= 65);
        assert_eq!(out[1].resident, [(50, 60)]);
    }
}
