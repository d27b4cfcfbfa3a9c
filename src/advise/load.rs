//! Synchronous loading: the spans of many files cut into windows, loaded in parallel (rayon) with
//! MADV_POPULATE_READ (Linux 5.14), which returns EFAULT where a read would have raised SIGBUS. On older
//! kernels, one byte per page is read under the SIGBUS guard instead. Either way a file that shrinks
//! while it is loaded becomes an error for that file, and the other files go on.
//!
//! The default pattern asks for each window with WILLNEED (chunked to the readahead cap) and then
//! populates it with MADV_RANDOM set on the map, so that faults read nothing beyond the spans asked for:
//! the holes of a sparse file stay out of the page cache.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use rayon::prelude::*;

use crate::error::{Error, Op, Reason, Result};
use crate::map::{MapMode, MappedRange, page_size};
use crate::sys::advise::{MapAdvice, madvise};

use super::{Span, Subject, split, willneed};

/// How pages are asked for while loading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pattern {
    /// WILLNEED on exactly the window (chunked to the readahead cap), then populate with read-around off.
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
    pub spans: Vec<Span>,
    /// WILLNEED chunk size (the device's readahead cap).
    pub cap: u64,
    /// A map of `subject.span` to load through (a locked map, say), or `None` to map each window.
    pub map: Option<&'s MappedRange>,
}

/// Whether MADV_POPULATE_READ is known to be missing (kernels before 5.14 answer EINVAL).
static NO_POPULATE: AtomicBool = AtomicBool::new(false);

/// Sets the pattern's advice on a map (and the file's fd-level hint for the sequential and random
/// patterns), and MADV_HUGEPAGE when asked. Advice is a hint: the kernel's refusal is not an error.
pub fn apply_pattern(subject: &Subject<'_>, bytes: &[u8], pattern: Pattern, huge: bool) {
    let (map_advice, fd_advice) = match pattern {
        Pattern::Tuned => (Some(MapAdvice::Random), None),
        Pattern::Normal => (None, None),
        Pattern::Sequential => (
            Some(MapAdvice::Sequential),
            Some(rustix::fs::Advice::Sequential),
        ),
        Pattern::Random => (Some(MapAdvice::Random), Some(rustix::fs::Advice::Random)),
    };
    if let Some(advice) = map_advice {
        let _ = madvise(bytes, advice);
    }
    if let Some(advice) = fd_advice {
        let _ = rustix::fs::fadvise(subject.file, 0, None, advice);
    }
    if huge {
        let _ = madvise(bytes, MapAdvice::HugePage);
    }
}

/// Loads every job's spans, in parallel over windows of all files, calling `progress(bytes)` as windows
/// complete. Returns, per job, the first error met (the rest of that file is then skipped).
pub fn load(
    jobs: &[Job<'_, '_>],
    options: &LoadOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> Vec<Option<Error>> {
    let errors: Vec<Mutex<Option<Error>>> = jobs.iter().map(|_| Mutex::new(None)).collect();
    let failed: Vec<AtomicBool> = jobs.iter().map(|_| AtomicBool::new(false)).collect();
    let pieces: Vec<(usize, Span)> = jobs
        .iter()
        .enumerate()
        .flat_map(|(i, job)| {
            split(&job.spans, options.window)
                .into_iter()
                .map(move |s| (i, s))
        })
        .collect();
    pieces.into_par_iter().for_each(|(i, piece)| {
        if failed[i].load(Ordering::Relaxed) {
            return;
        }
        match load_piece(&jobs[i], piece, options) {
            Ok(()) => progress(piece.1 - piece.0),
            Err(e) => {
                failed[i].store(true, Ordering::Relaxed);
                let mut slot = errors[i].lock().unwrap_or_else(|p| p.into_inner());
                if slot.is_none() {
                    *slot = Some(e);
                }
            }
        }
    });
    errors
        .into_iter()
        .map(|m| m.into_inner().unwrap_or_else(|p| p.into_inner()))
        .collect()
}

fn load_piece(job: &Job<'_, '_>, (start, end): Span, options: &LoadOptions) -> Result<()> {
    let subject = job.subject;
    if options.pattern == Pattern::Tuned {
        willneed::issue(subject.file, subject.path, &[(start, end)], job.cap)?;
    }
    match job.map {
        Some(map) => {
            let base = subject.span.0;
            let bytes = &map.bytes()[(start - base) as usize..(end - base) as usize];
            populate(subject, map, bytes, end)
        }
        None => {
            let map = MappedRange::new(
                subject.file,
                start,
                (end - start) as usize,
                options.mode,
                false,
            )
            .map_err(|e| Error::io(Op::Map, subject.path, e))?;
            apply_pattern(subject, map.bytes(), options.pattern, options.huge);
            populate(subject, &map, map.bytes(), end)
        }
    }
}

/// Faults in `bytes` (part of `map`, ending at file offset `end`) for reading and waits for the data.
pub fn populate(subject: &Subject<'_>, map: &MappedRange, bytes: &[u8], end: u64) -> Result<()> {
    let changed = || Error::new(Op::Read, subject.path, Reason::ChangedSize);
    if !NO_POPULATE.load(Ordering::Relaxed) {
        match madvise(bytes, MapAdvice::PopulateRead) {
            Ok(()) => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                NO_POPULATE.store(true, Ordering::Relaxed);
            }
            // Where a read would have raised SIGBUS: the file shrank, or the device failed to read.
            Err(e) if e.raw_os_error() == Some(libc::EFAULT) => {
                return match rustix::fs::fstat(subject.file) {
                    Ok(st) if (st.st_size as u64) < end => Err(changed()),
                    _ => Err(Error::io(
                        Op::Read,
                        subject.path,
                        std::io::Error::from_raw_os_error(libc::EIO),
                    )),
                };
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
    use crate::size::ByteRange;

    #[test]
    fn touch_visits_every_page_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, vec![5u8; 3 * page_size() + 10]).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        let len = 3 * page_size() as u64 + 10;
        let all = ByteRange {
            offset: 0,
            len: None,
        };
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
