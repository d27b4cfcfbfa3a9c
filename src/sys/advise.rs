//! Advice and locks on mapped pages that memmap2 does not offer: madvise with MADV_COLD, MADV_PAGEOUT,
//! MADV_POPULATE_READ and MADV_COLLAPSE (and the process-local hints), mlock2 with MLOCK_ONFAULT,
//! munlock, and the RLIMIT_MEMLOCK limit.
//!
//! Every call takes a slice of a live map (a [`crate::map::MappedRange`]'s bytes). The slice's start is
//! aligned down to its page, which lies inside the same map because maps start on page boundaries.
#![allow(unsafe_code)]

use std::io;

use crate::map::page_size;

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
    fn raw(self) -> libc::c_int {
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

/// The page-aligned start and length of the pages holding `bytes`.
fn pages_of(bytes: &[u8]) -> (*mut libc::c_void, usize) {
    let page = page_size();
    let addr = bytes.as_ptr() as usize;
    let start = addr - addr % page;
    let len = (addr + bytes.len() - start).div_ceil(page) * page;
    (start as *mut libc::c_void, len)
}

/// Gives `advice` for the pages holding `bytes`, which must be part of a live file map, and returns the
/// kernel's answer. An empty slice is a no-op.
pub fn madvise(bytes: &[u8], advice: MapAdvice) -> io::Result<()> {
    if bytes.is_empty() {
        return Ok(());
    }
    let (addr, len) = pages_of(bytes);
    // SAFETY: [addr, addr + len) covers only pages of the map that `bytes` borrows: the map starts on a
    // page boundary and its length is rounded up to whole pages by mmap, so aligning the slice outward to
    // pages stays inside it, and the borrow keeps it mapped for the call. None of these advices changes
    // what the memory reads as: the map is a read-only file map, so dropping, reclaiming or collapsing
    // its pages only means they are read back from the page cache or the file on the next access.
    let rc = unsafe { libc::madvise(addr, len, advice.raw()) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Locks the pages holding `bytes` (part of a live map) as they are faulted in (mlock2 with
/// MLOCK_ONFAULT, Linux 4.4): pages never touched are neither read nor locked.
pub fn mlock_on_fault(bytes: &[u8]) -> io::Result<()> {
    if bytes.is_empty() {
        return Ok(());
    }
    let (addr, len) = pages_of(bytes);
    // SAFETY: as in `madvise`, the page-aligned range lies inside the borrowed map; locking changes no
    // memory contents.
    let rc = unsafe { libc::mlock2(addr, len, libc::MLOCK_ONFAULT) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Unlocks the pages holding `bytes` (munlock). Unmapping unlocks too; this is for undoing a lock early.
pub fn munlock(bytes: &[u8]) -> io::Result<()> {
    if bytes.is_empty() {
        return Ok(());
    }
    let (addr, len) = pages_of(bytes);
    // SAFETY: as in `madvise`; unlocking changes no memory contents.
    let rc = unsafe { libc::munlock(addr, len) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The RLIMIT_MEMLOCK limits in bytes, `None` meaning unlimited: (soft, hard).
pub fn memlock_limit() -> (Option<u64>, Option<u64>) {
    let limit = rustix::process::getrlimit(rustix::process::Resource::Memlock);
    (limit.current, limit.maximum)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::map::{MapMode, MappedRange};

    #[test]
    fn advice_and_locks_on_a_map() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, vec![3u8; 4 * page_size()]).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        let map = MappedRange::new(&file, 100, 2 * page_size(), MapMode::Shared, false).unwrap();
        madvise(map.bytes(), MapAdvice::Random).unwrap();
        madvise(map.bytes(), MapAdvice::PopulateRead).unwrap();
        madvise(&map.bytes()[..0], MapAdvice::Cold).unwrap();
        mlock_on_fault(&map.bytes()[1..10]).unwrap();
        munlock(map.bytes()).unwrap();
        let (addr, len) = pages_of(&map.bytes()[page_size()..page_size() + 1]);
        assert_eq!(addr as usize % page_size(), 0);
        assert_eq!(len, page_size(), "one byte lies in one page");
        let (soft, hard) = memlock_limit();
        if let (Some(s), Some(h)) = (soft, hard) {
            assert!(s <= h);
        }
    }
}
