//! Page flags of this process's mapped pages, from /proc/self/pagemap (page frame numbers, shown only to
//! CAP_SYS_ADMIN) and /proc/kpageflags: how MADV_COLD is verified, by counting the pages on the active
//! LRU list before and after.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use crate::map::page_size;

const PRESENT: u64 = 1 << 63;
const PFN_MASK: u64 = (1 << 55) - 1;
/// KPF_ACTIVE: the page is on an active LRU list.
const KPF_ACTIVE: u64 = 1 << 6;

/// Pages of a map with a page table entry, and how many of them are on an active LRU list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ActiveCount {
    /// Pages present in the page table.
    pub present: u64,
    /// Present pages on an active LRU list.
    pub active: u64,
}

/// Why page flags cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unreadable {
    /// Page frame numbers are hidden from this process (it lacks CAP_SYS_ADMIN).
    NoPfns,
    /// /proc/kpageflags cannot be opened (no permission, or a kernel without it).
    NoKpageflags,
}

/// Counts the present and active pages of `bytes`, a part of one of this process's maps.
pub fn active_pages(bytes: &[u8]) -> io::Result<Result<ActiveCount, Unreadable>> {
    if bytes.is_empty() {
        return Ok(Ok(ActiveCount::default()));
    }
    let page = page_size() as u64;
    let first = bytes.as_ptr() as u64 / page;
    let last = (bytes.as_ptr() as u64 + bytes.len() as u64).div_ceil(page);
    let pagemap = File::open("/proc/self/pagemap")?;
    let Ok(kpageflags) = File::open("/proc/kpageflags") else {
        return Ok(Err(Unreadable::NoKpageflags));
    };
    let mut count = ActiveCount::default();
    let mut entries = vec![0u8; 8 * 4096];
    let mut at = first;
    while at < last {
        let n = (last - at).min(4096);
        let buf = &mut entries[..(n * 8) as usize];
        pagemap.read_exact_at(buf, at * 8)?;
        for entry in buf.chunks_exact(8) {
            let entry = u64::from_ne_bytes(entry.try_into().unwrap_or_default());
            if entry & PRESENT == 0 {
                continue;
            }
            let pfn = entry & PFN_MASK;
            if pfn == 0 {
                return Ok(Err(Unreadable::NoPfns));
            }
            count.present += 1;
            let mut flags = [0u8; 8];
            kpageflags.read_exact_at(&mut flags, pfn * 8)?;
            if u64::from_ne_bytes(flags) & KPF_ACTIVE != 0 {
                count.active += 1;
            }
        }
        at += n;
    }
    Ok(Ok(count))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::map::{MapMode, MappedRange};

    #[test]
    fn counts_present_pages_of_a_populated_map() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, vec![1u8; 8 * page_size()]).unwrap();
        let file = File::open(&path).unwrap();
        let map = MappedRange::new(&file, 0, 8 * page_size(), MapMode::Shared, true).unwrap();
        match active_pages(map.bytes()).unwrap() {
            Ok(count) => {
                assert_eq!(count.present, 8);
                assert!(count.active <= 8);
            }
            Err(why) => crate::testing::skip(&format!("page flags unreadable ({why:?})")),
        }
    }
}
