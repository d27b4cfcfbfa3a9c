//! Walking the files named on a command line: directories recursively, by descriptors ([`tree`], the
//! one walker), symlinks not followed unless asked (with loop detection by device and inode when they
//! are), one filesystem if asked, include and exclude globs, size bounds, and hard links marked so that
//! totals count them once. Results come back in a deterministic order: the roots in the order given,
//! each directory's files sorted by path.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};
use rustix::fs::{FileType, Stat};

use crate::error::{Error, Op};

pub mod open;
pub mod tree;

use tree::{Event, Flow, Policy, walk_tree};

/// How to walk.
#[derive(Debug, Clone, Default)]
pub struct WalkOptions {
    /// Follow symbolic links (`-L`); loops are detected and skipped.
    pub follow_links: bool,
    /// Stay on the filesystem of each root (`-x`).
    pub one_file_system: bool,
    /// Keep only files matching one of these globs (none: keep all).
    pub include: Vec<String>,
    /// Leave out files and directories matching one of these globs.
    pub exclude: Vec<String>,
    /// Leave out files smaller than this.
    pub min_size: Option<u64>,
    /// Leave out files larger than this.
    pub max_size: Option<u64>,
    /// Threads for the work done on the files found (0: rayon's default).
    pub threads: usize,
    /// Take a block device named as a root as a file (its own page cache), with its size; walks
    /// still pass over the devices they meet. [`open::walk_open`] always does.
    pub block_devices: bool,
}

/// A regular file found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// The path, starting with the root it was found under.
    pub path: PathBuf,
    /// Device number.
    pub dev: u64,
    /// Inode number.
    pub ino: u64,
    /// Size in bytes.
    pub size: u64,
    /// Hard links to the file.
    pub nlink: u64,
    /// False for a second (third...) path to the same device and inode: totals count it once.
    pub first_link: bool,
}

/// What a run has met, to tell the first path to a file from later ones in bounded memory: the
/// (device, inode) of files with more than one link, of files named as roots (or all files, when
/// asked), and of directories entered. A file with one link is reached by one path only, unless a
/// directory is walked twice (overlapping roots, a link followed into the tree) or it is named too.
#[derive(Debug, Default)]
pub struct Seen {
    files: HashSet<(u64, u64)>,
    named: HashSet<(u64, u64)>,
    dirs: HashSet<(u64, u64)>,
    all: bool,
}

impl Seen {
    /// A set that keeps files with more than one link, and those named.
    pub fn new() -> Self {
        Seen::default()
    }

    /// A set that keeps every file: for files found in ways a walk cannot relate (a process's files).
    pub fn every_file() -> Self {
        Seen {
            all: true,
            ..Seen::default()
        }
    }

    /// Notes a file that will also be named, so that a walk that meets it first keeps it.
    pub fn name(&mut self, id: (u64, u64)) {
        self.named.insert(id);
    }

    /// Whether `id` (with `nlink` links; `named` when it was named rather than found) is met for the
    /// first time.
    pub fn first(&mut self, id: (u64, u64), nlink: u64, named: bool) -> bool {
        if self.all || named || nlink > 1 || self.named.contains(&id) {
            self.files.insert(id)
        } else {
            true
        }
    }

    /// Whether the directory `id` is entered for the first time.
    pub fn enter(&mut self, id: (u64, u64)) -> bool {
        self.dirs.insert(id)
    }
}

/// Why a path was passed over without being an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    /// A named pipe (never opened, so nothing blocks).
    Fifo,
    /// A socket.
    Socket,
    /// A character device.
    CharDevice,
    /// A block device.
    BlockDevice,
    /// A symbolic link, not followed (without `-L`).
    Symlink,
    /// A symbolic link that leads back to one of its own ancestors (with `-L`).
    Loop,
}

impl SkipReason {
    /// How the reason reads in a note.
    pub fn describe(self) -> &'static str {
        match self {
            SkipReason::Fifo => "a FIFO",
            SkipReason::Socket => "a socket",
            SkipReason::CharDevice => "a character device",
            SkipReason::BlockDevice => "a block device",
            SkipReason::Symlink => "a symbolic link (use -L to follow)",
            SkipReason::Loop => "a symbolic link loop",
        }
    }
}

/// One thing found by the walk.
#[derive(Debug)]
pub enum Item {
    /// A regular file.
    File(FileEntry),
    /// Something passed over, with the reason.
    Skipped(PathBuf, SkipReason),
    /// A path that could not be read.
    Error(Error),
}

/// What a walk found.
#[derive(Debug, Default)]
pub struct Walked {
    /// Files, skips and errors, in order.
    pub items: Vec<Item>,
    /// Directories entered.
    pub dirs: u64,
}

struct Filters {
    include: Option<GlobSet>,
    exclude: Option<GlobSet>,
    min_size: Option<u64>,
    max_size: Option<u64>,
}

fn globs(patterns: &[String]) -> Result<Option<GlobSet>, String> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let mut set = GlobSetBuilder::new();
    for p in patterns {
        set.add(Glob::new(p).map_err(|e| format!("invalid glob '{p}': {}", e.kind()))?);
    }
    set.build().map(Some).map_err(|e| e.to_string())
}

/// A glob matches a file's name, or, when the pattern has a `/`, its whole path.
fn matches(set: &GlobSet, path: &Path) -> bool {
    set.is_match(path) || path.file_name().is_some_and(|n| set.is_match(n))
}

impl Filters {
    fn new(options: &WalkOptions) -> Result<Self, String> {
        Ok(Filters {
            include: globs(&options.include)?,
            exclude: globs(&options.exclude)?,
            min_size: options.min_size,
            max_size: options.max_size,
        })
    }

    fn excluded(&self, path: &Path) -> bool {
        self.exclude.as_ref().is_some_and(|set| matches(set, path))
    }

    fn keeps_file(&self, path: &Path, size: u64) -> bool {
        !self.excluded(path)
            && self.include.as_ref().is_none_or(|set| matches(set, path))
            && self.min_size.is_none_or(|min| size >= min)
            && self.max_size.is_none_or(|max| size <= max)
    }
}

/// Checks the globs of `options` (for a usage error before any work).
pub fn validate(options: &WalkOptions) -> Result<(), String> {
    Filters::new(options).map(|_| ())
}

/// Walks `roots` in order. A root that is a file is itself an item; a directory is walked by
/// descriptors ([`tree`]).
pub fn walk(roots: &[PathBuf], options: &WalkOptions) -> Result<Walked, String> {
    let filters = Filters::new(options)?;
    let mut walked = Walked::default();
    for root in roots {
        let meta = if options.follow_links {
            rustix::fs::stat(root)
        } else {
            rustix::fs::lstat(root)
        };
        // A root named on the command line is followed even without -L, as du and ls do.
        let meta = match meta {
            Ok(m) if FileType::from_raw_mode(m.st_mode) == FileType::Symlink => {
                rustix::fs::stat(root)
            }
            other => other,
        };
        match meta {
            Ok(m) if FileType::from_raw_mode(m.st_mode) == FileType::Directory => {
                walk_dir(root, options, &filters, &mut walked);
            }
            Ok(m)
                if options.block_devices
                    && FileType::from_raw_mode(m.st_mode) == FileType::BlockDevice =>
            {
                walked.items.extend(device(root, &m, &filters));
            }
            Ok(m) => walked.items.extend(classify(root, &m, &filters)),
            Err(e) => walked
                .items
                .push(Item::Error(Error::io(Op::Open, root, e.into()))),
        }
    }
    mark_links(&mut walked.items);
    Ok(walked)
}

/// The walk policy of `options`.
pub(crate) fn policy(options: &WalkOptions) -> Policy {
    Policy {
        follow_links: options.follow_links,
        one_file_system: options.one_file_system,
    }
}

/// Why a path of kind `kind` (not a regular file or a directory) is passed over.
pub(crate) fn skip_reason(kind: FileType) -> SkipReason {
    match kind {
        FileType::Fifo => SkipReason::Fifo,
        FileType::Socket => SkipReason::Socket,
        FileType::CharacterDevice => SkipReason::CharDevice,
        FileType::BlockDevice => SkipReason::BlockDevice,
        _ => SkipReason::Symlink,
    }
}

/// The item for a non-directory path of status `stat`, or nothing when the filters leave it out.
fn classify(path: &Path, stat: &Stat, filters: &Filters) -> Option<Item> {
    let kind = FileType::from_raw_mode(stat.st_mode);
    let size = stat.st_size as u64;
    if kind == FileType::RegularFile {
        if !filters.keeps_file(path, size) {
            return None;
        }
        return Some(Item::File(FileEntry {
            path: path.to_path_buf(),
            dev: stat.st_dev,
            ino: stat.st_ino,
            size,
            nlink: stat.st_nlink,
            first_link: true,
        }));
    }
    if filters.excluded(path) {
        return None;
    }
    Some(Item::Skipped(path.to_path_buf(), skip_reason(kind)))
}

/// The item for a block device named as a root: a file as long as the device is.
fn device(path: &Path, stat: &Stat, filters: &Filters) -> Option<Item> {
    let flags = rustix::fs::OFlags::RDONLY
        | rustix::fs::OFlags::NONBLOCK
        | rustix::fs::OFlags::CLOEXEC
        | rustix::fs::OFlags::NOCTTY;
    let size = rustix::fs::open(path, flags, rustix::fs::Mode::empty())
        .and_then(|fd| rustix::fs::seek(&fd, rustix::fs::SeekFrom::End(0)));
    let size = match size {
        Ok(size) => size,
        Err(e) => return Some(Item::Error(Error::io(Op::Open, path, e.into()))),
    };
    if !filters.keeps_file(path, size) {
        return None;
    }
    Some(Item::File(FileEntry {
        path: path.to_path_buf(),
        dev: stat.st_dev,
        ino: stat.st_ino,
        size,
        nlink: stat.st_nlink,
        first_link: true,
    }))
}

fn walk_dir(root: &Path, options: &WalkOptions, filters: &Filters, walked: &mut Walked) {
    walk_tree(root, policy(options), |event| {
        match event {
            Event::Enter { .. } => walked.dirs += 1,
            Event::Entry(node) => {
                if filters.excluded(node.path) {
                    return Flow::Prune;
                }
                if node.kind == FileType::Directory {
                    return Flow::Continue;
                }
                match node.stat() {
                    Ok(stat) => walked.items.extend(classify(node.path, &stat, filters)),
                    Err(e) => walked
                        .items
                        .push(Item::Error(Error::io(Op::Open, node.path, e))),
                }
            }
            Event::Loop(path) => walked
                .items
                .push(Item::Skipped(path.to_path_buf(), SkipReason::Loop)),
            Event::Error(e) => walked.items.push(Item::Error(e)),
        }
        Flow::Continue
    });
}

/// Marks every path to an already seen (device, inode) as not the first link.
fn mark_links(items: &mut [Item]) {
    let mut seen = HashSet::new();
    for item in items {
        if let Item::File(f) = item {
            f.first_link = seen.insert((f.dev, f.ino));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn files(walked: &Walked) -> Vec<String> {
        walked
            .items
            .iter()
            .filter_map(|i| match i {
                Item::File(f) => Some(format!(
                    "{}{}",
                    f.path.display(),
                    if f.first_link { "" } else { " (link)" }
                )),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn walks_in_order_with_links_counted_once() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("a/b")).unwrap();
        std::fs::write(d.join("a/z.txt"), b"z").unwrap();
        std::fs::write(d.join("a/b/y.log"), b"yy").unwrap();
        std::fs::hard_link(d.join("a/z.txt"), d.join("a/b/hard.txt")).unwrap();
        symlink(d.join("a/z.txt"), d.join("a/sym")).unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            d.join("a/fifo"),
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        let root = d.join("a");
        let walked = walk(std::slice::from_ref(&root), &WalkOptions::default()).unwrap();
        let p = |s: &str| root.join(s).display().to_string();
        assert_eq!(
            files(&walked),
            vec![
                p("b/hard.txt"),
                p("b/y.log"),
                format!("{} (link)", p("z.txt"))
            ]
        );
        assert_eq!(walked.dirs, 2);
        let skipped: Vec<SkipReason> = walked
            .items
            .iter()
            .filter_map(|i| {
                if let Item::Skipped(_, r) = i {
                    Some(*r)
                } else {
                    None
                }
            })
            .collect();
        assert_eq!(skipped, vec![SkipReason::Fifo, SkipReason::Symlink]);

        let options = WalkOptions {
            include: vec!["*.txt".into()],
            ..WalkOptions::default()
        };
        assert_eq!(
            files(&walk(std::slice::from_ref(&root), &options).unwrap()),
            vec![p("b/hard.txt"), format!("{} (link)", p("z.txt"))]
        );
        let options = WalkOptions {
            exclude: vec!["b".into()],
            min_size: Some(1),
            ..WalkOptions::default()
        };
        assert_eq!(
            files(&walk(std::slice::from_ref(&root), &options).unwrap()),
            vec![p("z.txt")]
        );
        let options = WalkOptions {
            follow_links: true,
            ..WalkOptions::default()
        };
        let followed = files(&walk(std::slice::from_ref(&root), &options).unwrap());
        assert!(
            followed.contains(&format!("{} (link)", p("sym"))),
            "{followed:?}"
        );
    }

    #[test]
    fn loops_and_missing_roots() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("x")).unwrap();
        symlink(d.join("x"), d.join("x/back")).unwrap();
        let options = WalkOptions {
            follow_links: true,
            ..WalkOptions::default()
        };
        let walked = walk(&[d.join("x"), d.join("missing")], &options).unwrap();
        assert!(
            walked
                .items
                .iter()
                .any(|i| matches!(i, Item::Skipped(_, SkipReason::Loop))),
            "{:?}",
            walked.items
        );
        let last = walked.items.last().unwrap();
        assert!(
            matches!(last, Item::Error(e) if e.to_string().ends_with("missing: No such file or directory")),
            "{last:?}"
        );
        assert!(
            validate(&WalkOptions {
                include: vec!["[".into()],
                ..WalkOptions::default()
            })
            .is_err()
        );
    }
}
