//! Neutral reads of whole spans, from any number of threads at once: a span none of whose pages are
//! cached (or only some, none of them dirty) is read with O_DIRECT, from the disk into our buffer,
//! past the page cache; a span wholly cached is read from the cache; the rest is read through the
//! cache, one span at a time, and what it brought in is dropped.
//!
//! O_DIRECT rather than reading through the cache and dropping behind: on a 2-core AMD EPYC, a 1 GiB
//! evicted file took 0.46 s per GiB in WILLNEED and 0.27 s in DONTNEED, the kernel allocating and
//! freeing every page; direct reads allocate none, and with one reader per thread keep the disk as
//! busy as the default count's mapped windows do. Each span is still recorded before it is read and
//! its pages not cached before are dropped after (cheap when there are none): a filesystem that
//! serves some direct reads through its cache (btrfs for compressed extents) stays neutral too.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};

use super::{Flags, Seeing, Source, Tally, page};
use crate::range::{Range, align_down, align_up};

/// A buffer for [`Spans::read`], aligned for O_DIRECT.
#[derive(Debug)]
pub(crate) struct SpanBuf {
    vec: Vec<u8>,
    start: usize,
}

impl SpanBuf {
    /// Room for a span of `len` bytes starting anywhere in a page.
    pub(crate) fn new(len: usize) -> SpanBuf {
        let align = page() as usize;
        let room = align_up(len as u64) as usize + 2 * align;
        let vec = vec![0u8; room];
        // An offset past `align` (never, for bytes) only makes direct reads fail, and fall back.
        let start = vec.as_ptr().align_offset(align).min(align);
        SpanBuf { vec, start }
    }

    fn aligned(&mut self) -> &mut [u8] {
        &mut self.vec[self.start..]
    }
}

/// The spans of one file, read neutrally (see the module docs).
#[derive(Debug)]
pub(crate) struct Spans<'a> {
    source: Source<'a>,
    /// The file opened again with O_DIRECT, when the filesystem allows it; opened when first needed
    /// (a small file wholly cached needs none).
    direct: OnceLock<Option<File>>,
    /// Set when a direct read failed with EINVAL (alignment the filesystem does not take).
    direct_off: AtomicBool,
    /// Held while a span is read through the cache and dropped, so that the pages brought in at once
    /// are at most a span's, whatever the number of threads.
    through_cache: Mutex<()>,
}

impl<'a> Spans<'a> {
    /// Prepares to read spans of `file` neutrally, counting into `tally`; the kernel's readahead of
    /// `file` is off until the `Spans` are dropped.
    pub(crate) fn new(file: &'a File, tally: &'a Tally) -> Spans<'a> {
        let source = Source::new(file, tally);
        source.readahead(false);
        Spans {
            source,
            direct: OnceLock::new(),
            direct_off: AtomicBool::new(false),
            through_cache: Mutex::new(()),
        }
    }

    /// Reads `[at, at + n)` into `buf` (made for at least `n` bytes), leaving the page cache as found;
    /// returns the bytes read, fewer than `n` only at the end of the file.
    pub(crate) fn read<'b>(&self, buf: &'b mut SpanBuf, at: u64, n: usize) -> io::Result<&'b [u8]> {
        let before = self.source.before(Range::at_most(at, n as u64));
        let all = matches!(before.flags, Flags::All);
        let direct = (!all && before.clean && !self.off())
            .then(|| self.direct())
            .flatten();
        if let Some(direct) = direct {
            match read_direct(direct, buf.aligned(), at, n) {
                Ok((skip, got)) => {
                    self.source.after(before);
                    return Ok(&buf.aligned()[skip..skip + got]);
                }
                // An alignment the filesystem does not take: from now on, through the cache.
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                    self.direct_off.store(true, Ordering::Relaxed);
                }
                Err(e) => {
                    self.source.after(before);
                    return Err(e);
                }
            }
        }
        let _one = (!all).then(|| self.through_cache.lock().unwrap_or_else(|p| p.into_inner()));
        let got = read_at(self.source.file, &mut buf.aligned()[..n], at);
        self.source.after(before);
        Ok(&buf.aligned()[..got?])
    }

    fn off(&self) -> bool {
        self.direct_off.load(Ordering::Relaxed)
    }

    fn direct(&self) -> Option<&File> {
        if self.source.seeing != Seeing::Truthful {
            return None;
        }
        self.direct
            .get_or_init(|| reopen(self.source.file).ok())
            .as_ref()
    }
}

impl Drop for Spans<'_> {
    fn drop(&mut self) {
        self.source.readahead(true);
    }
}

/// `file` opened again, read-only, with O_DIRECT, through its /proc/self/fd entry: a descriptor of its
/// own, so that the caller's (standard input's, perhaps) flags are left alone.
fn reopen(file: &File) -> io::Result<File> {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECT | libc::O_NOCTTY)
        .open(format!("/proc/self/fd/{}", file.as_raw_fd()))
}

/// Fills `buf` from `at` with pread until `buf` is full or the file ends; returns the bytes read.
fn read_at(file: &File, buf: &mut [u8], at: u64) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match file.read_at(&mut buf[done..], at + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// Reads `[at, at + n)` with O_DIRECT into the page-aligned `buf`, in whole pages from the page
/// holding `at`; returns where the bytes of `at` start in `buf` and how many of the `n` were read.
fn read_direct(file: &File, buf: &mut [u8], at: u64, n: usize) -> io::Result<(usize, usize)> {
    let start = align_down(at);
    let skip = (at - start) as usize;
    let want = (align_up(at + n as u64) - start) as usize;
    let page = page() as usize;
    let mut done = 0;
    while done < want {
        match file.read_at(&mut buf[done..want], start + done as u64) {
            Ok(0) => break,
            Ok(k) => {
                done += k;
                if !done.is_multiple_of(page) {
                    break; // the end of the file
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok((skip, done.saturating_sub(skip).min(n)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::cachestat::cachestat;
    use crate::testing::cached;
    use std::os::unix::fs::FileExt;

    #[test]
    fn spans_read_right_and_leave_the_cache_as_found() {
        let dir = crate::testing::disk_tempdir();
        let path = dir.path().join("f");
        let page = page();
        // 64 pages and a half, each page filled with its number.
        let len = 64 * page + page / 2;
        let data: Vec<u8> = (0..len).map(|i| (i / page) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        if cachestat(&file, 0, 0).is_err() {
            return crate::testing::skip("cachestat is missing");
        }
        file.sync_all().unwrap();
        rustix::fs::fadvise(&file, 0, None, rustix::fs::Advice::DontNeed).unwrap();
        rustix::fs::fadvise(&file, 0, None, rustix::fs::Advice::Random).unwrap();
        // Pages 8..16 cached and clean; page 40 cached and dirty (rewritten with the same bytes).
        let mut buf = vec![0u8; 8 * page as usize];
        file.read_exact_at(&mut buf, 8 * page).unwrap();
        let at = 40 * page as usize;
        file.write_all_at(&data[at..at + page as usize], 40 * page)
            .unwrap();
        let tally = Tally::new();
        let spans = Spans::new(&file, &tally);
        let mut buf = SpanBuf::new(16 * page as usize);
        // Spans of 16 pages, the last one short, and one starting inside a page.
        for (offset, n) in [
            (0, 16 * page),
            (16 * page, 16 * page),
            (32 * page, 16 * page),
            (48 * page + 100, 16 * page - 100),
            (64 * page, page),
        ] {
            let bytes = spans.read(&mut buf, offset, n as usize).unwrap();
            let end = (offset + n).min(len);
            assert_eq!(bytes, &data[offset as usize..end as usize], "at {offset}");
        }
        drop(spans);
        assert_eq!(cached(&file, 8 * page, 8 * page), 8);
        assert_eq!(cached(&file, 40 * page, page), 1);
        assert_eq!(cached(&file, 0, 0), 9);
        assert_eq!(tally.get().kept_pages, 9);
    }
}
