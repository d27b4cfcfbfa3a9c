//! The files every process holds open or maps, each once (by device and inode), with their residency,
//! the processes holding them and those processes' memory cgroups. A walk cannot see a file deleted
//! while open, or one on a mount of another namespace; this can.

use std::collections::HashMap;
use std::fs::File;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use rustix::fs::{FileType, Mode, OFlags};

use super::{Method, Target};
use crate::procmaps;
use crate::range::Range;

const WHOLE: Range = Range::ALL;

/// A file some process holds.
#[derive(Debug, Clone)]
pub struct Held {
    /// The path as the first process holding it sees it (` (deleted)` appended when deleted).
    pub path: PathBuf,
    /// Device.
    pub dev: u64,
    /// Inode.
    pub ino: u64,
    /// Links (0: deleted).
    pub nlink: u64,
    /// Size in bytes.
    pub size: u64,
    /// Resident pages, or `None` when unknown (not measured yet, or the kernel does not say).
    pub resident: Option<u64>,
    /// The first process found holding it.
    pub pid: u32,
    /// How many processes hold it.
    pub processes: u32,
    /// The memory cgroups of those processes (indices into [`HeldScan::cgroups`]).
    pub cgroups: Vec<u32>,
    /// Where to open it from here.
    open: PathBuf,
}

/// A memory cgroup of processes holding files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cgroup {
    /// Its path in the cgroup hierarchy (`/system.slice/nginx.service`).
    pub path: PathBuf,
    /// Processes in it that were looked at.
    pub processes: u64,
}

/// What a scan of every process found.
#[derive(Debug, Default)]
pub struct HeldScan {
    /// The files, by (device, inode).
    pub files: HashMap<(u64, u64), Held>,
    /// The memory cgroups seen.
    pub cgroups: Vec<Cgroup>,
    /// Processes looked at.
    pub processes: u64,
    /// Processes that exited before they could be looked at.
    pub gone: u64,
    /// Processes whose files may not be listed (another user's, without privilege).
    pub unreadable: u64,
    /// Files that vanished (closed, unmapped) between the listing and the measurement.
    pub vanished: u64,
    /// Files that could not be opened or measured for another reason.
    pub failed: u64,
}

/// One file of one process, as listed.
struct Listed {
    pid: u32,
    path: PathBuf,
    open: PathBuf,
    dev: u64,
    ino: u64,
}

struct ProcessFiles {
    pid: u32,
    cgroup: Option<PathBuf>,
    files: Vec<Listed>,
    vanished: u64,
}

enum Listing {
    Found(ProcessFiles),
    Gone,
    Unreadable,
}

/// The memory cgroup in the contents of a `/proc/PID/cgroup` file: the v1 hierarchy holding the
/// memory controller if there is one, else the unified (v2) one.
pub fn memory_cgroup(text: &[u8]) -> Option<PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    let mut unified = None;
    for line in text.split(|&b| b == b'\n') {
        let mut parts = line.splitn(3, |&b| b == b':');
        let (Some(_), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let path = PathBuf::from(std::ffi::OsStr::from_bytes(path));
        if controllers.split(|&b| b == b',').any(|c| c == b"memory") {
            return Some(path);
        }
        if controllers.is_empty() {
            unified = Some(path);
        }
    }
    unified
}

/// The numbers of the processes in /proc, but our own.
fn pids() -> std::io::Result<Vec<u32>> {
    let me = std::process::id();
    let mut pids: Vec<u32> = std::fs::read_dir("/proc")?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|&p| p != me)
        .collect();
    pids.sort_unstable();
    Ok(pids)
}

fn list(pid: u32, by_cgroup: bool) -> Listing {
    let files = match procmaps::files(pid) {
        Ok(files) => files,
        Err(_) if !procmaps::alive(pid) => return Listing::Gone,
        Err(e) => {
            return match e.reason() {
                crate::error::Reason::Io(io) if io.kind() == std::io::ErrorKind::NotFound => {
                    Listing::Gone
                }
                _ => Listing::Unreadable,
            };
        }
    };
    let cgroup = if by_cgroup {
        std::fs::read(procmaps::proc_dir(pid).join("cgroup"))
            .ok()
            .and_then(|t| memory_cgroup(&t))
    } else {
        None
    };
    let mut out = ProcessFiles {
        pid,
        cgroup,
        files: Vec::with_capacity(files.len()),
        vanished: 0,
    };
    for f in files {
        // stat follows the /proc links to the file itself; a device or FIFO is never opened.
        match rustix::fs::stat(&f.open) {
            Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::RegularFile => {
                out.files.push(Listed {
                    pid,
                    path: f.path,
                    open: f.open,
                    dev: st.st_dev,
                    ino: st.st_ino,
                })
            }
            Ok(_) => {}
            Err(_) => out.vanished += 1,
        }
    }
    Listing::Found(out)
}

/// Lists the files of every process (in parallel), then measures each distinct file once.
pub fn scan(method: Method, by_cgroup: bool) -> std::io::Result<HeldScan> {
    let listings: Vec<Listing> = pids()?
        .into_par_iter()
        .map(|pid| list(pid, by_cgroup))
        .collect();
    let mut scan = HeldScan::default();
    let mut cgroup_index: HashMap<PathBuf, u32> = HashMap::new();
    for listing in listings {
        let process = match listing {
            Listing::Found(p) => p,
            Listing::Gone => {
                scan.gone += 1;
                continue;
            }
            Listing::Unreadable => {
                scan.unreadable += 1;
                continue;
            }
        };
        scan.processes += 1;
        scan.vanished += process.vanished;
        let cgroup = process.cgroup.map(|path| {
            let next = scan.cgroups.len() as u32;
            let i = *cgroup_index.entry(path.clone()).or_insert(next);
            if i == next {
                scan.cgroups.push(Cgroup { path, processes: 0 });
            }
            scan.cgroups[i as usize].processes += 1;
            i
        });
        for l in process.files {
            let entry = scan.files.entry((l.dev, l.ino)).or_insert_with(|| Held {
                path: l.path,
                dev: l.dev,
                ino: l.ino,
                nlink: 1,
                size: 0,
                resident: None,
                pid: l.pid,
                processes: 0,
                cgroups: Vec::new(),
                open: l.open,
            });
            if entry.processes == 0 || entry.pid != process.pid {
                entry.processes += 1;
            }
            if let Some(c) = cgroup
                && !entry.cgroups.contains(&c)
            {
                entry.cgroups.push(c);
            }
        }
    }
    let outcomes: Vec<((u64, u64), Measured)> = scan
        .files
        .par_iter()
        .map(|(key, held)| (*key, measure(&held.open, *key, method)))
        .collect();
    for (key, outcome) in outcomes {
        match outcome {
            Measured::Done {
                nlink,
                size,
                resident,
            } => {
                if let Some(h) = scan.files.get_mut(&key) {
                    h.nlink = nlink;
                    h.size = size;
                    h.resident = resident;
                }
            }
            Measured::Vanished => {
                scan.vanished += 1;
                scan.files.remove(&key);
            }
            Measured::Failed => {
                scan.failed += 1;
                scan.files.remove(&key);
            }
        }
    }
    Ok(scan)
}

enum Measured {
    Done {
        nlink: u64,
        size: u64,
        resident: Option<u64>,
    },
    Vanished,
    Failed,
}

fn measure(open: &Path, key: (u64, u64), method: Method) -> Measured {
    let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY;
    let fd: OwnedFd = match rustix::fs::open(open, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::NOENT) => return Measured::Vanished,
        Err(_) => return Measured::Failed,
    };
    let file = File::from(fd);
    let Ok(st) = rustix::fs::fstat(&file) else {
        return Measured::Failed;
    };
    // Closed and the number reused for another file between the listing and the open.
    if (st.st_dev, st.st_ino) != key || FileType::from_raw_mode(st.st_mode) != FileType::RegularFile
    {
        return Measured::Vanished;
    }
    let size = st.st_size as u64;
    let resident = match Target::new(&file, open, size) {
        Ok(target) => match target.measure(WHOLE, method) {
            Ok(r) => r.resident,
            Err(_) => return Measured::Failed,
        },
        Err(_) => return Measured::Failed,
    };
    Measured::Done {
        nlink: st.st_nlink,
        size,
        resident,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_memory_cgroup_of_v1_and_v2() {
        let v1 = b"12:pids:/user.slice\n4:cpu,memory:/system.slice/a b.service\n0::/x\n";
        assert_eq!(
            memory_cgroup(v1),
            Some(PathBuf::from("/system.slice/a b.service"))
        );
        assert_eq!(
            memory_cgroup(b"0::/kubepods/pod1:x\n"),
            Some(PathBuf::from("/kubepods/pod1:x"))
        );
        assert_eq!(memory_cgroup(b""), None);
    }

    #[test]
    fn finds_a_deleted_file_we_hold() {
        let dir = crate::testing::disk_tempdir();
        let path = dir.path().join("gone");
        std::fs::write(&path, vec![3u8; 3 * crate::map::page_size()]).unwrap();
        let held = File::open(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        let st = rustix::fs::fstat(&held).unwrap();
        let me = std::process::id();
        let Listing::Found(p) = list(me, true) else {
            panic!("our own files");
        };
        let l = p
            .files
            .iter()
            .find(|l| (l.dev, l.ino) == (st.st_dev, st.st_ino))
            .expect("the deleted file");
        assert!(
            l.path.to_string_lossy().ends_with(" (deleted)"),
            "{:?}",
            l.path
        );
        match measure(&l.open, (l.dev, l.ino), Method::Auto) {
            Measured::Done { nlink, size, .. } => {
                assert_eq!(nlink, 0);
                assert_eq!(size, 3 * crate::map::page_size() as u64);
            }
            _ => panic!("measured"),
        }
        drop(held);
    }
}
