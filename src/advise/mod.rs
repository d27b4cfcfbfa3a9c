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
use crate::range::{Range, append};
use crate::residency::{Method, Residency, Target};

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
    pub span: Range,
}

impl<'a> Subject<'a> {
    /// Prepares `file` (of `len` bytes, named `path`) for an action over `range`, widened to whole pages.
    pub fn new(file: &'a File, path: &'a Path, len: u64, range: Range) -> Result<Self> {
        let target = Target::new(file, path, len)?;
        let span = range.clamp(len).pages().clamp(len);
        Ok(Subject {
            file,
            path,
            len,
            target,
            span,
        })
    }

    /// The residency of the covered range now (cachestat where it can, mincore otherwise).
    pub fn measure(&self) -> Result<Residency> {
        self.target.measure(self.span, Default::default())
    }

    /// The residency of the covered range counting only pages whose data has arrived (mincore): pages
    /// still being read count as missing, where cachestat would count them as cached.
    pub fn measure_arrived(&self) -> Result<Residency> {
        self.target
            .measure(self.span, crate::residency::Method::Mincore)
    }

    /// The parts of the covered range that hold data (not holes), in whole pages.
    pub fn data(&self) -> Result<Vec<Range>> {
        data_extents(self.file, self.path, self.span)
    }

    /// The parts of `spans` whose pages are not resident now, in page-aligned pieces clipped to `spans`.
    /// When the kernel hides residency from this user, all of `spans`.
    pub fn missing(&self, spans: &[Range]) -> Result<Vec<Range>> {
        let mut out = Vec::new();
        for &range in spans.iter().filter(|r| !r.is_empty()) {
            match self.target.runs(range)? {
                None => return Ok(spans.to_vec()),
                Some(runs) => {
                    for run in runs.iter().filter(|r| !r.resident) {
                        append(&mut out, run.range);
                    }
                }
            }
        }
        Ok(out)
    }

    /// Resident pages inside `spans`, or `None` when the kernel hides residency from this user.
    pub fn resident_in(&self, spans: &[Range]) -> Result<Option<u64>> {
        let mut resident = 0u64;
        for &range in spans.iter().filter(|r| !r.is_empty()) {
            // mincore, not cachestat: the pages touching each span, counted per page.
            match self.target.measure(range, Method::Mincore)?.resident {
                Some(n) => resident += n,
                None => return Ok(None),
            }
        }
        Ok(Some(resident))
    }
}

/// The data (non-hole) parts of `span` of `file`, widened to whole pages and clipped to `span`, found
/// with SEEK_DATA and SEEK_HOLE. A filesystem that cannot tell reports the whole span as data.
pub fn data_extents(file: &File, path: &Path, span: Range) -> Result<Vec<Range>> {
    let runs =
        crate::copy::extent::data_runs(file, span).map_err(|e| Error::io(Op::Read, path, e))?;
    let mut out: Vec<Range> = Vec::new();
    for run in runs {
        append(&mut out, run.pages().intersect(span));
    }
    Ok(out)
}

/// Pages touched by spans.
pub fn pages_in(spans: &[Range]) -> u64 {
    spans.iter().map(|s| s.page_count()).sum()
}

/// Splits spans into pieces of at most `size` bytes (a whole number of pages), boundaries on multiples
/// of `size` so that pieces line up whatever the spans.
pub fn split(spans: &[Range], size: u64) -> Vec<Range> {
    spans.iter().flat_map(|s| s.windows(size)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Seek, Write};

    #[test]
    fn splits_line_up() {
        let p = crate::map::page_size() as u64;
        let r = Range::new;
        assert_eq!(
            split(&[r(0, 3 * p), r(5 * p, 5 * p + 1)], 2 * p),
            vec![r(0, 2 * p), r(2 * p, 3 * p), r(5 * p, 5 * p + 1)]
        );
        assert_eq!(split(&[r(p, 2 * p)], 1), vec![r(p, 2 * p)]);
        assert_eq!(pages_in(&[r(0, 1), r(p, 3 * p)]), 3);
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
        let extents = data_extents(&f, &path, Range::upto(4 * mib)).unwrap();
        // A filesystem without hole support reports everything as data; ext4, xfs, btrfs and tmpfs do not.
        if extents != vec![Range::upto(4 * mib)] {
            assert_eq!(extents, vec![Range::new(mib, 2 * mib)]);
        }
        let inside = data_extents(&f, &path, Range::new(mib + 4096, 3 * mib)).unwrap();
        if inside != vec![Range::new(mib + 4096, 3 * mib)] {
            assert_eq!(inside, vec![Range::new(mib + 4096, 2 * mib)]);
        }
        let s = Subject::new(&f, &path, 4 * mib, Range::new(10, 11)).unwrap();
        assert_eq!(s.span, Range::upto(crate::map::page_size() as u64));
    }
}
