//! Walking with every regular file opened relative to its directory (openat) and handed, open, to a
//! visitor on the walking thread. For a tool that opens each file it finds, this saves a stat and a
//! full path lookup per file over [`walk`](super::walk) followed by opens by path: one openat and one
//! fstat per file, in parallel on the rayon pool. The options, the order (the roots in the order given,
//! each tree depth first with names in byte order, which is the order of `walk`), the skips and the
//! errors are those of `walk`.
//!
//! A directory's descriptor is closed before the walk descends into its subdirectories (which are opened
//! by path), so a deep tree does not hold a descriptor per level.

use std::ffi::{CStr, OsStr};
use std::fs::File;
use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;
use rustix::fs::{AtFlags, Dir, FileType, Mode, OFlags, Stat};

use super::{FileEntry, Filters, SkipReason, WalkOptions};
use crate::error::{Error, Op};

/// A regular file found and opened, as the visitor sees it.
#[derive(Debug, Clone, Copy)]
pub struct Opened<'a> {
    /// The path, starting with the root it was found under.
    pub path: &'a Path,
    /// The file, open read-only with O_NONBLOCK (nothing can block on it).
    pub file: &'a File,
    /// fstat of the open file.
    pub stat: &'a Stat,
}

/// One thing found.
#[derive(Debug)]
pub enum Found<T> {
    /// A regular file, with what the visitor made of it.
    File(FileEntry, T),
    /// Something passed over, with the reason.
    Skipped(PathBuf, SkipReason),
    /// A path that could not be read.
    Error(Error),
}

/// What a walk found.
#[derive(Debug)]
pub struct WalkedOpen<T> {
    /// Files, skips and errors, in order.
    pub items: Vec<Found<T>>,
    /// Directories entered.
    pub dirs: u64,
}

/// What to do with one directory entry: it is done, or it is a directory to walk.
enum Step<T> {
    Done(Option<Node<T>>),
    Descend { path: PathBuf, follow: bool },
}

enum Node<T> {
    One(Found<T>),
    Many(Vec<Node<T>>),
}

struct Walker<'a, F> {
    options: &'a WalkOptions,
    filters: Filters,
    visit: &'a F,
    dirs: AtomicU64,
}

const FILE_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::NONBLOCK)
    .union(OFlags::CLOEXEC)
    .union(OFlags::NOCTTY);
const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::CLOEXEC);

fn skip_reason(kind: FileType) -> SkipReason {
    match kind {
        FileType::Fifo => SkipReason::Fifo,
        FileType::Socket => SkipReason::Socket,
        FileType::CharacterDevice => SkipReason::CharDevice,
        FileType::BlockDevice => SkipReason::BlockDevice,
        _ => SkipReason::Symlink,
    }
}

/// Walks `roots` in order, opening each regular file that passes the filters and calling `visit` with
/// it on one of the rayon pool's threads.
pub fn walk_open<T, F>(
    roots: &[PathBuf],
    options: &WalkOptions,
    visit: &F,
) -> Result<WalkedOpen<T>, String>
where
    T: Send,
    F: Fn(Opened<'_>) -> T + Sync,
{
    let walker = Walker {
        options,
        filters: Filters::new(options)?,
        visit,
        dirs: AtomicU64::new(0),
    };
    let nodes: Vec<Option<Node<T>>> = roots.par_iter().map(|r| walker.root(r)).collect();
    let mut items = Vec::new();
    for node in nodes.into_iter().flatten() {
        flatten(node, &mut items);
    }
    let mut seen = std::collections::HashSet::new();
    for item in &mut items {
        if let Found::File(f, _) = item {
            f.first_link = seen.insert((f.dev, f.ino));
        }
    }
    Ok(WalkedOpen {
        items,
        dirs: walker.dirs.into_inner(),
    })
}

fn flatten<T>(node: Node<T>, out: &mut Vec<Found<T>>) {
    match node {
        Node::One(found) => out.push(found),
        Node::Many(nodes) => nodes.into_iter().for_each(|n| flatten(n, out)),
    }
}

fn error<T>(op: Op, path: &Path, e: impl Into<io::Error>) -> Option<Node<T>> {
    Some(Node::One(Found::Error(Error::io(op, path, e.into()))))
}

impl<F> Walker<'_, F> {
    fn root<T>(&self, root: &Path) -> Option<Node<T>>
    where
        T: Send,
        F: Fn(Opened<'_>) -> T + Sync,
    {
        let stat = if self.options.follow_links {
            rustix::fs::stat(root)
        } else {
            rustix::fs::lstat(root)
        };
        let stat = match stat {
            Ok(s) => s,
            Err(e) => return error(Op::Open, root, e),
        };
        let mut kind = FileType::from_raw_mode(stat.st_mode);
        // A root named on the command line is followed even without -L, as du and ls do.
        if kind == FileType::Symlink {
            match rustix::fs::stat(root) {
                Ok(target) => kind = FileType::from_raw_mode(target.st_mode),
                Err(e) => return error(Op::Open, root, e),
            }
        }
        match kind {
            FileType::Directory => {
                let fd = match rustix::fs::open(root, DIR_FLAGS, Mode::empty()) {
                    Ok(fd) => fd,
                    Err(e) => return error(Op::Open, root, e),
                };
                let st = match rustix::fs::fstat(&fd) {
                    Ok(st) => st,
                    Err(e) => return error(Op::Open, root, e),
                };
                let ancestors = vec![(st.st_dev, st.st_ino)];
                Some(self.dir(fd, root.to_path_buf(), st.st_dev, &ancestors))
            }
            FileType::RegularFile => {
                self.file(rustix::fs::CWD, root.as_os_str(), root.to_path_buf(), true)
            }
            other if self.filters.excluded(root) => {
                let _ = other;
                None
            }
            other => Some(Node::One(Found::Skipped(
                root.to_path_buf(),
                skip_reason(other),
            ))),
        }
    }

    /// Opens a regular file `name` in `dir` and visits it, if it passes the filters.
    fn file<T>(
        &self,
        dir: BorrowedFd<'_>,
        name: &OsStr,
        path: PathBuf,
        follow: bool,
    ) -> Option<Node<T>>
    where
        F: Fn(Opened<'_>) -> T + Sync,
    {
        if self.filters.excluded(&path)
            || self
                .filters
                .include
                .as_ref()
                .is_some_and(|set| !super::matches(set, &path))
        {
            return None;
        }
        let flags = if follow {
            FILE_FLAGS
        } else {
            FILE_FLAGS | OFlags::NOFOLLOW
        };
        let fd: OwnedFd = match rustix::fs::openat(dir, name, flags, Mode::empty()) {
            Ok(fd) => fd,
            // It became a symbolic link since the directory was read.
            Err(rustix::io::Errno::LOOP) if !follow => {
                return Some(Node::One(Found::Skipped(path, SkipReason::Symlink)));
            }
            Err(e) => return error(Op::Open, &path, e),
        };
        let stat = match rustix::fs::fstat(&fd) {
            Ok(s) => s,
            Err(e) => return error(Op::Open, &path, e),
        };
        let kind = FileType::from_raw_mode(stat.st_mode);
        if kind == FileType::Directory {
            return None;
        }
        if kind != FileType::RegularFile {
            return Some(Node::One(Found::Skipped(path, skip_reason(kind))));
        }
        let size = stat.st_size as u64;
        if self.filters.min_size.is_some_and(|min| size < min)
            || self.filters.max_size.is_some_and(|max| size > max)
        {
            return None;
        }
        let file = File::from(fd);
        let value = (self.visit)(Opened {
            path: &path,
            file: &file,
            stat: &stat,
        });
        Some(Node::One(Found::File(
            FileEntry {
                path,
                dev: stat.st_dev,
                ino: stat.st_ino,
                size,
                first_link: true,
            },
            value,
        )))
    }

    /// Reads directory `fd` (at `path`) and walks its entries in parallel, in name order.
    fn dir<T>(&self, fd: OwnedFd, path: PathBuf, root_dev: u64, ancestors: &[(u64, u64)]) -> Node<T>
    where
        T: Send,
        F: Fn(Opened<'_>) -> T + Sync,
    {
        self.dirs.fetch_add(1, Ordering::Relaxed);
        let mut dir = match Dir::new(fd) {
            Ok(d) => d,
            Err(e) => return Node::One(Found::Error(Error::io(Op::Open, &path, e.into()))),
        };
        let mut entries = Vec::new();
        let mut failure = None;
        while let Some(entry) = dir.read() {
            match entry {
                Ok(e) => {
                    let name = e.file_name();
                    if name != c"." && name != c".." {
                        entries.push(e);
                    }
                }
                Err(e) => {
                    failure = Some(Error::io(Op::Read, &path, e.into()));
                    break;
                }
            }
        }
        entries.sort_unstable_by(|a, b| a.file_name().cmp(b.file_name()));
        let fd = match dir.fd() {
            Ok(fd) => fd,
            Err(e) => return Node::One(Found::Error(Error::io(Op::Open, &path, e.into()))),
        };
        // Files first, through this directory's descriptor; then the descriptor is closed before the
        // walk goes deeper, so that a deep tree does not hold one descriptor per level.
        let steps: Vec<Step<T>> = entries
            .par_iter()
            .map(|e| self.entry(fd, &path, e.file_name(), e.file_type()))
            .collect();
        drop(dir);
        let mut nodes: Vec<Node<T>> = steps
            .into_par_iter()
            .filter_map(|step| match step {
                Step::Done(node) => node,
                Step::Descend { path, follow } => self.subdir(path, follow, root_dev, ancestors),
            })
            .collect();
        if let Some(e) = failure {
            nodes.push(Node::One(Found::Error(e)));
        }
        Node::Many(nodes)
    }

    /// Opens directory `path` and walks it, unless it is on another filesystem (with -x) or one of its
    /// own ancestors (a loop through a followed link).
    fn subdir<T>(
        &self,
        path: PathBuf,
        follow: bool,
        root_dev: u64,
        ancestors: &[(u64, u64)],
    ) -> Option<Node<T>>
    where
        T: Send,
        F: Fn(Opened<'_>) -> T + Sync,
    {
        let flags = if follow {
            DIR_FLAGS
        } else {
            DIR_FLAGS | OFlags::NOFOLLOW
        };
        let fd = match rustix::fs::open(&path, flags, Mode::empty()) {
            Ok(fd) => fd,
            Err(e) => return error(Op::Open, &path, e),
        };
        let st = match rustix::fs::fstat(&fd) {
            Ok(st) => st,
            Err(e) => return error(Op::Open, &path, e),
        };
        if self.options.one_file_system && st.st_dev != root_dev {
            return None;
        }
        let id = (st.st_dev, st.st_ino);
        if ancestors.contains(&id) {
            return Some(Node::One(Found::Skipped(path, SkipReason::Loop)));
        }
        let mut chain = ancestors.to_vec();
        chain.push(id);
        Some(self.dir(fd, path, root_dev, &chain))
    }

    fn entry<T>(
        &self,
        dir: BorrowedFd<'_>,
        parent: &Path,
        name: &CStr,
        mut kind: FileType,
    ) -> Step<T>
    where
        T: Send,
        F: Fn(Opened<'_>) -> T + Sync,
    {
        let os_name = OsStr::from_bytes(name.to_bytes());
        let path = parent.join(os_name);
        if self.filters.excluded(&path) {
            return Step::Done(None);
        }
        if kind == FileType::Unknown {
            match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(st) => kind = FileType::from_raw_mode(st.st_mode),
                Err(e) => return Step::Done(error(Op::Open, &path, e)),
            }
        }
        let mut follow = false;
        if kind == FileType::Symlink {
            if !self.options.follow_links {
                return Step::Done(Some(Node::One(Found::Skipped(path, SkipReason::Symlink))));
            }
            match rustix::fs::statat(dir, name, AtFlags::empty()) {
                Ok(st) => kind = FileType::from_raw_mode(st.st_mode),
                Err(e) => return Step::Done(error(Op::Open, &path, e)),
            }
            follow = true;
        }
        match kind {
            FileType::RegularFile => Step::Done(self.file(dir, os_name, path, follow)),
            FileType::Directory => Step::Descend { path, follow },
            other => Step::Done(Some(Node::One(Found::Skipped(path, skip_reason(other))))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Item, walk};
    use super::*;
    use std::os::unix::fs::symlink;

    /// The same walk through `walk` and `walk_open`, as comparable lines.
    fn both(roots: &[PathBuf], options: &WalkOptions) -> (Vec<String>, Vec<String>, u64, u64) {
        let plain = walk(roots, options).unwrap();
        let a = plain
            .items
            .iter()
            .map(|i| match i {
                Item::File(f) => format!("file {} {}", f.path.display(), f.first_link),
                Item::Skipped(p, r) => format!("skip {} {r:?}", p.display()),
                Item::Error(e) => format!("error {e}"),
            })
            .collect();
        let opened = walk_open(roots, options, &|o: Opened<'_>| o.stat.st_size).unwrap();
        let b = opened
            .items
            .iter()
            .map(|i| match i {
                Found::File(f, size) => {
                    assert_eq!(f.size, *size as u64);
                    format!("file {} {}", f.path.display(), f.first_link)
                }
                Found::Skipped(p, r) => format!("skip {} {r:?}", p.display()),
                Found::Error(e) => format!("error {e}"),
            })
            .collect();
        (a, b, plain.dirs, opened.dirs)
    }

    #[test]
    fn agrees_with_walk() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("a/b/c")).unwrap();
        std::fs::create_dir_all(d.join("a/b.d")).unwrap();
        for (name, len) in [
            ("a/z.txt", 1),
            ("a/b/y.log", 2),
            ("a/b/c/x", 3),
            ("a/b.d/w", 4),
            ("a/b.txt", 5),
        ] {
            std::fs::write(d.join(name), vec![b'x'; len]).unwrap();
        }
        std::fs::hard_link(d.join("a/z.txt"), d.join("a/b/hard.txt")).unwrap();
        symlink(d.join("a/z.txt"), d.join("a/sym")).unwrap();
        symlink(d.join("a"), d.join("a/b/c/loop")).unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            d.join("a/fifo"),
            FileType::Fifo,
            Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        let roots = [
            d.join("a"),
            d.join("a/z.txt"),
            d.join("missing"),
            d.join("a/fifo"),
        ];
        for options in [
            WalkOptions::default(),
            WalkOptions {
                follow_links: true,
                ..WalkOptions::default()
            },
            WalkOptions {
                include: vec!["*.txt".into()],
                exclude: vec!["c".into()],
                min_size: Some(2),
                ..WalkOptions::default()
            },
            WalkOptions {
                max_size: Some(3),
                one_file_system: true,
                ..WalkOptions::default()
            },
        ] {
            let (a, b, dirs_a, dirs_b) = both(&roots, &options);
            assert_eq!(a, b, "{options:?}");
            assert_eq!(dirs_a, dirs_b, "{options:?}");
        }
    }
}
