//! Windows: a byte range split into bounded, page-aligned pieces, and the one driver that feeds either
//! mapped windows (in parallel on rayon workers) or read(2) buffers to a [`Fold`], combining partial
//! results in input order.

use std::os::unix::fs::FileExt;

use rayon::prelude::*;

use crate::cache::{CacheMode, Spans, Tally, Trail};
use crate::copy::extent::data_extents;
use crate::error::{Error, Op, Reason, Result};
use crate::input::{Access, Input};
use crate::map::{MapMode, MappedRange, page_size};
use crate::range::Range;

/// A piece of a file to map: `len` bytes from `offset`, its length a `usize` to slice a map with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Byte offset in the file.
    pub offset: u64,
    /// Length in bytes (> 0).
    pub len: usize,
}

impl Window {
    /// The bytes of the file the window covers.
    pub fn range(self) -> Range {
        Range::at_most(self.offset, self.len as u64)
    }
}

impl From<Range> for Window {
    /// The window over `range`, which is no longer than the address space (as every piece of
    /// [`Range::windows`] with a `usize` size is).
    fn from(range: Range) -> Window {
        Window {
            offset: range.start(),
            len: range.len() as usize,
        }
    }
}

/// Splits `range` into windows of at most `size` bytes whose inner boundaries fall on multiples of
/// `size` (rounded up to whole pages), so every window but the first starts on a page.
pub fn plan(range: Range, size: usize) -> Vec<Window> {
    range.windows(size as u64).map(Window::from).collect()
}

/// A computation over the bytes of an input, written once and run over mapped windows or read buffers.
///
/// `chunk` computes the result of one contiguous piece on its own; `combine` joins the results of two
/// adjacent pieces, left then right. `combine` must be associative and `empty()` its identity, so that
/// any split of the input gives the same answer.
pub trait Fold: Sync {
    /// A partial result.
    type Acc: Send;
    /// The result of no bytes.
    fn empty(&self) -> Self::Acc;
    /// The result of `bytes`, which start at `offset` in the input.
    fn chunk(&self, offset: u64, bytes: &[u8]) -> Self::Acc;
    /// The result of `left` followed by `right`.
    fn combine(&self, left: Self::Acc, right: Self::Acc) -> Self::Acc;

    /// The result of `len` zero bytes at `offset`: a hole of a sparse file, which is never read (on
    /// tmpfs, reading a hole through a map would allocate it). By default, `chunk` over zeros; a fold
    /// that can say it at once should.
    fn zeros(&self, offset: u64, len: u64) -> Self::Acc {
        static ZEROS: [u8; 64 << 10] = [0; 64 << 10];
        let mut acc = self.empty();
        let mut at = 0;
        while at < len {
            let n = (len - at).min(ZEROS.len() as u64) as usize;
            acc = self.combine(acc, self.chunk(offset + at, &ZEROS[..n]));
            at += n as u64;
        }
        acc
    }
}

/// A piece of a file to scan: data, through maps, or a hole, known to read as zeros.
enum Piece {
    Data(Window),
    Hole(Range),
}

/// The windows of the data of `[0, len)` of `input` and the holes between them, in order. A file
/// without holes (or on a filesystem that cannot tell) is all data.
fn pieces(input: &Input, len: u64, size: usize) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut at = 0;
    for extent in data_extents(input.file(), len, input.blocks()) {
        if extent.start() > at {
            pieces.push(Piece::Hole(Range::new(at, extent.start())));
        }
        pieces.extend(plan(extent, size).into_iter().map(Piece::Data));
        at = extent.end();
    }
    if at < len {
        pieces.push(Piece::Hole(Range::new(at, len)));
    }
    pieces
}

/// How [`scan`] reads.
#[derive(Debug, Clone, Copy)]
pub struct ScanOptions {
    /// Shared or private maps.
    pub mode: MapMode,
    /// Never map: read regular files with read(2) too.
    pub no_mmap: bool,
    /// Largest window mapped at once, per worker; also the read(2) buffer size.
    pub window: usize,
    /// Fault each window in when mapping it (MADV_POPULATE_READ): faster for data that is read whole.
    pub populate: bool,
    /// Whether the pages the scan brings into the page cache are dropped behind it.
    pub cache: CacheMode,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            mode: MapMode::Shared,
            no_mmap: false,
            window: DEFAULT_WINDOW,
            populate: true,
            cache: CacheMode::Normal,
        }
    }
}

/// The default window: big enough to amortise mmap and munmap, small enough to keep mapped memory bounded
/// (threads x window) and to spread a file over the workers.
pub const DEFAULT_WINDOW: usize = 16 << 20;

/// Reads the whole input through `fold`. `progress` is called with the number of bytes just processed.
/// A file that shrinks while it is mapped gives `changed size while being read`; a page the device
/// cannot read gives `Input/output error`.
pub fn scan<F: Fold>(
    input: &Input,
    fold: &F,
    options: &ScanOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<F::Acc> {
    scan_tallied(input, fold, options, progress, &Tally::new())
}

/// [`scan`], counting into `tally` the pages a neutral scan ([`CacheMode::Neutral`]) dropped and left.
///
/// A neutral scan of a regular file reads its data extents in file order, in spans of
/// [`SPAN`](crate::cache::SPAN) bytes, one span at a time through a map faulted in with the kernel's
/// readahead going forward only (MADV_SEQUENTIAL), folded on all the workers at once; the file is
/// recorded (which of its pages are cached) ahead of the reader, as far as its readahead can reach,
/// and the pages it brought in are dropped, once unmapped, when every span before them has been read.
/// Holes are never read. With read-around instead (no advice), a fault would also read pages before
/// the one it needs, into spans already dropped.
pub fn scan_tallied<F: Fold>(
    input: &Input,
    fold: &F,
    options: &ScanOptions,
    progress: &(dyn Fn(u64) + Sync),
    tally: &Tally,
) -> Result<F::Acc> {
    match input.access() {
        Access::Empty => Ok(fold.empty()),
        Access::Map { len } if options.cache == CacheMode::Neutral => {
            scan_neutral(input, len, fold, options, progress, tally)
        }
        Access::Map { len } if !options.no_mmap => scan_mapped(input, len, fold, options, progress),
        _ => {
            let chunk = read_buffer(options) as u64;
            let trail = Trail::of_input(input, options.cache, tally, chunk);
            scan_read(input, fold, options, progress, trail)
        }
    }
}

fn window_size(len: u64, options: &ScanOptions) -> usize {
    // Give every worker a few windows, so a mid-sized file still uses all of them.
    let workers = rayon::current_num_threads().max(1) as u64;
    let share = (len / (workers * 4)).max(1 << 20) as usize;
    share.min(options.window.max(page_size()))
}

fn scan_mapped<F: Fold>(
    input: &Input,
    len: u64,
    fold: &F,
    options: &ScanOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<F::Acc> {
    let changed = || Error::new(Op::Read, input.name(), Reason::ChangedSize);
    let acc = pieces(input, len, window_size(len, options))
        .into_par_iter()
        .map(|piece| match piece {
            Piece::Data(w) => {
                let acc = scan_window(input, w.offset, w.len, fold, options)?;
                progress(w.len as u64);
                Ok(acc)
            }
            Piece::Hole(hole) => {
                progress(hole.len());
                Ok(fold.zeros(hole.start(), hole.len()))
            }
        })
        .try_reduce(|| fold.empty(), |a, b| Ok(fold.combine(a, b)))?;
    // A shrink that stayed inside the last page reads zeros without a fault: compare sizes too.
    if input.current_len()? < len {
        return Err(changed());
    }
    Ok(acc)
}

/// Windows at least this big are split in two when the address space is short (ENOMEM under
/// `ulimit -v`); smaller ones are read with pread(2) instead of mapped.
const SMALLEST_SPLIT: usize = 1 << 20;

/// One window through a map; when mapping it fails for lack of address space (`ulimit -v`), through
/// two smaller windows, down to pread(2) of 64 KiB at a time.
fn scan_window<F: Fold>(
    input: &Input,
    offset: u64,
    len: usize,
    fold: &F,
    options: &ScanOptions,
) -> Result<F::Acc> {
    let changed = || Error::new(Op::Read, input.name(), Reason::ChangedSize);
    match MappedRange::new(input.file(), offset, len, options.mode, options.populate) {
        Ok(map) => {
            // A page the populate could not read is not read again page by page: the answer is known.
            let acc = (!map.faulted()).then(|| fold.chunk(offset, map.bytes()));
            match acc.filter(|_| !map.faulted()) {
                Some(acc) => Ok(acc),
                None => {
                    let end = offset + len as u64;
                    Err(Error::new(Op::Read, input.name(), input.fault_reason(end)))
                }
            }
        }
        Err(e) if e.raw_os_error() == Some(libc::ENOMEM) && len >= SMALLEST_SPLIT => {
            let half = (len / 2) / page_size() * page_size();
            let a = scan_window(input, offset, half, fold, options)?;
            let b = scan_window(input, offset + half as u64, len - half, fold, options)?;
            Ok(fold.combine(a, b))
        }
        Err(e) if e.raw_os_error() == Some(libc::ENOMEM) => {
            let mut buf = vec![0u8; len.min(64 << 10)];
            let mut acc = fold.empty();
            let mut done = 0;
            while done < len {
                let want = buf.len().min(len - done);
                let at = offset + done as u64;
                let n = match input.file().read_at(&mut buf[..want], at) {
                    Ok(0) => return Err(changed()),
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(Error::io(Op::Read, input.name(), e)),
                };
                acc = fold.combine(acc, fold.chunk(at, &buf[..n]));
                done += n;
            }
            Ok(acc)
        }
        Err(e) => Err(Error::io(Op::Map, input.name(), e)),
    }
}

/// A neutral scan of the regular file `input` (`len` bytes): its data in spans read on all the workers
/// at once through [`Spans`] (through the cache, dropped behind the readers, see [`crate::cache`]),
/// folded in order; holes as zeros, never read.
fn scan_neutral<F: Fold>(
    input: &Input,
    len: u64,
    fold: &F,
    options: &ScanOptions,
    progress: &(dyn Fn(u64) + Sync),
    tally: &Tally,
) -> Result<F::Acc> {
    let changed = || Error::new(Op::Read, input.name(), Reason::ChangedSize);
    let pieces = pieces(input, len, crate::cache::span(options.window));
    let data = pieces
        .iter()
        .filter_map(|piece| match piece {
            Piece::Data(w) => Some(w.range()),
            Piece::Hole(_) => None,
        })
        .collect();
    let spans = Spans::new(input.file(), tally, data, !options.no_mmap);
    let folded = spans.run(
        rayon::current_num_threads(),
        |_, span, bytes| {
            if (bytes.len() as u64) < span.len() {
                return Err(changed());
            }
            progress(span.len());
            Ok(fold.chunk(span.start(), bytes))
        },
        |e| e.of(input),
    )?;
    drop(spans);
    let mut folded = folded.into_iter();
    let mut acc = fold.empty();
    for piece in pieces {
        let next = match piece {
            Piece::Data(_) => folded.next().ok_or_else(changed)?,
            Piece::Hole(hole) => {
                progress(hole.len());
                fold.zeros(hole.start(), hole.len())
            }
        };
        acc = fold.combine(acc, next);
    }
    // A shrink that stayed inside the last page reads zeros without a fault: compare sizes too.
    if input.current_len()? < len {
        return Err(changed());
    }
    Ok(acc)
}

/// The read(2) buffer of [`scan`]'s read path.
fn read_buffer(options: &ScanOptions) -> usize {
    options.window.clamp(64 << 10, 4 << 20)
}

fn scan_read<F: Fold>(
    input: &Input,
    fold: &F,
    options: &ScanOptions,
    progress: &(dyn Fn(u64) + Sync),
    mut trail: Option<Trail<'_>>,
) -> Result<F::Acc> {
    let mut buf = vec![0u8; read_buffer(options)];
    let mut acc = fold.empty();
    let mut offset = 0u64;
    // Where the descriptor stands in the file, for the trail (standard input may start anywhere).
    let start = trail.as_ref().map_or(0, Trail::start);
    loop {
        if let Some(trail) = &mut trail {
            trail.reading(start + offset, buf.len() as u64);
        }
        let n = input.read(&mut buf)?;
        if n == 0 {
            return Ok(acc);
        }
        acc = fold.combine(acc, fold.chunk(offset, &buf[..n]));
        offset += n as u64;
        if let Some(trail) = &mut trail {
            trail.passed(start + offset);
        }
        progress(n as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn plan_covers_the_range_on_page_boundaries() {
        let page = page_size() as u64;
        for &(offset, len, size) in &[
            (0u64, 0u64, 4096usize),
            (0, 1, 4096),
            (3, 10 * page + 5, 3 * page as usize),
            (page - 1, 2, 1),
        ] {
            let windows = plan(Range::at(offset, len).unwrap(), size);
            let mut at = offset;
            for (i, w) in windows.iter().enumerate() {
                assert_eq!(w.offset, at);
                assert!(w.len > 0);
                if i > 0 {
                    assert_eq!(w.offset % page, 0);
                }
                at += w.len as u64;
            }
            assert_eq!(at, offset + len);
        }
        assert_eq!(
            plan(Range::upto(1 << 40), 16 << 20).len(),
            1 << 16,
            "a 1 TiB range is bounded windows"
        );
    }

    struct Bytes;
    impl Fold for Bytes {
        type Acc = Vec<u8>;
        fn empty(&self) -> Vec<u8> {
            Vec::new()
        }
        fn chunk(&self, _offset: u64, bytes: &[u8]) -> Vec<u8> {
            bytes.to_vec()
        }
        fn combine(&self, mut a: Vec<u8>, b: Vec<u8>) -> Vec<u8> {
            a.extend(b);
            a
        }
    }

    #[test]
    fn both_paths_combine_in_input_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let data: Vec<u8> = (0..5 * page_size() + 3).map(|i| (i % 253) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let input = Input::open(&path).unwrap();
        for no_mmap in [false, true] {
            let options = ScanOptions {
                window: page_size(),
                no_mmap,
                ..ScanOptions::default()
            };
            assert_eq!(scan(&input, &Bytes, &options, &|_| {}).unwrap(), data);
            std::io::Seek::rewind(&mut input.file()).unwrap();
        }
    }

    /// Counts the bytes it is given and how many of them are zeros; on the first window it can run a
    /// hook (to change the file under the map mid-scan).
    struct Zeros<'a> {
        hook: &'a (dyn Fn() + Sync),
        once: std::sync::Once,
        zeros: std::sync::atomic::AtomicUsize,
    }
    impl<'a> Zeros<'a> {
        fn new(hook: &'a (dyn Fn() + Sync)) -> Self {
            Zeros {
                hook,
                once: std::sync::Once::new(),
                zeros: std::sync::atomic::AtomicUsize::new(0),
            }
        }
        fn zeros(&self) -> usize {
            self.zeros.load(std::sync::atomic::Ordering::Relaxed)
        }
    }
    impl Fold for Zeros<'_> {
        type Acc = u64;
        fn empty(&self) -> u64 {
            0
        }
        fn chunk(&self, _offset: u64, bytes: &[u8]) -> u64 {
            self.once.call_once(self.hook);
            let zeros = bytes.iter().filter(|&&b| b == 0).count();
            self.zeros
                .fetch_add(zeros, std::sync::atomic::Ordering::Relaxed);
            bytes.len() as u64
        }
        fn combine(&self, a: u64, b: u64) -> u64 {
            a + b
        }
    }

    fn file_of(len: usize) -> (tempfile::TempDir, std::path::PathBuf, Input) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, vec![b'x'; len]).unwrap();
        let input = Input::open(&path).unwrap();
        assert_eq!(input.access(), Access::Map { len: len as u64 });
        (dir, path, input)
    }

    fn set_len(path: &std::path::Path, len: u64) {
        std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .unwrap()
            .set_len(len)
            .unwrap();
    }

    fn page_windows() -> ScanOptions {
        ScanOptions {
            window: page_size(),
            ..ScanOptions::default()
        }
    }

    fn is_changed_size<T: std::fmt::Debug>(result: Result<T>) -> bool {
        match result {
            Err(e) => matches!(e.reason(), Reason::ChangedSize) && e.op() == Op::Read,
            Ok(v) => panic!("expected changed size, got {v:?}"),
        }
    }

    #[test]
    fn truncated_after_open_is_changed_size() {
        // Opened at 16 pages, truncated to 0 before the scan: every page mapped lies past the end and
        // faults; the guard gives zeros instead of a dead process, and the scan reports the change.
        let len = 16 * page_size();
        let (_dir, path, input) = file_of(len);
        set_len(&path, 0);
        let fold = Zeros::new(&|| {});
        assert!(is_changed_size(scan(
            &input,
            &fold,
            &page_windows(),
            &|_| {}
        )));
        // The file is all hole now, as far as SEEK_DATA can tell: nothing is mapped, and the size
        // check finds the change.
        // Without the populate, the pages are read: they fault, and read as zeros under the guard.
        let fold = Zeros::new(&|| {});
        let unpopulated = ScanOptions {
            populate: false,
            ..page_windows()
        };
        assert!(is_changed_size(scan(&input, &fold, &unpopulated, &|_| {})));
        assert!(fold.zeros() >= page_size(), "{} zeros", fold.zeros());
    }

    #[test]
    fn truncated_during_the_scan_is_changed_size() {
        // The first window to be counted truncates the file to one page, then reads its own bytes:
        // the pages past the new end fault while being read.
        let len = 16 * page_size();
        let (_dir, path, input) = file_of(len);
        let truncate = || set_len(&path, page_size() as u64);
        let fold = Zeros::new(&truncate);
        let options = ScanOptions {
            window: 4 * page_size(),
            ..ScanOptions::default()
        };
        assert!(is_changed_size(scan(&input, &fold, &options, &|_| {})));
        // The window that truncated (not necessarily the file's first) has 3 or 4 pages past the new end.
        assert!(fold.zeros() >= 3 * page_size(), "{} zeros", fold.zeros());
    }

    #[test]
    fn shrunk_inside_the_last_page_is_changed_size() {
        // No page lies past the new end, so nothing faults: the size check catches it.
        let len = 3 * page_size() + 100;
        let (_dir, path, input) = file_of(len);
        set_len(&path, len as u64 - 10);
        let fold = Zeros::new(&|| {});
        assert!(is_changed_size(scan(
            &input,
            &fold,
            &page_windows(),
            &|_| {}
        )));
        assert_eq!(fold.zeros(), 10);
    }

    #[test]
    fn grown_after_open_is_counted_as_opened() {
        let len = 3 * page_size() + 1;
        let (_dir, path, input) = file_of(len);
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(&[b'y'; 5000])
            .unwrap();
        let fold = Zeros::new(&|| {});
        assert_eq!(
            scan(&input, &fold, &page_windows(), &|_| {}).unwrap(),
            len as u64
        );
        assert_eq!(fold.zeros(), 0);
    }
}
