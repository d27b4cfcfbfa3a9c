//! The copy engine of `mmcp`: one file copied through memory maps, safely.
//!
//! The source is mapped read-only in bounded windows, spread over rayon workers. The destination is a
//! temporary file in the target's directory, sized with ftruncate and preallocated with fallocate
//! before any byte is written, and renamed over the target only after a complete copy ([`stage`]).
//! Only the source's data extents are read, written and preallocated ([`extent`]); holes stay holes.
//! A source that shrinks under its map, or a destination page that cannot be written, is caught by the
//! SIGBUS guard and becomes an error for that file; the temporary file is then removed and the target
//! is left as it was. Small files, `--no-mmap` and non-regular sources (pipes, devices, /proc) take
//! read(2)/write(2) paths instead ([`engine`]). Directory trees are listed by [`tree`].
//!
//! Nothing here prints: callers get a [`Copied`] or a [`Failure`] and report it.

pub mod backup;
pub mod engine;
pub mod extent;
pub mod link;
pub mod place;
pub mod plan;
pub mod same;
pub mod special;
pub mod stage;
pub mod tree;
pub mod xattr;

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use crate::cache::{CacheMode, CacheTally, Tally};
use crate::error::{Error, Op, Reason};
use crate::input::{Access, Input, StreamKind};
use crate::map::MapMode;

pub use backup::{Control, backup_path, simple_suffix};
pub use engine::{copy_data, verify};
pub use extent::data_extents;
pub use stage::{Staged, Staging, preserve, same_file};

/// How holes are handled, as `cp --sparse`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sparse {
    /// Keep the source's holes (found with SEEK_DATA/SEEK_HOLE); write every data byte.
    #[default]
    Auto,
    /// Keep the source's holes, and also leave holes where a whole page of data is zero.
    Always,
    /// Write every byte: the copy has no holes.
    Never,
}

/// How the destination's bytes are written on the mapped path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DestIo {
    /// pwrite(2) straight from the source's map: the kernel copies once from the mapped page cache of
    /// the source into the destination's page cache, with no page faults on the destination.
    #[default]
    Write,
    /// A shared read-write map of the destination, prefaulted with MADV_POPULATE_WRITE, and memcpy.
    Map,
}

/// What to do and how, for one file.
#[derive(Debug, Clone, Copy)]
pub struct CopyOptions {
    /// Shared or private maps of the source.
    pub map_mode: MapMode,
    /// Never map: copy regular files with pread/pwrite too.
    pub no_mmap: bool,
    /// Largest window mapped at once, per worker.
    pub window: usize,
    /// Hole handling.
    pub sparse: Sparse,
    /// How the mapped path writes the destination.
    pub dest_io: DestIo,
    /// Regular files smaller than this take the read/write path (mapping costs more than it saves).
    pub small: u64,
    /// msync and fsync the copy before it replaces the target, then fsync the directory.
    pub sync: bool,
    /// Compare the copy with the source, through maps, before it replaces the target.
    pub verify: bool,
    /// Write the target directly instead of through a temporary file.
    pub in_place: bool,
    /// Build the copy in a named temporary file even where the filesystem has anonymous ones
    /// (O_TMPFILE), as on one that has none: for tests of that path.
    pub named_temp: bool,
    /// Which attributes of the source the copy gets.
    pub preserve: Preserve,
    /// A dangling symlink at the destination is written through (the file it names is created), as
    /// cp does when POSIXLY_CORRECT is set; otherwise such a copy is refused.
    pub through_dangling: bool,
    /// Whether the copy leaves the page cache as it found it ([`CacheMode::Neutral`]): source pages it
    /// read are dropped unless they were cached before, and destination pages are written back and
    /// dropped a bounded distance behind the writer ([`crate::cache::copy_footprint`]).
    pub cache: CacheMode,
}

/// Which attributes of a source its copy gets, as `cp --preserve`. Without `mode`, a copy gets the
/// source's permission bits less the umask (or, with `default_mode`, 0666 for files and 0777 for
/// directories, less the umask), never its set-ID or sticky bits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Preserve {
    /// The exact mode bits, set-ID and sticky bits included (set-ID only when the owner is kept too).
    pub mode: bool,
    /// The owner and group, where permitted: EPERM keeps the group if it may, as cp does.
    pub ownership: bool,
    /// Access and modification times, to the nanosecond (a symlink's own times for a symlink).
    pub timestamps: bool,
    /// Hard links among the copied files. The core copies one name at a time; the caller that plans
    /// a run turns the later names of one source file into [`tree::hard_link`]s.
    pub links: bool,
    /// Extended attributes (every namespace the caller may read and write), failures reported.
    pub xattr: bool,
    /// Extended attributes where possible, failures ignored (`--preserve=all`).
    pub xattr_quiet: bool,
    /// Without `mode`: create with the default permissions (`--no-preserve=mode`), not the source's.
    pub default_mode: bool,
}

impl Preserve {
    /// `cp -p`: mode, ownership and timestamps.
    pub const BASIC: Preserve = Preserve {
        mode: true,
        ownership: true,
        timestamps: true,
        links: false,
        xattr: false,
        xattr_quiet: false,
        default_mode: false,
    };

    /// Whether anything is set on a copy after its data is written.
    pub fn any(&self) -> bool {
        self.mode || self.ownership || self.timestamps || self.xattr || self.xattr_quiet
    }
}

/// Files smaller than this are copied with pread/pwrite through one buffer instead of mapped windows.
/// Measured on this project's machines (ext4, cached source, one thread, per file): mmap + pwrite +
/// munmap took 10 µs at 4 KiB, 26 µs at 64 KiB, 51 µs at 256 KiB and 193 µs at 1 MiB, against 1.3, 7.9,
/// 30 and 131 µs for pread + pwrite; the two meet at about 4 MiB on one thread, and from 2 MiB up the
/// mapped path splits a file over the workers.
pub const SMALL_FILE: u64 = 1 << 20;

impl Default for CopyOptions {
    fn default() -> Self {
        CopyOptions {
            map_mode: MapMode::Shared,
            no_mmap: false,
            window: crate::window::DEFAULT_WINDOW,
            sparse: Sparse::Auto,
            dest_io: DestIo::Write,
            small: SMALL_FILE,
            sync: false,
            verify: false,
            in_place: false,
            named_temp: false,
            preserve: Preserve::default(),
            through_dangling: false,
            cache: CacheMode::Normal,
        }
    }
}

/// How a copy reports progress and learns that it should stop.
#[derive(Clone, Copy)]
pub struct Hooks<'a> {
    /// Called with the number of bytes just copied (holes count once, when they are found).
    pub progress: &'a (dyn Fn(u64) + Sync),
    /// Polled between windows and reads: when it returns true the copy stops with
    /// [`Failure::Interrupted`] and removes what it created.
    pub stop: &'a (dyn Fn() -> bool + Sync),
}

impl fmt::Debug for Hooks<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Hooks")
    }
}

impl Hooks<'static> {
    /// No progress, never stop.
    pub fn none() -> Hooks<'static> {
        Hooks {
            progress: &|_| {},
            stop: &|| false,
        }
    }
}

/// The result of one file copied.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Copied {
    /// Size of the copy in bytes.
    pub bytes: u64,
    /// Bytes of the copy left as holes (neither read nor written).
    pub hole_bytes: u64,
    /// What a neutral copy did to the page cache (all zero otherwise).
    pub cache: CacheTally,
}

/// Why a copy failed. The target is untouched and nothing is left behind (except with `in_place`).
#[derive(Debug)]
pub enum Failure {
    /// An operation on the source or the destination failed. Paths are the user's names: the target,
    /// never the temporary file.
    File(Error),
    /// `verify` found the copy differs from the source, first at byte `offset`.
    Mismatch {
        /// The source.
        src: PathBuf,
        /// The target.
        dst: PathBuf,
        /// The first differing byte.
        offset: u64,
    },
    /// [`Hooks::stop`] asked the copy to stop.
    Interrupted,
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::File(e)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::File(e) => write!(f, "{e}"),
            Failure::Mismatch { src, dst, offset } => write!(
                f,
                "{}: differs from {} at byte {offset}",
                dst.display(),
                src.display()
            ),
            Failure::Interrupted => f.write_str("interrupted"),
        }
    }
}

impl std::error::Error for Failure {}

/// The source's change of size during a copy, as an error on `path`.
pub(crate) fn changed(path: &Path) -> Failure {
    Failure::File(Error::new(Op::Read, path, Reason::ChangedSize))
}

/// An open source.
#[derive(Debug)]
pub struct Source {
    /// The input, classified.
    pub input: Input,
}

/// Opens the source: `-` is standard input; anything else goes through [`Input::open`], which never
/// blocks on a FIFO: one without a writer reads as empty, as every mmtools input does.
pub fn open_source(src: &Path) -> Result<Source, Error> {
    let input = if src.as_os_str() == "-" {
        Input::stdin("-")?
    } else {
        Input::open(src)?
    };
    Ok(Source { input })
}

/// Copies the file `src` to `dst`: opens the source, stages the destination, copies, preserves what is
/// asked, verifies, syncs and renames into place. Returns what was copied.
pub fn copy_file(
    src: &Path,
    dst: &Path,
    options: &CopyOptions,
    hooks: Hooks<'_>,
) -> Result<Copied, Failure> {
    copy_file_backing_up(src, dst, None, options, hooks)
}

/// [`copy_file`], and when `backup` is given, an existing `dst` is renamed to `backup` just before
/// the copy is renamed over it: a copy that fails leaves `dst` where it was and makes no backup. With
/// a backup, a symlink at `dst` is itself moved aside (not written through), as cp does.
pub fn copy_file_backing_up(
    src: &Path,
    dst: &Path,
    backup: Option<&Path>,
    options: &CopyOptions,
    hooks: Hooks<'_>,
) -> Result<Copied, Failure> {
    copy_found(src, None, dst, backup, options, hooks)
}

/// [`copy_file_backing_up`] for a source a walk found as device and inode `id` (when given): if `src`
/// now leads to another file (a directory of its path swapped for a link out of the tree, say), the
/// copy fails with [`Reason::Replaced`] and nothing of that file is read.
pub fn copy_found(
    src: &Path,
    id: Option<(u64, u64)>,
    dst: &Path,
    backup: Option<&Path>,
    options: &CopyOptions,
    hooks: Hooks<'_>,
) -> Result<Copied, Failure> {
    if (hooks.stop)() {
        return Err(Failure::Interrupted);
    }
    let source = match id {
        Some(id) => Source {
            input: Input::open_found(src, id)?,
        },
        None => open_source(src)?,
    };
    let input = &source.input;
    let stat = rustix::fs::fstat(input.file())
        .map_err(|e| Error::io(Op::Open, src, io::Error::from(e)))?;
    // A device or a FIFO at DST is written into, as cp does, never replaced by a regular file; with a
    // backup, it is renamed aside like any other file and the copy takes its place.
    if backup.is_none() && special::is_special(dst) {
        return special::copy_into(input, dst, hooks);
    }
    // Standard input is a pipe or a terminal: its mode says nothing about the data.
    let mode = match input.access() {
        _ if options.preserve.default_mode && !options.preserve.mode => 0o666,
        Access::Stream(StreamKind::Stdin) => 0o666,
        _ => stat.st_mode & 0o7777,
    };
    let staging = if options.in_place {
        Staging::InPlace
    } else if options.named_temp {
        Staging::Named
    } else {
        Staging::Anonymous
    };
    let through = match backup {
        None if options.through_dangling => link::dangling_target(dst),
        _ => None,
    };
    // A copy in place truncates the target, which empties its page cache: the pages cached before
    // are the ones a neutral copy leaves cached.
    let tally = Tally::new();
    let mut neutral = engine::Neutral::new(&tally);
    if options.cache == CacheMode::Neutral && options.in_place && backup.is_none() {
        neutral.keep = cached_ranges(through.as_deref().unwrap_or(dst));
    }
    let staged = match (backup, through) {
        (Some(backup), _) => Staged::create_backing_up(dst, mode, backup, staging)?,
        (None, Some(target)) => Staged::create(&target, mode, staging)?,
        (None, None) => Staged::create(dst, mode, staging)?,
    };
    let mut copied =
        engine::copy_data_tallied(input, staged.file(), dst, options, hooks, &neutral)?;
    if options.verify && matches!(input.access(), Access::Map { .. }) {
        engine::verify_tallied(input, staged.file(), dst, copied.bytes, options, &neutral)?;
    }
    copied.cache = tally.get();
    if options.preserve.any() {
        preserve(staged.file(), &stat, dst, &options.preserve, input.file())?;
    }
    staged.commit(options.sync)?;
    Ok(copied)
}

/// The byte ranges of the regular file at `path` now in the page cache (none when it cannot be told).
fn cached_ranges(path: &Path) -> Vec<crate::range::Range> {
    let Ok(file) = std::fs::File::open(path) else {
        return Vec::new();
    };
    let Ok(meta) = file.metadata() else {
        return Vec::new();
    };
    if !meta.is_file() || meta.len() == 0 {
        return Vec::new();
    }
    let Ok(target) = crate::residency::Target::new(&file, path, meta.len()) else {
        return Vec::new();
    };
    match target.runs(crate::range::Range::ALL) {
        Ok(Some(runs)) => runs
            .into_iter()
            .filter(|r| r.resident)
            .map(|r| r.range)
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::map::page_size;
    use std::os::unix::fs::{FileExt, MetadataExt};
    use std::sync::atomic::{AtomicBool, Ordering};

    fn noise(len: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    fn leftovers(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".mmcp-"))
            .collect()
    }

    fn options(dest_io: DestIo, no_mmap: bool, sparse: Sparse) -> CopyOptions {
        CopyOptions {
            window: page_size(),
            small: 0,
            dest_io,
            no_mmap,
            sparse,
            ..CopyOptions::default()
        }
    }

    const ALL_WAYS: [(DestIo, bool); 3] = [
        (DestIo::Write, false),
        (DestIo::Map, false),
        (DestIo::Write, true),
    ];

    #[test]
    fn copies_every_size_every_way() {
        let dir = tempfile::tempdir().unwrap();
        let page = page_size();
        for len in [0, 1, page - 1, page, page + 1, 3 * page - 1, 5 * page + 7] {
            let data = noise(len, len as u64 + 1);
            let src = dir.path().join(format!("src{len}"));
            std::fs::write(&src, &data).unwrap();
            for (dest_io, no_mmap) in ALL_WAYS {
                for sparse in [Sparse::Auto, Sparse::Always, Sparse::Never] {
                    let dst = dir.path().join("dst");
                    let mut o = options(dest_io, no_mmap, sparse);
                    o.verify = true;
                    let copied = copy_file(&src, &dst, &o, Hooks::none()).unwrap();
                    assert_eq!(copied.bytes, len as u64);
                    assert_eq!(
                        std::fs::read(&dst).unwrap(),
                        data,
                        "{len} {dest_io:?} {no_mmap}"
                    );
                }
            }
        }
        assert!(leftovers(dir.path()).is_empty());
    }

    #[test]
    fn holes_stay_holes_and_zero_pages_become_holes_with_always() {
        // On a disk: on tmpfs a mapped read of a hole allocates it, in the source too (--sparse=never
        // then leaves the source fully allocated for the next way).
        let dir = crate::testing::disk_tempdir();
        let src = dir.path().join("sparse");
        let mb = 1u64 << 20;
        let file = std::fs::File::create(&src).unwrap();
        file.set_len(16 * mb).unwrap();
        file.write_all_at(&noise(65536, 3), 3 * mb).unwrap();
        // A dense megabyte of zeros: data to SEEK_DATA, holes to --sparse=always.
        file.write_all_at(&vec![0u8; mb as usize], 8 * mb).unwrap();
        file.write_all_at(b"tail", 16 * mb - 4).unwrap();
        file.sync_all().unwrap();
        drop(file);
        let src_blocks = std::fs::metadata(&src).unwrap().blocks();
        let want = std::fs::read(&src).unwrap();
        for (dest_io, no_mmap) in ALL_WAYS {
            let mut blocks = Vec::new();
            for sparse in [Sparse::Auto, Sparse::Always, Sparse::Never] {
                let dst = dir.path().join("dst");
                let copied = copy_file(
                    &src,
                    &dst,
                    &options(dest_io, no_mmap, sparse),
                    Hooks::none(),
                )
                .unwrap();
                assert_eq!(std::fs::read(&dst).unwrap(), want);
                let b = std::fs::metadata(&dst).unwrap().blocks();
                blocks.push(b);
                match sparse {
                    Sparse::Auto => {
                        assert!(b <= src_blocks, "auto: {b} > {src_blocks} blocks");
                        assert!(copied.hole_bytes >= 10 * mb, "{copied:?}");
                    }
                    Sparse::Always => {
                        assert!(copied.hole_bytes >= 11 * mb, "{copied:?}");
                    }
                    Sparse::Never => assert_eq!(copied.hole_bytes, 0),
                }
            }
            assert!(
                blocks[1] < blocks[0],
                "always punches zero pages: {blocks:?}"
            );
            assert!(blocks[2] >= 16 * mb / 512, "never fills holes: {blocks:?}");
        }
    }

    #[test]
    fn a_source_truncated_during_the_copy_fails_and_leaves_the_target() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        let len = 64 * page_size();
        std::fs::write(&src, noise(len, 9)).unwrap();
        let dst = dir.path().join("dst");
        for (dest_io, no_mmap) in ALL_WAYS {
            for threads in [1, 2] {
                std::fs::write(&src, noise(len, 9)).unwrap();
                std::fs::write(&dst, b"precious").unwrap();
                let truncated = AtomicBool::new(false);
                // After the first window is copied, the source is cut to nothing: every later window
                // lies past its end.
                let progress = |_: u64| {
                    if !truncated.swap(true, Ordering::SeqCst) {
                        std::fs::OpenOptions::new()
                            .write(true)
                            .open(&src)
                            .unwrap()
                            .set_len(0)
                            .unwrap();
                    }
                };
                let hooks = Hooks {
                    progress: &progress,
                    stop: &|| false,
                };
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap();
                let o = options(dest_io, no_mmap, Sparse::Never);
                let e = pool
                    .install(|| copy_file(&src, &dst, &o, hooks))
                    .unwrap_err();
                assert!(
                    matches!(&e, Failure::File(err) if matches!(err.reason(), Reason::ChangedSize)),
                    "{dest_io:?} {no_mmap}: {e}"
                );
                assert_eq!(std::fs::read(&dst).unwrap(), b"precious");
                assert!(leftovers(dir.path()).is_empty());
            }
        }
    }

    #[test]
    fn a_shrink_inside_the_last_page_is_caught_by_the_size_check() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        let len = 2 * page_size() + 100;
        std::fs::write(&src, noise(len, 5)).unwrap();
        let input = Input::open(&src).unwrap();
        std::fs::OpenOptions::new()
            .write(true)
            .open(&src)
            .unwrap()
            .set_len(len as u64 - 10)
            .unwrap();
        let out = tempfile::tempfile_in(dir.path()).unwrap();
        let o = options(DestIo::Map, false, Sparse::Never);
        let e = copy_data(&input, &out, Path::new("dst"), &o, Hooks::none()).unwrap_err();
        assert!(e.to_string().contains("changed size"), "{e}");
    }

    #[test]
    fn stop_interrupts_and_removes_the_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        // Over one read buffer (1 MiB), so that the read/write path has a second read to stop before.
        std::fs::write(&src, noise(3 << 20, 2)).unwrap();
        let dst = dir.path().join("dst");
        std::fs::write(&dst, b"old").unwrap();
        let seen = AtomicBool::new(false);
        let progress = |_: u64| seen.store(true, Ordering::SeqCst);
        let stop = || seen.load(Ordering::SeqCst);
        let hooks = Hooks {
            progress: &progress,
            stop: &stop,
        };
        for (dest_io, no_mmap) in ALL_WAYS {
            seen.store(false, Ordering::SeqCst);
            let e =
                copy_file(&src, &dst, &options(dest_io, no_mmap, Sparse::Auto), hooks).unwrap_err();
            assert!(matches!(e, Failure::Interrupted), "{e}");
            assert_eq!(std::fs::read(&dst).unwrap(), b"old");
            assert!(leftovers(dir.path()).is_empty());
        }
    }

    #[test]
    fn streams_are_read_to_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let dst = dir.path().join("dst");
        let o = CopyOptions::default();
        let copied = copy_file(Path::new("/proc/self/status"), &dst, &o, Hooks::none()).unwrap();
        let text = std::fs::read_to_string(&dst).unwrap();
        assert!(text.contains("Name:"), "{text}");
        assert_eq!(copied.bytes, text.len() as u64);
        // Always: trailing zero pages are holes, and the size is still right.
        let fifo = dir.path().join("fifo");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        // Sources never wait for a writer: open the write end first (O_RDWR on a FIFO does not block),
        // then write from a thread, since the data is more than the pipe holds.
        let mut write_end = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&fifo)
            .unwrap();
        let writer = std::thread::spawn(move || {
            let mut data = b"head".to_vec();
            data.resize(3 * 65536, 0);
            std::io::Write::write_all(&mut write_end, &data).unwrap();
        });
        let o = CopyOptions {
            sparse: Sparse::Always,
            ..CopyOptions::default()
        };
        let copied = copy_file(&fifo, &dst, &o, Hooks::none()).unwrap();
        writer.join().unwrap();
        assert_eq!(copied.bytes, 3 * 65536);
        let back = std::fs::read(&dst).unwrap();
        assert_eq!(back.len(), 3 * 65536);
        assert_eq!(&back[..4], b"head");
        assert!(copied.hole_bytes >= 2 * 65536);
    }

    #[test]
    fn verify_finds_a_difference() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        let data = noise(3 * page_size(), 4);
        std::fs::write(&src, &data).unwrap();
        let input = Input::open(&src).unwrap();
        let mut other = data.clone();
        other[page_size() + 3] ^= 1;
        other[2 * page_size() + 5] ^= 1;
        let out = tempfile::tempfile_in(dir.path()).unwrap();
        out.write_all_at(&other, 0).unwrap();
        for cache in [CacheMode::Normal, CacheMode::Neutral] {
            for no_mmap in [false, true] {
                let o = CopyOptions {
                    window: page_size(),
                    no_mmap,
                    cache,
                    ..CopyOptions::default()
                };
                let e = verify(&input, &out, Path::new("dst"), data.len() as u64, &o).unwrap_err();
                assert!(
                    matches!(e, Failure::Mismatch { offset, .. } if offset == page_size() as u64 + 3),
                    "{cache:?} {no_mmap}: {e}"
                );
            }
            std::fs::write(dir.path().join("same"), &data).unwrap();
            let same = std::fs::File::open(dir.path().join("same")).unwrap();
            let o = CopyOptions {
                cache,
                ..CopyOptions::default()
            };
            verify(&input, &same, Path::new("same"), data.len() as u64, &o).unwrap();
        }
    }
}
