//! The advice that memmap2 does not name (MADV_COLD, MADV_PAGEOUT, MADV_POPULATE_READ, MADV_COLLAPSE,
//! and the process-local hints), given through [`crate::map::MappedRange::madvise`], which checks that
//! the pages it advises are its own; and the RLIMIT_MEMLOCK limit.

/// Advice given with madvise(2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapAdvice {
    /// MADV_NORMAL: the kernel's default read-around on faults.
    Normal,
    /// MADV_SEQUENTIAL: read ahead aggressively on faults.
    Sequential,
    /// MADV_RANDOM: no read-around on faults: each fault reads only its page.
    Random,
    /// MADV_HUGEPAGE: back the mapping with huge pages where the kernel can.
    HugePage,
    /// MADV_COLLAPSE (6.1): collapse the pages into huge pages now.
    Collapse,
    /// MADV_COLD (5.4): deactivate the pages, so reclaim takes them first.
    Cold,
    /// MADV_PAGEOUT (5.4): reclaim the pages now.
    PageOut,
    /// MADV_POPULATE_READ (5.14): fault the pages in for reading, synchronously; EFAULT instead of SIGBUS.
    PopulateRead,
}

impl MapAdvice {
    /// The madvise(2) constant.
    pub fn raw(self) -> libc::c_int {
        match self {
            MapAdvice::Normal => libc::MADV_NORMAL,
            MapAdvice::Sequential => libc::MADV_SEQUENTIAL,
            MapAdvice::Random => libc::MADV_RANDOM,
            MapAdvice::HugePage => libc::MADV_HUGEPAGE,
            MapAdvice::Collapse => 25, // MADV_COLLAPSE, the same on every architecture
            MapAdvice::Cold => libc::MADV_COLD,
            MapAdvice::PageOut => libc::MADV_PAGEOUT,
            MapAdvice::PopulateRead => libc::MADV_POPULATE_READ,
        }
    }
}

/// The RLIMIT_MEMLOCK limits in bytes, `None` meaning unlimited: (soft, hard).
pub fn memlock_limit() -> (Option<u64>, Option<u64>) {
    let limit = rustix::process::getrlimit(rustix::process::Resource::Memlock);
    (limit.current, limit.maximum)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memlock_limits_are_ordered() {
        let (soft, hard) = memlock_limit();
        if let (Some(s), Some(h)) = (soft, hard) {
            assert!(s <= h);
        }
    }
}
