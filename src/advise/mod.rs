//! The core of mmadvise: prefetching (WILLNEED chunked to the device's readahead cap), loading (populate
//! per window, in parallel), evicting with an explanation of what stayed, locking, process-wide advice
//! that is verified, and restoring a residency snapshot. Nothing here prints; the cli reports.
//!
//! Work is expressed as byte ranges `[start, end)` that are page-aligned (the last may end at the file's
//! end). Holes of sparse files are found with SEEK_DATA/SEEK_HOLE and left alone: reading a hole would put
//! pages of zeros in the page cache for nothing.

pub mod advice;
pub mod budget;
pub mod evict;
pub mod follow;
pub mod load;
pub mod lock;
pub mod pageflags;
pub mod procmaps;
pub mod readahead;
pub mod restore;
pub mod throttle;
pub mod willneed;

use std::fs::File;
use std::path::Path;

use crate::error::{Error, Op, Result};
use crate::map::{align_down, page_size};
use crate::residency::{Method, Residency, Target};
use crate::size::ByteRange;

/// A byte range `[start, end)`.
pub type Span = (u64, u64);

/// Takes an opened block device (which the walk yields only when named, to the actions that take
/// one) as a file as long as the device: its own page cache. Only root may change a device's page
/// cache, so anyone else gets an error for it. Other inputs are returned as they are.
pub fn block_device(mut input: crate::input::Input) -> Result<crate::input::Input> {
    use crate::input::{Access, StreamKind};
    if input.access() != Access::Stream(StreamKind::BlockDevice) {
        return Ok(input);
    }
    if crate::residency::effective_uid() != 0 {
        return Err(Error::io(
            Op::Advise,
            input.name(),
            std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                "only root may change the page cache of a block device",
            ),
        ));
    }
    input.as_block_device()?;
    Ok(input)
}

/// One open regular file an action works on, with the part of it the action covers.
#[derive(Debug)]
pub struct Subject<'a> {
    /// The open file.
    pub file: &'a File,
    /// Its name, for errors.
    pub path: &'a Path,
    /// Its size when opened.
    pub len: u64,
    /// Residency queries.
    pub target: Target<'a>,
    /// The covered range, widened to whole pages: `start` page-aligned, `end` page-aligned or the file's end.
    pub span: Span,
}

impl<'a> Subject<'a> {
    /// Prepares `file` (of `len` bytes, named `path`) for an action over `range`, widened to whole pages.
    pub fn new(file: &'a File, path: &'a Path, len: u64, range: ByteRange) -> Result<Self> {
        let target = Target::new(file, path, len)?;
        let (offset, count) = range.clip(len);
        let span = if count == 0 {
            (offset, offset)
        } else {
            (align_down(offset), round_up(offset + count).min(len))
        };
        Ok(Subject {
            file,
            path,
            len,
            target,
            span,
        })
    }

    /// The covered range as a [`ByteRange`], for residency queries.
    pub fn range(&self) -> ByteRange {
        ByteRange {
            offset: self.span.0,
            len: Some(self.span.1 - self.span.0),
        }
    }

    /// The residency of the covered range now (cachestat where it can, mincore otherwise).
    pub fn measure(&self) -> Result<Residency> {
        self.target.measure(self.range(), Default::default())
    }

    /// The residency of the covered range counting only pages whose data has arrived (mincore): pages
    /// still being read count as missing, where cachestat would count them as cached.
    pub fn measure_arrived(&self) -> Result<Residency> {
        self.target
            .measure(self.range(), crate::residency::Method::Mincore)
    }

    /// The parts of the covered range that hold data (not holes), in whole pages.
    pub fn data(&self) -> Result<Vec<Span>> {
        data_extents(self.file, self.path, self.span)
    }

    /// The parts of `spans` whose pages are not resident now, in page-aligned pieces clipped to `spans`.
    /// When the kernel hides residency from this user, all of `spans`.
    pub fn missing(&self, spans: &[Span]) -> Result<Vec<Span>> {
        let mut out = Vec::new();
        for &(start, end) in spans {
            if start >= end {
                continue;
            }
            let range = ByteRange {
                offset: start,
                len: Some(end - start),
            };
            match self.target.runs(range)? {
                None => return Ok(spans.to_vec()),
                Some(runs) => {
                    for run in runs.iter().filter(|r| !r.resident) {
                        push_merged(&mut out, (run.start, run.end));
                    }
                }
            }
        }
        Ok(out)
    }

    /// Resident pages inside `spans`, or `None` when the kernel hides residency from this user.
    pub fn resident_in(&self, spans: &[Span]) -> Result<Option<u64>> {
        let mut resident = 0u64;
        for &(start, end) in spans {
            if start >= end {
                continue;
            }
            let range = ByteRange {
                offset: start,
                len: Some(end - start),
            };
            // mincore, not cachestat: the pages touching each span, counted per page.
            match self.target.measure(range, Method::Mincore)?.resident {
                Some(n) => resident += n,
                None => return Ok(None),
            }
        }
        Ok(Some(resident))
    }
}

/// Rounds `offset` up to a page boundary.
pub fn round_up(offset: u64) -> u64 {
    let page = page_size() as u64;
    offset.div_ceil(page) * page
}

/// The data (non-hole) parts of `span` of `file`, widened to whole pages and clipped to `span`, found
/// with SEEK_DATA and SEEK_HOLE. A filesystem that cannot tell reports the whole span as data.
pub fn data_extents(file: &File, path: &Path, span: Span) -> Result<Vec<Span>> {
    let runs = crate::copy::extent::data_runs(file, span.0, span.1)
        .map_err(|e| Error::io(Op::Read, path, e))?;
    let mut out: Vec<Span> = Vec::new();
    for (data, hole) in runs {
        push_merged(
            &mut out,
            (align_down(data).max(span.0), round_up(hole).min(span.1)),
        );
    }
    Ok(out)
}

fn push_merged(out: &mut Vec<Span>, (s, e): Span) {
    if s >= e {
        return;
    }
    match out.last_mut() {
        Some(last) if last.1 >= s => last.1 = last.1.max(e),
        _ => out.push((s, e)),
    }
}

/// The intersection of two sorted lists of disjoint spans.
pub fn intersect(a: &[Span], b: &[Span]) -> Vec<Span> {
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::new();
    while i < a.len() && j < b.len() {
        let s = a[i].0.max(b[j].0);
        let e = a[i].1.min(b[j].1);
        push_merged(&mut out, (s, e));
        if a[i].1 < b[j].1 {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

/// The total length of spans.
pub fn total(spans: &[Span]) -> u64 {
    spans.iter().map(|(s, e)| e - s).sum()
}

/// Pages touched by spans.
pub fn pages_in(spans: &[Span]) -> u64 {
    spans
        .iter()
        .map(|&(s, e)| crate::residency::pages_between(s, e))
        .sum()
}

/// Splits spans into pieces of at most `size` bytes (a whole number of pages), boundaries on multiples
/// of `size` so that pieces line up whatever the spans.
pub fn split(spans: &[Span], size: u64) -> Vec<Span> {
    let page = page_size() as u64;
    let size = size.max(page).div_ceil(page) * page;
    let mut out = Vec::new();
    for &(start, end) in spans {
        let mut at = start;
        while at < end {
            let next = ((at / size) + 1).saturating_mul(size).min(end);
            out.push((at, next));
            at = next;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Seek, Write};

    #[test]
    fn span_arithmetic() {
        assert_eq!(
            intersect(&[(0, 10), (20, 30)], &[(5, 25)]),
            vec![(5, 10), (20, 25)]
        );
        assert_eq!(intersect(&[(0, 10)], &[(10, 20)]), vec![]);
        assert_eq!(intersect(&[(0, 100)], &[(0, 5), (5, 9)]), vec![(0, 9)]);
        assert_eq!(total(&[(0, 10), (20, 25)]), 15);
        let p = page_size() as u64;
        assert_eq!(
            split(&[(0, 3 * p), (5 * p, 5 * p + 1)], 2 * p),
            vec![(0, 2 * p), (2 * p, 3 * p), (5 * p, 5 * p + 1)]
        );
        assert_eq!(split(&[(p, 2 * p)], 1), vec![(p, 2 * p)]);
        assert_eq!(round_up(1), p);
        assert_eq!(round_up(p), p);
    }

    /// Sorted, disjoint spans inside [0, 64) from a bitmap of 64 bits.
    fn spans_of(bits: u64) -> Vec<Span> {
        let mut out: Vec<Span> = Vec::new();
        for i in 0..64 {
            if bits >> i & 1 == 1 {
                push_merged(&mut out, (i, i + 1));
            }
        }
        out
    }

    proptest::proptest! {
        #[test]
        fn intersect_agrees_with_bitmaps(a: u64, b: u64) {
            proptest::prop_assert_eq!(intersect(&spans_of(a), &spans_of(b)), spans_of(a & b));
            proptest::prop_assert_eq!(total(&spans_of(a)), u64::from(a.count_ones()));
        }
    }

    #[test]
    fn extents_of_a_sparse_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sparse");
        let mut f = File::create(&path).unwrap();
        let mib = 1u64 << 20;
        f.seek(std::io::SeekFrom::Start(mib)).unwrap();
        f.write_all(&vec![1u8; mib as usize]).unwrap();
        f.set_len(4 * mib).unwrap();
        f.sync_all().unwrap();
        let f = File::open(&path).unwrap();
        let extents = data_extents(&f, &path, (0, 4 * mib)).unwrap();
        // A filesystem without hole support reports everything as data; ext4, xfs, btrfs and tmpfs do not.
        if extents != vec![(0, 4 * mib)] {
            assert_eq!(extents, vec![(mib, 2 * mib)]);
        }
        let inside = data_extents(&f, &path, (mib + 4096, 3 * mib)).unwrap();
        if inside != vec![(mib + 4096, 3 * mib)] {
            assert_eq!(inside, vec![(mib + 4096, 2 * mib)]);
        }
        let s = Subject::new(
            &f,
            &path,
            4 * mib,
            ByteRange {
                offset: 10,
                len: Some(1),
            },
        )
        .unwrap();
        assert_eq!(s.span, (0, page_size() as u64));
    }
}
