//! Asynchronous prefetch: POSIX_FADV_WILLNEED over the missing data of a file, in chunks no larger than
//! the device's readahead cap (one call reads at most that much), and an optional wait until the pages
//! are resident or until reading stops making progress.

use std::fs::File;
use std::num::NonZeroU64;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::error::{Error, Op, Result};

use super::throttle::Throttle;
use super::{Subject, split};
use crate::range::{Range, total};

/// How long the wait goes without a single new resident page before it asks again, and then gives up.
pub const STALL: Duration = Duration::from_secs(3);

/// How long the wait goes without a new resident page before it reads the first missing page itself,
/// so that a device that fails (which WILLNEED never reports) is found and reported as an I/O error.
pub const PROBE: Duration = Duration::from_millis(250);

/// How many times the wait asks again for what is still missing before it gives up.
pub const RETRIES: u32 = 2;

/// How many times the wait reads again pages that arrived and were then reclaimed before the rest did.
pub const REREADS: u32 = 3;

/// Asks the kernel to read `spans` of `file` in the background, in chunks of at most `cap` bytes.
/// Returns the bytes asked for.
pub fn issue(file: &File, path: &Path, spans: &[Range], cap: u64) -> Result<u64> {
    issue_paced(file, path, spans, cap, None)
}

/// [`issue`], each chunk asked for only when `throttle` (if any) lets its bytes through.
pub fn issue_paced(
    file: &File,
    path: &Path,
    spans: &[Range],
    cap: u64,
    throttle: Option<&Throttle>,
) -> Result<u64> {
    let chunk = throttle.map_or(cap, |t| t.piece(cap));
    for piece in split(spans, chunk) {
        let start = piece.start();
        let Some(len) = NonZeroU64::new(piece.len()) else {
            continue;
        };
        if let Some(t) = throttle {
            t.take(len.get());
        }
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
    /// Every span asked for, checked again once the outstanding ones have arrived.
    pub asked: Vec<Range>,
    /// Spans not yet resident.
    pub outstanding: Vec<Range>,
    /// WILLNEED chunk size.
    pub cap: u64,
    /// The first error met while waiting, after which the file is no longer waited for.
    pub error: Option<Error>,
    /// The pace of what is asked for again, if any.
    pub throttle: Option<&'s Throttle>,
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
/// (readahead may have been dropped under memory pressure), at most [`RETRIES`] times. Once everything
/// has arrived, checks all that was asked for once more: pages that were never accessed are the first
/// that reclaim takes, so any that left meanwhile are asked for again, at most [`REREADS`] times.
pub fn wait(pending: &mut [Pending<'_, '_>], progress: &(dyn Fn(u64) + Sync)) -> WaitEnd {
    let mut last_gain = Instant::now();
    let mut retries = 0;
    let mut rereads = 0;
    // Bytes read again after reclaim, which the progress already counted once.
    let mut owed = 0u64;
    let mut poll = Duration::from_millis(2);
    let mut probed = false;
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
            let repaid = gained.min(owed);
            owed -= repaid;
            if gained > repaid {
                progress(gained - repaid);
            }
            last_gain = Instant::now();
            probed = false;
        }
        if !waiting {
            let lost = if rereads == REREADS {
                0
            } else {
                reclaimed(pending)
            };
            if lost == 0 {
                return WaitEnd::Resident;
            }
            owed += lost;
            rereads += 1;
            last_gain = Instant::now();
            continue;
        }
        if !probed && last_gain.elapsed() >= PROBE {
            probed = true;
            probe(pending);
        }
        if last_gain.elapsed() >= STALL {
            if retries == RETRIES {
                return WaitEnd::Stalled;
            }
            retries += 1;
            for p in pending.iter_mut().filter(|p| p.error.is_none()) {
                if let Err(e) = issue_paced(
                    p.subject.file,
                    p.subject.path,
                    &p.outstanding,
                    p.cap,
                    p.throttle,
                ) {
                    p.error = Some(e);
                }
            }
            last_gain = Instant::now();
        }
        std::thread::sleep(poll);
        poll = (poll * 2).min(Duration::from_millis(50));
    }
}

/// Reads the first outstanding page of every file still waited for, with read(2): the page then
/// arrives (a slow device), or the read fails and the file's error says why (a failing device, whose
/// readahead fails silently). The file is then no longer waited for.
fn probe(pending: &mut [Pending<'_, '_>]) {
    let mut page = vec![0u8; crate::map::page_size()];
    for p in pending.iter_mut().filter(|p| p.error.is_none()) {
        let Some(first) = p.outstanding.first() else {
            continue;
        };
        let want = (first.len() as usize).min(page.len());
        if let Err(e) = rustix::io::pread(p.subject.file, &mut page[..want], first.start()) {
            p.error = Some(Error::io(Op::Read, p.subject.path, e.into()));
        }
    }
}

/// Finds pages of `pending` that arrived and were reclaimed since, makes them outstanding again and
/// asks for them. Returns how many bytes they hold.
fn reclaimed(pending: &mut [Pending<'_, '_>]) -> u64 {
    let mut lost_bytes = 0;
    for p in pending.iter_mut().filter(|p| p.error.is_none()) {
        let lost = match p.subject.missing(&p.asked) {
            Ok(lost) => lost,
            Err(e) => {
                p.error = Some(e);
                continue;
            }
        };
        if lost.is_empty() {
            continue;
        }
        lost_bytes += total(&lost);
        if let Err(e) = issue_paced(p.subject.file, p.subject.path, &lost, p.cap, p.throttle) {
            p.error = Some(e);
        }
        p.outstanding = lost;
    }
    lost_bytes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::range::Range;
    use std::io::Write;

    #[test]
    fn the_wait_reads_again_what_was_reclaimed_after_it_arrived() {
        let dir = crate::testing::disk_tempdir();
        let path = dir.path().join("f");
        let len = 4u64 << 20;
        let mut f = File::create(&path).unwrap();
        f.write_all(&vec![7u8; len as usize]).unwrap();
        f.sync_all().unwrap();
        drop(f);
        let f = File::open(&path).unwrap();
        rustix::fs::fadvise(&f, 0, None, rustix::fs::Advice::DontNeed).unwrap();
        let all = Range::ALL;
        let subject = Subject::new(&f, &path, len, all).unwrap();
        let Some(cold) = subject.resident_in(&[Range::new(0, len)]).unwrap() else {
            crate::testing::skip("residency is hidden from this user");
            return;
        };
        if cold != 0 {
            crate::testing::skip("this filesystem keeps its pages cached (tmpfs?)");
            return;
        }
        // As if the whole file had been asked for and had arrived, and reclaim had then taken it back:
        // nothing is outstanding, yet nothing is resident.
        let mut pending = [Pending {
            subject: &subject,
            asked: vec![Range::new(0, len)],
            outstanding: Vec::new(),
            cap: len,
            error: None,
            throttle: None,
        }];
        let shown = std::sync::atomic::AtomicU64::new(0);
        let end = wait(&mut pending, &|n| {
            shown.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        });
        assert_eq!(end, WaitEnd::Resident);
        assert!(pending[0].error.is_none());
        let pages = len / crate::map::page_size() as u64;
        assert_eq!(
            subject.resident_in(&[Range::new(0, len)]).unwrap(),
            Some(pages)
        );
        assert_eq!(
            shown.into_inner(),
            0,
            "bytes read again are not counted twice"
        );
    }
}
