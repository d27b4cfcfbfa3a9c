//! Memory maps of byte ranges of files: read-only (shared or private) or read-write (shared), with the
//! offset aligned down to the page size here, never by the caller, and each map registered with the
//! SIGBUS guard so that a file shrinking under the map becomes an error rather than a dead process.
#![allow(unsafe_code)]

use std::fs::File;
use std::io;

use memmap2::{Advice, Mmap, MmapMut, MmapOptions};

use crate::error::Reason;
use crate::range::align_down;
use crate::sys::Guard;
use crate::sys::advise::MapAdvice;

/// How a read-only map shares pages with the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MapMode {
    /// `MAP_SHARED`: the page cache itself; other processes' writes show through.
    #[default]
    Shared,
    /// `MAP_PRIVATE`: copy-on-write; still reads the page cache until a page is written.
    Private,
}

/// The system page size, asked of the system once.
pub fn page_size() -> usize {
    rustix::param::page_size()
}

/// The aligned start of a map of `[offset, offset + len)` and the number of bytes to skip to reach
/// `offset`, with the total length to map.
fn aligned(offset: u64, len: usize) -> io::Result<(u64, usize, usize)> {
    let start = align_down(offset);
    let skip = (offset - start) as usize;
    let total = skip
        .checked_add(len)
        .ok_or_else(|| io::Error::from_raw_os_error(libc::EOVERFLOW))?;
    if len == 0 {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    Ok((start, skip, total))
}

/// A file's change time (ctime), which every truncation and write moves forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChangeTime(i64, i64);

impl ChangeTime {
    /// The change time in `stat`.
    pub fn of(stat: &rustix::fs::Stat) -> ChangeTime {
        ChangeTime(stat.st_ctime, stat.st_ctime_nsec as i64)
    }
}

/// Why a page of a map of `file` ending at byte `end` could not be read: the file was truncated under
/// the map ([`Reason::ChangedSize`]): it is now shorter than `end`, or it changed since `changed_at`
/// (shrunk and grown back); or neither, and the storage failed to deliver the page (`EIO`).
pub fn fault_reason(file: &File, end: u64, changed_at: Option<ChangeTime>) -> Reason {
    match rustix::fs::fstat(file) {
        Ok(st)
            if st.st_size as u64 >= end
                && changed_at.is_none_or(|then| then == ChangeTime::of(&st)) =>
        {
            Reason::Io(io::Error::from_raw_os_error(libc::EIO))
        }
        _ => Reason::ChangedSize,
    }
}

/// A read-only view of exactly the bytes `[offset, offset + len)` of a file.
#[derive(Debug)]
pub struct MappedRange {
    // Field order matters: the guard is dropped (unregistered) before the map is unmapped.
    guard: Guard,
    map: Mmap,
    skip: usize,
}

impl MappedRange {
    /// Maps `len > 0` bytes of `file` from `offset`. With `populate`, every page is faulted in for
    /// reading at once (MADV_POPULATE_READ), which is much cheaper than one fault per page for cached
    /// data. MAP_POPULATE would do the same, but it hides errors: on a page the device cannot read, the
    /// kernel retries it forever and the process spins. MADV_POPULATE_READ fails instead, and the range
    /// is then marked [`faulted`](Self::faulted) before a byte of it is read, so that callers check the
    /// mark first and ask [`fault_reason`] why, instead of reading the failing pages one fault at a time.
    pub fn new(
        file: &File,
        offset: u64,
        len: usize,
        mode: MapMode,
        populate: bool,
    ) -> io::Result<Self> {
        let (start, skip, total) = aligned(offset, len)?;
        let mut options = MmapOptions::new();
        options.offset(start).len(total);
        // SAFETY: the map is only ever read through `bytes()`. Another process may change or truncate the
        // file while it is mapped: changed bytes are merely stale data, and a truncation makes reads past
        // the new end fault, which the SIGBUS guard registered below turns into zero pages and a flag
        // that every caller checks (`faulted()`) before trusting a result.
        let map = unsafe {
            match mode {
                MapMode::Shared => options.map(file)?,
                MapMode::Private => options.map_copy_read_only(file)?,
            }
        };
        // SAFETY: `map` is a file mapping owned by the MappedRange built here, which drops the guard
        // before the map (field order); a page of it reading as zeros after a fault is what the
        // `faulted()` check that every reader makes is for.
        let guard = unsafe { Guard::register(map.as_ptr(), map.len())? };
        let range = MappedRange { guard, map, skip };
        if populate {
            range.populate();
        }
        Ok(range)
    }

    /// Faults the whole map in for reading (MADV_POPULATE_READ). EFAULT (or EHWPOISON) means a page
    /// could not be read, where an access would have raised SIGBUS: the range is marked faulted. Other
    /// answers (EINVAL before Linux 5.14, ENOMEM, EINTR) leave the pages to be faulted on access.
    pub(crate) fn populate(&self) {
        if let Err(e) = self.map.advise(Advice::PopulateRead)
            && matches!(e.raw_os_error(), Some(libc::EFAULT | libc::EHWPOISON))
        {
            self.guard.mark_faulted();
        }
    }

    /// The bytes requested, exactly.
    pub fn bytes(&self) -> &[u8] {
        &self.map[self.skip..]
    }

    /// Whether some page could not be read because the file shrank: the bytes then hold zeros there, and
    /// whatever was computed from them must be discarded.
    pub fn faulted(&self) -> bool {
        self.guard.faulted()
    }

    /// Passes `advice` to the kernel for this map (madvise). Failure is not an error: advice is a hint.
    pub fn advise(&self, advice: Advice) {
        let _ = self.map.advise(advice);
    }

    /// Passes `advice` to the kernel for this map and reports the kernel's answer (for advice whose
    /// effect is checked, such as MADV_POPULATE_READ, which fails with EFAULT past the end of the file).
    pub fn advise_checked(&self, advice: Advice) -> io::Result<()> {
        self.map.advise(advice)
    }

    /// The page-aligned start and length of the pages holding `part`, which must lie within this map
    /// (EINVAL otherwise); None for an empty part.
    fn pages_of(&self, part: &[u8]) -> io::Result<Option<(*mut libc::c_void, usize)>> {
        if part.is_empty() {
            return Ok(None);
        }
        let map_start = self.map.as_ptr() as usize;
        let map_end = map_start + self.map.len();
        let start = part.as_ptr() as usize;
        let end = start + part.len();
        if start < map_start || end > map_end {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        let page = page_size();
        let aligned = start - start % page;
        let len = (end - aligned).div_ceil(page) * page;
        Ok(Some((aligned as *mut libc::c_void, len)))
    }

    /// Gives `advice` (madvise(2)) for the pages holding `part` of this map, and returns the kernel's
    /// answer. An empty part is a no-op; a part outside the map is EINVAL.
    pub fn madvise(&self, part: &[u8], advice: MapAdvice) -> io::Result<()> {
        // SAFETY: `on_pages` passes whole pages of this map, mapped for the life of `&self`. None of
        // these advices changes what the memory reads as: the map is a read-only file map, so dropping,
        // reclaiming or collapsing its pages only means they are read back from the page cache or the
        // file on the next access.
        self.on_pages(part, |addr, len| unsafe {
            libc::madvise(addr, len, advice.raw())
        })
    }

    /// Locks the pages holding `part` of this map as they are faulted in (mlock2 with MLOCK_ONFAULT,
    /// Linux 4.4): pages never touched are neither read nor locked. Unmapping unlocks them.
    pub fn lock_on_fault(&self, part: &[u8]) -> io::Result<()> {
        // SAFETY: as in `madvise`, whole pages of this live map; locking changes no memory contents.
        self.on_pages(part, |addr, len| unsafe {
            libc::mlock2(addr, len, libc::MLOCK_ONFAULT)
        })
    }

    /// Unlocks the pages holding `part` of this map (munlock), to undo a lock before unmapping.
    pub fn unlock(&self, part: &[u8]) -> io::Result<()> {
        // SAFETY: as in `madvise`; unlocking changes no memory contents.
        self.on_pages(part, |addr, len| unsafe { libc::munlock(addr, len) })
    }

    /// Calls `call` with the pages holding `part` (checked to lie in this map) and turns its C return
    /// code into a result. An empty part calls nothing.
    fn on_pages(
        &self,
        part: &[u8],
        call: impl FnOnce(*mut libc::c_void, usize) -> libc::c_int,
    ) -> io::Result<()> {
        let Some((addr, len)) = self.pages_of(part)? else {
            return Ok(());
        };
        if call(addr, len) != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Page-cache residency of the mapped pages (mincore(2)): one flag per page of the page-aligned map,
    /// whose first page holds the first requested byte. Written into `out`, which is resized.
    ///
    /// For a file the caller may not write, Linux (5.2 and later) reports every page resident: callers
    /// must not trust the answer for such files.
    pub fn resident_pages(&self, out: &mut Vec<u8>) -> io::Result<()> {
        let pages = self.map.len().div_ceil(page_size());
        out.clear();
        out.resize(pages, 0);
        // SAFETY: the map's address is page-aligned (mmap returns page-aligned maps) and the range
        // [ptr, ptr + len) is mapped for the life of `self`; `out` has one byte per page of that range,
        // which is what mincore writes.
        let rc = unsafe {
            libc::mincore(
                self.map.as_ptr() as *mut libc::c_void,
                self.map.len(),
                out.as_mut_ptr(),
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

/// A shared read-write view of exactly the bytes `[offset, offset + len)` of a file. Writes reach the
/// file. There is no private read-write mode: writes through a private map never reach the file.
#[derive(Debug)]
pub struct MappedRangeMut {
    guard: Guard,
    map: MmapMut,
    skip: usize,
}

impl MappedRangeMut {
    /// Maps `len > 0` bytes of `file` (opened read-write) from `offset`.
    pub fn new(file: &File, offset: u64, len: usize) -> io::Result<Self> {
        let (start, skip, total) = aligned(offset, len)?;
        // SAFETY: the file was opened read-write by the caller, who owns it as an output. A write to a
        // page past the file's end (the file shrank, or the filesystem could not allocate a block) faults;
        // the guard registered below absorbs the fault and flags it, and callers check `faulted()`.
        let map = unsafe { MmapOptions::new().offset(start).len(total).map_mut(file)? };
        // SAFETY: as in `MappedRange::new`: the map is owned alongside the guard, which is dropped
        // first, and writers check `faulted()` before trusting that their data reached the file.
        let guard = unsafe { Guard::register(map.as_ptr(), map.len())? };
        Ok(MappedRangeMut { guard, map, skip })
    }

    /// The bytes of the range, writable.
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.map[self.skip..]
    }

    /// The bytes of the range.
    pub fn bytes(&self) -> &[u8] {
        &self.map[self.skip..]
    }

    /// Whether some page faulted: the data written there did not reach the file.
    pub fn faulted(&self) -> bool {
        self.guard.faulted()
    }

    /// Writes the range's dirty pages back to the file and waits for it (msync MS_SYNC).
    pub fn flush(&self) -> io::Result<()> {
        self.map.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file_with(bytes: &[u8]) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::File::create(&path)
            .unwrap()
            .write_all(bytes)
            .unwrap();
        (dir, path)
    }

    #[test]
    fn exposes_exactly_the_requested_bytes_at_any_offset() {
        let data: Vec<u8> = (0..3 * page_size() + 17)
            .map(|i| (i * 7 % 251) as u8)
            .collect();
        let (_dir, path) = file_with(&data);
        let file = File::open(&path).unwrap();
        for &(offset, len) in &[
            (0usize, 1usize),
            (1, 10),
            (page_size() - 1, 2),
            (page_size(), page_size()),
            (4097, 8000),
        ] {
            for mode in [MapMode::Shared, MapMode::Private] {
                let m = MappedRange::new(&file, offset as u64, len, mode, false).unwrap();
                assert_eq!(
                    m.bytes(),
                    &data[offset..offset + len],
                    "offset {offset} len {len}"
                );
                assert!(!m.faulted());
            }
        }
    }

    #[test]
    fn zero_length_is_refused() {
        let (_dir, path) = file_with(b"abc");
        let file = File::open(&path).unwrap();
        assert!(MappedRange::new(&file, 0, 0, MapMode::Shared, false).is_err());
    }

    #[test]
    fn truncation_under_the_map_is_caught_not_fatal() {
        let len = 8 * page_size();
        let (_dir, path) = file_with(&vec![b'x'; len]);
        let file = File::open(&path).unwrap();
        let m = MappedRange::new(&file, 0, len, MapMode::Shared, false).unwrap();
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(page_size() as u64)
            .unwrap();
        let xs = m.bytes().iter().filter(|&&b| b == b'x').count();
        assert!(m.faulted(), "the guard must flag the fault");
        assert_eq!(xs, page_size(), "pages past the new end read as zeros");
    }

    #[test]
    fn a_populate_past_the_end_marks_the_map_before_any_read() {
        let len = 8 * page_size();
        let (_dir, path) = file_with(&vec![b'x'; len]);
        let file = File::open(&path).unwrap();
        let opened = ChangeTime::of(&rustix::fs::fstat(&file).unwrap());
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(page_size() as u64)
            .unwrap();
        let m = MappedRange::new(&file, 0, len, MapMode::Shared, true).unwrap();
        assert!(
            m.faulted(),
            "MADV_POPULATE_READ answers EFAULT past the end"
        );
        assert!(matches!(
            fault_reason(&file, len as u64, Some(opened)),
            Reason::ChangedSize
        ));
        // A file as long as the map, unchanged since it was opened: the device failed.
        let (_dir2, whole) = file_with(&vec![b'x'; len]);
        let whole = File::open(&whole).unwrap();
        let now = ChangeTime::of(&rustix::fs::fstat(&whole).unwrap());
        assert!(matches!(
            fault_reason(&whole, len as u64, Some(now)),
            Reason::Io(ref e) if e.raw_os_error() == Some(libc::EIO)
        ));
    }

    #[test]
    fn advice_and_locks_stay_inside_the_map() {
        let (_dir, path) = file_with(&vec![3u8; 4 * page_size()]);
        let file = File::open(&path).unwrap();
        let map = MappedRange::new(&file, 100, 2 * page_size(), MapMode::Shared, false).unwrap();
        map.madvise(map.bytes(), MapAdvice::Random).unwrap();
        map.madvise(map.bytes(), MapAdvice::PopulateRead).unwrap();
        map.madvise(&map.bytes()[..0], MapAdvice::Cold).unwrap();
        map.lock_on_fault(&map.bytes()[1..10]).unwrap();
        map.unlock(map.bytes()).unwrap();
        let (addr, len) = map
            .pages_of(&map.bytes()[page_size()..page_size() + 1])
            .unwrap()
            .unwrap();
        assert_eq!(addr as usize % page_size(), 0);
        assert_eq!(len, page_size(), "one byte lies in one page");
        // Memory that is not this map's is refused, not advised.
        let elsewhere = vec![0u8; 4 * page_size()];
        let e = map.madvise(&elsewhere, MapAdvice::PageOut).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EINVAL));
        assert!(map.lock_on_fault(&elsewhere).is_err());
    }

    #[test]
    fn read_write_map_reaches_the_file() {
        let (_dir, path) = file_with(&vec![0u8; 2 * page_size()]);
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        let mut m = MappedRangeMut::new(&file, 5, 3).unwrap();
        m.bytes_mut().copy_from_slice(b"abc");
        m.flush().unwrap();
        drop(m);
        let back = std::fs::read(&path).unwrap();
        assert_eq!(&back[5..8], b"abc");
        assert!(!MappedRangeMut::new(&file, 0, 1).unwrap().faulted());
    }

    #[test]
    fn mincore_sees_written_pages() {
        let (_dir, path) = file_with(&vec![1u8; 4 * page_size()]);
        let file = File::open(&path).unwrap();
        let m = MappedRange::new(&file, 10, 3 * page_size(), MapMode::Shared, false).unwrap();
        let mut pages = Vec::new();
        m.resident_pages(&mut pages).unwrap();
        assert_eq!(pages.len(), 4, "the aligned map spans four pages");
        assert!(
            pages.iter().all(|p| p & 1 == 1),
            "a just-written file is cached"
        );
    }
}
