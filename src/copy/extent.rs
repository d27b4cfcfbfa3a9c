//! Where a file's data is: its data extents, found with SEEK_DATA and SEEK_HOLE, and the all-zero
//! pages inside a buffer (for `--sparse=always`).

use std::fs::File;
use std::io;

use rustix::fs::SeekFrom;

use crate::range::Range;

/// The data runs within `range` of `file`, in order, never empty, and clipped to it, as SEEK_DATA and
/// SEEK_HOLE report them: the one extent finder of the crate. A filesystem that cannot tell holes
/// from data (EINVAL or EOPNOTSUPP on the first seek) reports the whole range as data; any other
/// failure is an error.
pub fn data_runs(file: &File, range: Range) -> io::Result<Vec<Range>> {
    let (from, to) = range.bounds();
    let mut runs = Vec::new();
    let mut at = from;
    while at < to {
        let start = match rustix::fs::seek(file, SeekFrom::Data(at)) {
            Ok(start) => start,
            // No data at or after `at`: the rest is a hole.
            Err(rustix::io::Errno::NXIO) => break,
            Err(rustix::io::Errno::INVAL | rustix::io::Errno::OPNOTSUPP) if runs.is_empty() => {
                return Ok(vec![range]);
            }
            Err(e) => return Err(e.into()),
        };
        if start >= to {
            break;
        }
        let end = match rustix::fs::seek(file, SeekFrom::Hole(start)) {
            Ok(end) => end.min(to),
            Err(rustix::io::Errno::NXIO) => to,
            Err(e) => return Err(e.into()),
        };
        if end <= start {
            return Err(io::Error::from_raw_os_error(libc::EIO));
        }
        runs.push(Range::new(start, end));
        at = end;
    }
    Ok(runs)
}

/// The data extents of the first `len` bytes of `file`, in order. A file whose allocated blocks cover
/// its size (`blocks` is st_blocks, in 512-byte units) has no holes worth finding and is one extent,
/// as is a file on a filesystem that cannot tell holes apart. Any failure of the seeks also gives one
/// extent: copying a hole as zeros is always correct.
pub fn data_extents(file: &File, len: u64, blocks: u64) -> Vec<Range> {
    if len == 0 {
        return Vec::new();
    }
    let whole = vec![Range::upto(len)];
    if blocks.saturating_mul(512) >= len {
        return whole;
    }
    data_runs(file, Range::upto(len)).unwrap_or(whole)
}

/// The runs of `bytes` (which start at file offset `offset`) worth writing under `--sparse=always`:
/// everything but the pages (on the file's page grid) that are entirely zero. Ranges are relative to
/// `bytes`, in order, and never empty.
pub fn nonzero_runs(bytes: &[u8], offset: u64, page: usize) -> Vec<std::ops::Range<usize>> {
    let mut runs: Vec<std::ops::Range<usize>> = Vec::new();
    let mut at = 0usize;
    while at < bytes.len() {
        // The end of the page holding file offset `offset + at`.
        let in_page = ((offset + at as u64) % page as u64) as usize;
        let end = (at + page - in_page).min(bytes.len());
        let chunk = &bytes[at..end];
        if !is_zero(chunk) {
            match runs.last_mut() {
                Some(last) if last.end == at => last.end = end,
                _ => runs.push(at..end),
            }
        }
        at = end;
    }
    runs
}

/// Whether every byte is zero: OR-folds 64-byte blocks, which the compiler vectorises.
pub fn is_zero(bytes: &[u8]) -> bool {
    let mut blocks = bytes.chunks_exact(64);
    let zero = blocks
        .by_ref()
        .all(|block| block.iter().fold(0u8, |acc, &b| acc | b) == 0);
    zero && blocks.remainder().iter().all(|&b| b == 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{FileExt, MetadataExt};

    #[test]
    fn finds_data_between_holes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sparse");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        let mb = 1u64 << 20;
        file.set_len(8 * mb).unwrap();
        file.write_all_at(&[7u8; 4096], 2 * mb).unwrap();
        file.write_all_at(&[9u8; 8192], 5 * mb).unwrap();
        file.sync_all().unwrap();
        let blocks = file.metadata().unwrap().blocks();
        let extents = data_extents(&file, 8 * mb, blocks);
        let data = crate::range::total(&extents);
        // A filesystem may report larger extents than written, but never miss data.
        let written = |r: Range| extents.iter().any(|e| e.intersect(r) == r);
        assert!(written(Range::new(2 * mb, 2 * mb + 4096)));
        assert!(written(Range::new(5 * mb, 5 * mb + 8192)));
        if blocks * 512 < 8 * mb {
            assert!(data < 8 * mb, "holes are found: {extents:?}");
        }
        assert!(extents.windows(2).all(|w| w[0].end() <= w[1].start()));
        assert!(extents.iter().all(|e| !e.is_empty()));
        assert_eq!(data_extents(&file, 0, 0), vec![]);
        assert_eq!(
            data_extents(&file, 8 * mb, 1 << 20),
            vec![Range::upto(8 * mb)],
            "a dense file is one extent"
        );
        let inside = data_runs(&file, Range::new(2 * mb + 100, 5 * mb + 50)).unwrap();
        assert_eq!(
            inside.first().map(|r| r.start()),
            Some(2 * mb + 100),
            "clipped"
        );
        assert_eq!(inside.last().map(|r| r.end()), Some(5 * mb + 50), "clipped");
    }

    #[test]
    fn all_hole_file_has_no_extents() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hole");
        let file = std::fs::File::create(&path).unwrap();
        file.set_len(1 << 20).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        assert_eq!(data_extents(&file, 1 << 20, 0), vec![]);
    }

    #[test]
    fn zero_pages_are_skipped_on_the_file_grid() {
        let page = 4096;
        let mut bytes = vec![0u8; 4 * page];
        bytes[page + 5] = 1;
        bytes[3 * page] = 1;
        assert_eq!(
            nonzero_runs(&bytes, 0, page),
            vec![page..2 * page, 3 * page..4 * page]
        );
        // Starting mid-page: the first piece runs to the page end of the file, not of the buffer.
        assert!(nonzero_runs(&bytes[..page], 100, page).is_empty());
        let mut b = vec![0u8; 2 * page];
        b[page - 100] = 1;
        assert_eq!(
            nonzero_runs(&b, 100, page),
            vec![page - 100..2 * page - 100]
        );
        assert!(is_zero(&[0u8; 33]));
        assert!(!is_zero(&[0, 0, 0, 1]));
        let mut v = vec![0u8; 100];
        v[99] = 1;
        assert!(!is_zero(&v));
        v[99] = 0;
        v[17] = 1;
        assert!(!is_zero(&v));
    }
}
