//! The destination side of a copy: a temporary file next to the target, renamed over it only after a
//! complete copy (or, in place, the target itself), removed on any failure; plus preserving times,
//! ownership and mode, and recognising two names of one file.

use std::collections::hash_map::RandomState;
use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use std::os::fd::AsFd;

use rustix::fs::{Gid, Mode, Stat, Timespec, Timestamps, Uid};

use super::Preserve;
use super::xattr::{Node, copy_acls, copy_xattrs};
use crate::error::{Error, Op, Result};

/// A destination being written. Dropping it without [`Staged::commit`] removes what it created: the
/// temporary file, or (in place) a target that did not exist before.
#[derive(Debug)]
pub struct Staged {
    /// The target as the user named it: every error names this.
    name: PathBuf,
    /// The path that is replaced: the target, or where a symlink at the target points.
    target: PathBuf,
    /// The temporary file, unless writing in place.
    temp: Option<PathBuf>,
    /// In place: whether the target was created by us (and so is removed on failure).
    created: bool,
    /// Where an existing target is moved just before the copy replaces it.
    backup: Option<PathBuf>,
    file: File,
    committed: bool,
}

/// Longest file name we give a temporary file, below NAME_MAX (255).
const MAX_TEMP_NAME: usize = 240;

impl Staged {
    /// Prepares to write `dst`. Through a temporary file `.NAME.mmcp-XXXXXX` created (O_EXCL) in the
    /// target's directory with permission bits `mode & 0o777` (less the umask), or, `in_place`, by
    /// opening the target itself with O_TRUNC. A symlink at `dst` is written through, as cp does; a
    /// dangling one is refused.
    pub fn create(dst: &Path, mode: u32, in_place: bool) -> Result<Staged> {
        let err = |e: io::Error| Error::io(Op::Create, dst, e);
        let target = match std::fs::symlink_metadata(dst) {
            Ok(meta) if meta.file_type().is_symlink() => match std::fs::canonicalize(dst) {
                Ok(real) => real,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    return Err(err(io::Error::other(
                        "not writing through dangling symlink",
                    )));
                }
                Err(e) => return Err(err(e)),
            },
            _ => dst.to_path_buf(),
        };
        Self::create_at(dst, target, mode, in_place, None)
    }

    /// Prepares to replace `dst` through a temporary file, as [`Staged::create`], but an existing `dst`
    /// (even a symlink, which is not followed) is renamed to `backup` just before the copy takes its
    /// place in [`Staged::commit`].
    pub fn create_backing_up(dst: &Path, mode: u32, backup: &Path) -> Result<Staged> {
        Self::create_at(
            dst,
            dst.to_path_buf(),
            mode,
            false,
            Some(backup.to_path_buf()),
        )
    }

    fn create_at(
        dst: &Path,
        target: PathBuf,
        mode: u32,
        in_place: bool,
        backup: Option<PathBuf>,
    ) -> Result<Staged> {
        let err = |e: io::Error| Error::io(Op::Create, dst, e);
        let perm = mode & 0o777;
        if in_place {
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
            return Ok(Staged {
                name: dst.to_path_buf(),
                target,
                temp: None,
                created: !existed,
                backup,
                file,
                committed: false,
            });
        }
        // cp writes into an existing file, which keeps its mode and owner; the new file that replaces
        // it takes them over. With a backup, cp makes a new file too, and so do we.
        let existing = match backup {
            None => std::fs::metadata(&target).ok().filter(|m| m.is_file()),
            Some(_) => None,
        };
        let mut last = io::Error::from(io::ErrorKind::AlreadyExists);
        let names = temp_names(&target);
        for temp in names {
            match OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .mode(perm)
                .custom_flags(libc::O_CLOEXEC)
                .open(&temp)
            {
                Ok(file) => {
                    let staged = Staged {
                        name: dst.to_path_buf(),
                        target,
                        temp: Some(temp),
                        created: false,
                        backup,
                        file,
                        committed: false,
                    };
                    if let Some(meta) = existing {
                        staged.take_over(&meta)?;
                    }
                    return Ok(staged);
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = e,
                Err(e) => return Err(err(e)),
            }
        }
        Err(err(last))
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

    /// The temporary file, when there is one.
    pub fn temp(&self) -> Option<&Path> {
        self.temp.as_deref()
    }

    /// Puts the copy in place: with `sync`, fsync the file first; rename the temporary file over the
    /// target; with `sync`, fsync the directory so that the rename is durable too.
    pub fn commit(mut self, sync: bool) -> Result<()> {
        let sync_err = |e: io::Error| Error::io(Op::Sync, &self.name, e);
        if sync {
            self.file.sync_all().map_err(sync_err)?;
        }
        if let Some(temp) = &self.temp {
            rename_backing_up(temp, &self.target, self.backup.as_deref())
                .map_err(|e| Error::io(Op::Create, &self.name, e))?;
        }
        self.committed = true;
        if sync {
            let dir = match self.target.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => Path::new("."),
            };
            File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(sync_err)?;
        }
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        if let Some(temp) = &self.temp {
            let _ = std::fs::remove_file(temp);
        } else if self.created {
            let _ = std::fs::remove_file(&self.target);
        }
    }
}

/// A hundred candidate names for a temporary file beside `target`: `.NAME.mmcp-XXXXXX`, random.
fn temp_names(target: &Path) -> impl Iterator<Item = PathBuf> + use<> {
    let dir = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let base = target
        .file_name()
        .map(|n| n.as_bytes().to_vec())
        .unwrap_or_else(|| b"copy".to_vec());
    let base = base[..base.len().min(MAX_TEMP_NAME - 14)].to_vec();
    let random = RandomState::new();
    (0..100u64).map(move |attempt| {
        let mut hasher = random.build_hasher();
        hasher.write_u64(attempt);
        hasher.write_u32(std::process::id());
        let mut name = b".".to_vec();
        name.extend_from_slice(&base);
        name.extend_from_slice(b".mmcp-");
        name.extend_from_slice(&suffix(hasher.finish()));
        dir.join(OsString::from_vec(name))
    })
}

/// Renames `temp` over `target`; with `backup`, an existing `target` is first renamed to `backup`
/// (and put back if the second rename fails).
fn rename_backing_up(temp: &Path, target: &Path, backup: Option<&Path>) -> io::Result<()> {
    let moved = match backup {
        Some(backup) => match std::fs::rename(target, backup) {
            Ok(()) => Some(backup),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        },
        None => None,
    };
    std::fs::rename(temp, target).inspect_err(|_| {
        if let Some(backup) = moved {
            let _ = std::fs::rename(backup, target);
        }
    })
}

/// Creates a non-regular file (a symlink, a FIFO, a hard link) at `dst` atomically: `make` creates it
/// under a temporary name, which is then renamed over `dst`; an existing `dst` (not a directory) is
/// replaced, after being renamed to `backup` if one is given.
pub fn create_replacing(
    dst: &Path,
    backup: Option<&Path>,
    make: impl Fn(&Path) -> io::Result<()>,
) -> Result<()> {
    let err = |e: io::Error| Error::io(Op::Create, dst, e);
    let mut last = io::Error::from(io::ErrorKind::AlreadyExists);
    for temp in temp_names(dst) {
        match make(&temp) {
            Ok(()) => {
                return rename_backing_up(&temp, dst, backup).map_err(|e| {
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

/// Six characters of [a-z0-9] from a random number.
fn suffix(mut n: u64) -> [u8; 6] {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = [b'0'; 6];
    for c in &mut out {
        *c = DIGITS[(n % 36) as usize];
        n /= 36;
    }
    out
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
        let staged = Staged::create(&dst, 0o640, false).unwrap();
        staged.file().write_all(b"new").unwrap();
        assert_eq!(leftovers(dir.path()).len(), 1);
        assert_eq!(std::fs::read(&dst).unwrap(), b"old");
        drop(staged);
        assert_eq!(std::fs::read(&dst).unwrap(), b"old", "untouched");
        assert!(leftovers(dir.path()).is_empty(), "temp removed on drop");

        let staged = Staged::create(&dst, 0o640, false).unwrap();
        staged.file().write_all(b"new").unwrap();
        staged.commit(true).unwrap();
        assert_eq!(std::fs::read(&dst).unwrap(), b"new");
        assert!(leftovers(dir.path()).is_empty());
    }

    #[test]
    fn in_place_removes_only_what_it_created() {
        let dir = tempfile::tempdir().unwrap();
        let dst = dir.path().join("new");
        drop(Staged::create(&dst, 0o644, true).unwrap());
        assert!(!dst.exists(), "a target we created is removed on failure");
        std::fs::write(&dst, b"old").unwrap();
        drop(Staged::create(&dst, 0o644, true).unwrap());
        assert!(dst.exists(), "an existing target stays (truncated)");
    }

    #[test]
    fn writes_through_a_symlink_and_refuses_a_dangling_one() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        std::fs::write(&real, b"old").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let staged = Staged::create(&link, 0o644, false).unwrap();
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
        let e = Staged::create(&dangling, 0o644, false).unwrap_err();
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
        let staged = Staged::create(&dst, 0o600, false).unwrap();
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
