//! The one tree walker of the crate (mmcp -r, mmstat and mmadvise walk with it): depth first, names
//! in byte order, parents before their contents, every directory opened by descriptor.
//!
//! Each subdirectory is opened with `openat(parent, name, O_NOFOLLOW | O_DIRECTORY)` relative to its
//! parent's open descriptor, never by path, so a directory swapped for a symbolic link while the walk
//! runs cannot lead it outside the tree (the open fails with ELOOP or ENOTDIR, an error for that entry).
//! Entries are stated and opened relative to their directory's descriptor too ([`Node::stat`],
//! [`Node::open`]), with O_NOFOLLOW unless links are followed (`-L`), where following is what was asked.
//!
//! Descriptors held are bounded: the walk keeps the descriptors of the [`HELD_DIRS`] deepest
//! directories of the current path and closes those above. Going back up to a directory whose
//! descriptor was closed reopens it as `..` of its child, and checks that it is the same directory
//! (device and inode) as before; if it is not (the tree was moved while the walk ran), the walk
//! reports an error for it and leaves it, rather than go on somewhere else. A tree of any depth is
//! walked with at most `HELD_DIRS` directory descriptors (fewer under a low `ulimit -n`), plus those
//! the caller keeps ([`Node::dir`]).

use std::ffi::{CStr, OsStr};
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustix::fs::{AtFlags, FileType, Mode, OFlags, RawDir, Stat};

use crate::error::{Error, Op};

/// Directory descriptors the walk keeps open at most: those of the deepest directories of the path
/// being walked. A deeper tree is still walked; going back up reopens the closed ones through `..`.
/// Under a low limit of open files (`ulimit -n`), the walk keeps fewer: an eighth of the limit.
pub const HELD_DIRS: usize = 32;

/// How many descriptors the process may have open (the soft RLIMIT_NOFILE), or 1024 if unknown.
pub fn open_files_limit() -> usize {
    rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .current
        .map_or(1024, |n| usize::try_from(n).unwrap_or(usize::MAX))
}

/// A share of the descriptors the process may open: `limit / part`, between `least` and `most`.
pub fn descriptor_share(part: usize, least: usize, most: usize) -> usize {
    (open_files_limit() / part).clamp(least, most)
}

const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::CLOEXEC)
    .union(OFlags::NOCTTY);

/// Which links the walk follows, and where it stays.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Policy {
    /// Follow symbolic links met inside the tree (`-L`); a link back to an ancestor is a [`Event::Loop`].
    pub follow_links: bool,
    /// Do not enter directories on another filesystem than the root's (`-x`).
    pub one_file_system: bool,
}

/// An open directory, shared by the walk and whoever still needs to open its entries.
#[derive(Debug)]
pub struct DirFd(OwnedFd);

impl DirFd {
    /// The descriptor.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

/// One entry of a directory, as the walk meets it.
#[derive(Debug)]
pub struct Node<'a> {
    /// The path: the root as given, joined with the names below it.
    pub path: &'a Path,
    /// The entry's name in its directory.
    pub name: &'a CStr,
    /// Its directory, open.
    pub dir: &'a Arc<DirFd>,
    /// What it is: what the link leads to when `followed`.
    pub kind: FileType,
    /// A symbolic link, followed (`-L`).
    pub followed: bool,
    /// 1 for the entries of the root, 2 below them, ...
    pub depth: usize,
}

impl Node<'_> {
    /// Its status, relative to its directory: the link's own unless the link is followed.
    pub fn stat(&self) -> io::Result<Stat> {
        let flags = if self.followed {
            AtFlags::empty()
        } else {
            AtFlags::SYMLINK_NOFOLLOW
        };
        Ok(rustix::fs::statat(self.dir.fd(), self.name, flags)?)
    }

    /// Opens it relative to its directory with `flags`, plus O_NOFOLLOW unless the link is followed.
    pub fn open(&self, flags: OFlags) -> io::Result<OwnedFd> {
        open_entry(self.dir.fd(), self.name, flags, self.followed)
    }
}

/// Opens `name` in `dir` with `flags`, and O_NOFOLLOW unless `follow`.
pub fn open_entry(
    dir: BorrowedFd<'_>,
    name: impl rustix::path::Arg,
    flags: OFlags,
    follow: bool,
) -> io::Result<OwnedFd> {
    let flags = if follow {
        flags | OFlags::CLOEXEC
    } else {
        flags | OFlags::CLOEXEC | OFlags::NOFOLLOW
    };
    Ok(rustix::fs::openat(dir, name, flags, Mode::empty())?)
}

/// What the walk tells its visitor, in order.
#[derive(Debug)]
pub enum Event<'a> {
    /// A directory entered, the root first, with the status of its open descriptor; 0 for the root.
    Enter {
        /// Its path.
        path: &'a Path,
        /// fstat of the open directory.
        stat: &'a Stat,
        /// Its depth.
        depth: usize,
    },
    /// An entry of a directory entered (a directory too, before it is entered).
    Entry(&'a Node<'a>),
    /// A followed link that leads to one of its own ancestors: not entered.
    Loop(&'a Path),
    /// Something that could not be read or opened; the walk goes on.
    Error(Error),
}

/// What the visitor wants next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Go on (and enter the directory just seen).
    Continue,
    /// Do not enter the directory just seen (or, after [`Event::Enter`], do not read it).
    Prune,
}

struct Level {
    dir: Option<Arc<DirFd>>,
    id: (u64, u64),
    path: PathBuf,
    /// The names of its entries, one after another, each with its NUL (one allocation per directory).
    names: Vec<u8>,
    /// Where each entry's name lies in `names` (NUL included) and its type, sorted by name.
    entries: Vec<(usize, usize, FileType)>,
    next: usize,
}

/// Bytes read from a directory at once: a few hundred entries, so that most directories take one
/// getdents64 call and the one that says the end.
const LISTING_BUFFER: usize = 32 * 1024;

/// Walks the directory `root` (followed if it is a link, as a name given on a command line), calling
/// `visit` for everything met, in order.
pub fn walk_tree(root: &Path, policy: Policy, mut visit: impl FnMut(Event<'_>) -> Flow) {
    let fd = match rustix::fs::open(root, DIR_FLAGS, Mode::empty()) {
        Ok(fd) => fd,
        Err(e) => {
            visit(Event::Error(Error::io(Op::Open, root, e.into())));
            return;
        }
    };
    let mut listing = vec![MaybeUninit::<u8>::uninit(); LISTING_BUFFER];
    let Some(first) = enter(fd, root.to_path_buf(), 0, None, &mut visit, &mut listing) else {
        return;
    };
    let root_dev = first.id.0;
    let held_most = descriptor_share(8, 2, HELD_DIRS);
    let mut stack = vec![first];
    // The entry's name and path, built in place: no allocation per entry.
    let (mut name_buf, mut path_buf) = (Vec::new(), Vec::new());
    while let Some(top) = stack.last_mut() {
        let Some(&(at, len, dtype)) = top.entries.get(top.next) else {
            up(&mut stack, policy, &mut visit);
            continue;
        };
        top.next += 1;
        let Some(dir) = top.dir.clone() else {
            // Cannot happen: the deepest level always holds its descriptor.
            stack.pop();
            continue;
        };
        name_buf.clear();
        name_buf.extend_from_slice(&top.names[at..at + len]);
        join(&mut path_buf, &top.path, &name_buf[..len - 1]);
        let Ok(name) = CStr::from_bytes_with_nul(&name_buf) else {
            continue; // Cannot happen: each name ends with its one NUL.
        };
        let path = Path::new(OsStr::from_bytes(&path_buf));
        let depth = stack.len();
        let (kind, followed) = match kind_of(&dir, name, dtype, policy.follow_links) {
            Ok(k) => k,
            Err(e) => {
                visit(Event::Error(Error::io(Op::Open, path, e)));
                continue;
            }
        };
        let node = Node {
            path,
            name,
            dir: &dir,
            kind,
            followed,
            depth,
        };
        if visit(Event::Entry(&node)) == Flow::Prune || kind != FileType::Directory {
            continue;
        }
        let fd = match open_entry(dir.fd(), name, DIR_FLAGS, followed) {
            Ok(fd) => fd,
            Err(e) => {
                visit(Event::Error(Error::io(Op::Open, path, e)));
                continue;
            }
        };
        drop(dir);
        let filter = Filter {
            root_dev: policy.one_file_system.then_some(root_dev),
            ancestors: &stack,
        };
        if let Some(level) = enter(
            fd,
            path.to_path_buf(),
            depth,
            Some(filter),
            &mut visit,
            &mut listing,
        ) {
            stack.push(level);
            let held = stack.iter().filter(|l| l.dir.is_some()).count();
            if held > held_most
                && let Some(l) = stack.iter_mut().find(|l| l.dir.is_some())
            {
                l.dir = None;
            }
        }
    }
}

/// Sets `out` to `dir` joined with `name`, as [`Path::join`] joins a name.
fn join(out: &mut Vec<u8>, dir: &Path, name: &[u8]) {
    out.clear();
    out.extend_from_slice(dir.as_os_str().as_bytes());
    if !out.is_empty() && !out.ends_with(b"/") {
        out.push(b'/');
    }
    out.extend_from_slice(name);
}

/// What keeps a subdirectory out: another filesystem, or being its own ancestor.
struct Filter<'a> {
    root_dev: Option<u64>,
    ancestors: &'a [Level],
}

/// The kind of `name` in `dir` (from the directory entry, or statat when it does not say), and
/// whether a link was followed to find it.
fn kind_of(
    dir: &DirFd,
    name: &CStr,
    dtype: FileType,
    follow: bool,
) -> io::Result<(FileType, bool)> {
    let mut kind = dtype;
    if kind == FileType::Unknown {
        let st = rustix::fs::statat(dir.fd(), name, AtFlags::SYMLINK_NOFOLLOW)?;
        kind = FileType::from_raw_mode(st.st_mode);
    }
    if kind == FileType::Symlink && follow {
        let st = rustix::fs::statat(dir.fd(), name, AtFlags::empty())?;
        return Ok((FileType::from_raw_mode(st.st_mode), true));
    }
    Ok((kind, false))
}

/// Reads the open directory `fd` at `path` into a level, after telling the visitor; nothing when
/// the filter or the visitor keeps it out, or it cannot be read at all.
fn enter(
    fd: OwnedFd,
    path: PathBuf,
    depth: usize,
    filter: Option<Filter<'_>>,
    visit: &mut impl FnMut(Event<'_>) -> Flow,
    listing: &mut [MaybeUninit<u8>],
) -> Option<Level> {
    let stat = match rustix::fs::fstat(&fd) {
        Ok(st) => st,
        Err(e) => {
            visit(Event::Error(Error::io(Op::Open, &path, e.into())));
            return None;
        }
    };
    let id = (stat.st_dev, stat.st_ino);
    if let Some(filter) = filter {
        if filter.root_dev.is_some_and(|dev| dev != stat.st_dev) {
            return None;
        }
        if filter.ancestors.iter().any(|l| l.id == id) {
            visit(Event::Loop(&path));
            return None;
        }
    }
    if visit(Event::Enter {
        path: &path,
        stat: &stat,
        depth,
    }) == Flow::Prune
    {
        return None;
    }
    // Read through the descriptor the walk keeps for openat (whose offset nothing else uses), into
    // the walk's one buffer.
    let mut names = Vec::new();
    let mut entries = Vec::new();
    let mut dir = RawDir::new(&fd, listing);
    while let Some(entry) = dir.next() {
        match entry {
            Ok(e) => {
                let name = e.file_name().to_bytes_with_nul();
                if name != b".\0" && name != b"..\0" {
                    entries.push((names.len(), name.len(), e.file_type()));
                    names.extend_from_slice(name);
                }
            }
            Err(e) => {
                visit(Event::Error(Error::io(Op::Read, &path, e.into())));
                break;
            }
        }
    }
    // By name: a NUL sorts before any byte, so this is the order of the names without it.
    entries.sort_unstable_by(|a, b| names[a.0..a.0 + a.1].cmp(&names[b.0..b.0 + b.1]));
    Some(Level {
        dir: Some(Arc::new(DirFd(fd))),
        id,
        path,
        names,
        entries,
        next: 0,
    })
}

/// Leaves the deepest level; reopens its parent through `..` if the parent's descriptor was closed,
/// and checks it is the same directory.
fn up(stack: &mut Vec<Level>, policy: Policy, visit: &mut impl FnMut(Event<'_>) -> Flow) {
    let Some(done) = stack.pop() else {
        return;
    };
    let Some(parent) = stack.last_mut() else {
        return;
    };
    if parent.dir.is_some() {
        return;
    }
    let Some(child) = done.dir else {
        return;
    };
    match reopen(&child, parent, policy) {
        Ok(dir) => parent.dir = Some(Arc::new(dir)),
        Err(e) => {
            visit(Event::Error(Error::io(Op::Open, &parent.path, e)));
            // What is left of it, and of the ancestors without a descriptor, is left out: the tree
            // moved, and the walk does not go on where it would now lead.
            while stack.last().is_some_and(|l| l.dir.is_none()) {
                stack.pop();
            }
        }
    }
}

fn reopen(child: &DirFd, parent: &Level, policy: Policy) -> io::Result<DirFd> {
    let same =
        |fd: &OwnedFd| rustix::fs::fstat(fd).is_ok_and(|st| (st.st_dev, st.st_ino) == parent.id);
    let fd = rustix::fs::openat(child.fd(), c"..", DIR_FLAGS, Mode::empty())?;
    if same(&fd) {
        return Ok(DirFd(fd));
    }
    // Through a followed link, `..` is the link target's parent: with -L the path is what was asked.
    if policy.follow_links {
        let fd = rustix::fs::open(&parent.path, DIR_FLAGS, Mode::empty())?;
        if same(&fd) {
            return Ok(DirFd(fd));
        }
    }
    Err(io::Error::other("directory moved during the walk"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(root: &Path, policy: Policy) -> Vec<String> {
        let mut out = Vec::new();
        walk_tree(root, policy, |event| {
            let line = match event {
                Event::Enter { path, depth, .. } => format!("enter {} {depth}", rel(root, path)),
                Event::Entry(n) => format!("{} {:?}", rel(root, n.path), n.kind),
                Event::Loop(p) => format!("loop {}", rel(root, p)),
                Event::Error(e) => format!("error {}", e.reason_text()),
            };
            out.push(line);
            Flow::Continue
        });
        out
    }

    fn rel(root: &Path, path: &Path) -> String {
        path.strip_prefix(root).unwrap().display().to_string()
    }

    #[test]
    fn depth_first_in_name_order_with_links_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        std::fs::create_dir_all(r.join("b/c")).unwrap();
        std::fs::create_dir(r.join("b.d")).unwrap();
        std::fs::write(r.join("a"), b"").unwrap();
        std::fs::write(r.join("b/c/x"), b"").unwrap();
        std::os::unix::fs::symlink(r, r.join("b/up")).unwrap();
        let plain = names(r, Policy::default());
        assert_eq!(
            plain,
            [
                "enter  0",
                "a RegularFile",
                "b Directory",
                "enter b 1",
                "b/c Directory",
                "enter b/c 2",
                "b/c/x RegularFile",
                "b/up Symlink",
                "b.d Directory",
                "enter b.d 1",
            ]
        );
        let followed = names(
            r,
            Policy {
                follow_links: true,
                ..Policy::default()
            },
        );
        assert!(
            followed.contains(&"b/up Directory".to_string()),
            "{followed:?}"
        );
        assert!(followed.contains(&"loop b/up".to_string()), "{followed:?}");
    }

    #[test]
    fn a_tree_deeper_than_the_held_descriptors_is_walked_whole() {
        let dir = tempfile::tempdir().unwrap();
        let mut deep = dir.path().to_path_buf();
        for _ in 0..HELD_DIRS * 3 {
            deep.push("d");
            std::fs::create_dir(&deep).unwrap();
            std::fs::write(deep.join("f"), b"").unwrap();
        }
        // Descriptors open on this test's tree (other tests run alongside and open their own).
        let fds = || {
            std::fs::read_dir("/proc/self/fd")
                .unwrap()
                .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
                .filter(|target| target.starts_with(dir.path()))
                .count()
        };
        let mut most = 0;
        let mut files = 0;
        walk_tree(dir.path(), Policy::default(), |event| {
            match event {
                Event::Entry(n) if n.kind == FileType::RegularFile => files += 1,
                Event::Error(e) => panic!("{e}"),
                _ => {}
            }
            most = most.max(fds());
            Flow::Continue
        });
        assert_eq!(files, HELD_DIRS * 3);
        // The held directories (and, at most, the one being opened): not one per level.
        let held = descriptor_share(8, 2, HELD_DIRS);
        assert!(most <= held + 1, "{most} descriptors open on the tree");
        assert!(most >= held, "{most}: the test sees the held descriptors");
    }

    #[test]
    fn a_tree_moved_above_the_held_descriptors_is_not_walked_elsewhere() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        let mut deep = root.clone();
        for _ in 0..HELD_DIRS * 2 {
            deep.push("d");
        }
        std::fs::create_dir_all(&deep).unwrap();
        std::fs::write(root.join("marker"), b"").unwrap();
        let third = root.join("d/d/d");
        let mut seen = Vec::new();
        walk_tree(&root, Policy::default(), |event| {
            match event {
                // At the bottom, the subtree from the third level down moves to another parent: going
                // back up through `..` would now reach the root, not the second level.
                Event::Enter { depth, .. } if depth == HELD_DIRS * 2 => {
                    std::fs::rename(&third, root.join("moved")).unwrap();
                }
                Event::Entry(n) => seen.push(n.path.display().to_string()),
                Event::Error(e) => seen.push(format!("error {e}")),
                _ => {}
            }
            Flow::Continue
        });
        assert_eq!(
            seen.last().unwrap(),
            &format!(
                "error {}: directory moved during the walk",
                root.join("d/d").display()
            )
        );
        // The root's entries are not listed again as if they were the second level's.
        assert!(
            !seen
                .iter()
                .any(|p| p.ends_with("/d/d/marker") || p.ends_with("/d/moved")),
            "{seen:?}"
        );
    }

    #[test]
    fn a_directory_swapped_for_a_link_is_not_entered() {
        let dir = tempfile::tempdir().unwrap();
        let (root, outside) = (dir.path().join("root"), dir.path().join("outside"));
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::create_dir(&outside).unwrap();
        std::fs::write(outside.join("secret"), b"").unwrap();
        let mut seen = Vec::new();
        walk_tree(&root, Policy::default(), |event| {
            if let Event::Entry(n) = &event {
                if n.kind == FileType::Directory {
                    // Swapped between the listing and the open.
                    std::fs::remove_dir(n.path).unwrap();
                    std::os::unix::fs::symlink(&outside, n.path).unwrap();
                }
                seen.push(n.path.to_path_buf());
            }
            if let Event::Error(e) = &event {
                seen.push(PathBuf::from(e.to_string()));
            }
            Flow::Continue
        });
        assert_eq!(
            seen,
            [
                root.join("sub"),
                PathBuf::from(format!("{}: Not a directory", root.join("sub").display()))
            ]
        );
    }
}
