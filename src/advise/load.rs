//! Synchronous loading: the spans of many files cut into windows, loaded in parallel (rayon) with
//! MADV_POPULATE_READ (Linux 5.14), which returns EFAULT where a read would have raised SIGBUS. On older
//! kernels, one byte per page is read under the SIGBUS guard instead. Either way a file that shrinks
//! while it is loaded becomes an error for that file, and the other files go on.
//!
//! The default pattern populates with MADV_SEQUENTIAL, so that the kernel's readahead reads large
//! blocks into large folios, one stream per segment of a file. Where readahead could run past what was
//! asked for (the last stretch before a hole, the end of a --range, the end of a saved range), windows
//! are asked for exactly with WILLNEED (chunked to the readahead cap) and populated with MADV_RANDOM,
//! which reads nothing beyond them: the holes of a sparse file stay out of the page cache.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use rayon::prelude::*;

use crate::error::{Error, Op, Reason, Result};
use crate::map::{MapMode, MappedRange, fault_reason, page_size};
use crate::sys::advise::MapAdvice;

use super::throttle::Throttle;
use super::{Subject, split, willneed};
use crate::range::{Range, intersect};

/// How pages are asked for while loading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pattern {
    /// Populate with sequential readahead (large reads, large folios), except near holes, where each
    /// window is asked for exactly with WILLNEED and populated with readahead off.
    #[default]
    Tuned,
    /// MADV_NORMAL: populate, letting the kernel read around each fault as it likes.
    Normal,
    /// MADV_SEQUENTIAL (and POSIX_FADV_SEQUENTIAL on the file): aggressive readahead while populating.
    Sequential,
    /// MADV_RANDOM (and POSIX_FADV_RANDOM on the file): no readahead; each page is its own read.
    Random,
}

/// How to load.
#[derive(Debug, Clone, Copy)]
pub struct LoadOptions {
    /// Shared or private maps.
    pub mode: MapMode,
    /// Largest window mapped and loaded at once, per worker.
    pub window: u64,
    /// How pages are asked for.
    pub pattern: Pattern,
    /// Ask for huge pages (MADV_HUGEPAGE) on the maps.
    pub huge: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            mode: MapMode::Shared,
            window: 16 << 20,
            pattern: Pattern::Tuned,
            huge: false,
        }
    }
}

/// One file's share of a load.
#[derive(Debug)]
pub struct Job<'s, 'a> {
    /// The file.
    pub subject: &'s Subject<'a>,
    /// The spans to load, sorted and disjoint, inside `subject.span`.
    pub spans: Vec<Range>,
    /// WILLNEED chunk size (the device's readahead cap).
    pub cap: u64,
    /// A map of `subject.span` to load through (a locked map, say), or `None` to map each window.
    pub map: Option<&'s MappedRange>,
}

/// Whether MADV_POPULATE_READ is known to be missing (kernels before 5.14 answer EINVAL).
static NO_POPULATE: AtomicBool = AtomicBool::new(false);

/// Sets the pattern's advice on a whole map (and the file's fd-level hint for the sequential and random
/// patterns), and MADV_HUGEPAGE when asked. For the tuned pattern, `exact` says whether the map has
/// holes to keep out of the cache (no readahead then) or not (sequential readahead). Advice is a hint:
/// the kernel's refusal is not an error.
pub fn apply_pattern(
    subject: &Subject<'_>,
    map: &MappedRange,
    pattern: Pattern,
    exact: bool,
    huge: bool,
) {
    let (map_advice, fd_advice) = match pattern {
        Pattern::Tuned if exact => (Some(MapAdvice::Random), None),
        Pattern::Tuned => (Some(MapAdvice::Sequential), None),
        Pattern::Normal => (None, None),
        Pattern::Sequential => (
            Some(MapAdvice::Sequential),
            Some(rustix::fs::Advice::Sequential),
        ),
        Pattern::Random => (Some(MapAdvice::Random), Some(rustix::fs::Advice::Random)),
    };
    if let Some(advice) = map_advice {
        let _ = map.madvise(map.bytes(), advice);
    }
    if let Some(advice) = fd_advice {
        let _ = rustix::fs::fadvise(subject.file, 0, None, advice);
    }
    if huge {
        let _ = map.madvise(map.bytes(), MapAdvice::HugePage);
    }
}

/// A file with more than this much to load is cut into several segments, loaded side by side.
const MIN_SEGMENT: u64 = 64 << 20;

/// A window of a job, and whether it must be read exactly (it lies near a hole, where readahead would
/// read past the data into the hole).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Piece {
    span: Range,
    exact: bool,
}

/// The zones of `spans` where fault readahead could read past what was asked for (into a hole, or
/// beyond the range or the saved ranges asked for): the last `guard` bytes before each span's end,
/// unless the span ends at the file's end, where readahead stops anyway.
fn near_ends(spans: &[Range], len: u64, guard: u64) -> Vec<Range> {
    spans
        .iter()
        .filter(|s| s.end() < len)
        .map(|s| Range::new(s.end().saturating_sub(guard), s.end()).intersect(*s))
        .collect()
}

/// The parts of sorted, disjoint `spans` outside sorted, disjoint `zones`.
fn outside(spans: &[Range], zones: &[Range]) -> Vec<Range> {
    let mut out = Vec::new();
    for span in spans {
        let (mut start, end) = span.bounds();
        for zone in zones {
            if zone.end() <= start || zone.start() >= end {
                continue;
            }
            if zone.start() > start {
                out.push(Range::new(start, zone.start()));
            }
            start = start.max(zone.end());
        }
        if start < end {
            out.push(Range::new(start, end));
        }
    }
    out
}

/// A job's windows in file order. With the tuned pattern, windows near the end of what was asked for
/// are read exactly and the others with readahead; through a given map (whose advice is set once for
/// the whole map), all windows are exact when the file has holes in its span.
fn pieces(job: &Job<'_, '_>, options: &LoadOptions) -> Result<Vec<Piece>> {
    let exact_zones = if options.pattern != Pattern::Tuned {
        Vec::new()
    } else if job.map.is_some() {
        if job.subject.data()? == [job.subject.span] {
            Vec::new()
        } else {
            vec![job.subject.span]
        }
    } else {
        near_ends(&job.spans, job.subject.len, 2 * job.cap + (2 << 20))
    };
    let mut out: Vec<Piece> = split(&intersect(&job.spans, &exact_zones), options.window)
        .into_iter()
        .map(|span| Piece { span, exact: true })
        .chain(
            split(&outside(&job.spans, &exact_zones), options.window)
                .into_iter()
                .map(|span| Piece { span, exact: false }),
        )
        .collect();
    out.sort_unstable_by_key(|p| p.span.start());
    Ok(out)
}

/// Cuts a job's pieces into at most `parts` contiguous runs of about equal size.
fn segments(pieces: Vec<Piece>, parts: usize) -> Vec<Vec<Piece>> {
    let bytes: u64 = pieces.iter().map(|p| p.span.len()).sum();
    let parts = (bytes / MIN_SEGMENT).clamp(1, parts.max(1) as u64);
    let share = bytes.div_ceil(parts);
    let mut out = vec![Vec::new()];
    let mut filled = 0;
    for piece in pieces {
        if filled >= share {
            out.push(Vec::new());
            filled = 0;
        }
        filled += piece.span.len();
        if let Some(last) = out.last_mut() {
            last.push(piece);
        }
    }
    out
}

/// A second open file description of `file`, so that a segment has readahead state of its own (the
/// kernel keeps one per open file, and interleaved streams on one would confuse it).
fn reopen(file: &File) -> Option<File> {
    File::open(format!("/proc/self/fd/{}", file.as_raw_fd())).ok()
}

/// Starts a readahead stream at `span` (not at the file's start) on an open file: a read larger than the readahead window
/// is taken by the kernel as the start of a sequential stream (large reads, large folios, and readahead
/// marks that keep it going as the map is populated). Without it, the first fault in the middle of a
/// file looks random, and the whole segment would be read in small pieces.
fn prime(file: &File, span: Range, cap: u64) {
    let len = (2 * cap).min(span.len()) as usize;
    if len as u64 <= cap {
        return;
    }
    // A hint: under a tight address space (ulimit -v) the buffer may not be had; load without it.
    let mut buf = Vec::new();
    if buf.try_reserve_exact(len).is_err() {
        return;
    }
    buf.resize(len, 0u8);
    let _ = std::os::unix::fs::FileExt::read_at(file, &mut buf, span.start());
}

/// Loads every job's spans, in parallel over segments of all files (each segment's windows in order,
/// so that readahead sees a sequential stream), calling `progress(bytes)` as windows complete. Returns,
/// per job, the first error met (the rest of that file is then skipped).
pub fn load(
    jobs: &[Job<'_, '_>],
    options: &LoadOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> Vec<Option<Error>> {
    load_paced(jobs, options, None, progress)
}

/// [`load`], paced by `throttle` when one is given: windows no larger than the throttle's piece, each
/// read only when the throttle lets its bytes through, and no priming read ahead of the pace.
pub fn load_paced(
    jobs: &[Job<'_, '_>],
    options: &LoadOptions,
    throttle: Option<&Throttle>,
    progress: &(dyn Fn(u64) + Sync),
) -> Vec<Option<Error>> {
    let paced;
    let options = match throttle {
        Some(t) => {
            paced = LoadOptions {
                window: t.piece(options.window),
                ..*options
            };
            &paced
        }
        None => options,
    };
    let errors: Vec<Mutex<Option<Error>>> = jobs.iter().map(|_| Mutex::new(None)).collect();
    let failed: Vec<AtomicBool> = jobs.iter().map(|_| AtomicBool::new(false)).collect();
    let fail = |i: usize, e: Error| {
        failed[i].store(true, Ordering::Relaxed);
        let mut slot = errors[i].lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_none() {
            *slot = Some(e);
        }
    };
    let workers = rayon::current_num_threads();
    let mut work: Vec<(usize, bool, Vec<Piece>)> = Vec::new();
    for (i, job) in jobs.iter().enumerate() {
        match pieces(job, options) {
            Ok(p) => {
                // Through a given map, readahead state is the map's own: one stream per file.
                let parts = if job.map.is_some() { 1 } else { workers };
                let segs = segments(p, parts);
                let several = segs.len() > 1;
                work.extend(segs.into_iter().map(|s| (i, several, s)));
            }
            Err(e) => fail(i, e),
        }
    }
    work.into_par_iter().for_each(|(i, several, segment)| {
        let job = &jobs[i];
        // A segment that starts inside the file gets an open file of its own, whose readahead state
        // is fresh, and a primed stream.
        let primed = segment.first().filter(|first| {
            throttle.is_none() && job.map.is_none() && !first.exact && first.span.start() > 0
        });
        let own = if primed.is_some() || (several && job.map.is_none()) {
            reopen(job.subject.file)
        } else {
            None
        };
        let file = own.as_ref().unwrap_or(job.subject.file);
        if let (Some(first), Some(own)) = (primed, &own) {
            // The stream to start: the run of readahead windows that follow on from the first.
            let mut end = first.span.end();
            for piece in segment.iter().skip(1) {
                if piece.exact || piece.span.start() != end {
                    break;
                }
                end = piece.span.end();
            }
            prime(own, Range::new(first.span.start(), end), job.cap);
        }
        for piece in segment {
            if failed[i].load(Ordering::Relaxed) {
                return;
            }
            if let Some(t) = throttle {
                t.take(piece.span.len());
            }
            match load_piece(job, file, piece, options) {
                Ok(()) => progress(piece.span.len()),
                Err(e) => fail(i, e),
            }
        }
    });
    errors
        .into_iter()
        .map(|m| m.into_inner().unwrap_or_else(|p| p.into_inner()))
        .collect()
}

fn load_piece(job: &Job<'_, '_>, file: &File, piece: Piece, options: &LoadOptions) -> Result<()> {
    let subject = job.subject;
    let (start, end) = piece.span.bounds();
    if options.pattern == Pattern::Tuned && piece.exact {
        willneed::issue(file, subject.path, &[piece.span], job.cap)?;
    }
    match job.map {
        Some(map) => {
            let base = subject.span.start();
            let bytes = &map.bytes()[(start - base) as usize..(end - base) as usize];
            populate(subject, map, bytes, end)
        }
        None => {
            let map =
                match MappedRange::new(file, start, (end - start) as usize, options.mode, false) {
                    Ok(map) => map,
                    Err(e) if e.raw_os_error() == Some(libc::ENOMEM) => {
                        return load_short(job, file, piece, options);
                    }
                    Err(e) => return Err(Error::io(Op::Map, subject.path, e)),
                };
            if options.pattern == Pattern::Tuned {
                let advice = if piece.exact {
                    MapAdvice::Random
                } else {
                    MapAdvice::Sequential
                };
                let _ = map.madvise(map.bytes(), advice);
                if options.huge {
                    let _ = map.madvise(map.bytes(), MapAdvice::HugePage);
                }
            } else {
                apply_pattern(subject, &map, options.pattern, true, options.huge);
            }
            populate(subject, &map, map.bytes(), end)
        }
    }
}

/// Windows of this size are tried when a bigger one cannot be mapped; smaller ones are read.
const SHORT_WINDOW: u64 = 1 << 20;

/// Loads a piece whose window could not be mapped for lack of address space (ENOMEM under `ulimit
/// -v`): through windows of [`SHORT_WINDOW`], and where even those cannot be mapped, with pread(2) of
/// 64 KiB at a time, which brings the pages into the cache just as well.
fn load_short(job: &Job<'_, '_>, file: &File, piece: Piece, options: &LoadOptions) -> Result<()> {
    let (start, end) = piece.span.bounds();
    if end - start > SHORT_WINDOW {
        for span in split(&[piece.span], SHORT_WINDOW) {
            load_piece(job, file, Piece { span, ..piece }, options)?;
        }
        return Ok(());
    }
    let path = job.subject.path;
    let mut buf = vec![0u8; ((end - start) as usize).min(64 << 10)];
    let mut at = start;
    while at < end {
        let want = buf.len().min((end - at) as usize);
        match std::os::unix::fs::FileExt::read_at(file, &mut buf[..want], at) {
            Ok(0) => return Err(Error::new(Op::Read, path, Reason::ChangedSize)),
            Ok(n) => at += n as u64,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io(Op::Read, path, e)),
        }
    }
    Ok(())
}

/// Faults in `bytes` (part of `map`, ending at file offset `end`) for reading and waits for the data.
pub fn populate(subject: &Subject<'_>, map: &MappedRange, bytes: &[u8], end: u64) -> Result<()> {
    let changed = || Error::new(Op::Read, subject.path, Reason::ChangedSize);
    if !NO_POPULATE.load(Ordering::Relaxed) {
        match map.madvise(bytes, MapAdvice::PopulateRead) {
            Ok(()) => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                NO_POPULATE.store(true, Ordering::Relaxed);
            }
            // Where a read would have raised SIGBUS: the file shrank, or the device failed to read.
            Err(e) if e.raw_os_error() == Some(libc::EFAULT) => {
                return Err(Error::new(
                    Op::Read,
                    subject.path,
                    fault_reason(subject.file, end, None),
                ));
            }
            Err(e) => return Err(Error::io(Op::Read, subject.path, e)),
        }
    }
    touch_pages(bytes);
    if map.faulted() {
        return Err(changed());
    }
    Ok(())
}

/// Reads one byte of every page of `bytes`: the fallback without MADV_POPULATE_READ. A page past the
/// end of a shrunk file reads as zeros under the SIGBUS guard, which flags its map.
pub fn touch_pages(bytes: &[u8]) {
    if bytes.is_empty() {
        return;
    }
    let page = page_size();
    let misalign = bytes.as_ptr() as usize % page;
    let mut at = 0;
    while at < bytes.len() {
        std::hint::black_box(bytes[at]);
        at += if at == 0 && misalign != 0 {
            page - misalign
        } else {
            page
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::range::append;

    proptest::proptest! {
        #[test]
        fn outside_and_inside_make_the_whole(a: u64, z: u64) {
            let bits = |b: u64| -> Vec<Range> {
                let mut out: Vec<Range> = Vec::new();
                for i in 0..64 {
                    if b >> i & 1 == 1 {
                        append(&mut out, Range::new(i, i + 1));
                    }
                }
                out
            };
            proptest::prop_assert_eq!(outside(&bits(a), &bits(z)), bits(a & !z));
        }
    }

    #[test]
    fn zones_and_segments() {
        let r = Range::new;
        assert_eq!(
            near_ends(&[r(0, 100), r(200, 300)], 300, 30),
            vec![r(70, 100)]
        );
        assert_eq!(near_ends(&[r(0, 10)], 20, 30), vec![r(0, 10)]);
        assert_eq!(
            outside(&[r(0, 100), r(200, 300)], &[r(70, 100), r(250, 260)]),
            vec![r(0, 70), r(200, 250), r(260, 300)]
        );
        let piece = |s: u64| Piece {
            span: r(s * MIN_SEGMENT, (s + 1) * MIN_SEGMENT),
            exact: false,
        };
        let segs = segments((0..5).map(piece).collect(), 2);
        assert_eq!(segs.len(), 2);
        assert_eq!(segs[0].len() + segs[1].len(), 5);
        assert_eq!(
            segments(vec![piece(0)], 8).len(),
            1,
            "small jobs stay whole"
        );
        assert_eq!(segments(Vec::new(), 8).len(), 1);
    }

    #[test]
    fn a_file_truncated_before_loading_is_an_error_for_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let len = 8 * page_size() as u64;
        std::fs::write(&path, vec![1u8; len as usize]).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        let all = Range::ALL;
        let subject = Subject::new(&file, &path, len, all).unwrap();
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(page_size() as u64)
            .unwrap();
        for pattern in [Pattern::Tuned, Pattern::Random] {
            let jobs = [Job {
                subject: &subject,
                spans: vec![Range::upto(len)],
                cap: 1 << 20,
                map: None,
            }];
            let options = LoadOptions {
                pattern,
                ..LoadOptions::default()
            };
            let errors = load(&jobs, &options, &|_| {});
            let e = errors[0].as_ref().expect("an error");
            assert_eq!(e.reason_text(), "file changed size while being read");
        }
        NO_POPULATE.store(true, Ordering::Relaxed);
        let map = MappedRange::new(&file, 0, len as usize, MapMode::Shared, false).unwrap();
        let e = populate(&subject, &map, map.bytes(), len).unwrap_err();
        NO_POPULATE.store(false, Ordering::Relaxed);
        assert_eq!(
            e.reason_text(),
            "file changed size while being read",
            "the fallback too"
        );
    }

    #[test]
    fn touch_visits_every_page_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, vec![5u8; 3 * page_size() + 10]).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        let len = 3 * page_size() as u64 + 10;
        let all = Range::ALL;
        let subject = Subject::new(&file, &path, len, all).unwrap();
        let map = MappedRange::new(&file, 7, page_size() * 2, MapMode::Private, false).unwrap();
        touch_pages(map.bytes());
        assert!(!map.faulted());
        let jobs = [Job {
            subject: &subject,
            spans: vec![subject.span],
            cap: 1 << 20,
            map: None,
        }];
        let done = std::sync::atomic::AtomicU64::new(0);
        let options = LoadOptions {
            window: page_size() as u64,
            ..LoadOptions::default()
        };
        let errors = load(&jobs, &options, &|n| {
            done.fetch_add(n, Ordering::Relaxed);
        });
        assert!(errors.iter().all(|e| e.is_none()), "{errors:?}");
        assert_eq!(done.load(Ordering::Relaxed), len);
    }
}
