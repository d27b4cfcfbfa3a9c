//! The mount table of this process's mount namespace (`/proc/self/mountinfo`), read as bytes, and the
//! choice of the mounts a whole-machine walk enters: each filesystem once, where it is visible, and
//! only filesystems whose files live in the page cache.
//!
//! A line of mountinfo is `ID PARENT MAJOR:MINOR ROOT MOUNT_POINT OPTIONS [TAGS...] - FSTYPE SOURCE
//! SUPER_OPTIONS`, with a space, tab, newline and backslash in a path written as the octal escapes
//! `\040`, `\011`, `\012` and `\134` (the kernel's `mangle`).

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// What a filesystem is, for a walk of the whole machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsClass {
    /// Backed by local storage: its pages are evictable page cache.
    Local,
    /// tmpfs, ramfs, devtmpfs: the page cache is the files' only home (Shmem, not evictable).
    Memory,
    /// Reached over a network (NFS, CIFS, Ceph, 9p, virtiofs...), or served by a process (FUSE, but
    /// fuseblk): walked only when asked, as a walk may wait on the server for as long as it pleases.
    Network,
    /// Stacked on other filesystems (overlay): its files' pages belong to the filesystems below.
    Stacked,
    /// No page-cache files of its own (proc, sysfs, cgroup, devpts, hugetlbfs...).
    Pseudo,
}

/// One mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// The mount's ID.
    pub id: u64,
    /// The device number (as `st_dev` gives it).
    pub dev: u64,
    /// The directory of the filesystem mounted here (`/` unless a bind mount of a subdirectory).
    pub root: PathBuf,
    /// Where it is mounted.
    pub point: PathBuf,
    /// The filesystem type (`ext4`, `tmpfs`, `fuse.sshfs`...).
    pub fstype: String,
    /// The source (a device, a server's path, or a name such as `tmpfs`).
    pub source: PathBuf,
}

impl Mount {
    /// The class of its filesystem.
    pub fn class(&self) -> FsClass {
        classify(&self.fstype)
    }
}

/// Why a mount is not walked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Passed {
    /// Another mount was made over it at the same place: its files cannot be reached by path.
    Hidden,
    /// Its filesystem has no page-cache files (proc, sysfs...).
    Pseudo,
    /// A network filesystem (walked with `--all-fs`).
    Network,
    /// Stacked on other filesystems, which are walked themselves.
    Stacked,
    /// The same filesystem (or a part of it) is walked at another mount point.
    Duplicate(PathBuf),
    /// A single file mounted over another (as containers get /etc/hosts): not a tree to walk.
    File,
}

impl Passed {
    /// How the reason reads.
    pub fn describe(&self) -> String {
        match self {
            Passed::Hidden => "hidden under a later mount at the same place".into(),
            Passed::Pseudo => "a pseudo filesystem, without page-cache files".into(),
            Passed::Network => "a network or FUSE filesystem (walked with --all-fs)".into(),
            Passed::Stacked => "stacked on filesystems that are walked themselves".into(),
            Passed::File => "a single file mounted over another, not a directory".into(),
            Passed::Duplicate(p) => format!(
                "the same filesystem as {}, walked there",
                p.as_os_str().to_string_lossy()
            ),
        }
    }
}

/// The class of a filesystem type.
pub fn classify(fstype: &str) -> FsClass {
    const MEMORY: &[&str] = &["tmpfs", "ramfs", "devtmpfs", "shm"];
    const NETWORK: &[&str] = &[
        "nfs",
        "nfs4",
        "cifs",
        "smb3",
        "smbfs",
        "ncpfs",
        "ceph",
        "glusterfs",
        "lustre",
        "gpfs",
        "afs",
        "9p",
        "virtiofs",
        "davfs",
        "coda",
        "orangefs",
        "beegfs",
        "ocfs2",
        "gfs2",
    ];
    const STACKED: &[&str] = &["overlay", "aufs", "unionfs", "shiftfs", "ecryptfs"];
    const PSEUDO: &[&str] = &[
        "proc",
        "sysfs",
        "devpts",
        "cgroup",
        "cgroup2",
        "securityfs",
        "debugfs",
        "tracefs",
        "pstore",
        "bpf",
        "configfs",
        "fusectl",
        "mqueue",
        "hugetlbfs",
        "binfmt_misc",
        "autofs",
        "efivarfs",
        "nsfs",
        "rpc_pipefs",
        "selinuxfs",
        "sockfs",
        "pipefs",
        "nfsd",
        "rootfs",
        "xenfs",
        "functionfs",
        "gadgetfs",
        "usbfs",
    ];
    let base = fstype.split('.').next().unwrap_or(fstype);
    if MEMORY.contains(&fstype) {
        FsClass::Memory
    } else if NETWORK.contains(&base) || base == "fuse" {
        FsClass::Network
    } else if STACKED.contains(&fstype) {
        FsClass::Stacked
    } else if PSEUDO.contains(&fstype) {
        FsClass::Pseudo
    } else {
        FsClass::Local
    }
}

/// Undoes the kernel's octal escapes (`\040` and the like); any other backslash stays as it is.
pub fn unescape(field: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    while i < field.len() {
        let b = field[i];
        if b == b'\\'
            && i + 3 < field.len()
            && field[i + 1..i + 4]
                .iter()
                .all(|d| (b'0'..=b'7').contains(d))
        {
            let value = field[i + 1..i + 4]
                .iter()
                .fold(0u32, |v, d| v * 8 + u32::from(d - b'0'));
            if let Ok(byte) = u8::try_from(value) {
                out.push(byte);
                i += 4;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    out
}

fn path(field: &[u8]) -> PathBuf {
    PathBuf::from(OsStr::from_bytes(&unescape(field)))
}

/// Parses one line of mountinfo; `None` for a damaged one.
pub fn parse_line(line: &[u8]) -> Option<Mount> {
    let fields: Vec<&[u8]> = line
        .split(|&b| b == b' ')
        .filter(|f| !f.is_empty())
        .collect();
    let dash = fields.iter().position(|f| *f == b"-")?;
    if dash < 6 || fields.len() < dash + 3 {
        return None;
    }
    let text = |f: &[u8]| std::str::from_utf8(f).ok().map(str::to_owned);
    let id = text(fields[0])?.parse().ok()?;
    let dev = text(fields[2])?;
    let (major, minor) = dev.split_once(':')?;
    let dev = rustix::fs::makedev(major.parse().ok()?, minor.parse().ok()?);
    Some(Mount {
        id,
        dev,
        root: path(fields[3]),
        point: path(fields[4]),
        fstype: String::from_utf8_lossy(&unescape(fields[dash + 1])).into_owned(),
        source: path(fields[dash + 2]),
    })
}

/// Parses the whole of a mountinfo file, in its order (the order mounts were made).
pub fn parse(text: &[u8]) -> Vec<Mount> {
    text.split(|&b| b == b'\n').filter_map(parse_line).collect()
}

/// The mounts of this process's namespace.
pub fn read() -> std::io::Result<Vec<Mount>> {
    Ok(parse(&std::fs::read("/proc/self/mountinfo")?))
}

/// The mounts a walk of the whole machine enters, and why each other one is passed over: those of the
/// classes wanted (local and memory filesystems, plus network ones with `all_fs`), visible (not under
/// a later mount at the same place), each filesystem once. Of several mounts of the same device, the
/// one showing the widest part of it (a root that holds the others' roots) is walked, the first in
/// the table among equals; a bind mount of a directory inside a walked one is passed over, as its
/// files are reached there.
pub fn select(mounts: &[Mount], all_fs: bool) -> Vec<(usize, Option<Passed>)> {
    let mut verdicts: Vec<(usize, Option<Passed>)> = Vec::with_capacity(mounts.len());
    for (i, m) in mounts.iter().enumerate() {
        let hidden = mounts[i + 1..].iter().any(|later| later.point == m.point);
        let passed = if hidden {
            Some(Passed::Hidden)
        } else {
            match m.class() {
                FsClass::Pseudo => Some(Passed::Pseudo),
                FsClass::Stacked => Some(Passed::Stacked),
                FsClass::Network if !all_fs => Some(Passed::Network),
                _ => None,
            }
        };
        verdicts.push((i, passed));
    }
    let candidates: Vec<usize> = verdicts
        .iter()
        .filter(|(_, p)| p.is_none())
        .map(|(i, _)| *i)
        .collect();
    for &c in &candidates {
        let mc = &mounts[c];
        let cover = candidates.iter().copied().find(|&w| {
            let mw = &mounts[w];
            w != c
                && mw.dev == mc.dev
                && (is_strict_ancestor(&mw.root, &mc.root) || (mw.root == mc.root && w < c))
        });
        if let Some(w) = cover {
            verdicts[c].1 = Some(Passed::Duplicate(mounts[w].point.clone()));
        }
    }
    verdicts
}

fn is_strict_ancestor(a: &Path, b: &Path) -> bool {
    a != b && b.starts_with(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &[u8] = b"\
22 27 0:21 / /proc rw,relatime - proc proc rw
25 24 0:23 / /dev/shm rw,relatime - tmpfs tmpfs rw,size=24683656k
27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw,discard
30 25 0:27 / /dev/shm rw,relatime - tmpfs tmpfs rw
41 27 254:0 /srv/data /mnt/with\\040space\\012nl rw master:3 - ext4 /dev/vda rw
42 27 254:0 / /again rw - ext4 /dev/vda rw
43 27 0:50 / /net rw - nfs4 server:/export rw
44 27 0:51 / /var/lib/docker/overlay2/x/merged rw - overlay overlay rw
45 27 7:0 / /mnt/b\\134x rw - xfs /dev/loop0 rw
46 damaged line
";

    #[test]
    fn parses_with_escapes() {
        let mounts = parse(TABLE);
        assert_eq!(mounts.len(), 9);
        let bind = &mounts[4];
        assert_eq!(bind.id, 41);
        assert_eq!(bind.dev, rustix::fs::makedev(254, 0));
        assert_eq!(bind.root, Path::new("/srv/data"));
        assert_eq!(bind.point.as_os_str().as_bytes(), b"/mnt/with space\nnl");
        assert_eq!(bind.fstype, "ext4");
        assert_eq!(mounts[8].point.as_os_str().as_bytes(), b"/mnt/b\\x");
        assert_eq!(unescape(b"a\\b\\0"), b"a\\b\\0");
        assert_eq!(mounts[6].class(), FsClass::Network);
        assert_eq!(mounts[7].class(), FsClass::Stacked);
        assert_eq!(mounts[0].class(), FsClass::Pseudo);
        assert_eq!(mounts[1].class(), FsClass::Memory);
        assert_eq!(classify("fuse.sshfs"), FsClass::Network);
        assert_eq!(classify("fuse.mmtest"), FsClass::Network);
        assert_eq!(classify("fuseblk"), FsClass::Local);
    }

    #[test]
    fn selects_each_visible_filesystem_once() {
        let mounts = parse(TABLE);
        let verdicts = select(&mounts, false);
        let walked: Vec<&Path> = verdicts
            .iter()
            .filter(|(_, p)| p.is_none())
            .map(|(i, _)| mounts[*i].point.as_path())
            .collect();
        assert_eq!(
            walked,
            [
                Path::new("/"),
                Path::new("/dev/shm"),
                Path::new("/mnt/b\\x")
            ]
        );
        assert_eq!(verdicts[1].1, Some(Passed::Hidden));
        assert_eq!(verdicts[4].1, Some(Passed::Duplicate(PathBuf::from("/"))));
        assert_eq!(verdicts[5].1, Some(Passed::Duplicate(PathBuf::from("/"))));
        assert_eq!(verdicts[6].1, Some(Passed::Network));
        assert_eq!(verdicts[7].1, Some(Passed::Stacked));
        let all = select(&mounts, true);
        assert_eq!(all[6].1, None);
    }
}
