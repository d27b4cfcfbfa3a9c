//! Neutral reads of a file's spans on several threads at once, through the page cache with the
//! kernel's readahead on, dropped behind the readers.
//!
//! Workers claim the spans in file order, at most [`CLAIM_AHEAD`] past the first one not yet read.
//! Before a span is claimed, the file is recorded (which pages are cached, in cells of [`SPAN`]
//! bytes) from its start to past the farthest point the kernel's readahead can reach from it; a cell
//! is dropped (its pages not cached before) once every span before its end has been read, so that no
//! read of ours can bring its pages back. Where that reach cannot be known, or is too long for the
//! bound of [`read_footprint`](super::read_footprint), readahead is off instead (POSIX_FADV_RANDOM)
//! and each read brings in only its own pages (see `Source::readahead_reach`).
//!
//! A span is read through a map of it, faulted in at once (MADV_POPULATE_READ) with MADV_SEQUENTIAL,
//! so that the kernel's readahead goes forward only (a fault otherwise reads around the page it
//! needs, before it too, into cells already dropped); the map is gone before its cells are dropped
//! (the kernel keeps pages that are mapped). One worker reads at a time, in file order, so that
//! readahead sees one sequential reader; the others fold or write the spans already read.
//!
//! Measured on a 2-core AMD EPYC (a virtual disk), a 1 GiB evicted file: read with O_DIRECT, 1.6 to
//! 2.0 s, in 4 MiB or 64 MiB requests, one reader or four; with pread(2) through the cache by two
//! readers at once, 1.7 to 2.3 s (their reads confused the readahead they share), one at a time 0.6
//! to 0.8 s, most of it copying to the buffer; through maps one at a time, 0.35 to 0.45 s, as fast as
//! the default count.

use std::collections::VecDeque;
use std::fs::File;
use std::io;
use std::sync::{Condvar, Mutex, MutexGuard};

use super::{Before, CLAIM_AHEAD, SPAN, Source, Tally};
use crate::error::{Error, Op};
use crate::input::{Input, read_full_at};
use crate::map::{MapMode, MappedRange};
use crate::range::{Range, align_down, align_up};
use memmap2::Advice;

/// Why a span could not be read.
#[derive(Debug)]
pub(crate) enum SpanError {
    /// pread(2) failed.
    Io(io::Error),
    /// A page of the map of the span ending at `end` could not be read: the file shrank, or the
    /// device failed (see [`crate::map::fault_reason`]).
    Fault { end: u64 },
}

impl SpanError {
    /// The error reading `input` this was.
    pub(crate) fn of(self, input: &Input) -> Error {
        match self {
            SpanError::Io(e) => Error::io(Op::Read, input.name(), e),
            SpanError::Fault { end } => Error::new(Op::Read, input.name(), input.fault_reason(end)),
        }
    }
}

/// A span read.
enum Read {
    Mapped(MappedRange),
    /// This many bytes read into the worker's buffer.
    Copied(usize),
}

/// The spans of one file, read neutrally (see the module docs).
#[derive(Debug)]
pub(crate) struct Spans<'a> {
    source: Source<'a>,
    spans: Vec<Range>,
    /// How far past a read's end readahead may reach; 0 with readahead off.
    reach: u64,
    /// Where recording stops: the file's end, in whole pages.
    end: u64,
    state: Mutex<State>,
    moved: Condvar,
    /// Held by the worker reading.
    reader: Mutex<()>,
    /// Read through maps, not with pread(2).
    mapped: bool,
}

#[derive(Debug, Default)]
struct State {
    /// The next span to claim.
    next: usize,
    /// Every span before this one has been read.
    read: usize,
    /// Spans at or after `read` that have been read, by index.
    done: Vec<bool>,
    /// The file is recorded up to here.
    recorded: u64,
    /// Recorded cells not yet dropped, in file order.
    cells: VecDeque<Before>,
    /// A worker failed: no more claims.
    stopped: bool,
}

impl<'a> Spans<'a> {
    /// Prepares to read `spans` (in file order, not overlapping) of `file` neutrally, counting into
    /// `tally`; through maps when `mapped`, else with pread(2) (`--no-mmap`).
    pub(crate) fn new(
        file: &'a File,
        tally: &'a Tally,
        spans: Vec<Range>,
        mapped: bool,
    ) -> Spans<'a> {
        let source = Source::new(file, tally);
        let stat = rustix::fs::fstat(file).ok();
        let reach = source.readahead_reach();
        let size = stat.map_or(0, |st| st.st_size.max(0) as u64);
        let end = align_up(size.max(spans.last().map_or(0, |s| s.end())));
        let state = State {
            done: vec![false; spans.len()],
            ..State::default()
        };
        Spans {
            source,
            spans,
            reach,
            end,
            state: Mutex::new(state),
            moved: Condvar::new(),
            reader: Mutex::new(()),
            mapped,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reads every span on `workers` threads of the current pool, claiming them in file order, and
    /// hands each to `each` with its index, its range and its bytes (fewer than the span's only at the
    /// end of the file); returns what `each` returned, in span order, or the first error (`each`'s, or a
    /// read's through `read_error`), after which the other workers stop at their next claim.
    pub(crate) fn run<T, E>(
        &self,
        workers: usize,
        each: impl Fn(usize, Range, &[u8]) -> Result<T, E> + Sync,
        read_error: impl Fn(SpanError) -> E + Sync,
    ) -> Result<Vec<T>, E>
    where
        T: Send,
        E: Send,
    {
        use rayon::prelude::*;
        let workers = workers.clamp(1, self.spans.len().max(1));
        let mut results: Vec<(usize, T)> = (0..workers)
            .into_par_iter()
            .map(|_| {
                // A worker that panics stops the others too, instead of leaving them waiting for
                // the span it held.
                let _stop = StopOnUnwind(self);
                let mut buf = Vec::new();
                let mut results = Vec::new();
                loop {
                    // One read at a time, in file order: the kernel's readahead then sees one
                    // sequential reader and keeps the disk busy ahead of it.
                    let (index, read) = {
                        let _reader = self.reader.lock().unwrap_or_else(|p| p.into_inner());
                        let Some(index) = self.claim() else { break };
                        (index, self.read(index, &mut buf))
                    };
                    let done = match read {
                        // Unmapped (at the end of the arm) before it is dropped: the kernel keeps
                        // pages that are mapped.
                        Ok(Read::Mapped(map)) if map.faulted() => {
                            Err(read_error(SpanError::Fault {
                                end: self.spans[index].end(),
                            }))
                        }
                        Ok(Read::Mapped(map)) => each(index, self.spans[index], map.bytes()),
                        Ok(Read::Copied(n)) => each(index, self.spans[index], &buf[..n]),
                        Err(e) => Err(read_error(SpanError::Io(e))),
                    };
                    match done {
                        Ok(result) => {
                            results.push((index, result));
                            self.done(index);
                        }
                        Err(e) => {
                            self.stop();
                            return Err(e);
                        }
                    }
                }
                Ok(results)
            })
            .try_reduce(Vec::new, |mut a, b| {
                a.extend(b);
                Ok(a)
            })?;
        results.sort_unstable_by_key(|&(index, _)| index);
        Ok(results.into_iter().map(|(_, result)| result).collect())
    }

    /// Reads span `index`: through a map, its pages faulted in at once with the kernel's readahead
    /// going forward only (MADV_SEQUENTIAL: a fault would otherwise read around the page it needs,
    /// before it too); with pread(2) into `buf` when not `mapped` or where the span cannot be mapped.
    fn read(&self, index: usize, buf: &mut Vec<u8>) -> io::Result<Read> {
        let span = self.spans[index];
        let n = span.len() as usize;
        let map = self
            .mapped
            .then(|| MappedRange::new(self.source.file, span.start(), n, MapMode::Shared, false));
        if let Some(Ok(map)) = map {
            map.advise(Advice::Sequential);
            map.populate();
            return Ok(Read::Mapped(map));
        }
        buf.resize(n, 0);
        read_full_at(self.source.file, &mut buf[..n], span.start()).map(Read::Copied)
    }

    /// The next span to read, once it is at most [`CLAIM_AHEAD`] past the first one not yet read and
    /// the file is recorded as far as its read may reach; `None` when all are claimed or a worker
    /// failed.
    fn claim(&self) -> Option<usize> {
        let mut state = self.lock();
        loop {
            if state.stopped || state.next >= self.spans.len() {
                return None;
            }
            if state.next < state.read + CLAIM_AHEAD {
                break;
            }
            state = self.moved.wait(state).unwrap_or_else(|p| p.into_inner());
        }
        let index = state.next;
        state.next += 1;
        let span = self.spans[index];
        // Recording under the lock: no read may start in a cell before the cell is recorded.
        let stop = (span.end() + self.reach).min(self.end);
        let mut at = state.recorded.max(align_down(span.start()));
        while at < stop {
            let cell = Range::new(at, (at + SPAN as u64).min(self.end));
            state.cells.push_back(self.source.before(cell));
            at = cell.end();
        }
        state.recorded = state.recorded.max(at);
        Some(index)
    }

    /// Span `index` has been read: drops the cells that no read of ours can reach any more.
    fn done(&self, index: usize) {
        let due = {
            let mut state = self.lock();
            state.done[index] = true;
            while state.read < self.spans.len() && state.done[state.read] {
                state.read += 1;
            }
            // Every span before `first` has been read, and readahead goes forward only.
            let first = self.spans.get(state.read).map_or(u64::MAX, |s| s.start());
            let keep = state
                .cells
                .iter()
                .position(|cell| cell.span.end() > first)
                .unwrap_or(state.cells.len());
            state.cells.drain(..keep).collect::<Vec<_>>()
        };
        self.moved.notify_all();
        for cell in due {
            self.source.after(cell);
        }
    }

    fn stop(&self) {
        self.lock().stopped = true;
        self.moved.notify_all();
    }
}

/// Stops the claims of its [`Spans`] when dropped while the thread panics.
struct StopOnUnwind<'s, 'a>(&'s Spans<'a>);

impl Drop for StopOnUnwind<'_, '_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.stop();
        }
    }
}

impl Drop for Spans<'_> {
    fn drop(&mut self) {
        let cells = std::mem::take(&mut self.lock().cells);
        for cell in cells {
            self.source.after(cell);
        }
        self.source.readahead(true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::page;
    use crate::sys::cachestat::cachestat;
    use crate::testing::cached;
    use std::os::unix::fs::FileExt;

    #[test]
    fn spans_read_right_and_leave_the_cache_as_found() {
        let dir = crate::testing::disk_tempdir();
        let path = dir.path().join("f");
        let page = page();
        // 64 pages and a half, each page filled with its number, then a hole of 3 MiB that the
        // kernel's readahead may fill with zero pages.
        let len = 64 * page + page / 2;
        let data: Vec<u8> = (0..len).map(|i| (i / page) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        file.set_len(len + (3 << 20)).unwrap();
        if cachestat(&file, 0, 0).is_err() {
            return crate::testing::skip("cachestat is missing");
        }
        // Spans of 16 pages, one starting inside a page, and the last half page.
        let spans = vec![
            Range::new(0, 16 * page),
            Range::new(16 * page, 32 * page),
            Range::new(32 * page, 48 * page),
            Range::new(48 * page + 100, 64 * page),
            Range::new(64 * page, len),
        ];
        for mapped in [true, false] {
            file.sync_all().unwrap();
            rustix::fs::fadvise(&file, 0, None, rustix::fs::Advice::DontNeed).unwrap();
            assert_eq!(cached(&file, 0, 0), 0);
            // Pages 8..16 cached and clean; page 40 cached and dirty (rewritten, same bytes).
            let mut buf = vec![0u8; 8 * page as usize];
            file.read_exact_at(&mut buf, 8 * page).unwrap();
            let at = 40 * page as usize;
            file.write_all_at(&data[at..at + page as usize], 40 * page)
                .unwrap();
            let tally = Tally::new();
            let reader = Spans::new(&file, &tally, spans.clone(), mapped);
            let got = reader
                .run(
                    3,
                    |index, _, bytes| Ok::<_, SpanError>((index, bytes.to_vec())),
                    |e| e,
                )
                .unwrap();
            drop(reader);
            for (i, (index, bytes)) in got.into_iter().enumerate() {
                assert_eq!(i, index);
                let (start, end) = spans[i].bounds();
                let want = &data[start as usize..end.min(len) as usize];
                assert_eq!(bytes, want, "span {i}, mapped {mapped}");
            }
            assert_eq!(cached(&file, 8 * page, 8 * page), 8, "mapped {mapped}");
            assert_eq!(cached(&file, 40 * page, page), 1, "mapped {mapped}");
            assert_eq!(cached(&file, 0, 0), 9, "mapped {mapped}");
            assert_eq!(tally.get().kept_pages, 9, "mapped {mapped}");
        }
    }

    /// The kernel's readahead runs megabytes past each read: the cells it reaches must be recorded
    /// before, or what it brings in would look cached and stay.
    #[test]
    fn what_readahead_brings_in_past_a_read_is_dropped_too() {
        let dir = crate::testing::disk_tempdir();
        let path = dir.path().join("f");
        let len: u64 = 40 << 20;
        std::fs::write(&path, vec![3u8; len as usize]).unwrap();
        let file = File::open(&path).unwrap();
        if cachestat(&file, 0, 0).is_err() {
            return crate::testing::skip("cachestat is missing");
        }
        file.sync_all().unwrap();
        let spans: Vec<Range> = (0..len >> 20)
            .map(|i| Range::new(i << 20, (i + 1) << 20))
            .collect();
        for mapped in [true, false] {
            rustix::fs::fadvise(&file, 0, None, rustix::fs::Advice::DontNeed).unwrap();
            let tally = Tally::new();
            let reader = Spans::new(&file, &tally, spans.clone(), mapped);
            reader
                .run(2, |_, _, bytes| Ok::<_, SpanError>(bytes.len()), |e| e)
                .unwrap();
            drop(reader);
            let t = tally.get();
            assert_eq!(cached(&file, 0, 0), 0, "mapped {mapped}: {t:?}");
            assert_eq!(t.kept_pages, 0, "mapped {mapped}");
        }
    }

    #[test]
    fn a_panicking_worker_does_not_leave_the_others_waiting() {
        let dir = crate::testing::disk_tempdir();
        let path = dir.path().join("f");
        let page = page();
        std::fs::write(&path, vec![1u8; 64 * page as usize]).unwrap();
        let file = File::open(&path).unwrap();
        let (sent, got) = std::sync::mpsc::channel();
        // On a thread of its own, so that a hang fails this test instead of stalling the suite.
        std::thread::spawn(move || {
            let tally = Tally::new();
            let spans = (0..64)
                .map(|i| Range::new(i * page, (i + 1) * page))
                .collect();
            let reader = Spans::new(&file, &tally, spans, true);
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(3)
                .build()
                .unwrap();
            let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                pool.install(|| {
                    reader.run(
                        3,
                        |index, _, _| {
                            assert_ne!(index, 2, "a worker fails hard");
                            Ok::<_, SpanError>(())
                        },
                        |e| e,
                    )
                })
            }));
            let _ = sent.send(run.is_err());
        });
        let panicked = got
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("the other workers were left waiting for the span of the one that panicked");
        assert!(panicked, "the panic reaches the caller");
    }

    #[test]
    fn a_failing_worker_stops_the_others() {
        let dir = crate::testing::disk_tempdir();
        let path = dir.path().join("f");
        let page = page();
        std::fs::write(&path, vec![1u8; 64 * page as usize]).unwrap();
        let file = File::open(&path).unwrap();
        let tally = Tally::new();
        let spans = (0..64)
            .map(|i| Range::new(i * page, (i + 1) * page))
            .collect();
        let reader = Spans::new(&file, &tally, spans, true);
        let seen = std::sync::atomic::AtomicUsize::new(0);
        let got = reader.run(
            2,
            |index, _, _| {
                seen.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if index == 5 { Err(index) } else { Ok(()) }
            },
            |_| usize::MAX,
        );
        assert_eq!(got.unwrap_err(), 5);
        // Claims stop once span 5 failed: at most CLAIM_AHEAD past it were handed out.
        assert!(seen.into_inner() <= 6 + CLAIM_AHEAD);
    }
}
