//! Restoring a residency snapshot (`mmstat --save`): for each saved file whose identity (device, inode,
//! size, modification time) still matches, the ranges that were resident, as page-aligned spans to load.

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

/// Compares a saved file with what is at its path now (`now`, from fstat of the opened file).
pub fn verdict(record: &FileRecord, now: &Identity) -> Verdict {
    match record.identity.mismatch(now) {
        Some(why) => Verdict::Changed(why),
        None => Verdict::Restore(spans(&record.resident, now.size)),
    }
}

/// Saved ranges widened to whole pages, clipped to the file's size, sorted and merged.
pub fn spans(resident: &[(u64, u64)], size: u64) -> Vec<Span> {
    let mut spans: Vec<Span> = resident
        .iter()
        .filter(|(s, e)| s < e && *s < size)
        .map(|&(s, e)| (align_down(s), round_up(e).min(size)))
        .collect();
    spans.sort_unstable();
    let mut out: Vec<Span> = Vec::with_capacity(spans.len());
    for (s, e) in spans {
        match out.last_mut() {
            Some(last) if last.1 >= s => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out
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
}
