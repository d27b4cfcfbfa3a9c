//! The destination side of a copy: an anonymous file (O_TMPFILE) in the target's directory, linked in
//! only after a complete copy ([`super::place`]), or a named temporary file where the filesystem has
//! no anonymous files, or (in place) the target itself; removed on any failure. Plus preserving times,
//! ownership and mode, and recognising two names of one file.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use std::os::fd::AsFd;

use rustix::fs::{Gid, Mode, Stat, Timespec, Timestamps, Uid};

use super::Preserve;
use super::place::{self, entries_fixed, parent_dir, temp_names};
use super::xattr::{Node, copy_acls, copy_xattrs};
use crate::error::{Error, Op, Reason, Result};

/// A destination being written. Dropping it without [`Staged::commit`] removes what it created: the
/// temporary file, or (in place) a target that did not exist before. An anonymous file needs no
/// removal: it vanishes with its descriptor, even when the process is killed.
#[derive(Debug)]
pub struct Staged {
    /// The target as the user named it: every error names this.
    name: PathBuf,
    /// The path that is replaced: the target, or where a symlink at the target points.
    target: PathBuf,
    /// Where the copy is written.
    how: How,
    /// In place: whether the target was created by us (and so is removed on failure).
    created: bool,
    /// Where an existing target is moved just before the copy replaces it.
    backup: Option<PathBuf>,
    file: File,
    committed: bool,
}

/// How a destination is written, as the caller asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Staging {
    /// An anonymous file (O_TMPFILE) linked in when complete; a named temporary file where the
    /// filesystem has no anonymous files.
    #[default]
    Anonymous,
    /// A named temporary file, even where anonymous files work (to exercise that path).
    Named,
    /// The target itself, truncated and rewritten.
    InPlace,
}

/// Where a copy is written before it is in place.
#[derive(Debug)]
enum How {
    /// An anonymous file (O_TMPFILE) in the target's directory.
    Anonymous,
    /// A named temporary file `.NAME.mmcp-XXXXXX` beside the target.
    Temp(PathBuf),
    /// The target itself.
    InPlace,
}

impl Staged {
    /// Prepares to write `dst`: through an anonymous file (O_TMPFILE) in the target's directory, or
    /// where the filesystem has none a temporary file `.NAME.mmcp-XXXXXX` created (O_EXCL) there, with
    /// permission bits `mode & 0o777` (less the umask); or, [`Staging::InPlace`], by opening the target
    /// itself with O_TRUNC. An existing target in an append-only or immutable directory, where no
    /// rename can replace it, is written in place too, as cp writes it. A symlink at `dst` is written
    /// through, as cp does; a dangling one is refused.
    pub fn create(dst: &Path, mode: u32, staging: Staging) -> Result<Staged> {
        let err = |e: io::Error| Error::io(Op::Create, dst, e);
        let target = match std::fs::symlink_metadata(dst) {
            Ok(meta) if meta.file_type().is_symlink() => match std::fs::canonicalize(dst) {
                Ok(real) => real,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    return Err(Error::new(Op::Create, dst, Reason::DanglingSymlink));
                }
                Err(e) => return Err(err(e)),
            },
            _ => dst.to_path_buf(),
        };
        let staging = if std::fs::metadata(&target).is_ok_and(|m| m.is_file())
            && entries_fixed(&parent_dir(&target))
        {
            Staging::InPlace
        } else {
            staging
        };
        Self::create_at(dst, target, mode, staging, None)
    }

    /// Prepares to replace `dst` as [`Staged::create`] does, but an existing `dst` (even a symlink,
    /// which is not followed) gets the name `backup` too, just before the copy takes its place in
    /// [`Staged::commit`].
    pub fn create_backing_up(
        dst: &Path,
        mode: u32,
        backup: &Path,
        staging: Staging,
    ) -> Result<Staged> {
        place::check_replaceable(dst).map_err(|e| Error::io(Op::Create, dst, e))?;
        let staging = match staging {
            Staging::InPlace => Staging::Anonymous,
            other => other,
        };
        Self::create_at(
            dst,
            dst.to_path_buf(),
            mode,
            staging,
            Some(backup.to_path_buf()),
        )
    }

    fn create_at(
        dst: &Path,
        target: PathBuf,
        mode: u32,
        staging: Staging,
        backup: Option<PathBuf>,
    ) -> Result<Staged> {
        let err = |e: io::Error| Error::io(Op::Create, dst, e);
        let perm = mode & 0o777;
        let staged = |file: File, how: How, created: bool, backup: Option<PathBuf>| Staged {
            name: dst.to_path_buf(),
            target: target.clone(),
            how,
            created,
            backup,
            file,
            committed: false,
        };
        if staging == Staging::InPlace {
            let existed = std::fs::symlink_metadata(&target).is_ok();
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .mode(perm)
                .custom_flags(libc::O_CLOEXEC)
                .open(&target)
                .map_err(err)?;
            return Ok(staged(file, How::InPlace, !existed, backup));
        }
        // cp writes into an existing file, which keeps its mode and owner; the new file that replaces
        // it takes them over. With a backup, cp makes a new file too, and so do we.
        let existing = match backup {
            None => std::fs::metadata(&target).ok().filter(|m| m.is_file()),
            Some(_) => None,
        };
        let anonymous = match staging {
            Staging::Anonymous => place::open_anonymous(&parent_dir(&target), perm).map_err(err)?,
            _ => None,
        };
        let made = match anonymous {
            Some(file) => staged(file, How::Anonymous, false, backup),
            None => {
                let (file, temp) = create_temp(&target, perm).map_err(err)?;
                staged(file, How::Temp(temp), false, backup)
            }
        };
        if let Some(meta) = existing {
            made.take_over(&meta)?;
        }
        Ok(made)
    }

    /// Gives the new file the owner and group (where permitted) and then the mode bits, exactly (not
    /// less the umask), of the file it replaces. Set-ID bits are kept only by a caller with the
    /// privilege that keeps them across a write (root), as when cp writes into the old file.
    fn take_over(&self, old: &std::fs::Metadata) -> Result<()> {
        use std::os::unix::fs::MetadataExt;
        if let Ok(now) = rustix::fs::fstat(&self.file)
            && (now.st_uid != old.uid() || now.st_gid != old.gid())
        {
            // Not permitted (another user's file in a directory we may write): the copy stays ours,
            // as it would be had DST not existed.
            let _ = rustix::fs::fchown(
                &self.file,
                Some(Uid::from_raw(old.uid())),
                Some(Gid::from_raw(old.gid())),
            );
        }
        // After the owner: a change of owner clears the set-ID bits.
        let keep = if rustix::process::geteuid().is_root() {
            0o7777
        } else {
            0o1777
        };
        rustix::fs::fchmod(&self.file, Mode::from_raw_mode(old.mode() & keep))
            .map_err(|e| Error::io(Op::Attributes, &self.name, e.into()))
    }

    /// The open destination, read-write.
    pub fn file(&self) -> &File {
        &self.file
    }

    /// The target as the user named it.
    pub fn name(&self) -> &Path {
        &self.name
    }

    /// The named temporary file, when there is one (no anonymous file on this filesystem).
    pub fn temp(&self) -> Option<&Path> {
        match &self.how {
            How::Temp(temp) => Some(temp),
            _ => None,
        }
    }

    /// Whether the copy is an anonymous file, which no kill can leave behind.
    pub fn is_anonymous(&self) -> bool {
        matches!(self.how, How::Anonymous)
    }

    /// Puts the copy in place: with `sync`, fsync the file first; give it the target's name (an
    /// anonymous file is linked in directly where the target does not exist, otherwise under a
    /// temporary name renamed over the target at once; a named temporary file is renamed), making the
    /// backup first; with `sync`, fsync the directory so that the new name is durable too.
    pub fn commit(mut self, sync: bool) -> Result<()> {
        let sync_err = |e: io::Error| Error::io(Op::Sync, &self.name, e);
        if sync {
            self.file.sync_all().map_err(sync_err)?;
        }
        let create_err = |e: io::Error| Error::io(Op::Create, &self.name, e);
        match &self.how {
            How::InPlace => {}
            How::Temp(temp) => {
                place::replace(temp, &self.target, self.backup.as_deref()).map_err(create_err)?
            }
            How::Anonymous => self.link_in().map_err(create_err)?,
        }
        self.committed = true;
        if sync {
            File::open(parent_dir(&self.target))
                .and_then(|d| d.sync_all())
                .map_err(sync_err)?;
        }
        Ok(())
    }

    /// Names the anonymous copy: directly at the target where there is none (nothing to replace, so no
    /// temporary name ever exists), else under a temporary name renamed over the target.
    fn link_in(&self) -> io::Result<()> {
        if rustix::fs::lstat(&self.target).is_err() {
            match place::link_anonymous(&self.file, &self.target) {
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                done => return done,
            }
        }
        place::replace_anonymous(&self.file, &self.target, self.backup.as_deref())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        match &self.how {
            How::Temp(temp) => {
                let _ = std::fs::remove_file(temp);
            }
            How::InPlace if self.created => {
                let _ = std::fs::remove_file(&self.target);
            }
            _ => {}
        }
    }
}

/// Creates a new temporary file beside `target` (O_EXCL, a fresh random name).
fn create_temp(target: &Path, perm: u32) -> io::Result<(File, PathBuf)> {
    let mut last = io::Error::from(io::ErrorKind::AlreadyExists);
    for temp in temp_names(target) {
        match OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(perm)
            .custom_flags(libc::O_CLOEXEC)
            .open(&temp)
        {
            Ok(file) => return Ok((file, temp)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = e,
            Err(e) => return Err(e),
        }
    }
    Err(last)
}

/// Creates a non-regular file (a symlink, a FIFO, a hard link) at `dst` atomically: `make` creates it
/// directly at a free `dst` without a backup, otherwise under a temporary name, which is then renamed
/// over `dst`; an existing `dst` (not a directory) is replaced, after being given the name `backup`
/// too if one is given.
pub fn create_replacing(
    dst: &Path,
    backup: Option<&Path>,
    make: impl Fn(&Path) -> io::Result<()>,
) -> Result<()> {
    let err = |e: io::Error| Error::io(Op::Create, dst, e);
    if rustix::fs::lstat(dst).is_err() {
        match make(dst) {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            done => return done.map_err(err),
        }
    }
    place::check_replaceable(dst).map_err(err)?;
    let mut last = io::Error::from(io::ErrorKind::AlreadyExists);
    for temp in temp_names(dst) {
        match make(&temp) {
            Ok(()) => {
                return place::replace(&temp, dst, backup).map_err(|e| {
                    let _ = std::fs::remove_file(&temp);
                    err(e)
                });
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = e,
            Err(e) => return Err(err(e)),
        }
    }
    Err(err(last))
}

/// Gives `file` what `what` asks of the source's attributes (`stat`, and the open source `from` for
/// extended attributes): its ownership (where permitted: EPERM is not an error, as cp -p), extended
/// attributes, POSIX ACLs and exact mode bits (after the owner, since chown clears set-user-ID) and
/// access and modification times, to the nanosecond.
pub fn preserve(
    file: &File,
    stat: &Stat,
    name: &Path,
    what: &Preserve,
    from: impl AsFd,
) -> Result<()> {
    let err = |e: rustix::io::Errno| Error::io(Op::Attributes, name, io::Error::from(e));
    let mut mode = stat.st_mode & 0o7777;
    if what.ownership {
        let owner = Some(Uid::from_raw(stat.st_uid));
        let group = Some(Gid::from_raw(stat.st_gid));
        match rustix::fs::fchown(file, owner, group) {
            Ok(()) => {}
            Err(rustix::io::Errno::PERM) => {
                // Keep the group if we may; never give away set-ID bits to another owner.
                let _ = rustix::fs::fchown(file, None, group);
                mode &= 0o1777;
            }
            Err(e) => return Err(err(e)),
        }
    }
    if what.xattr || what.xattr_quiet {
        let copied = copy_xattrs(Node::Fd(from.as_fd()), Node::Fd(file.as_fd()));
        if let Err(e) = copied
            && what.xattr
        {
            return Err(Error::io(Op::Attributes, name, e));
        }
    }
    if what.mode {
        copy_acls(Node::Fd(from.as_fd()), Node::Fd(file.as_fd()), false)
            .map_err(|e| Error::io(Op::Attributes, name, e))?;
        rustix::fs::fchmod(file, Mode::from_raw_mode(mode)).map_err(err)?;
    }
    if what.timestamps {
        rustix::fs::futimens(file, &times(stat)).map_err(err)?;
    }
    Ok(())
}

/// The access and modification times of `stat`, for futimens or utimensat.
pub fn times(stat: &Stat) -> Timestamps {
    Timestamps {
        last_access: Timespec {
            tv_sec: stat.st_atime,
            tv_nsec: stat.st_atime_nsec as _,
        },
        last_modification: Timespec {
            tv_sec: stat.st_mtime,
            tv_nsec: stat.st_mtime_nsec as _,
        },
    }
}

/// Whether `a` and `b` name the same file (device and inode), following symlinks. A name that cannot
/// be looked up is not the same as anything.
pub fn same_file(a: &Path, b: &Path) -> bool {
    match (rustix::fs::stat(a), rustix::fs::stat(b)) {
        (Ok(x), Ok(y)) => x.st_dev == y.st_dev && x.st_ino == y.st_ino,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::fs::MetadataExt;

    fn leftovers(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".mmcp-"))
            .collect()
    }

    #[test]
    fn temp_is_renamed_over_the_target_only_on_commit() {
        let dir = tempfile::tempdir().unwrap();
        let dst = dir.path().join("dst");
        std::fs::write(&dst, b"old").unwrap();
        let staged = Staged::create(&dst, 0o640, Staging::Anonymous).unwrap();
        staged.file().write_all(b"new").unwrap();
        // An anonymous file has no name; a named temporary file (no O_TMPFILE) has one.
        let named = usize::from(!staged.is_anonymous());
        assert_eq!(leftovers(dir.path()).len(), named);
        assert_eq!(staged.temp().is_some(), named == 1);
        assert_eq!(std::fs::read(&dst).unwrap(), b"old");
        drop(staged);
        assert_eq!(std::fs::read(&dst).unwrap(), b"old", "untouched");
        assert!(leftovers(dir.path()).is_empty(), "temp removed on drop");

        let staged = Staged::create(&dst, 0o640, Staging::Anonymous).unwrap();
        staged.file().write_all(b"new").unwrap();
        staged.commit(true).unwrap();
        assert_eq!(std::fs::read(&dst).unwrap(), b"new");
        assert!(leftovers(dir.path()).is_empty());
    }

    #[test]
    fn in_place_removes_only_what_it_created() {
        let dir = tempfile::tempdir().unwrap();
        let dst = dir.path().join("new");
        drop(Staged::create(&dst, 0o644, Staging::InPlace).unwrap());
        assert!(!dst.exists(), "a target we created is removed on failure");
        std::fs::write(&dst, b"old").unwrap();
        drop(Staged::create(&dst, 0o644, Staging::InPlace).unwrap());
        assert!(dst.exists(), "an existing target stays (truncated)");
    }

    #[test]
    fn writes_through_a_symlink_and_refuses_a_dangling_one() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        std::fs::write(&real, b"old").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let staged = Staged::create(&link, 0o644, Staging::Anonymous).unwrap();
        staged.file().write_all(b"new").unwrap();
        staged.commit(false).unwrap();
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read(&real).unwrap(), b"new");
        let dangling = dir.path().join("dangling");
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling).unwrap();
        let e = Staged::create(&dangling, 0o644, Staging::Anonymous).unwrap_err();
        assert!(e.to_string().contains("dangling"), "{e}");
    }

    #[test]
    fn preserves_times_and_mode() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        std::fs::write(&src, b"x").unwrap();
        let when = Timestamps {
            last_access: Timespec {
                tv_sec: 1_000_000_000,
                tv_nsec: 123_456_789,
            },
            last_modification: Timespec {
                tv_sec: 1_100_000_000,
                tv_nsec: 987_654_321,
            },
        };
        rustix::fs::utimensat(rustix::fs::CWD, &src, &when, rustix::fs::AtFlags::empty()).unwrap();
        std::fs::set_permissions(&src, std::os::unix::fs::PermissionsExt::from_mode(0o751))
            .unwrap();
        let stat = rustix::fs::stat(&src).unwrap();
        let dst = dir.path().join("dst");
        let staged = Staged::create(&dst, 0o600, Staging::Anonymous).unwrap();
        let from = std::fs::File::open(&src).unwrap();
        preserve(staged.file(), &stat, &dst, &Preserve::BASIC, &from).unwrap();
        staged.commit(false).unwrap();
        let meta = std::fs::metadata(&dst).unwrap();
        assert_eq!(meta.mode() & 0o7777, 0o751);
        assert_eq!(
            (meta.mtime(), meta.mtime_nsec()),
            (1_100_000_000, 987_654_321)
        );
        assert_eq!(
            (meta.atime(), meta.atime_nsec()),
            (1_000_000_000, 123_456_789)
        );
    }

    #[test]
    fn same_file_through_links() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        std::fs::write(&a, b"x").unwrap();
        let hard = dir.path().join("hard");
        std::fs::hard_link(&a, &hard).unwrap();
        let soft = dir.path().join("soft");
        std::os::unix::fs::symlink(&a, &soft).unwrap();
        let other = dir.path().join("other");
        std::fs::write(&other, b"x").unwrap();
        assert!(same_file(&a, &a));
        assert!(same_file(&a, &hard));
        assert!(same_file(&soft, &a));
        assert!(!same_file(&a, &other));
        assert!(!same_file(&a, &dir.path().join("missing")));
    }
}
