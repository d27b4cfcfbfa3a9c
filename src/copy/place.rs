//! Giving a finished file its name, so that a kill at any moment leaves the old file or the new one and
//! never debris: the copy is built as an anonymous file (O_TMPFILE) in the target's directory and
//! linked in only when complete, directly at a new name, or under a temporary name renamed over the
//! old file at once. A backup is a hard link to the old file made before the rename, so the target
//! always exists. Where a filesystem has no O_TMPFILE, the caller keeps a named temporary file.

use std::ffi::OsString;
use std::fs::File;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, CWD, IFlags, Mode, OFlags, RenameFlags};
use rustix::io::Errno;

/// Longest file name we give a temporary file, below NAME_MAX (255).
const MAX_TEMP_NAME: usize = 240;

/// The directory that holds `path` (`.` for a bare name).
pub(crate) fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Opens a new anonymous file (O_TMPFILE) in `dir`, read-write, with permission bits `perm` (less the
/// umask); None where the filesystem (or kernel) has no anonymous files.
pub(crate) fn open_anonymous(dir: &Path, perm: u32) -> io::Result<Option<File>> {
    let flags = OFlags::TMPFILE | OFlags::RDWR | OFlags::CLOEXEC;
    match rustix::fs::open(dir, flags, Mode::from_raw_mode(perm)) {
        Ok(fd) => Ok(Some(File::from(fd))),
        // EOPNOTSUPP: the filesystem has none; EISDIR or EINVAL: the kernel does not know the flag.
        Err(Errno::OPNOTSUPP | Errno::ISDIR | Errno::INVAL) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Gives the anonymous `file` the name `name`, which must be free (EEXIST otherwise). AT_EMPTY_PATH
/// needs CAP_DAC_READ_SEARCH; without it, the file is linked through /proc/self/fd.
pub(crate) fn link_anonymous(file: &File, name: &Path) -> io::Result<()> {
    match rustix::fs::linkat(file, "", CWD, name, AtFlags::EMPTY_PATH) {
        Err(Errno::NOENT | Errno::PERM) => link_through_proc(file, name),
        other => other.map_err(Into::into),
    }
}

/// Links the anonymous `file` at `name` through its /proc/self/fd entry, which any process may do.
fn link_through_proc(file: &File, name: &Path) -> io::Result<()> {
    let proc = format!("/proc/self/fd/{}", file.as_raw_fd());
    rustix::fs::linkat(CWD, proc.as_str(), CWD, name, AtFlags::SYMLINK_FOLLOW).map_err(Into::into)
}

/// Links the anonymous `file` under a fresh temporary name beside `target`, and returns that name.
pub(crate) fn link_temp(file: &File, target: &Path) -> io::Result<PathBuf> {
    let mut last = io::Error::from(io::ErrorKind::AlreadyExists);
    for temp in temp_names(target) {
        match link_anonymous(file, &temp) {
            Ok(()) => return Ok(temp),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = e,
            Err(e) => return Err(e),
        }
    }
    Err(last)
}

/// Whether the directory `dir` is append-only or immutable (chattr +a, +i): entries may then be added
/// (not to an immutable one) but never renamed or removed, so a file there cannot be replaced by a
/// rename. False when the filesystem keeps no such flags.
pub(crate) fn entries_fixed(dir: &Path) -> bool {
    let Ok(fd) = rustix::fs::open(
        dir,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NONBLOCK,
        Mode::empty(),
    ) else {
        return false;
    };
    rustix::fs::ioctl_getflags(&fd).is_ok_and(|f| f.intersects(IFlags::APPEND | IFlags::IMMUTABLE))
}

/// Fails with EPERM, before anything is created, where `target` exists in a directory whose entries
/// cannot be renamed or removed ([`entries_fixed`]): a replacement there would leave its temporary
/// name behind, and the kernel would refuse the rename anyway.
pub(crate) fn check_replaceable(target: &Path) -> io::Result<()> {
    if rustix::fs::lstat(target).is_ok() && entries_fixed(&parent_dir(target)) {
        return Err(io::Error::from_raw_os_error(libc::EPERM));
    }
    Ok(())
}

/// A hundred candidate names for a temporary file beside `target`: `.NAME.mmcp-XXXXXX`, random.
pub(crate) fn temp_names(target: &Path) -> impl Iterator<Item = PathBuf> + use<> {
    let dir = parent_dir(target);
    let base = target
        .file_name()
        .map(|n| n.as_bytes().to_vec())
        .unwrap_or_else(|| b"copy".to_vec());
    let base = base[..base.len().min(MAX_TEMP_NAME - 14)].to_vec();
    let random = std::collections::hash_map::RandomState::new();
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

/// Renames `temp` over `target`. With `backup`, an existing `target` (a symlink itself, not followed)
/// first gets the backup name as a second hard link, so that `target` exists at every moment; where
/// hard links are impossible, the two are exchanged (RENAME_EXCHANGE) and the old one renamed to the
/// backup, and where that is unsupported too, `target` is renamed to the backup first (and put back if
/// the copy's rename fails). On failure the backup made here is removed; `temp` is the caller's.
pub(crate) fn replace(temp: &Path, target: &Path, backup: Option<&Path>) -> io::Result<()> {
    let Some(backup) = backup else {
        return std::fs::rename(temp, target);
    };
    match link_backup(target, backup) {
        Ok(linked) => std::fs::rename(temp, target).inspect_err(|_| {
            if linked {
                let _ = std::fs::remove_file(backup);
            }
        }),
        Err(e) if no_hard_links(&e) => exchange_backing_up(temp, target, backup),
        Err(e) => Err(e),
    }
}

/// Puts the anonymous `file` in place of an existing `target`: with `backup`, the backup link first;
/// then the copy linked under a temporary name and renamed over `target` at once, so that the name
/// exists only for that instant. On failure nothing made here is left.
pub(crate) fn replace_anonymous(
    file: &File,
    target: &Path,
    backup: Option<&Path>,
) -> io::Result<()> {
    let linked = match backup {
        None => false,
        Some(backup) => match link_backup(target, backup) {
            Ok(linked) => linked,
            Err(e) if no_hard_links(&e) => {
                let temp = link_temp(file, target)?;
                return exchange_backing_up(&temp, target, backup).inspect_err(|_| {
                    let _ = std::fs::remove_file(&temp);
                });
            }
            Err(e) => return Err(e),
        },
    };
    let undo = || {
        if let (true, Some(backup)) = (linked, backup) {
            let _ = std::fs::remove_file(backup);
        }
    };
    let temp = link_temp(file, target).inspect_err(|_| undo())?;
    std::fs::rename(&temp, target).inspect_err(|_| {
        let _ = std::fs::remove_file(&temp);
        undo();
    })
}

/// Makes `backup` another name of `target` (replacing an old backup atomically: a temporary link
/// renamed over it). False when there is no `target` to back up.
fn link_backup(target: &Path, backup: &Path) -> io::Result<bool> {
    let mut last = io::Error::from(io::ErrorKind::AlreadyExists);
    for temp in temp_names(backup) {
        match rustix::fs::linkat(CWD, target, CWD, &temp, AtFlags::empty()) {
            Ok(()) => {
                std::fs::rename(&temp, backup).inspect_err(|_| {
                    let _ = std::fs::remove_file(&temp);
                })?;
                return Ok(true);
            }
            Err(Errno::EXIST) => last = Errno::EXIST.into(),
            Err(Errno::NOENT) if rustix::fs::lstat(target).is_err() => return Ok(false),
            Err(e) => return Err(e.into()),
        }
    }
    Err(last)
}

/// Whether a failed link(2) means the filesystem or the file allows no (more) hard links.
fn no_hard_links(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EPERM | libc::EMLINK | libc::EOPNOTSUPP | libc::EXDEV)
    )
}

/// The backup for a filesystem without hard links: `temp` and `target` exchanged, then the old file
/// (now at `temp`) renamed to `backup`; the old order (`target` renamed to `backup`, then `temp` to
/// `target`) where the exchange is unsupported.
fn exchange_backing_up(temp: &Path, target: &Path, backup: &Path) -> io::Result<()> {
    match rustix::fs::renameat_with(CWD, temp, CWD, target, RenameFlags::EXCHANGE) {
        Ok(()) => std::fs::rename(temp, backup).inspect_err(|_| {
            // Put the old file back under its name; the caller removes `temp` (now the copy).
            let _ = rustix::fs::renameat_with(CWD, temp, CWD, target, RenameFlags::EXCHANGE);
        }),
        Err(Errno::NOENT) if rustix::fs::lstat(target).is_err() => std::fs::rename(temp, target),
        Err(Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP) => {
            let moved = match std::fs::rename(target, backup) {
                Ok(()) => true,
                Err(e) if e.kind() == io::ErrorKind::NotFound => false,
                Err(e) => return Err(e),
            };
            std::fs::rename(temp, target).inspect_err(|_| {
                if moved {
                    let _ = std::fs::rename(backup, target);
                }
            })
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn an_anonymous_file_has_no_name_until_linked() {
        let dir = tempfile::tempdir().unwrap();
        let Some(mut file) = open_anonymous(dir.path(), 0o600).unwrap() else {
            assert!(
                std::env::var_os("MMTOOLS_STRICT_TESTS").is_none_or(|v| v != "1"),
                "no O_TMPFILE in TMPDIR (strict tests)"
            );
            println!("skipped: no O_TMPFILE in TMPDIR");
            return;
        };
        file.write_all(b"new").unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        let name = dir.path().join("f");
        link_anonymous(&file, &name).unwrap();
        assert_eq!(std::fs::read(&name).unwrap(), b"new");
        let e = link_anonymous(&file, &name).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        // Without CAP_DAC_READ_SEARCH (on kernels that ask for it), through /proc.
        let other = dir.path().join("g");
        link_through_proc(&file, &other).unwrap();
        assert_eq!(std::fs::read(&other).unwrap(), b"new");
        let temp = link_temp(&file, &name).unwrap();
        assert!(
            temp.file_name()
                .unwrap()
                .as_bytes()
                .starts_with(b".f.mmcp-")
        );
        assert_eq!(
            std::fs::metadata(&temp).unwrap().ino(),
            file.metadata().unwrap().ino()
        );
    }

    #[test]
    fn a_backup_is_a_second_name_of_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("t");
        let backup = dir.path().join("t~");
        let temp = dir.path().join("temp");
        std::fs::write(&target, b"old").unwrap();
        std::fs::write(&backup, b"older").unwrap();
        std::fs::write(&temp, b"new").unwrap();
        let old = std::fs::metadata(&target).unwrap().ino();
        replace(&temp, &target, Some(&backup)).unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"new");
        assert_eq!(std::fs::read(&backup).unwrap(), b"old");
        assert_eq!(std::fs::metadata(&backup).unwrap().ino(), old);
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 2, "no temporary link left");
        // No target: nothing to back up.
        std::fs::write(&temp, b"x").unwrap();
        let fresh = dir.path().join("fresh");
        replace(&temp, &fresh, Some(&dir.path().join("fresh~"))).unwrap();
        assert!(!dir.path().join("fresh~").exists());
        // The fallback without hard links keeps the same result.
        std::fs::write(&temp, b"newer").unwrap();
        exchange_backing_up(&temp, &target, &backup).unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"newer");
        assert_eq!(std::fs::read(&backup).unwrap(), b"new");
        assert!(!temp.exists());
    }
}
