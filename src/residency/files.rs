//! Measuring files one at a time (an open file, or a path, such as a process's file under /proc)
//! into a [`FileStat`]: resident pages and bytes, and on request the resident runs and a map of
//! cells; the [`Outcome`] of each path (measured, skipped, failed); and the [`Totals`] of a run, in
//! which a file reached by several paths counts once.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rustix::fs::{FileType, Mode, OFlags, Stat};

use super::{FsKind, Method, Residency, Run, Target, Unknown, Used, fs_kind};
use crate::error::{Error, Op};
use crate::map::page_size;
use crate::procmaps;
use crate::range::Range;
use crate::snapshot::Identity;
use crate::sys::cachestat::{Cachestat, cachestat};
use crate::sys::signals;
use crate::walk::SkipReason;

/// What to measure of each file.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// The byte range of each file looked at.
    pub range: Range,
    /// How to ask the kernel.
    pub method: Method,
    /// Find the resident and missing runs ([`FileStat::runs`]).
    pub runs: bool,
    /// Split the range into at most this many cells ([`FileStat::cells`]).
    pub cells: Option<usize>,
}

/// What an error is about: a file (its exact name) or a process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// A file, as named.
    File(PathBuf),
    /// A process given to --pid.
    Process(u32),
}

/// The residency of a span of pages of a file, one cell of a map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cell {
    /// Resident pages.
    pub resident: u64,
    /// Pages.
    pub pages: u64,
}

/// A file measured.
#[derive(Debug)]
pub struct FileStat {
    /// The path as named.
    pub path: PathBuf,
    /// Device, inode, size and modification time when measured.
    pub identity: Identity,
    /// The bytes looked at.
    pub range: Range,
    /// What the kernel said.
    pub residency: Residency,
    /// Bytes of `range` that lie in resident pages (exact), or `None` when unknown.
    pub resident_bytes: Option<u64>,
    /// Resident and missing runs (with --ranges and --save), when residency is known.
    pub runs: Option<Vec<Run>>,
    /// Map cells (with --map), when residency is known.
    pub cells: Option<Vec<Cell>>,
    /// Hard links to the file.
    pub nlink: u64,
    /// False for a later path to a file already counted: it is shown but not added to the totals.
    pub counted: bool,
    /// The error cachestat gave when --method auto fell back to mincore.
    pub refused: Option<i32>,
}

impl FileStat {
    /// The length of the range looked at.
    pub fn len(&self) -> u64 {
        self.range.len()
    }

    /// Whether the range looked at is empty.
    pub fn is_empty(&self) -> bool {
        self.range.is_empty()
    }

    /// Resident pages, when known.
    pub fn resident(&self) -> Option<u64> {
        self.residency.resident
    }

    /// The share of pages resident, in percent; `None` when unknown or when there are no pages.
    pub fn percent(&self) -> Option<f64> {
        percent(self.residency.resident?, self.residency.pages)
    }
}

/// `resident` of `pages` in percent, `None` for no pages.
pub fn percent(resident: u64, pages: u64) -> Option<f64> {
    (pages > 0).then(|| resident as f64 * 100.0 / pages as f64)
}

/// What became of one entry.
#[derive(Debug)]
pub enum Outcome {
    /// Measured.
    File(Box<FileStat>),
    /// Not a regular file: passed over with a note.
    Skipped {
        /// The path.
        path: PathBuf,
        /// Why.
        why: String,
    },
    /// A file failed: what was being done, on which path, and why.
    Failed(crate::error::Error),
    /// A process given by pid could not be listed, or a walk or list failed with no file to blame.
    Error {
        /// The process, when the failure has one.
        path: Option<Subject>,
        /// The reason.
        message: String,
    },
    /// A file of a process that vanished before it could be opened: the process exited, or closed,
    /// unmapped or deleted the file.
    Gone {
        /// The process.
        pid: u32,
        /// Whether the process itself exited.
        exited: bool,
    },
    /// Passed over without a note: something a process maps that is not a regular file.
    Ignored,
    /// Not measured: a termination signal arrived.
    Cancelled,
}

/// Totals over the files measured, each (device, inode) once.
#[derive(Debug, Clone, Default)]
pub struct Totals {
    /// Distinct files measured.
    pub files: u64,
    /// Further paths to files already counted.
    pub links: u64,
    /// Directories walked.
    pub dirs: u64,
    /// Paths passed over (FIFOs, sockets, devices, loops).
    pub skipped: u64,
    /// Failures.
    pub errors: u64,
    /// Files of exited processes.
    pub gone: u64,
    /// Pages looked at.
    pub pages: u64,
    /// Resident pages, over files whose residency is known.
    pub resident_pages: u64,
    /// Files whose residency is unknown, and their pages.
    pub unknown_files: u64,
    /// Pages of those files.
    pub unknown_pages: u64,
    /// Bytes of those files.
    pub unknown_size: u64,
    /// Unknown because the caller may not write them.
    pub not_writable: u64,
    /// Unknown because they are on hugetlbfs.
    pub hugetlbfs: u64,
    /// Files on tmpfs.
    pub tmpfs: u64,
    /// Bytes looked at.
    pub size: u64,
    /// Bytes in resident pages.
    pub resident_bytes: u64,
    /// Sums of cachestat's counters, when some file was measured with cachestat.
    pub detail: Option<Cachestat>,
    /// The error cachestat gave where --method auto fell back to mincore.
    pub refused: Option<i32>,
    /// Wall time of the measurement.
    pub elapsed: Duration,
}

impl Totals {
    /// The share of known pages resident, in percent.
    pub fn percent(&self) -> Option<f64> {
        percent(self.resident_pages, self.pages - self.unknown_pages)
    }
}

const FILE_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::NONBLOCK)
    .union(OFlags::CLOEXEC)
    .union(OFlags::NOCTTY);

/// Opens `open` (read-only, non-blocking) and measures it as `shown`; the file of process `pid` when
/// given: then what is not a regular file is passed over without a note, and a file that vanished is
/// [`Outcome::Gone`]. The path of the result is `shown`.
pub fn measure_path(shown: &Path, open: &Path, pid: Option<u32>, options: &Options) -> Outcome {
    if signals::caught().is_some() {
        return Outcome::Cancelled;
    }
    match rustix::fs::open(open, FILE_FLAGS, Mode::empty()) {
        Ok(fd) => with_path(
            measure_fd(&File::from(fd), shown, pid.is_some(), options),
            shown.to_path_buf(),
        ),
        Err(e)
            if pid.is_some() && (e == rustix::io::Errno::NOENT || e == rustix::io::Errno::SRCH) =>
        {
            let pid = pid.unwrap_or_default();
            Outcome::Gone {
                pid,
                exited: !procmaps::alive(pid),
            }
        }
        Err(e) => Outcome::Failed(Error::io(Op::Open, shown, e.into())),
    }
}

/// Measures an open file (standard input, say) as `path`, after an fstat; `quiet` passes over a file
/// that is not regular without a note. The path of the result is `path`.
pub fn measure_fd(file: &File, path: &Path, quiet: bool, options: &Options) -> Outcome {
    let outcome = match rustix::fs::fstat(file) {
        Ok(stat) => measure_open(file, path, &stat, quiet, options),
        Err(e) => Outcome::Failed(Error::io(Op::Stat, path, e.into())),
    };
    with_path(outcome, path.to_path_buf())
}

/// Gives a measured file its path ([`measure_open`] leaves it empty, to spare a copy).
pub fn with_path(mut outcome: Outcome, path: PathBuf) -> Outcome {
    if let Outcome::File(f) = &mut outcome {
        f.path = path;
    }
    outcome
}

/// Measures an open file whose fstat is `stat` (`path` names it in errors); `quiet` passes over a
/// file that is not regular without a note. The path of a [`FileStat`] is left empty: the caller
/// moves its own in ([`with_path`]).
pub fn measure_open(
    file: &File,
    path: &Path,
    stat: &Stat,
    quiet: bool,
    options: &Options,
) -> Outcome {
    if signals::caught().is_some() {
        return Outcome::Cancelled;
    }
    let kind = FileType::from_raw_mode(stat.st_mode);
    let why = match kind {
        FileType::RegularFile => None,
        // Named (not a process's): its own page cache, as fincore reports it.
        FileType::BlockDevice if !quiet => None,
        FileType::Directory => Some("a directory"),
        FileType::Fifo => Some(SkipReason::Fifo.describe()),
        FileType::Socket => Some(SkipReason::Socket.describe()),
        FileType::CharacterDevice => Some(SkipReason::CharDevice.describe()),
        FileType::BlockDevice => Some(SkipReason::BlockDevice.describe()),
        _ => Some("not a regular file"),
    };
    if let Some(why) = why {
        return if quiet {
            Outcome::Ignored
        } else {
            Outcome::Skipped {
                path: path.to_path_buf(),
                why: why.into(),
            }
        };
    }
    let mut stat = *stat;
    if kind == FileType::BlockDevice && stat.st_size == 0 {
        match device_size(file) {
            Ok(size) => stat.st_size = size as i64,
            Err(e) => return Outcome::Failed(Error::io(Op::Stat, path, e)),
        }
    }
    let stat = &stat;
    let len = stat.st_size as u64;
    let identity = Identity {
        dev: stat.st_dev,
        ino: stat.st_ino,
        size: len,
        mtime_ns: stat
            .st_mtime
            .saturating_mul(1_000_000_000)
            .saturating_add(stat.st_mtime_nsec as i64),
    };
    match measure_target(file, path, len, stat, options) {
        Ok(m) => Outcome::File(Box::new(FileStat {
            path: PathBuf::new(),
            identity,
            range: m.range,
            residency: m.residency,
            resident_bytes: m.resident_bytes,
            runs: m.runs,
            cells: m.cells,
            nlink: stat.st_nlink,
            counted: true,
            refused: m.refused,
        })),
        Err(e) => Outcome::Failed(e),
    }
}

/// The size of an open block device: where it ends.
pub fn device_size(file: &File) -> std::io::Result<u64> {
    Ok(rustix::fs::seek(file, rustix::fs::SeekFrom::End(0))?)
}

struct Measured {
    range: Range,
    residency: Residency,
    resident_bytes: Option<u64>,
    runs: Option<Vec<Run>>,
    cells: Option<Vec<Cell>>,
    refused: Option<i32>,
}

thread_local! {
    /// The filesystem kind of the device last seen on this thread: files of a tree mostly share one.
    static LAST_FS: std::cell::Cell<Option<(u64, FsKind)>> = const { std::cell::Cell::new(None) };
}

/// The kind of filesystem of `file` on device `dev`, asked of the kernel once per device and thread.
fn fs_of(file: &File, dev: u64, path: &Path) -> crate::error::Result<FsKind> {
    if let Some((last, kind)) = LAST_FS.get()
        && last == dev
    {
        return Ok(kind);
    }
    let kind = fs_kind(file).map_err(|e| Error::io(Op::Stat, path, e))?;
    LAST_FS.set(Some((dev, kind)));
    Ok(kind)
}

fn measure_target(
    file: &File,
    path: &Path,
    len: u64,
    stat: &Stat,
    options: &Options,
) -> crate::error::Result<Measured> {
    // A device node's filesystem is devtmpfs; the device's own page cache is evictable storage.
    let fs = if FileType::from_raw_mode(stat.st_mode) == FileType::BlockDevice {
        FsKind::Storage
    } else {
        fs_of(file, stat.st_dev, path)?
    };
    let target = Target::with_owner(file, path, len, fs, stat.st_uid);
    let residency = target.measure(options.range, options.method)?;
    let covered = target.covered(options.range);
    let mut measured = Measured {
        range: covered,
        residency,
        resident_bytes: None,
        runs: None,
        cells: None,
        refused: None,
    };
    let Some(resident) = residency.resident else {
        return Ok(measured);
    };
    if options.runs {
        measured.runs = Some(runs(&target, options.range, resident, residency.pages)?);
    }
    measured.resident_bytes = Some(match &measured.runs {
        Some(runs) => runs
            .iter()
            .filter(|r| r.resident)
            .map(|r| r.range.len())
            .sum(),
        None => resident_bytes(&target, covered, resident, residency.pages, options.method)?,
    });
    if let Some(n) = options.cells {
        measured.cells = Some(cells(&target, covered, n, options.method)?);
    }
    if residency.used == Some(Used::Mincore) && options.method == Method::Auto {
        measured.refused = cachestat(file, 0, 1).err().and_then(|e| e.raw_os_error());
    }
    Ok(measured)
}

/// The resident and missing runs of the range: without a page-by-page look when all or none of it is
/// resident.
fn runs(
    target: &Target,
    range: Range,
    resident: u64,
    pages: u64,
) -> crate::error::Result<Vec<Run>> {
    let covered = target.covered(range);
    if covered.is_empty() {
        return Ok(Vec::new());
    }
    if resident == 0 || resident == pages {
        return Ok(vec![Run {
            range: covered,
            resident: resident > 0,
        }]);
    }
    Ok(target.runs(range)?.unwrap_or_default())
}

/// The bytes of `range` that lie in resident pages: whole pages, less the parts of a partly
/// covered first or last page that lie outside the range when that page is resident.
fn resident_bytes(
    target: &Target,
    range: Range,
    resident: u64,
    pages: u64,
    method: Method,
) -> crate::error::Result<u64> {
    if resident == 0 {
        return Ok(0);
    }
    if resident >= pages {
        return Ok(range.len());
    }
    let (start, end) = range.bounds();
    // Here at least two pages, some resident and some not.
    let page = page_size() as u64;
    let page_resident = |at: u64| -> crate::error::Result<bool> {
        Ok(target.measure(Range::new(at, at + 1), method)?.resident == Some(1))
    };
    let mut bytes = resident * page;
    if !start.is_multiple_of(page) && page_resident(start)? {
        bytes -= start % page;
    }
    if !end.is_multiple_of(page) && page_resident(end - 1)? {
        bytes -= page - end % page;
    }
    Ok(bytes)
}

/// The range split into at most `max` cells of whole pages, each with its resident count: through
/// cachestat per cell, or windowed mincore, so exact whatever the file's size.
fn cells(
    target: &Target,
    range: Range,
    max: usize,
    method: Method,
) -> crate::error::Result<Vec<Cell>> {
    let page = page_size() as u64;
    let pages = range.page_count();
    let n = pages.min(max as u64);
    let first = range.start() / page;
    let bound = |i: u64| first + (u128::from(i) * u128::from(pages) / u128::from(n.max(1))) as u64;
    let mut cells = Vec::with_capacity(n as usize);
    for i in 0..n {
        let cell = Range::new(bound(i) * page, bound(i + 1) * page).intersect(range);
        let r = target.measure(cell, method)?;
        cells.push(Cell {
            resident: r.resident.unwrap_or(0),
            pages: r.pages,
        });
    }
    Ok(cells)
}

impl Totals {
    /// Adds one outcome, whose `counted` flag says whether its file was met before.
    pub fn add(&mut self, outcome: &Outcome) {
        let t = self;
        match outcome {
            Outcome::File(f) => {
                if !f.counted {
                    t.links += 1;
                    return;
                }
                let r = &f.residency;
                t.files += 1;
                t.pages += r.pages;
                t.size += f.len();
                match r.resident {
                    Some(resident) => {
                        t.resident_pages += resident;
                        t.resident_bytes += f.resident_bytes.unwrap_or(0);
                    }
                    None => {
                        t.unknown_files += 1;
                        t.unknown_pages += r.pages;
                        t.unknown_size += f.len();
                        match r.unknown {
                            Some(Unknown::Hugetlbfs) => t.hugetlbfs += 1,
                            _ => t.not_writable += 1,
                        }
                    }
                }
                if r.fs == FsKind::Tmpfs {
                    t.tmpfs += 1;
                }
                if let Some(d) = r.detail {
                    let sum = t.detail.get_or_insert_with(Cachestat::default);
                    sum.cache += d.cache;
                    sum.dirty += d.dirty;
                    sum.writeback += d.writeback;
                    sum.evicted += d.evicted;
                    sum.recently_evicted += d.recently_evicted;
                }
                t.refused = t.refused.or(f.refused);
            }
            Outcome::Skipped { .. } => t.skipped += 1,
            Outcome::Failed(_) | Outcome::Error { .. } => t.errors += 1,
            Outcome::Gone { .. } => t.gone += 1,
            Outcome::Ignored | Outcome::Cancelled => {}
        }
    }
}
