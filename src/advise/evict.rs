//! Eviction: POSIX_FADV_DONTNEED over the covered range (after fdatasync with `sync`), then a measure of
//! what stayed and why. The kernel skips dirty pages, pages under writeback, pages mapped or locked by a
//! process, and every page of tmpfs, which has no other home than memory.

use std::num::NonZeroU64;

use crate::error::{Error, Op, Result};
use crate::residency::{FsKind, Residency};

use super::Subject;
use super::procmaps::{Holder, holders};

/// Why pages stayed in the page cache after an eviction.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Stayed {
    /// Pages still resident (0 when residency is unknown).
    pub pages: u64,
    /// Of which dirty: written but not yet written back (fdatasync first, with --sync).
    pub dirty: u64,
    /// Of which under writeback right now.
    pub writeback: u64,
    /// The rest: mapped or locked by a process, or read again while evicting.
    pub other: u64,
    /// The file is on tmpfs: its pages cannot be evicted at all.
    pub tmpfs: bool,
    /// Processes that map the file (looked for only when `other` > 0).
    pub holders: Vec<Holder>,
}

/// The result of evicting one file.
#[derive(Debug, Clone)]
pub struct Evicted {
    /// Residency before.
    pub before: Residency,
    /// Residency after.
    pub after: Residency,
    /// What stayed, and why.
    pub stayed: Stayed,
}

/// Drops the clean pages of the subject's range from the page cache; with `sync`, writes the file's dirty
/// pages back first (fdatasync) so that they can be dropped too.
pub fn evict(subject: &Subject<'_>, sync: bool) -> Result<Evicted> {
    let before = subject.measure()?;
    if sync {
        rustix::fs::fdatasync(subject.file)
            .map_err(|e| Error::io(Op::Sync, subject.path, e.into()))?;
    }
    let (start, end) = subject.span.bounds();
    if start < end {
        // To the end of the file when the range reaches it, so that the last partial page goes too.
        let len = if end >= subject.len {
            None
        } else {
            NonZeroU64::new(end - start)
        };
        rustix::fs::fadvise(subject.file, start, len, rustix::fs::Advice::DontNeed)
            .map_err(|e| Error::io(Op::Read, subject.path, e.into()))?;
    }
    let after = subject.measure()?;
    let stayed = explain(subject, &after);
    Ok(Evicted {
        before,
        after,
        stayed,
    })
}

/// Sorts the pages still resident by the reason they stayed.
pub fn explain(subject: &Subject<'_>, after: &Residency) -> Stayed {
    let pages = after.resident.unwrap_or(0);
    let (dirty, writeback) = after
        .detail
        .map(|d| (d.dirty.min(pages), d.writeback.min(pages)))
        .unwrap_or((0, 0));
    let other = pages.saturating_sub(dirty + writeback);
    let tmpfs = after.fs == FsKind::Tmpfs;
    let holders = if other > 0 && !tmpfs {
        match rustix::fs::fstat(subject.file) {
            Ok(st) => holders(st.st_dev, st.st_ino),
            Err(_) => Vec::new(),
        }
    } else {
        Vec::new()
    };
    Stayed {
        pages,
        dirty,
        writeback,
        other,
        tmpfs,
        holders,
    }
}
