//! Asynchronous prefetch: POSIX_FADV_WILLNEED over the missing data of a file, in chunks no larger than
//! the device's readahead cap (one call reads at most that much), and an optional wait until the pages
//! are resident or until reading stops making progress.

use std::fs::File;
use std::num::NonZeroU64;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::error::{Error, Op, Result};

use super::{Span, Subject, split, total};

/// How long the wait goes without a single new resident page before it asks again, and then gives up.
pub const STALL: Duration = Duration::from_secs(3);

/// How many times the wait asks again for what is still missing before it gives up.
pub const RETRIES: u32 = 2;

/// Asks the kernel to read `spans` of `file` in the background, in chunks of at most `cap` bytes.
/// Returns the bytes asked for.
pub fn issue(file: &File, path: &Path, spans: &[Span], cap: u64) -> Result<u64> {
    for (start, end) in split(spans, cap) {
        let Some(len) = NonZeroU64::new(end - start) else {
            continue;
        };
        rustix::fs::fadvise(file, start, Some(len), rustix::fs::Advice::WillNeed)
            .map_err(|e| Error::io(Op::Read, path, e.into()))?;
    }
    Ok(total(spans))
}

/// A file being waited for: what is still missing and the chunk size to ask again with.
#[derive(Debug)]
pub struct Pending<'s, 'a> {
    /// The file.
    pub subject: &'s Subject<'a>,
    /// Spans not yet resident.
    pub outstanding: Vec<Span>,
    /// WILLNEED chunk size.
    pub cap: u64,
    /// The first error met while waiting, after which the file is no longer waited for.
    pub error: Option<Error>,
}

/// How a wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitEnd {
    /// Everything asked for is resident.
    Resident,
    /// Reading stopped making progress (memory pressure evicting what was read, or a device that does not
    /// answer) and asking again did not help; the outstanding spans say what is missing.
    Stalled,
}

/// Waits until every file's outstanding spans are resident, polling with mincore, calling
/// `progress(bytes)` as pages arrive. When nothing arrives for [`STALL`], asks again for what is missing
/// (readahead may have been dropped under memory pressure), at most [`RETRIES`] times.
pub fn wait(pending: &mut [Pending<'_, '_>], progress: &(dyn Fn(u64) + Sync)) -> WaitEnd {
    let mut last_gain = Instant::now();
    let mut retries = 0;
    let mut poll = Duration::from_millis(2);
    loop {
        let mut gained = 0u64;
        let mut waiting = false;
        for p in pending.iter_mut() {
            if p.outstanding.is_empty() || p.error.is_some() {
                continue;
            }
            match p.subject.missing(&p.outstanding) {
                Ok(still) => {
                    gained += total(&p.outstanding) - total(&still);
                    p.outstanding = still;
                    waiting |= !p.outstanding.is_empty();
                }
                Err(e) => p.error = Some(e),
            }
        }
        if gained > 0 {
            progress(gained);
            last_gain = Instant::now();
        }
        if !waiting {
            return WaitEnd::Resident;
        }
        if last_gain.elapsed() >= STALL {
            if retries == RETRIES {
                return WaitEnd::Stalled;
            }
            retries += 1;
            for p in pending.iter_mut().filter(|p| p.error.is_none()) {
                if let Err(e) = issue(p.subject.file, p.subject.path, &p.outstanding, p.cap) {
                    p.error = Some(e);
                }
            }
            last_gain = Instant::now();
        }
        std::thread::sleep(poll);
        poll = (poll * 2).min(Duration::from_millis(50));
    }
}
