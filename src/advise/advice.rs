//! Advice with an effect that outlives the process, each verified afterwards:
//!
//! - cold (MADV_COLD, 5.4): moves the file's cached pages to the inactive LRU list, so that reclaim takes
//!   them first; verified by counting active pages in /proc/kpageflags (which needs CAP_SYS_ADMIN).
//! - pageout (MADV_PAGEOUT, 5.4): reclaims the file's cached pages now; verified by residency.
//! - hugepage (MADV_HUGEPAGE, and MADV_COLLAPSE where the kernel can): loads the data through a map that
//!   asks for huge pages, so that the page cache holds it in 2 MiB folios; verified by the bytes of the
//!   map backed by huge pages (FilePmdMapped in /proc/self/smaps).
//!
//! Both cold and pageout act only on pages this process maps, so the resident pages are mapped first
//! (without reading anything that is not cached), and only on pages no other process maps. The kernel
//! ignores them for files the caller may not write, exactly the files whose residency it hides.

use crate::error::{Error, Op, Result};
use crate::map::{MapMode, MappedRange};
use crate::residency::Residency;
use crate::sys::advise::MapAdvice;

use super::Subject;
use super::evict::{Stayed, explain};
use super::load::{Pattern, apply_pattern, populate};
use super::pageflags::{ActiveCount, Unreadable, active_pages};
use crate::range::{Range, total};

/// Advice that acts on the page cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    /// MADV_COLD.
    Cold,
    /// MADV_PAGEOUT.
    PageOut,
    /// MADV_HUGEPAGE (+ MADV_COLLAPSE).
    HugePage,
}

/// What the check afterwards found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// Pages on the active list among the resident pages, before and after MADV_COLD.
    Active {
        /// Before.
        before: ActiveCount,
        /// After.
        after: ActiveCount,
    },
    /// Page flags could not be read, so the effect of MADV_COLD could not be seen.
    Unverified(Unreadable),
    /// What stayed after MADV_PAGEOUT, and why.
    Stayed(Stayed),
    /// Bytes of the data mapped by huge pages, of `data` bytes; and the kernel's answer to MADV_COLLAPSE.
    Huge {
        /// Bytes mapped by huge pages.
        huge: u64,
        /// Data bytes loaded.
        data: u64,
        /// Why MADV_COLLAPSE failed, if it did (pages cached before stay in small folios then).
        collapse: Option<String>,
    },
}

/// The result of advising one file.
#[derive(Debug, Clone)]
pub struct Advised {
    /// Residency before.
    pub before: Residency,
    /// Residency after.
    pub after: Residency,
    /// The verification.
    pub check: Check,
}

/// Gives `act` for the subject's covered range and checks its effect. `data` are the data spans (for
/// hugepage, which loads them).
pub fn advise(subject: &Subject<'_>, act: Act, mode: MapMode, data: &[Range]) -> Result<Advised> {
    let before = subject.measure()?;
    let (start, end) = subject.span.bounds();
    let map_err = |e| Error::io(Op::Map, subject.path, e);
    let advise_err = |e: std::io::Error, what: &str| {
        Error::io(
            Op::Advise,
            subject.path,
            std::io::Error::new(e.kind(), format!("{what}: {}", crate::error::describe(&e))),
        )
    };
    let check = if start == end {
        Check::Stayed(Stayed::default())
    } else {
        let map = MappedRange::new(subject.file, start, (end - start) as usize, mode, false)
            .map_err(map_err)?;
        match act {
            Act::Cold | Act::PageOut => {
                if !subject.target.truthful() {
                    return Err(advise_err(
                        std::io::Error::from_raw_os_error(libc::EPERM),
                        "the kernel applies this advice only to files the caller may write",
                    ));
                }
                // Map what is cached, reading nothing else: no read-around on faults.
                apply_pattern(subject, &map, Pattern::Random, true, false);
                let resident: Vec<Range> = subject
                    .target
                    .runs(subject.span)?
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|r| r.resident)
                    .map(|r| r.range)
                    .collect();
                for (s, e) in resident.iter().map(|r| r.bounds()) {
                    let bytes = &map.bytes()[(s - start) as usize..(e - start) as usize];
                    populate(subject, &map, bytes, e)?;
                }
                if act == Act::Cold {
                    let count = |bytes: &[u8]| {
                        active_pages(bytes).map_err(|e| Error::io(Op::Read, subject.path, e))
                    };
                    let first = count(map.bytes())?;
                    map.madvise(map.bytes(), MapAdvice::Cold)
                        .map_err(|e| advise_err(e, "madvise"))?;
                    match (first, count(map.bytes())?) {
                        (Ok(before), Ok(after)) => Check::Active { before, after },
                        (Err(why), _) | (_, Err(why)) => Check::Unverified(why),
                    }
                } else {
                    map.madvise(map.bytes(), MapAdvice::PageOut)
                        .map_err(|e| advise_err(e, "madvise"))?;
                    drop(map);
                    let after = subject.measure()?;
                    Check::Stayed(explain(subject, &after))
                }
            }
            Act::HugePage => {
                map.madvise(map.bytes(), MapAdvice::HugePage)
                    .map_err(|e| advise_err(e, "madvise(MADV_HUGEPAGE)"))?;
                let collapse = map
                    .madvise(map.bytes(), MapAdvice::Collapse)
                    .err()
                    .map(|e| crate::error::describe(&e));
                for (s, e) in data.iter().map(|r| r.bounds()) {
                    let bytes = &map.bytes()[(s - start) as usize..(e - start) as usize];
                    populate(subject, &map, bytes, e)?;
                }
                let huge = super::procmaps::own_field(map.bytes(), "FilePmdMapped")
                    .map_err(|e| Error::io(Op::Read, subject.path, e))?;
                Check::Huge {
                    huge,
                    data: total(data),
                    collapse,
                }
            }
        }
    };
    let after = subject.measure()?;
    Ok(Advised {
        before,
        after,
        check,
    })
}
