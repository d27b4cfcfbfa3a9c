//! Cache-neutral I/O (`--cache neutral`): a file read, or a copy written, leaves the page cache as it
//! found it.
//!
//! Source side: before a span of a file is read, `Source::before` records which of its pages are in
//! the page cache (cachestat for the all-or-nothing cases, mincore over a map of the span that is never
//! read otherwise). Once the span is read, `Source::after` drops the pages that were not there, with
//! POSIX_FADV_DONTNEED on their runs; the others keep their place. Regular files are read by `Spans`
//! on several workers at once, in file order, through the cache with the kernel's readahead on: the
//! file is recorded ahead of the reader, past what its readahead may reach, and dropped behind the
//! first span not yet read, each span through a map gone before it is dropped (see `span`). A file
//! read front to back with read(2) (standard input) goes through a `Trail`: recorded ahead of the
//! reader as far as its readahead may reach, and dropped behind it. Where that reach is not known
//! (`Source::readahead_reach`), readahead is off (POSIX_FADV_RANDOM: it would bring in pages not yet
//! recorded, which would then look cached), and a trail asks for each span with WILLNEED once it is
//! recorded.
//!
//! Destination side: `Behind` starts each written span to disk (sync_file_range WRITE) as it is
//! written and, [`BEHIND_LAG`] spans behind the writer, waits for it and drops it. Writes are not
//! O_DIRECT: measured on a 2-core AMD EPYC, a 1 GiB neutral copy plus sync took 5.2 to 6.4 s with
//! direct writes of each span and 2.9 s written through the cache and dropped behind (`cp && sync`:
//! 3.3 to 3.6 s), the kernel's write-back overlapping the copy where a direct write waits for the
//! disk.
//!
//! fadvise rather than MADV_COLD or MADV_PAGEOUT: those act only on pages mapped by this process (so
//! not on the read(2) paths), COLD only moves pages to the inactive list (they stay cached), and
//! PAGEOUT reclaims through the LRU page by page; DONTNEED drops a range's clean, unmapped pages at
//! once, and needs no map.

use std::collections::{BTreeMap, VecDeque};
use std::fs::File;
use std::io;
use std::num::NonZeroU64;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use rustix::fs::Advice;

use crate::advise::readahead::{CapSource, cap_for_device};
use crate::input::{Access, Input, StreamKind};
use crate::map::{MapMode, MappedRange, page_size};
use crate::range::{Range, align_down};
use crate::residency::{FsKind, fs_kind, may_see_residency};
use crate::sys::cachestat::cachestat;
use crate::sys::writeback::{Writeback, sync_file_range};

mod span;
pub(crate) use span::Spans;

/// What a run does to the page cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CacheMode {
    /// Pages read or written stay cached, as for any read or write.
    #[default]
    Normal,
    /// Pages the run brings into the cache are dropped once done with; pages already cached stay.
    Neutral,
}

/// What a neutral run did to the page cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CacheTally {
    /// Pages the run brought into the page cache (read or written) and dropped again.
    pub dropped_pages: u64,
    /// Pages that were cached before the run read them, left cached.
    pub kept_pages: u64,
    /// Some file's residency is hidden from this user (not its owner, may not write it): its pages
    /// were read as in the normal mode, none dropped.
    pub hidden: bool,
}

impl CacheTally {
    /// Adds `other` into `self`.
    pub fn add(&mut self, other: CacheTally) {
        self.dropped_pages += other.dropped_pages;
        self.kept_pages += other.kept_pages;
        self.hidden |= other.hidden;
    }
}

/// A [`CacheTally`] that threads add to.
#[derive(Debug, Default)]
pub struct Tally {
    dropped: AtomicU64,
    kept: AtomicU64,
    hidden: AtomicBool,
}

impl Tally {
    /// Nothing counted yet.
    pub fn new() -> Tally {
        Tally::default()
    }

    /// What was counted.
    pub fn get(&self) -> CacheTally {
        CacheTally {
            dropped_pages: self.dropped.load(Ordering::Relaxed),
            kept_pages: self.kept.load(Ordering::Relaxed),
            hidden: self.hidden.load(Ordering::Relaxed),
        }
    }
}

fn page() -> u64 {
    page_size() as u64
}

/// The pages of a page-aligned span that were cached before it was read.
#[derive(Debug)]
pub(crate) struct Before {
    span: Range,
    flags: Flags,
}

#[derive(Debug)]
enum Flags {
    All,
    Nothing,
    /// One mincore flag per page (bit 0: resident).
    Pages(Vec<u8>),
    /// Not known: nothing is dropped.
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seeing {
    Truthful,
    /// The kernel hides this file's residency from us.
    Hidden,
    /// tmpfs: reading adds no page to the cache, and its pages cannot be dropped.
    Memory,
}

/// A file whose pages are read cache-neutrally.
#[derive(Debug)]
pub(crate) struct Source<'a> {
    file: &'a File,
    tally: &'a Tally,
    seeing: Seeing,
}

impl<'a> Source<'a> {
    /// Prepares to read `file` neutrally, counting into `tally`.
    pub(crate) fn new(file: &'a File, tally: &'a Tally) -> Source<'a> {
        let seeing = if matches!(fs_kind(file), Ok(FsKind::Tmpfs | FsKind::Hugetlbfs)) {
            Seeing::Memory
        } else if may_see_residency(file, None) {
            Seeing::Truthful
        } else {
            tally.hidden.store(true, Ordering::Relaxed);
            Seeing::Hidden
        };
        Source {
            file,
            tally,
            seeing,
        }
    }

    /// Records which pages of `range` (widened to whole pages) are cached, before they are read.
    pub(crate) fn before(&self, range: Range) -> Before {
        let span = range.pages();
        let flags = match self.seeing {
            Seeing::Truthful if !span.is_empty() => self.flags(span),
            _ => Flags::Unknown,
        };
        Before { span, flags }
    }

    fn flags(&self, span: Range) -> Flags {
        let (start, end) = span.bounds();
        let pages = span.page_count();
        match cachestat(self.file, start, end - start) {
            Ok(s) if s.cache == 0 => return Flags::Nothing,
            Ok(s) if s.cache >= pages => return Flags::All,
            _ => {}
        }
        let mut flags = Vec::new();
        match MappedRange::new(
            self.file,
            start,
            (end - start) as usize,
            MapMode::Shared,
            false,
        ) {
            Ok(map) if map.resident_pages(&mut flags).is_ok() => Flags::Pages(flags),
            _ => Flags::Unknown,
        }
    }

    /// Asks the kernel to read the span of `before` (WILLNEED), without waiting: with readahead off,
    /// this is how the reader keeps the disk busy.
    pub(crate) fn fetch(&self, before: &Before) {
        let _ = rustix::fs::fadvise(
            self.file,
            before.span.start(),
            NonZeroU64::new(before.span.len()),
            Advice::WillNeed,
        );
    }

    /// Drops the pages of `before`'s span that were not cached before it was read. The span must no
    /// longer be mapped.
    pub(crate) fn after(&self, before: Before) {
        let Before { span, flags, .. } = before;
        let (start, end) = span.bounds();
        let pages = span.page_count();
        match flags {
            Flags::Unknown => {}
            Flags::All => {
                self.tally.kept.fetch_add(pages, Ordering::Relaxed);
            }
            Flags::Nothing => self.drop_span(start, end),
            Flags::Pages(flags) => {
                let mut i = 0;
                while i < flags.len() {
                    let resident = flags[i] & 1 == 1;
                    let run = flags[i..]
                        .iter()
                        .take_while(|&&f| (f & 1 == 1) == resident)
                        .count();
                    let lo = start + i as u64 * page();
                    let hi = (lo + run as u64 * page()).min(end);
                    if resident {
                        self.tally.kept.fetch_add(run as u64, Ordering::Relaxed);
                    } else {
                        self.drop_span(lo, hi);
                    }
                    i += run;
                }
            }
        }
    }

    fn drop_span(&self, start: u64, end: u64) {
        self.tally
            .dropped
            .fetch_add(drop_pages(self.file, start, end), Ordering::Relaxed);
    }

    /// Turns the kernel's readahead for this descriptor on, when how far it can reach past a read is
    /// known (from the device's readahead window, at most [`MAX_READAHEAD`]), and returns that reach;
    /// otherwise turns it off and returns 0: each read then brings in only its own pages.
    pub(crate) fn readahead_reach(&self) -> u64 {
        let window = rustix::fs::fstat(self.file)
            .ok()
            .map(|st| cap_for_device(st.st_dev))
            .filter(|cap| cap.source != CapSource::Default && cap.bytes <= MAX_READAHEAD);
        self.readahead(window.is_some());
        window.map_or(0, |cap| reach(cap.bytes))
    }

    /// Turns the kernel's readahead for this descriptor off (POSIX_FADV_RANDOM) or back to normal.
    pub(crate) fn readahead(&self, on: bool) {
        let advice = if on { Advice::Normal } else { Advice::Random };
        let _ = rustix::fs::fadvise(self.file, 0, None, advice);
    }
}

/// Drops the cached pages of the page-aligned `[start, end)` of `file` (POSIX_FADV_DONTNEED); returns
/// how many were cached just before (cachestat), or the span's pages when that cannot be asked.
fn drop_pages(file: &File, start: u64, end: u64) -> u64 {
    if end <= start {
        return 0;
    }
    let cached = cachestat(file, start, end - start)
        .map(|s| s.cache)
        .unwrap_or((end - start) / page());
    let _ = rustix::fs::fadvise(file, start, NonZeroU64::new(end - start), Advice::DontNeed);
    cached
}

/// The largest span a neutral run records, reads, writes and drops at once (`--window-size` may make
/// it smaller).
pub const SPAN: usize = 4 << 20;

/// The span of a neutral run whose window is `window`: at least 64 KiB, at most [`SPAN`].
pub fn span(window: usize) -> usize {
    window.clamp(64 << 10, SPAN)
}

/// How many spans a trail records and asks for (WILLNEED) ahead of its reader: 16 MiB in flight
/// keeps a disk streaming with the kernel's readahead off.
pub const TRAIL_DEPTH: u64 = 4;

/// How many spans of a file read on several threads may be read at once, past the first one not yet
/// read.
pub const CLAIM_AHEAD: usize = 4;

/// The longest readahead window (the device's `read_ahead_kb`, or its largest request when larger)
/// with which a file read on several threads keeps the kernel's readahead on; past it, or when the
/// device is not found, readahead is off.
pub const MAX_READAHEAD: u64 = 8 << 20;

/// How many written spans a neutral copy leaves behind its writer before it waits for the oldest to
/// reach the disk and drops it: write-back of a span starts as soon as it is written, and has this
/// many spans' time to finish.
pub const BEHIND_LAG: usize = 4;

/// How far past the end of a read of at most [`SPAN`] bytes the kernel's readahead may bring pages in,
/// when one readahead window is `window` bytes: the window being read ahead and the next one, at most
/// the larger of `window` and the read each, and a huge folio's rounding.
fn reach(window: u64) -> u64 {
    2 * window.max(SPAN as u64) + (2 << 20)
}

/// The most bytes of pages a neutral read of a file without holes holds in the page cache that were
/// not there before, whatever the number of threads: read on several threads, the spans being read
/// ([`CLAIM_AHEAD`]), the part-spans around them, and what readahead may bring in past the last one
/// (twice the larger of a span and [`MAX_READAHEAD`], and 2 MiB); read front to back (standard input),
/// what a trail has recorded ahead of its reader (that reach, or [`TRAIL_DEPTH`] spans with readahead
/// off), the span being read and one more. 42 MiB with
/// the default spans. In a file with holes, readahead may also fill up to that reach of a hole after
/// each span being read.
pub fn read_footprint() -> u64 {
    let spans = (CLAIM_AHEAD as u64 + 2) * SPAN as u64 + reach(MAX_READAHEAD);
    spans.max((TRAIL_DEPTH + 2) * SPAN as u64)
}

/// The most bytes of pages a neutral copy holds in the page cache that were not there before: its
/// read side ([`read_footprint`]), and on its write side the spans written and not yet written back
/// ([`BEHIND_LAG`]), the one being written and the one being written back and dropped. 66 MiB with the
/// default spans, whatever the number of threads.
pub fn copy_footprint() -> u64 {
    read_footprint() + (BEHIND_LAG as u64 + 2) * SPAN as u64
}

/// A file read front to back through read(2) or pread(2), neutrally: spans of `chunk` bytes are
/// recorded ahead of the reader, as far as the kernel's readahead can reach (or, with readahead off
/// where that reach is not known, recorded and asked for with WILLNEED [`TRAIL_DEPTH`] spans ahead),
/// and dropped once the reader has passed them. Whatever is left is dropped when the trail is dropped,
/// on errors too.
#[derive(Debug)]
pub(crate) struct Trail<'a> {
    source: Source<'a>,
    spans: VecDeque<Before>,
    start: u64,
    next: u64,
    end: u64,
    chunk: u64,
    /// How far past a read readahead may reach; 0 with readahead off.
    reach: u64,
}

impl<'a> Trail<'a> {
    /// A trail over `[start, end)` of `source`'s file, read in pieces of about `chunk` bytes.
    pub(crate) fn new(source: Source<'a>, start: u64, end: u64, chunk: u64) -> Trail<'a> {
        let reach = source.readahead_reach();
        Trail {
            source,
            spans: VecDeque::new(),
            start,
            next: start,
            end,
            chunk: chunk.max(page()),
            reach,
        }
    }

    /// A trail for reading `input` from where its descriptor stands, when `mode` is neutral and the
    /// input is a regular file (standard input included); `None` for pipes and devices.
    pub(crate) fn of_input(
        input: &'a Input,
        mode: CacheMode,
        tally: &'a Tally,
        chunk: u64,
    ) -> Option<Trail<'a>> {
        if mode != CacheMode::Neutral {
            return None;
        }
        match input.access() {
            Access::Map { .. } | Access::Stream(StreamKind::Stdin) => {}
            _ => return None,
        }
        let stat = rustix::fs::fstat(input.file()).ok()?;
        if rustix::fs::FileType::from_raw_mode(stat.st_mode) != rustix::fs::FileType::RegularFile {
            return None;
        }
        let at = rustix::fs::seek(input.file(), rustix::fs::SeekFrom::Current(0)).ok()?;
        let source = Source::new(input.file(), tally);
        Some(Trail::new(
            source,
            at,
            (stat.st_size.max(0) as u64).max(at),
            chunk,
        ))
    }

    /// Where the trail starts: the descriptor's offset for [`Trail::of_input`].
    pub(crate) fn start(&self) -> u64 {
        self.start
    }

    /// Before `[at, at + n)` is read.
    pub(crate) fn reading(&mut self, at: u64, n: u64) {
        let ahead = match self.reach {
            0 => TRAIL_DEPTH * self.chunk,
            reach => reach,
        };
        let limit = (at + n + ahead).min(self.end.max(at + n));
        self.next = self.next.max(align_down(at));
        while self.next < limit {
            let stop = (self.next + self.chunk).min(limit);
            let before = self.source.before(Range::new(self.next, stop));
            if self.reach == 0 {
                self.source.fetch(&before);
            }
            self.spans.push_back(before);
            self.next = stop;
        }
    }

    /// The reader has read everything before `upto`.
    pub(crate) fn passed(&mut self, upto: u64) {
        while self.spans.front().is_some_and(|s| s.span.end() <= upto) {
            if let Some(span) = self.spans.pop_front() {
                self.source.after(span);
            }
        }
    }
}

impl Drop for Trail<'_> {
    fn drop(&mut self) {
        while let Some(span) = self.spans.pop_front() {
            self.source.after(span);
        }
        self.source.readahead(true);
    }
}

/// The written spans of a destination, started to disk as they are written and dropped `lag` spans
/// behind the writer. Pages in `keep` (byte ranges cached before the copy, for a copy in place) are
/// left cached.
#[derive(Debug)]
pub(crate) struct Behind<'a> {
    file: &'a File,
    tally: &'a Tally,
    lag: usize,
    keep: Vec<Range>,
    pending: Mutex<BTreeMap<usize, Range>>,
    active: bool,
}

impl<'a> Behind<'a> {
    /// Follows the writer of `file`, `lag` spans behind.
    pub(crate) fn new(file: &'a File, tally: &'a Tally, lag: usize, keep: Vec<Range>) -> Self {
        let active = !matches!(fs_kind(file), Ok(FsKind::Tmpfs | FsKind::Hugetlbfs));
        Behind {
            file,
            tally,
            lag: lag.max(1),
            keep,
            pending: Mutex::new(BTreeMap::new()),
            active,
        }
    }

    /// Span number `index` (spans are numbered in file order), `[offset, offset + len)`, is written:
    /// starts it to disk, and waits for and drops the spans `lag` or more before it. A write-back error
    /// (EIO) is returned.
    pub(crate) fn written(&self, index: usize, offset: u64, len: u64) -> io::Result<()> {
        if !self.active || len == 0 {
            return Ok(());
        }
        let _ = sync_file_range(self.file, offset, len, Writeback::Start);
        let due: Vec<Range> = {
            let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            pending.insert(index, Range::at_most(offset, len));
            match index.checked_sub(self.lag) {
                Some(last) => {
                    let rest = pending.split_off(&(last + 1));
                    std::mem::replace(&mut *pending, rest)
                        .into_values()
                        .collect()
                }
                None => Vec::new(),
            }
        };
        due.into_iter().try_for_each(|span| self.retire(span))
    }

    /// Waits for and drops every span still pending.
    pub(crate) fn finish(&self) -> io::Result<()> {
        let due = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()));
        due.into_values().try_for_each(|span| self.retire(span))
    }

    fn retire(&self, span: Range) -> io::Result<()> {
        let (start, end) = span.pages().bounds();
        sync_file_range(self.file, start, end - start, Writeback::Wait)?;
        let mut at = start;
        let mut dropped = 0;
        for &keep in &self.keep {
            if keep.end() <= at || keep.start() >= end {
                continue;
            }
            let kept = keep.pages();
            dropped += drop_pages(self.file, at, kept.start().max(at));
            at = kept.end().min(end).max(at);
        }
        dropped += drop_pages(self.file, at, end);
        self.tally.dropped.fetch_add(dropped, Ordering::Relaxed);
        Ok(())
    }
}

impl Drop for Behind<'_> {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::cached;
    use std::os::unix::fs::FileExt;

    #[test]
    fn a_read_span_leaves_the_cache_as_found() {
        let dir = crate::testing::disk_tempdir();
        let path = dir.path().join("f");
        let page = page();
        std::fs::write(&path, vec![7u8; 64 * page as usize]).unwrap();
        let file = File::open(&path).unwrap();
        if cachestat(&file, 0, 0).is_err() {
            return crate::testing::skip("cachestat is missing");
        }
        file.sync_all().unwrap();
        rustix::fs::fadvise(&file, 0, None, Advice::DontNeed).unwrap();
        // Pages 8..16 and 40..41 cached before.
        let mut buf = vec![0u8; 8 * page as usize];
        file.read_exact_at(&mut buf, 8 * page).unwrap();
        file.read_exact_at(&mut buf[..page as usize], 40 * page)
            .unwrap();
        let tally = Tally::new();
        let source = Source::new(&file, &tally);
        let before = source.before(Range::new(3, 64 * page));
        {
            let map =
                MappedRange::new(&file, 0, 64 * page as usize, MapMode::Shared, true).unwrap();
            assert_eq!(map.bytes()[5], 7);
        }
        assert_eq!(cached(&file, 0, 0), 64);
        source.after(before);
        assert_eq!(cached(&file, 8 * page, 8 * page), 8);
        assert_eq!(cached(&file, 40 * page, page), 1);
        assert_eq!(cached(&file, 0, 0), 9);
        let t = tally.get();
        assert_eq!((t.dropped_pages, t.kept_pages, t.hidden), (55, 9, false));
    }

    #[test]
    fn written_spans_are_dropped_behind_the_writer() {
        let dir = crate::testing::disk_tempdir();
        let path = dir.path().join("f");
        let page = page();
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        if cachestat(&file, 0, 0).is_err() {
            return crate::testing::skip("cachestat is missing");
        }
        let tally = Tally::new();
        // A whole span kept: a folio straddling a kept page and a dropped one cannot be dropped.
        let span = 4 * page;
        let behind = Behind::new(&file, &tally, 2, vec![Range::new(0, span)]);
        for i in 0..8u64 {
            file.write_all_at(&vec![1u8; span as usize], i * span)
                .unwrap();
            behind.written(i as usize, i * span, span).unwrap();
            // Spans i-1 and i are all that may be cached, with the kept span.
            let c = cachestat(&file, 0, 0).unwrap();
            assert!(c.cache <= 3 * 4, "after span {i}: {c:?} {:?}", tally.get());
        }
        behind.finish().unwrap();
        assert_eq!(cached(&file, 0, 0), 4);
        assert_eq!(tally.get().dropped_pages, 28);
    }
}
