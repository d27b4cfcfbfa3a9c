//! Moving the bytes: mapped windows of the source's data extents on rayon workers, pread/pwrite for
//! small files and `--no-mmap`, read/write for streams, and the verification pass.

use std::fs::File;
use std::io::{self, Read};
use std::num::NonZeroU64;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use memmap2::Advice;
use rayon::prelude::*;
use rustix::fs::FallocateFlags;

use super::extent::{data_extents, nonzero_runs};
use super::{Copied, CopyOptions, DestIo, Failure, Hooks, Sparse, changed};
use crate::cache::{self, Behind, CacheMode, Source, Spans, Tally, Trail};
use crate::dest;
use crate::error::{Error, Op};
use crate::input::{Access, Input, read_full_at};
use crate::map::{MappedRange, MappedRangeMut, page_size};
use crate::range::{Range, total};
use crate::window::{Window, plan};

/// Buffer size of the read/write paths.
const BUFFER: usize = 1 << 20;

/// Copies the whole of `input` into `out`, a new empty file (or one truncated to 0) that errors call
/// `dst`. Regular files are sized and preallocated first, then copied extent by extent; streams are
/// read to their end.
pub fn copy_data(
    input: &Input,
    out: &File,
    dst: &Path,
    options: &CopyOptions,
    hooks: Hooks<'_>,
) -> Result<Copied, Failure> {
    let tally = Tally::new();
    let mut copied = copy_data_tallied(input, out, dst, options, hooks, &Neutral::new(&tally))?;
    copied.cache = tally.get();
    Ok(copied)
}

/// What a neutral copy ([`CacheMode::Neutral`]) needs: where to count, and the byte ranges of the
/// destination to leave cached (those cached before a copy in place).
#[derive(Debug)]
pub(crate) struct Neutral<'a> {
    pub(crate) tally: &'a Tally,
    pub(crate) keep: Vec<Range>,
}

impl<'a> Neutral<'a> {
    pub(crate) fn new(tally: &'a Tally) -> Self {
        Neutral {
            tally,
            keep: Vec::new(),
        }
    }

    /// The destination's follower, for a neutral copy.
    fn behind(&self, out: &'a File, options: &CopyOptions) -> Option<Behind<'a>> {
        (options.cache == CacheMode::Neutral)
            .then(|| Behind::new(out, self.tally, cache::BEHIND_LAG, self.keep.clone()))
    }
}

/// [`copy_data`], neutral when `options.cache` says so, counting into `neutral.tally`.
pub(crate) fn copy_data_tallied(
    input: &Input,
    out: &File,
    dst: &Path,
    options: &CopyOptions,
    hooks: Hooks<'_>,
    neutral: &Neutral<'_>,
) -> Result<Copied, Failure> {
    match input.access() {
        Access::Empty => Ok(Copied::default()),
        Access::Map { len } => copy_regular(input, len, out, dst, options, hooks, neutral),
        Access::Stream(_) => copy_stream(input, out, dst, options, hooks, neutral),
    }
}

fn copy_regular(
    input: &Input,
    len: u64,
    out: &File,
    dst: &Path,
    options: &CopyOptions,
    hooks: Hooks<'_>,
    neutral: &Neutral<'_>,
) -> Result<Copied, Failure> {
    let extents = match options.sparse {
        Sparse::Never => vec![Range::upto(len)],
        Sparse::Auto | Sparse::Always => data_extents(input.file(), len, input.blocks()),
    };
    let data = total(&extents);
    // Size first, then reserve the blocks of the data: a full filesystem fails here, before any byte
    // is written. Holes are not reserved, so the copy stays sparse. With --sparse=always, the data's
    // zero pages become holes too, which is known only as they are read: nothing is reserved then,
    // or a copy that fits once its zero pages are holes would fail for the room they would take.
    rustix::fs::ftruncate(out, len).map_err(|e| Error::io(Op::Resize, dst, e.into()))?;
    if options.sparse != Sparse::Always {
        for e in &extents {
            dest::preallocate(out, dst, e.start(), e.len())?;
        }
    }
    if len > data {
        (hooks.progress)(len - data);
    }
    // A neutral copy reads through `cache::Spans` (see `crate::window::scan_tallied`).
    let skipped = if options.no_mmap || len < options.small || options.cache == CacheMode::Neutral {
        copy_extents_rw(input, &extents, out, dst, options, hooks, neutral)?
    } else {
        copy_extents_mapped(input, len, &extents, out, dst, options, hooks)?
    };
    // A shrink that stayed inside the last page reads zeros without a fault: compare sizes too.
    if input.current_len()? < len {
        return Err(changed(input.name()));
    }
    Ok(Copied {
        bytes: len,
        hole_bytes: len - data + skipped,
        ..Copied::default()
    })
}

/// The largest window the copy maps, whatever `--window-size` allows: copying a cached 1 GiB file on 2
/// cores took a median 161 ms with 4 MiB windows, 171 ms with 8 MiB and 211 ms with 16 MiB (2 MiB: 164
/// ms). A window's pages are populated, then read by the copy; small windows are still in the caches for
/// the second pass, and spread more evenly over the workers.
pub const COPY_WINDOW: usize = 4 << 20;

/// The window size for a file with `data` bytes to copy: a few windows per worker, so that a mid-sized
/// file still uses all of them, and never more than `window` or [`COPY_WINDOW`].
fn window_size(data: u64, window: usize) -> usize {
    let workers = rayon::current_num_threads().max(1) as u64;
    let share = (data / (workers * 4)).max(1 << 20) as usize;
    share.min(window.max(page_size())).min(COPY_WINDOW)
}

fn copy_extents_mapped(
    input: &Input,
    len: u64,
    extents: &[Range],
    out: &File,
    dst: &Path,
    options: &CopyOptions,
    hooks: Hooks<'_>,
) -> Result<u64, Failure> {
    let data = total(extents);
    let size = window_size(data, options.window);
    let windows: Vec<Window> = extents.iter().flat_map(|&e| plan(e, size)).collect();
    // The whole source is read once, in order: let readahead grow as for a sequential read (a hint).
    let _ = rustix::fs::fadvise(input.file(), 0, None, rustix::fs::Advice::Sequential);
    for w in windows.iter().take(PREFETCH) {
        prefetch(input, w);
    }
    // Workers claim windows in file order (not rayon's halving split), so that the file is read front
    // to back, PREFETCH windows ahead of the copy: one stream the disk and readahead can follow.
    let next = AtomicUsize::new(0);
    let skipped = AtomicU64::new(0);
    let workers = rayon::current_num_threads().clamp(1, windows.len().max(1));
    (0..workers).into_par_iter().try_for_each(|_| {
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(&w) = windows.get(i) else {
                return Ok(());
            };
            if (hooks.stop)() {
                next.store(windows.len(), Ordering::Relaxed);
                return Err(Failure::Interrupted);
            }
            if let Some(ahead) = windows.get(i + PREFETCH) {
                prefetch(input, ahead);
            }
            match copy_window(input, len, w, out, dst, options) {
                Ok(n) => {
                    skipped.fetch_add(n, Ordering::Relaxed);
                    (hooks.progress)(w.len as u64);
                }
                Err(e) => {
                    // The others stop at their next claim.
                    next.store(windows.len(), Ordering::Relaxed);
                    return Err(e);
                }
            }
        }
    })?;
    Ok(skipped.into_inner())
}

/// How many windows ahead of the copy the source is read (asynchronously): 8 windows of 4 MiB keep
/// 32 MiB in flight, twice what readahead asks of a file read sequentially (8 MiB here, doubled).
const PREFETCH: usize = 8;

/// Starts reading window `w` of the source into the page cache without waiting (WILLNEED). Populating
/// a map of an evicted file otherwise reads it a fault-around chunk at a time and waits for each. For
/// cached pages it costs a lookup. A hint only: a failure changes nothing.
fn prefetch(input: &Input, w: &Window) {
    let _ = rustix::fs::fadvise(
        input.file(),
        w.offset,
        NonZeroU64::new(w.len as u64),
        rustix::fs::Advice::WillNeed,
    );
}

/// Copies one window through a map of the source; returns the bytes left as holes (`always`).
fn copy_window(
    input: &Input,
    len: u64,
    w: Window,
    out: &File,
    dst: &Path,
    options: &CopyOptions,
) -> Result<u64, Failure> {
    let src = MappedRange::new(input.file(), w.offset, w.len, options.map_mode, true)
        .map_err(|e| Error::io(Op::Map, input.name(), e))?;
    if src.faulted() {
        return Err(src_fault(input, &w));
    }
    src.advise(Advice::Sequential);
    let always = options.sparse == Sparse::Always;
    let skipped = match options.dest_io {
        DestIo::Write => {
            let written = write_out(out, src.bytes(), w.offset, always);
            if src.faulted() {
                return Err(src_fault(input, &w));
            }
            written.map_err(|e| write_failure(input, len, dst, e))?
        }
        DestIo::Map => {
            let mut map = MappedRangeMut::new(out, w.offset, w.len)
                .map_err(|e| Error::io(Op::Map, dst, e))?;
            let skipped = if always {
                let runs = nonzero_runs(src.bytes(), w.offset, page_size());
                for r in &runs {
                    map.bytes_mut()[r.clone()].copy_from_slice(&src.bytes()[r.clone()]);
                }
                punch_gaps(out, w.offset, w.len, &runs).map_err(|e| Error::io(Op::Write, dst, e))?
            } else {
                if let Err(e) = crate::sys::populate::populate_write(map.bytes_mut()) {
                    // EINVAL: a kernel older than 5.14; the copy then faults pages one by one.
                    if e.raw_os_error() != Some(libc::EINVAL) {
                        return Err(dest_fault(out, dst).into());
                    }
                }
                map.bytes_mut().copy_from_slice(src.bytes());
                0
            };
            if src.faulted() {
                return Err(src_fault(input, &w));
            }
            if map.faulted() {
                return Err(dest_fault(out, dst).into());
            }
            if options.sync {
                map.flush().map_err(|e| Error::io(Op::Sync, dst, e))?;
            }
            skipped
        }
    };
    Ok(skipped)
}

/// Why a page of window `w` of the source could not be read: it shrank, or its device failed.
fn src_fault(input: &Input, w: &Window) -> Failure {
    let reason = input.fault_reason(w.range().end());
    Error::new(Op::Read, input.name(), reason).into()
}

/// Why a destination page could not be written: no space left if the filesystem is full, otherwise an
/// I/O error.
fn dest_fault(out: &File, dst: &Path) -> Error {
    let full = rustix::fs::fstatvfs(out).is_ok_and(|s| s.f_bavail == 0);
    let code = if full { libc::ENOSPC } else { libc::EIO };
    Error::io(Op::Write, dst, io::Error::from_raw_os_error(code))
}

/// A failed pwrite from the source's map: EFAULT means the kernel could not read the source page (the
/// file shrank, or its device failed); anything else is the destination's error.
fn write_failure(input: &Input, len: u64, dst: &Path, e: io::Error) -> Failure {
    if e.raw_os_error() == Some(libc::EFAULT) {
        return Error::new(Op::Read, input.name(), input.fault_reason(len)).into();
    }
    Error::io(Op::Write, dst, e).into()
}

/// Writes `bytes` at `offset` with pwrite. With `always`, all-zero pages are not written but punched
/// (they may have been preallocated); returns the bytes so left as holes.
fn write_out(out: &File, bytes: &[u8], offset: u64, always: bool) -> io::Result<u64> {
    if !always {
        out.write_all_at(bytes, offset)?;
        return Ok(0);
    }
    let runs = nonzero_runs(bytes, offset, page_size());
    for r in &runs {
        out.write_all_at(&bytes[r.clone()], offset + r.start as u64)?;
    }
    punch_gaps(out, offset, bytes.len(), &runs)
}

/// Punches holes in `out` over the parts of `[offset, offset + len)` outside `runs` (relative ranges,
/// in order); returns their total length.
fn punch_gaps(
    out: &File,
    offset: u64,
    len: usize,
    runs: &[std::ops::Range<usize>],
) -> io::Result<u64> {
    let flags = FallocateFlags::PUNCH_HOLE | FallocateFlags::KEEP_SIZE;
    let punch = |from: usize, to: usize| -> io::Result<u64> {
        match rustix::fs::fallocate(out, flags, offset + from as u64, (to - from) as u64) {
            // Cannot punch: the gap stays allocated (it was reserved, or it holds zeros).
            Ok(()) | Err(rustix::io::Errno::OPNOTSUPP) | Err(rustix::io::Errno::NOSYS) => {
                Ok((to - from) as u64)
            }
            Err(e) => Err(e.into()),
        }
    };
    let mut gaps = 0u64;
    let mut at = 0usize;
    for r in runs {
        if r.start > at {
            gaps += punch(at, r.start)?;
        }
        at = r.end;
    }
    if len > at {
        gaps += punch(at, len)?;
    }
    Ok(gaps)
}

fn copy_extents_rw(
    input: &Input,
    extents: &[Range],
    out: &File,
    dst: &Path,
    options: &CopyOptions,
    hooks: Hooks<'_>,
    neutral: &Neutral<'_>,
) -> Result<u64, Failure> {
    if options.cache == CacheMode::Neutral {
        return copy_extents_neutral(input, extents, out, dst, options, hooks, neutral);
    }
    let longest = extents.iter().map(|e| e.len()).max().unwrap_or(0);
    if longest > BUFFER as u64 {
        // More than one read: let readahead grow as for any sequential read (a hint).
        let _ = rustix::fs::fadvise(input.file(), 0, None, rustix::fs::Advice::Sequential);
    }
    let mut buf = vec![0u8; longest.min(BUFFER as u64) as usize];
    let always = options.sparse == Sparse::Always;
    let mut skipped = 0u64;
    let write_err = |e| Failure::from(Error::io(Op::Write, dst, e));
    for e in extents {
        let (start, end) = e.bounds();
        let mut at = start;
        while at < end {
            if (hooks.stop)() {
                return Err(Failure::Interrupted);
            }
            let n = (end - at).min(buf.len() as u64) as usize;
            read_exact_at(input, &mut buf[..n], at)?;
            skipped += write_out(out, &buf[..n], at, always).map_err(write_err)?;
            (hooks.progress)(n as u64);
            at += n as u64;
        }
    }
    Ok(skipped)
}

/// A neutral copy of the data `extents`: spans read through [`Spans`] on all the workers at once, in
/// file order, each written with pwrite and handed to the destination's [`Behind`], which starts it
/// to disk and drops it a few spans later.
fn copy_extents_neutral(
    input: &Input,
    extents: &[Range],
    out: &File,
    dst: &Path,
    options: &CopyOptions,
    hooks: Hooks<'_>,
    neutral: &Neutral<'_>,
) -> Result<u64, Failure> {
    let chunk = cache::span(options.window);
    let behind = neutral.behind(out, options);
    let windows: Vec<Range> = extents
        .iter()
        .flat_map(|&e| plan(e, chunk))
        .map(|w| w.range())
        .collect();
    let spans = Spans::new(input.file(), neutral.tally, windows, !options.no_mmap);
    let always = options.sparse == Sparse::Always;
    let write_err = |e| Failure::from(Error::io(Op::Write, dst, e));
    let copy = |index: usize, w: Range, bytes: &[u8]| -> Result<u64, Failure> {
        if (hooks.stop)() {
            return Err(Failure::Interrupted);
        }
        if (bytes.len() as u64) < w.len() {
            return Err(changed(input.name()));
        }
        let skipped = write_out(out, bytes, w.start(), always).map_err(write_err)?;
        if let Some(behind) = &behind {
            behind
                .written(index, w.start(), w.len())
                .map_err(write_err)?;
        }
        (hooks.progress)(w.len());
        Ok(skipped)
    };
    // Spans are taken in file order, so that the writer stays a few spans ahead of the write-back of
    // all of them, by at most BEHIND_LAG workers: the spans written and not yet dropped are then
    // within the bound of `cache::copy_footprint`.
    let workers = rayon::current_num_threads().min(cache::BEHIND_LAG);
    let skipped = spans.run(workers, copy, |e| Failure::from(e.of(input)))?;
    drop(spans);
    if let Some(behind) = &behind {
        behind.finish().map_err(|e| Error::io(Op::Write, dst, e))?;
    }
    Ok(skipped.into_iter().sum())
}

/// Fills `buf` from `offset` with pread; end of file before the buffer is full means the source shrank.
fn read_exact_at(input: &Input, buf: &mut [u8], offset: u64) -> Result<(), Failure> {
    let got = read_full_at(input.file(), buf, offset)
        .map_err(|e| Error::io(Op::Read, input.name(), e))?;
    if got < buf.len() {
        return Err(changed(input.name()));
    }
    Ok(())
}

fn copy_stream(
    input: &Input,
    out: &File,
    dst: &Path,
    options: &CopyOptions,
    hooks: Hooks<'_>,
    neutral: &Neutral<'_>,
) -> Result<Copied, Failure> {
    let always = options.sparse == Sparse::Always;
    let mut skipped = 0u64;
    let trail = Trail::of_input(input, options.cache, neutral.tally, BUFFER as u64);
    let behind = neutral.behind(out, options);
    let mut written = 0usize;
    let at = pump(input, hooks, trail, |chunk, at| {
        let write_err = |e| Failure::from(Error::io(Op::Write, dst, e));
        skipped += write_out(out, chunk, at, always).map_err(write_err)?;
        if let Some(behind) = &behind {
            behind
                .written(written, at, chunk.len() as u64)
                .map_err(write_err)?;
            written += 1;
        }
        Ok(())
    })?;
    if let Some(behind) = &behind {
        behind.finish().map_err(|e| Error::io(Op::Write, dst, e))?;
    }
    if always {
        // Trailing zero pages were not written: give the copy its full size.
        rustix::fs::ftruncate(out, at).map_err(|e| Error::io(Op::Resize, dst, e.into()))?;
    }
    Ok(Copied {
        bytes: at,
        hole_bytes: skipped,
        ..Copied::default()
    })
}

/// Reads `input` to its end with read(2), in order, handing each chunk and its offset to `sink`;
/// checks [`Hooks::stop`] before every read and reports progress after every chunk. Returns the bytes
/// read. A `trail` drops what the reads bring into the page cache behind them.
pub(super) fn pump(
    input: &Input,
    hooks: Hooks<'_>,
    mut trail: Option<Trail<'_>>,
    mut sink: impl FnMut(&[u8], u64) -> Result<(), Failure>,
) -> Result<u64, Failure> {
    let mut buf = vec![0u8; BUFFER];
    let mut at = 0u64;
    let start = trail.as_ref().map_or(0, Trail::start);
    loop {
        if (hooks.stop)() {
            return Err(Failure::Interrupted);
        }
        if let Some(trail) = &mut trail {
            trail.reading(start + at, BUFFER as u64);
        }
        let n = match input.file().read(&mut buf) {
            Ok(0) => return Ok(at),
            Ok(n) => n,
            // A signal: look at `stop` again, then go on reading.
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io(Op::Read, input.name(), e).into()),
        };
        if let Some(trail) = &mut trail {
            trail.passed(start + at + n as u64);
        }
        sink(&buf[..n], at)?;
        at += n as u64;
        (hooks.progress)(n as u64);
    }
}

/// Compares the first `len` bytes of the source with the copy: both mapped, windows in parallel (or
/// with pread under `no_mmap`). The first difference fails with [`Failure::Mismatch`].
pub fn verify(
    input: &Input,
    out: &File,
    dst: &Path,
    len: u64,
    options: &CopyOptions,
) -> Result<(), Failure> {
    verify_tallied(input, out, dst, len, options, &Neutral::new(&Tally::new()))
}

/// [`verify`], neutral when `options.cache` says so (see [`verify_neutral`]).
pub(crate) fn verify_tallied(
    input: &Input,
    out: &File,
    dst: &Path,
    len: u64,
    options: &CopyOptions,
    neutral: &Neutral<'_>,
) -> Result<(), Failure> {
    let first = if options.cache == CacheMode::Neutral {
        verify_neutral(input, out, dst, len, options, neutral)?
    } else {
        let size = window_size(len, options.window);
        plan(Range::upto(len), size)
            .par_iter()
            .map(|&w| verify_window(input, out, dst, w, options))
            .try_reduce(
                || None,
                |x, y| {
                    Ok(match (x, y) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    })
                },
            )?
    };
    match first {
        None => Ok(()),
        Some(offset) => Err(Failure::Mismatch {
            src: input.name().to_path_buf(),
            dst: dst.to_path_buf(),
            offset,
        }),
    }
}

/// A neutral comparison, front to back on one worker: the source through [`Spans`], the copy with
/// pread through a [`Trail`], each recorded ahead of its reader and dropped behind it. Returns the
/// first difference.
fn verify_neutral(
    input: &Input,
    out: &File,
    dst: &Path,
    len: u64,
    options: &CopyOptions,
    neutral: &Neutral<'_>,
) -> Result<Option<u64>, Failure> {
    let chunk = cache::span(options.window);
    let windows: Vec<Range> = plan(Range::upto(len), chunk)
        .into_iter()
        .map(|w| w.range())
        .collect();
    let spans = Spans::new(input.file(), neutral.tally, windows, !options.no_mmap);
    let trail = Trail::new(Source::new(out, neutral.tally), 0, len, chunk as u64);
    let copy = std::sync::Mutex::new((trail, vec![0u8; chunk]));
    let compare = |_, w: Range, bytes: &[u8]| -> Result<Option<u64>, Failure> {
        if (bytes.len() as u64) < w.len() {
            return Err(changed(input.name()));
        }
        let mut copy = copy.lock().unwrap_or_else(|p| p.into_inner());
        let (trail, buf) = &mut *copy;
        let buf = &mut buf[..bytes.len()];
        trail.reading(w.start(), w.len());
        out.read_exact_at(buf, w.start())
            .map_err(|e| Error::io(Op::Read, dst, e))?;
        trail.passed(w.end());
        Ok(first_difference(bytes, buf).map(|i| w.start() + i as u64))
    };
    let found = spans.run(1, compare, |e| Failure::from(e.of(input)))?;
    Ok(found.into_iter().flatten().next())
}

/// The first difference in window `w` of the source and the copy, if any; the maps are gone when it
/// returns.
fn verify_window(
    input: &Input,
    out: &File,
    dst: &Path,
    w: Window,
    options: &CopyOptions,
) -> Result<Option<u64>, Failure> {
    if options.no_mmap {
        let mut a = vec![0u8; w.len];
        let mut b = vec![0u8; w.len];
        read_exact_at(input, &mut a, w.offset)?;
        out.read_exact_at(&mut b, w.offset)
            .map_err(|e| Error::io(Op::Read, dst, e))?;
        return Ok(first_difference(&a, &b).map(|i| w.offset + i as u64));
    }
    let a = MappedRange::new(input.file(), w.offset, w.len, options.map_mode, true)
        .map_err(|e| Error::io(Op::Map, input.name(), e))?;
    let b = MappedRange::new(out, w.offset, w.len, options.map_mode, true)
        .map_err(|e| Error::io(Op::Map, dst, e))?;
    let at = (!a.faulted() && !b.faulted()).then(|| first_difference(a.bytes(), b.bytes()));
    if a.faulted() {
        return Err(src_fault(input, &w));
    }
    if b.faulted() {
        return Err(dest_fault(out, dst).into());
    }
    Ok(at.flatten().map(|i| w.offset + i as u64))
}

fn first_difference(a: &[u8], b: &[u8]) -> Option<usize> {
    if a == b {
        return None;
    }
    a.iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .or(Some(a.len().min(b.len())))
}
