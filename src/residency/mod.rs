//! Page-cache residency of a byte range of a file: counts through cachestat(2) (O(1), with dirty,
//! writeback and eviction counts) or windowed mincore(2), per-page pictures in bounded memory, and
//! honesty about what the kernel will not say truthfully.
//!
//! For a file the caller may not write, mincore reports every page resident (Linux 5.2 and later) and
//! cachestat fails with EPERM (6.14 and later). Such residency is [`Unknown::NotWritable`], never a fake
//! 100%. An EPERM from cachestat for a file the caller may write comes from a seccomp filter instead, and
//! mincore answers in its place.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;

use crate::error::{Error, Op, Result};
use crate::map::{MapMode, MappedRange, page_size};
use crate::range::{Range, align_down};
use crate::sys::cachestat::{Cachestat, cachestat};

mod files;
pub mod held;
mod scan;
pub mod system;

pub use files::{
    Cell, FileStat, Options, Outcome, Subject, Totals, measure_fd, measure_open, measure_path,
    percent, with_path,
};
pub use scan::{Request, Source, process, scan, scan_until};

/// How to ask the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Method {
    /// cachestat where the kernel has it, mincore otherwise.
    #[default]
    Auto,
    /// cachestat only.
    Cachestat,
    /// mincore only, over bounded windows.
    Mincore,
}

/// Which system call answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Used {
    /// cachestat(2).
    Cachestat,
    /// mincore(2).
    Mincore,
}

/// Why residency is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unknown {
    /// The caller may not write the file, so the kernel hides its residency (mincore would claim 100%).
    NotWritable,
    /// hugetlbfs files are not in the page cache the way other files are; neither call supports them.
    Hugetlbfs,
}

/// The kind of filesystem holding a file, where it changes what residency means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsKind {
    /// A filesystem backed by storage: pages can be evicted and read back.
    Storage,
    /// tmpfs or shmem: the page cache is the file's only home, and its pages cannot be evicted.
    Tmpfs,
    /// hugetlbfs: unsupported.
    Hugetlbfs,
}

/// The residency of a range of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Residency {
    /// Pages the range touches.
    pub pages: u64,
    /// Pages in the page cache, or `None` when unknown (see `unknown`).
    pub resident: Option<u64>,
    /// Dirty, writeback, evicted and recently evicted pages (cachestat only).
    pub detail: Option<Cachestat>,
    /// Which call answered, if any.
    pub used: Option<Used>,
    /// Why `resident` is `None`.
    pub unknown: Option<Unknown>,
    /// The filesystem's kind.
    pub fs: FsKind,
}

/// A run of pages of the same state, as a byte range clipped to the range asked about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Run {
    /// The bytes.
    pub range: Range,
    /// Whether the run's pages are in the page cache.
    pub resident: bool,
}

/// Pages per mincore window: 1 GiB of 4 KiB pages, a 256 KiB vector; bounded whatever the file's size.
const MINCORE_WINDOW_PAGES: u64 = 1 << 18;

/// The smallest window mincore is asked about when a bigger one cannot be mapped (ENOMEM under
/// `ulimit -v`).
const MINCORE_SMALLEST: u64 = 1 << 20;

const TMPFS_MAGIC: i64 = 0x0102_1994;
const HUGETLBFS_MAGIC: i64 = 0x9584_58f6;

/// An open regular file whose residency is asked about.
#[derive(Debug)]
pub struct Target<'a> {
    file: &'a File,
    path: &'a Path,
    len: u64,
    fs: FsKind,
    truthful: bool,
}

impl<'a> Target<'a> {
    /// Prepares `file` (open for reading, of `len` bytes, named `path` in errors).
    pub fn new(file: &'a File, path: &'a Path, len: u64) -> Result<Self> {
        let fs = fs_kind(file).map_err(|e| Error::io(Op::Stat, path, e))?;
        Ok(Target::with_fs(file, path, len, fs))
    }

    /// Like [`Target::new`], with the kind of the file's filesystem already known (from [`fs_kind`] of
    /// a file on the same device): spares one statfs per file when measuring many files, which matters
    /// because ext4 sums per-CPU counters to answer it.
    pub fn with_fs(file: &'a File, path: &'a Path, len: u64, fs: FsKind) -> Self {
        let truthful = may_see_residency(file, None);
        Target {
            file,
            path,
            len,
            fs,
            truthful,
        }
    }

    /// Like [`Target::with_fs`], with the owner of the file known (from its fstat): spares the
    /// fstat [`Target::with_fs`] makes for a caller other than root.
    pub fn with_owner(file: &'a File, path: &'a Path, len: u64, fs: FsKind, owner: u32) -> Self {
        let truthful = may_see_residency(file, Some(owner));
        Target {
            file,
            path,
            len,
            fs,
            truthful,
        }
    }

    /// The file's size.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the file is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The filesystem's kind.
    pub fn fs(&self) -> FsKind {
        self.fs
    }

    /// Whether the kernel tells this caller the truth about the file's residency.
    pub fn truthful(&self) -> bool {
        self.truthful
    }

    /// The part of `range` inside this file.
    pub fn covered(&self, range: Range) -> Range {
        range.clamp(self.len)
    }

    /// Counts the resident pages of `range` with `method`.
    pub fn measure(&self, range: Range, method: Method) -> Result<Residency> {
        let covered = self.covered(range);
        let (start, end) = covered.bounds();
        let pages = covered.page_count();
        let mut residency = Residency {
            pages,
            resident: None,
            detail: None,
            used: None,
            unknown: None,
            fs: self.fs,
        };
        if self.fs == FsKind::Hugetlbfs {
            residency.unknown = Some(Unknown::Hugetlbfs);
            return Ok(residency);
        }
        if pages == 0 {
            residency.resident = Some(0);
            return Ok(residency);
        }
        if method != Method::Mincore {
            match cachestat(self.file, start, end - start) {
                Ok(stat) => {
                    residency.resident = Some(stat.cache.min(pages));
                    residency.detail = Some(stat);
                    residency.used = Some(Used::Cachestat);
                    return Ok(residency);
                }
                Err(e) if e.raw_os_error() == Some(libc::EPERM) && !self.truthful => {
                    residency.unknown = Some(Unknown::NotWritable);
                    return Ok(residency);
                }
                // ENOSYS (before 6.5), or EPERM from a seccomp filter for a file we may write: mincore.
                Err(e)
                    if method == Method::Auto
                        && matches!(e.raw_os_error(), Some(libc::ENOSYS) | Some(libc::EPERM)) => {}
                Err(e) => return Err(Error::io(Op::Read, self.path, annotate(e, "cachestat"))),
            }
        }
        if !self.truthful {
            residency.unknown = Some(Unknown::NotWritable);
            return Ok(residency);
        }
        let mut resident = 0u64;
        self.scan_pages(range, |_, flags| {
            resident += flags.iter().filter(|&&f| f & 1 == 1).count() as u64
        })?;
        residency.resident = Some(resident);
        residency.used = Some(Used::Mincore);
        Ok(residency)
    }

    /// Calls `f(byte_offset_of_first_page, flags)` for each mincore window of `range`, in order: one
    /// flag byte per page (bit 0 set when resident), the first page holding the range's first byte.
    /// Memory stays bounded whatever the size of the file. The caller should check [`Self::truthful`].
    ///
    /// A window in which cachestat finds no page at all is all zeros without a map or a mincore call:
    /// mincore costs about 9 ms per 512 MiB window even where nothing is cached, 18 s for an empty
    /// 1 TiB sparse file. (Not on tmpfs, where mincore also counts pages in the swap cache.)
    pub fn scan_pages(&self, range: Range, mut f: impl FnMut(u64, &[u8])) -> Result<()> {
        let (start, end) = self.covered(range).bounds();
        let page = page_size() as u64;
        let mut window = MINCORE_WINDOW_PAGES * page;
        let mut flags = Vec::new();
        let mut at = align_down(start);
        while at < end {
            let stop = (at + window).min(end);
            if self.fs == FsKind::Storage
                && cachestat(self.file, at, stop - at).is_ok_and(|s| s.cache == 0)
            {
                flags.clear();
                flags.resize(Range::new(at, stop).page_count() as usize, 0);
                f(at, &flags);
                at = stop;
                continue;
            }
            let map =
                match MappedRange::new(self.file, at, (stop - at) as usize, MapMode::Shared, false)
                {
                    Ok(map) => map,
                    // Short of address space (ulimit -v): smaller windows, down to a megabyte.
                    Err(e)
                        if e.raw_os_error() == Some(libc::ENOMEM) && window > MINCORE_SMALLEST =>
                    {
                        window = (window / 4).max(MINCORE_SMALLEST);
                        continue;
                    }
                    Err(e) => return Err(Error::io(Op::Map, self.path, e)),
                };
            map.resident_pages(&mut flags)
                .map_err(|e| Error::io(Op::Read, self.path, annotate(e, "mincore")))?;
            f(at, &flags);
            at = stop;
        }
        Ok(())
    }

    /// The resident and missing runs of `range`, or `None` when residency is unknown for this caller.
    pub fn runs(&self, range: Range) -> Result<Option<Vec<Run>>> {
        if !self.truthful || self.fs == FsKind::Hugetlbfs {
            return Ok(None);
        }
        let covered = self.covered(range);
        let page = page_size() as u64;
        let mut runs: Vec<Run> = Vec::new();
        self.scan_pages(range, |first, flags| {
            for (i, flag) in flags.iter().enumerate() {
                let resident = flag & 1 == 1;
                let piece = Range::new(first + i as u64 * page, first + (i as u64 + 1) * page)
                    .intersect(covered);
                if piece.is_empty() {
                    continue;
                }
                let last = runs.last_mut().filter(|last| last.resident == resident);
                match last.and_then(|last| Some((last.range.join(piece)?, last))) {
                    Some((joined, last)) => last.range = joined,
                    None => runs.push(Run {
                        range: piece,
                        resident,
                    }),
                }
            }
        })?;
        Ok(Some(runs))
    }
}

/// The kind of filesystem holding `file`.
///
/// A block device's node lies on devtmpfs, but its own page cache is evictable storage.
pub fn fs_kind(file: &File) -> std::io::Result<FsKind> {
    let f_type = rustix::fs::fstatfs(file)?.f_type;
    Ok(match f_type {
        TMPFS_MAGIC
            if rustix::fs::fstat(file).is_ok_and(|s| {
                rustix::fs::FileType::from_raw_mode(s.st_mode) == rustix::fs::FileType::BlockDevice
            }) =>
        {
            FsKind::Storage
        }
        TMPFS_MAGIC => FsKind::Tmpfs,
        HUGETLBFS_MAGIC => FsKind::Hugetlbfs,
        _ => FsKind::Storage,
    })
}

/// Whether the kernel reports this file's true residency to us: it does for root (CAP_FOWNER), for the
/// file's owner, and for whoever may write it (the test the kernel makes in mincore and cachestat).
pub(crate) fn may_see_residency(file: &File, owner: Option<u32>) -> bool {
    let euid = effective_uid();
    if euid == 0 {
        return true;
    }
    let owner = owner.or_else(|| rustix::fs::fstat(file).ok().map(|s| s.st_uid));
    if owner == Some(euid) {
        return true;
    }
    let link = format!("/proc/self/fd/{}", file.as_raw_fd());
    rustix::fs::accessat(
        rustix::fs::CWD,
        link.as_str(),
        rustix::fs::Access::WRITE_OK,
        rustix::fs::AtFlags::EACCESS,
    )
    .is_ok()
}

/// The effective user id, asked of the kernel once: the tools never change it.
pub fn effective_uid() -> u32 {
    static EUID: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *EUID.get_or_init(|| rustix::process::geteuid().as_raw())
}

fn annotate(e: io::Error, call: &str) -> io::Error {
    io::Error::new(e.kind(), format!("{call}: {}", crate::error::describe(&e)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    fn evict(file: &File) {
        rustix::fs::fadvise(file.as_fd(), 0, None, rustix::fs::Advice::DontNeed).unwrap();
    }

    /// Windows that cachestat finds empty are skipped without mincore; the pages of the others are
    /// still reported one by one, at the right offsets.
    #[test]
    fn empty_windows_are_skipped_and_the_rest_is_exact() {
        use std::os::unix::fs::FileExt;
        let dir = crate::testing::disk_tempdir();
        let path = dir.path().join("sparse");
        let page = page_size() as u64;
        let window = MINCORE_WINDOW_PAGES * page;
        let len = 3 * window + 5 * page;
        let file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .unwrap();
        file.set_len(len).unwrap();
        // One page of data in the third window, written back, dropped, then read back in.
        let at = 2 * window + 3 * page;
        file.write_all_at(&vec![7u8; page as usize], at).unwrap();
        file.sync_all().unwrap();
        evict(&file);
        let mut one = vec![0u8; page as usize];
        file.read_exact_at(&mut one, at).unwrap();
        let target = Target::new(&file, &path, len).unwrap();
        if target.fs != FsKind::Storage || cachestat(&file, 0, len).is_err() {
            crate::testing::skip("needs a disk filesystem and cachestat (Linux 6.5)");
            return;
        }
        let all = Range::ALL;
        // Readahead may bring in neighbours of the page read; mincore over the whole file says which.
        let mut expected = Vec::new();
        let map = MappedRange::new(&file, 0, len as usize, MapMode::Shared, false).unwrap();
        map.resident_pages(&mut expected).unwrap();
        assert_eq!(expected[(at / page) as usize], 1);
        let (mut seen, mut next) = (Vec::new(), 0u64);
        target
            .scan_pages(all, |first, flags| {
                assert_eq!(first, next, "windows in order, none missing");
                next = first + flags.len() as u64 * page;
                seen.extend(flags.iter().map(|f| f & 1));
            })
            .unwrap();
        assert_eq!(seen.len() as u64, len.div_ceil(page));
        let expected: Vec<u8> = expected.iter().map(|f| f & 1).collect();
        assert_eq!(seen, expected);
        let resident = target.measure(all, Method::Mincore).unwrap().resident;
        assert_eq!(resident, Some(expected.iter().map(|&f| u64::from(f)).sum()));
    }

    #[test]
    fn cached_then_evicted_with_both_methods() {
        let dir = crate::testing::disk_tempdir();
        let path = dir.path().join("f");
        let pages = 64u64;
        std::fs::write(&path, vec![1u8; (pages as usize) * page_size()]).unwrap();
        let file = File::open(&path).unwrap();
        file.sync_all().unwrap();
        let target = Target::new(&file, &path, pages * page_size() as u64).unwrap();
        let all = Range::ALL;
        if target.fs() == FsKind::Tmpfs {
            crate::testing::skip(
                "the temporary directory is on tmpfs, whose pages cannot be evicted",
            );
            return;
        }
        std::fs::read(&path).unwrap();
        for method in [Method::Auto, Method::Mincore] {
            let r = target.measure(all, method).unwrap();
            assert_eq!((r.pages, r.resident), (pages, Some(pages)), "{method:?}");
        }
        evict(&file);
        for method in [Method::Auto, Method::Mincore] {
            let r = target.measure(all, method).unwrap();
            assert_eq!(r.resident, Some(0), "{method:?}");
        }
        // Read the first half back, without readahead: one resident run, then one missing run.
        rustix::fs::fadvise(file.as_fd(), 0, None, rustix::fs::Advice::Random).unwrap();
        let mut half_bytes = vec![0u8; (pages as usize / 2) * page_size()];
        std::os::unix::fs::FileExt::read_exact_at(&file, &mut half_bytes, 0).unwrap();
        let runs = target.runs(all).unwrap().unwrap();
        let half = pages / 2 * page_size() as u64;
        assert_eq!(
            runs[0],
            Run {
                range: Range::upto(half),
                resident: true
            }
        );
        assert_eq!(runs.last().unwrap().range.end(), pages * page_size() as u64);
        assert!(!runs.last().unwrap().resident);
        let r = target
            .measure(Range::new(1, half), Method::Mincore)
            .unwrap();
        assert_eq!(
            r.resident,
            Some(pages / 2),
            "a range clipped inside the first half"
        );
    }
}
