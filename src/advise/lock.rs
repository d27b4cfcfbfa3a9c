//! Locking files in memory: a shared map of the covered range locked with mlock2(MLOCK_ONFAULT), so
//! that pages are locked as they are faulted in, then loaded (see [`super::load`]) so that each page is
//! read once. Holes are never faulted, so they are neither read nor locked. The lock lasts as long as the
//! map: dropping it unlocks.
//!
//! RLIMIT_MEMLOCK caps the bytes an unprivileged process may lock (the whole size of each locked map
//! counts, even pages never faulted); CAP_IPC_LOCK lifts the cap.

use crate::error::{Error, Op, Result};
use crate::map::{MapMode, MappedRange};
use crate::sys::advise::memlock_limit;

use super::Subject;
use super::load::{Pattern, apply_pattern};

/// The capability number of CAP_IPC_LOCK.
const CAP_IPC_LOCK: u32 = 14;

/// What this process may lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// RLIMIT_MEMLOCK soft limit in bytes (`None`: unlimited).
    pub soft: Option<u64>,
    /// RLIMIT_MEMLOCK hard limit in bytes (`None`: unlimited).
    pub hard: Option<u64>,
    /// Bytes this process has locked already.
    pub used: u64,
    /// Whether the process has CAP_IPC_LOCK, which ignores the limit.
    pub privileged: bool,
}

impl Budget {
    /// The budget of this process now.
    pub fn current() -> Budget {
        let (soft, hard) = memlock_limit();
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let field = |key: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .map(|v| v.trim().to_string())
        };
        let used = field("VmLck:")
            .and_then(|v| v.split_ascii_whitespace().next()?.parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024);
        let privileged = field("CapEff:")
            .and_then(|v| u64::from_str_radix(&v, 16).ok())
            .is_some_and(|caps| caps & (1 << CAP_IPC_LOCK) != 0);
        Budget {
            soft,
            hard,
            used,
            privileged,
        }
    }

    /// Bytes that can still be locked, `None` meaning no limit applies.
    pub fn available(&self) -> Option<u64> {
        if self.privileged {
            return None;
        }
        self.soft.map(|s| s.saturating_sub(self.used))
    }
}

/// A locked map of one file's covered range.
#[derive(Debug)]
pub struct Locked {
    /// The map; the lock lasts as long as it does.
    pub map: MappedRange,
}

/// The bytes a lock of the subject counts against RLIMIT_MEMLOCK: its whole map, in pages.
pub fn cost(subject: &Subject<'_>) -> u64 {
    subject.span.pages().len()
}

/// Maps the subject's covered range (which must not be empty), sets the load pattern's advice on the
/// map (`holes`: the span has holes, to be kept out of the cache), and locks it on fault. Load the data
/// spans through `map` afterwards to fault (and so lock) them.
pub fn lock(subject: &Subject<'_>, mode: MapMode, pattern: Pattern, holes: bool) -> Result<Locked> {
    let (start, end) = subject.span.bounds();
    let map = MappedRange::new(subject.file, start, (end - start) as usize, mode, false)
        .map_err(|e| Error::io(Op::Map, subject.path, e))?;
    apply_pattern(subject, &map, pattern, holes, false);
    map.lock_on_fault(map.bytes())
        .map_err(|e| Error::io(Op::Lock, subject.path, lock_error(e)))?;
    Ok(Locked { map })
}

fn lock_error(e: std::io::Error) -> std::io::Error {
    let why = match e.raw_os_error() {
        Some(libc::ENOMEM) | Some(libc::EPERM) | Some(libc::EAGAIN) => {
            "RLIMIT_MEMLOCK reached (or memory is short)".to_string()
        }
        _ => return e,
    };
    std::io::Error::new(e.kind(), why)
}

impl Locked {
    /// Bytes of the map that the kernel reports locked (the map's `Locked:` in /proc/self/smaps).
    pub fn locked_bytes(&self) -> std::io::Result<u64> {
        super::procmaps::own_field(self.map.bytes(), "Locked")
    }
}
