//! Directory trees for `mmcp -r`: the entries under a source, listed by the crate's walker (by
//! directory descriptors, so a directory swapped for a link mid-walk does not lead out of the tree),
//! each paired with its destination; and creating what is not a regular file (directories, symlinks,
//! FIFOs) with their attributes.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Gid, Mode, OFlags, Stat, Uid};

use super::Preserve;
use super::stage::{create_replacing, times};
use super::xattr::{Node, copy_acls, copy_xattrs};
use crate::error::{Error, Op, Reason, Result};
use crate::walk::tree::{Event, Flow, Policy, walk_tree};

/// Which symlinks a walk follows, as cp's -P, -H and -L.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Follow {
    /// None: every symlink is an entry of its own, even the top (`-P`).
    #[default]
    Never,
    /// Only the top, the path given (`-H`).
    Top,
    /// All of them (`-L`).
    Always,
}

/// What an entry of a tree is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A directory: created, filled, then given its mode (and times with `-p`).
    Dir,
    /// A regular file: copied.
    File,
    /// A symbolic link: copied as a link (unless links are followed).
    Symlink,
    /// A named pipe: recreated.
    Fifo,
    /// A block or character device: skipped.
    Device,
    /// A socket: recreated as a socket node (nothing listens on it).
    Socket,
}

impl Kind {
    /// The kind of a file of raw mode `mode`.
    pub fn of_mode(mode: u32) -> Kind {
        match FileType::from_raw_mode(mode) {
            FileType::Directory => Kind::Dir,
            FileType::Symlink => Kind::Symlink,
            FileType::Fifo => Kind::Fifo,
            FileType::BlockDevice | FileType::CharacterDevice => Kind::Device,
            FileType::Socket => Kind::Socket,
            _ => Kind::File,
        }
    }
}

/// One entry of a tree and where it goes.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The source path.
    pub src: PathBuf,
    /// The destination path.
    pub dst: PathBuf,
    /// What it is (the link itself, or its target when links are followed).
    pub kind: Kind,
    /// Its status (lstat, or stat when links are followed).
    pub stat: Stat,
}

/// The entries of the tree at `src`, parents before children, siblings by name, mapped under `dst`.
/// Symlinks are followed as `follow` says (and loops reported); a link not followed is an entry of
/// its own. Entries that cannot be read are errors in their place; the walk goes on.
pub fn walk(src: &Path, dst: &Path, follow: Follow) -> Vec<Result<Entry>> {
    let top_follow = follow != Follow::Never;
    let follow = follow == Follow::Always;
    let top = if top_follow {
        rustix::fs::stat(src)
    } else {
        rustix::fs::lstat(src)
    };
    let top = match top {
        Ok(stat) => stat,
        Err(e) => return vec![Err(Error::io(Op::Open, src, e.into()))],
    };
    if Kind::of_mode(top.st_mode) != Kind::Dir {
        return vec![Ok(Entry {
            src: src.to_path_buf(),
            dst: dst.to_path_buf(),
            kind: Kind::of_mode(top.st_mode),
            stat: top,
        })];
    }
    let mut entries = vec![Ok(Entry {
        src: src.to_path_buf(),
        dst: dst.to_path_buf(),
        kind: Kind::Dir,
        stat: top,
    })];
    let policy = Policy {
        follow_links: follow,
        one_file_system: false,
    };
    walk_tree(src, policy, |event| {
        match event {
            Event::Enter { .. } => {}
            Event::Entry(node) => {
                let relative = node.path.strip_prefix(src).unwrap_or(node.path);
                entries.push(
                    node.stat()
                        .map(|stat| Entry {
                            src: node.path.to_path_buf(),
                            dst: dst.join(relative),
                            kind: Kind::of_mode(stat.st_mode),
                            stat,
                        })
                        .map_err(|e| Error::io(Op::Open, node.path, e)),
                );
            }
            Event::Loop(path) => entries.push(Err(Error::io(
                Op::Open,
                path,
                io::Error::from_raw_os_error(libc::ELOOP),
            ))),
            Event::Error(e) => entries.push(Err(e)),
        }
        Flow::Continue
    });
    entries
}

/// Creates the directory `dst` for a source directory of mode `mode`, writable by us while it is
/// filled (the final mode is set by [`finish_dir`]). An existing directory is used as it is.
pub fn make_dir(dst: &Path, mode: u32) -> Result<()> {
    match std::fs::DirBuilder::new()
        .mode((mode & 0o777) | 0o700)
        .create(dst)
    {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dst.is_dir() => Ok(()),
        Err(e) => Err(Error::io(Op::Create, dst, e)),
    }
}

/// Gives the filled directory `dst` (a copy of `src`) its final attributes, once its contents are in
/// place: what `preserve` asks, and without `mode` the source's permission bits (or the default 0777,
/// under `default_mode`) less the umask, as mkdir would.
pub fn finish_dir(
    src: &Path,
    dst: &Path,
    stat: &Stat,
    preserve: &Preserve,
    umask: u32,
) -> Result<()> {
    let err = |e: io::Error| Error::io(Op::Attributes, dst, e);
    if !preserve.mode {
        // cp keeps a source directory's sticky bit (not its set-ID bits) without -p.
        let mode = if preserve.default_mode {
            0o777
        } else {
            stat.st_mode & 0o1777
        } & !umask;
        if mode & 0o1700 != 0o700 {
            std::fs::set_permissions(dst, std::fs::Permissions::from_mode(mode)).map_err(err)?;
        }
    }
    preserve_path(src, dst, stat, preserve, false)
}

/// Copies the symlink `src` as a symlink at `dst` (replacing a file there, after moving it to
/// `backup` if given), with the link's own owner, times and extended attributes as `preserve` asks.
pub fn copy_symlink(
    src: &Path,
    dst: &Path,
    stat: &Stat,
    preserve: &Preserve,
    backup: Option<&Path>,
) -> Result<()> {
    let target = read_link(src, stat)?;
    create_replacing(dst, backup, |temp| {
        std::os::unix::fs::symlink(&target, temp)
    })?;
    preserve_path(src, dst, stat, preserve, true)
}

/// The target of the symlink `src`, read through an O_PATH descriptor of the link itself, and only if
/// it is still the link of status `stat` (a walk's): a directory on its path swapped for a link out of
/// the tree leads to another file, an error.
fn read_link(src: &Path, stat: &Stat) -> Result<PathBuf> {
    let err = |e: rustix::io::Errno| Error::io(Op::Open, src, e.into());
    let flags = OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let fd = rustix::fs::open(src, flags, Mode::empty()).map_err(err)?;
    let now = rustix::fs::fstat(&fd).map_err(err)?;
    if (now.st_dev, now.st_ino) != (stat.st_dev, stat.st_ino) {
        return Err(Error::new(Op::Open, src, Reason::Replaced));
    }
    let target = rustix::fs::readlinkat(&fd, c"", Vec::new()).map_err(err)?;
    Ok(PathBuf::from(std::ffi::OsString::from_vec(
        target.into_bytes(),
    )))
}

/// Creates a FIFO (or, for a source socket, a socket node, as cp does) at `dst` with the mode of the
/// source `src` (replacing a file there, after
/// moving it to `backup` if given), with the attributes `preserve` asks.
pub fn make_fifo(
    src: &Path,
    dst: &Path,
    stat: &Stat,
    preserve: &Preserve,
    backup: Option<&Path>,
) -> Result<()> {
    let socket = Kind::of_mode(stat.st_mode) == Kind::Socket;
    // cp's defaults under --no-preserve=mode: 0666 for a FIFO, 0777 for a socket (less the umask).
    let bits = match (preserve.default_mode && !preserve.mode, socket) {
        (true, false) => 0o666,
        (true, true) => 0o777,
        (false, _) => stat.st_mode & 0o777,
    };
    let mode = Mode::from_raw_mode(bits);
    let kind = if socket {
        FileType::Socket
    } else {
        FileType::Fifo
    };
    create_replacing(dst, backup, |temp| {
        rustix::fs::mknodat(rustix::fs::CWD, temp, kind, mode, 0).map_err(io::Error::from)
    })?;
    preserve_path(src, dst, stat, preserve, false)
}

/// Makes `dst` a hard link to `existing` (an earlier copy of the same source file), replacing a file
/// at `dst` atomically, after moving it to `backup` if given. A symlink at `existing` is linked
/// itself, not followed.
pub fn hard_link(existing: &Path, dst: &Path, backup: Option<&Path>) -> Result<()> {
    create_replacing(dst, backup, |temp| {
        rustix::fs::linkat(
            rustix::fs::CWD,
            existing,
            rustix::fs::CWD,
            temp,
            AtFlags::empty(),
        )
        .map_err(io::Error::from)
    })
}

/// What `preserve` asks of `path` (a copy of `src`), from `stat`: ownership where permitted, extended
/// attributes, exact mode and POSIX ACLs (not for links) and times; with `link`, the symlink's own.
fn preserve_path(
    src: &Path,
    path: &Path,
    stat: &Stat,
    preserve: &Preserve,
    link: bool,
) -> Result<()> {
    let err = |e: rustix::io::Errno| Error::io(Op::Attributes, path, io::Error::from(e));
    let flags = if link {
        AtFlags::SYMLINK_NOFOLLOW
    } else {
        AtFlags::empty()
    };
    let mut mode = stat.st_mode & 0o7777;
    if preserve.ownership {
        let owner = Some(Uid::from_raw(stat.st_uid));
        let group = Some(Gid::from_raw(stat.st_gid));
        match rustix::fs::chownat(rustix::fs::CWD, path, owner, group, flags) {
            Ok(()) => {}
            Err(rustix::io::Errno::PERM) => {
                let _ = rustix::fs::chownat(rustix::fs::CWD, path, None, group, flags);
                mode &= 0o1777;
            }
            Err(e) => return Err(err(e)),
        }
    }
    // Extended attributes and ACLs are read through a descriptor of the source, checked to be the
    // file the walk found: a directory of its path swapped for a link out of the tree gives another
    // file, an error, not its attributes. (Where the source cannot be opened, by path as before;
    // FIFOs by path too: opening one would wake a writer waiting for a reader.)
    let is_dir = Kind::of_mode(stat.st_mode) == Kind::Dir;
    let reads = is_dir && (preserve.xattr || preserve.xattr_quiet || preserve.mode);
    let source = if reads { open_same(src, stat)? } else { None };
    let from = || match &source {
        Some(fd) => Node::Fd(fd.as_fd()),
        None if link => Node::Link(src),
        None => Node::Path(src),
    };
    if preserve.xattr || preserve.xattr_quiet {
        let to = if link {
            Node::Link(path)
        } else {
            Node::Path(path)
        };
        let from = from();
        if let Err(e) = copy_xattrs(from, to)
            && preserve.xattr
        {
            return Err(Error::io(Op::Attributes, path, e));
        }
    }
    if preserve.mode && !link {
        copy_acls(from(), Node::Path(path), is_dir)
            .map_err(|e| Error::io(Op::Attributes, path, e))?;
        rustix::fs::chmod(path, Mode::from_raw_mode(mode)).map_err(err)?;
    }
    if preserve.timestamps {
        rustix::fs::utimensat(rustix::fs::CWD, path, &times(stat), flags).map_err(err)?;
    }
    Ok(())
}

/// The directory `src` opened read-only, if it is still the directory of status `stat`;
/// `None` if it cannot be opened at all (unreadable), an error if it is another file now.
fn open_same(src: &Path, stat: &Stat) -> Result<Option<OwnedFd>> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let Ok(fd) = rustix::fs::open(src, flags, Mode::empty()) else {
        return Ok(None);
    };
    let now = rustix::fs::fstat(&fd).map_err(|e| Error::io(Op::Open, src, e.into()))?;
    if (now.st_dev, now.st_ino) != (stat.st_dev, stat.st_ino) {
        return Err(Error::new(Op::Open, src, Reason::Replaced));
    }
    Ok(Some(fd))
}

/// The process's umask, read without changing it (from /proc/self/status), or 022 if unknown.
pub fn umask() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Umask:"))
                .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
        })
        .unwrap_or(0o022)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_parents_first_with_links_as_entries() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        std::fs::create_dir_all(src.join("b/c")).unwrap();
        std::fs::write(src.join("a"), b"1").unwrap();
        std::fs::write(src.join(".hidden"), b"2").unwrap();
        std::fs::write(src.join("b/c/d"), b"3").unwrap();
        std::os::unix::fs::symlink("a", src.join("link")).unwrap();
        std::fs::write(src.join(".gitignore"), b"a\n").unwrap();
        let dst = dir.path().join("dst");
        let entries: Vec<Entry> = walk(&src, &dst, Follow::Never)
            .into_iter()
            .map(|e| e.unwrap())
            .collect();
        let names: Vec<String> = entries
            .iter()
            .map(|e| {
                e.dst
                    .strip_prefix(&dst)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        assert_eq!(
            names,
            [
                "",
                ".gitignore",
                ".hidden",
                "a",
                "b",
                "b/c",
                "b/c/d",
                "link"
            ],
            "no filters: hidden and ignored files are entries"
        );
        assert_eq!(entries[0].kind, Kind::Dir);
        assert_eq!(entries[7].kind, Kind::Symlink);
        let followed: Vec<Kind> = walk(&src, &dst, Follow::Always)
            .into_iter()
            .map(|e| e.unwrap().kind)
            .collect();
        assert_eq!(followed[7], Kind::File);
    }

    #[test]
    fn a_top_level_link_is_one_entry_unless_followed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("d")).unwrap();
        std::os::unix::fs::symlink("d", dir.path().join("l")).unwrap();
        let entries = walk(&dir.path().join("l"), &dir.path().join("x"), Follow::Never);
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].as_ref().unwrap().kind, Kind::Symlink);
        std::fs::write(dir.path().join("d/f"), b"x").unwrap();
        std::os::unix::fs::symlink("f", dir.path().join("d/g")).unwrap();
        for follow in [Follow::Top, Follow::Always] {
            let entries: Vec<(PathBuf, Kind)> =
                walk(&dir.path().join("l"), &dir.path().join("x"), follow)
                    .into_iter()
                    .map(|e| e.map(|e| (e.dst, e.kind)).unwrap())
                    .collect();
            let below = if follow == Follow::Top {
                Kind::Symlink
            } else {
                Kind::File
            };
            let x = dir.path().join("x");
            assert_eq!(
                entries,
                [
                    (x.clone(), Kind::Dir),
                    (x.join("f"), Kind::File),
                    (x.join("g"), below)
                ],
                "{follow:?}"
            );
        }
    }

    #[test]
    fn recreates_links_and_fifos() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink("target", &link).unwrap();
        let stat = rustix::fs::lstat(&link).unwrap();
        let copy = dir.path().join("copy");
        std::fs::write(&copy, b"replaced").unwrap();
        copy_symlink(&link, &copy, &stat, &Preserve::BASIC, None).unwrap();
        assert_eq!(std::fs::read_link(&copy).unwrap(), Path::new("target"));
        let fifo = dir.path().join("fifo");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            FileType::Fifo,
            Mode::from_raw_mode(0o640),
            0,
        )
        .unwrap();
        let stat = rustix::fs::lstat(&fifo).unwrap();
        let out = dir.path().join("fifo2");
        make_fifo(&fifo, &out, &stat, &Preserve::BASIC, None).unwrap();
        let made = rustix::fs::lstat(&out).unwrap();
        assert_eq!(Kind::of_mode(made.st_mode), Kind::Fifo);
        assert_eq!(made.st_mode & 0o777, 0o640);
    }
}
