//! Budgets for loading: how much memory is available now (MemAvailable, or the headroom under the
//! caller's memory cgroup limit, version 2 or 1), the allowance that cuts what is loaded once the budget
//! is spent, and the priority orders of a snapshot's files.

use std::path::{Path, PathBuf};

use crate::snapshot::FileRecord;

use crate::range::Range;

/// Where the memory available now was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Memory {
    /// MemAvailable of /proc/meminfo, in bytes.
    pub available: u64,
    /// The tightest memory cgroup limit over the caller's cgroup and its ancestors, if any is set.
    pub cgroup: Option<Headroom>,
}

/// Room left under a memory cgroup limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Headroom {
    /// The cgroup directory whose limit is the tightest.
    pub dir: PathBuf,
    /// Its limit (memory.max, or memory.limit_in_bytes in version 1), in bytes.
    pub limit: u64,
    /// Its usage (memory.current, or memory.usage_in_bytes), in bytes.
    pub usage: u64,
}

impl Headroom {
    /// Bytes that may still be charged before the limit.
    pub fn room(&self) -> u64 {
        self.limit.saturating_sub(self.usage)
    }
}

impl Memory {
    /// What a percentage budget is a share of: MemAvailable, or the cgroup's headroom when smaller.
    pub fn usable(&self) -> u64 {
        match &self.cgroup {
            Some(h) => h.room().min(self.available),
            None => self.available,
        }
    }

    /// The memory available to this process now.
    pub fn now() -> std::io::Result<Memory> {
        let meminfo = std::fs::read_to_string("/proc/meminfo")?;
        let available = mem_available(&meminfo).ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "/proc/meminfo has no MemAvailable line",
            )
        })?;
        let cgroups = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let cgroup = memory_dirs(&cgroups, &mounts)
            .into_iter()
            .filter_map(|(dir, v2)| read_headroom(&dir, v2))
            .min_by_key(Headroom::room);
        Ok(Memory { available, cgroup })
    }
}

/// MemAvailable in bytes.
fn mem_available(meminfo: &str) -> Option<u64> {
    let line = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().next()?.parse().ok()?;
    Some(kb * 1024)
}

/// Limits at or above this mean "no limit" in cgroup version 1 (which writes a huge page-aligned
/// number rather than "max").
const V1_UNLIMITED: u64 = 1 << 62;

fn read_number(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The headroom of one cgroup directory, when it has a limit.
fn read_headroom(dir: &Path, v2: bool) -> Option<Headroom> {
    let (max, current) = if v2 {
        ("memory.max", "memory.current")
    } else {
        ("memory.limit_in_bytes", "memory.usage_in_bytes")
    };
    let limit = read_number(&dir.join(max))?;
    if limit >= V1_UNLIMITED {
        return None;
    }
    Some(Headroom {
        dir: dir.to_path_buf(),
        limit,
        usage: read_number(&dir.join(current)).unwrap_or(0),
    })
}

/// The memory cgroup directories of this process and of each ancestor up to the mount's root, each
/// with whether it is version 2, from /proc/self/cgroup and /proc/self/mountinfo.
fn memory_dirs(cgroups: &str, mountinfo: &str) -> Vec<(PathBuf, bool)> {
    let mut out = Vec::new();
    for line in cgroups.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let v2 = controllers.is_empty();
        if !v2 && !controllers.split(',').any(|c| c == "memory") {
            continue;
        }
        let Some((root, mount)) = cgroup_mount(mountinfo, v2) else {
            continue;
        };
        let Ok(below) = Path::new(path).strip_prefix(&root) else {
            continue;
        };
        let mut dir = mount.join(below);
        loop {
            out.push((dir.clone(), v2));
            if dir == mount || !dir.pop() {
                break;
            }
        }
    }
    out
}

/// The root inside the hierarchy and the mount point of the cgroup2 file system (`v2`) or of the
/// version 1 hierarchy that holds the memory controller.
fn cgroup_mount(mountinfo: &str, v2: bool) -> Option<(PathBuf, PathBuf)> {
    mountinfo.lines().find_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        let fields: Vec<&str> = left.split(' ').collect();
        let mut r = right.split(' ');
        let fstype = r.next()?;
        let _source = r.next()?;
        let options = r.next().unwrap_or("");
        let wanted = if v2 {
            fstype == "cgroup2"
        } else {
            fstype == "cgroup" && options.split(',').any(|o| o == "memory")
        };
        if !wanted || fields.len() < 5 {
            return None;
        }
        Some((unescape(fields[3]), unescape(fields[4])))
    })
}

/// A mountinfo path, whose spaces, tabs, newlines and backslashes are written as octal escapes.
fn unescape(field: &str) -> PathBuf {
    use std::os::unix::ffi::OsStringExt;
    let b = field.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    PathBuf::from(std::ffi::OsString::from_vec(out))
}

/// What is left of a budget as files are loaded in priority order.
#[derive(Debug, Clone)]
pub struct Allowance {
    /// The budget, in bytes.
    pub budget: u64,
    /// Bytes given out so far.
    pub used: u64,
    /// Whether a span did not fit: everything after it is left out.
    spent: bool,
}

impl Allowance {
    /// A budget of `budget` bytes.
    pub fn new(budget: u64) -> Allowance {
        Allowance {
            budget,
            used: 0,
            spent: false,
        }
    }

    /// Takes `spans` (in the order they are to be loaded) until the next one would pass the budget; that
    /// one is cut at the last whole page that fits, and the rest is left out. Returns the spans taken
    /// and the bytes left out.
    pub fn take(&mut self, spans: &[Range]) -> (Vec<Range>, u64) {
        let mut taken = Vec::new();
        let mut left_out = 0;
        for &span in spans {
            let len = span.len();
            if self.spent {
                left_out += len;
                continue;
            }
            let room = self.budget - self.used;
            if len <= room {
                self.used += len;
                taken.push(span);
                continue;
            }
            self.spent = true;
            let fit = crate::range::align_down(room);
            if fit > 0 {
                self.used += fit;
                taken.push(Range::at_most(span.start(), fit));
            }
            left_out += len - fit;
        }
        (taken, left_out)
    }
}

/// The order in which a snapshot's files are restored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    /// The snapshot's own order.
    #[default]
    Snapshot,
    /// The highest resident share of the file first.
    Density,
    /// The most resident bytes first.
    Size,
}

/// Resident bytes a record lists.
pub fn saved_bytes(record: &FileRecord) -> u64 {
    record.resident.iter().map(|r| r.len()).sum()
}

/// Sorts records into `order`, stably: equal ones keep the snapshot's order.
pub fn sort(records: &mut [FileRecord], order: Order) {
    match order {
        Order::Snapshot => {}
        Order::Size => records.sort_by_key(|r| std::cmp::Reverse(saved_bytes(r))),
        Order::Density => records.sort_by(|a, b| {
            let share = |r: &FileRecord| saved_bytes(r) as f64 / r.identity.size.max(1) as f64;
            share(b).total_cmp(&share(a))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::Identity;

    #[test]
    fn the_allowance_cuts_at_the_budget_and_leaves_out_the_rest() {
        let p = crate::map::page_size() as u64;
        let mut a = Allowance::new(5 * p + 10);
        assert_eq!(
            a.take(&[Range::new(0, 2 * p), Range::new(4 * p, 6 * p)]),
            (vec![Range::new(0, 2 * p), Range::new(4 * p, 6 * p)], 0)
        );
        assert_eq!(
            a.take(&[Range::new(0, 3 * p), Range::new(8 * p, 9 * p)]),
            (vec![Range::new(0, p)], 3 * p)
        );
        assert_eq!(
            a.take(&[Range::new(0, 1)]),
            (vec![], 1),
            "nothing after the budget is spent"
        );
        assert_eq!(a.used, 5 * p);
        let mut zero = Allowance::new(0);
        assert_eq!(zero.take(&[Range::new(0, p)]), (vec![], p));
    }

    #[test]
    fn orders_of_a_snapshot() {
        let rec = |name: &str, size, resident: u64| FileRecord {
            path: name.into(),
            identity: Identity {
                dev: 1,
                ino: 1,
                size,
                mtime_ns: 0,
            },
            fingerprint: None,
            resident: vec![Range::new(0, resident)],
        };
        let records = vec![
            rec("a", 100, 10),
            rec("b", 1000, 50),
            rec("c", 20, 20),
            rec("d", 100, 10),
        ];
        let names = |order| {
            let mut r = records.clone();
            sort(&mut r, order);
            r.iter()
                .map(|r| r.path.to_str().unwrap().to_string())
                .collect::<Vec<_>>()
                .join("")
        };
        assert_eq!(names(Order::Snapshot), "abcd");
        assert_eq!(names(Order::Size), "bcad");
        assert_eq!(names(Order::Density), "cadb");
    }

    #[test]
    fn cgroup_directories_of_both_versions() {
        let mounts = "31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n\
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n\
40 31 0:37 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n";
        let v1 = memory_dirs("4:memory:/a/b\n0::/\n", mounts);
        assert_eq!(
            v1,
            vec![
                ("/sys/fs/cgroup/memory/a/b".into(), false),
                ("/sys/fs/cgroup/memory/a".into(), false),
                ("/sys/fs/cgroup/memory".into(), false),
                ("/sys/fs/cgroup/unified".into(), true),
            ]
        );
        let nested = "50 1 0:40 /ns /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
        assert_eq!(
            memory_dirs("0::/ns/svc\n", nested),
            vec![
                ("/sys/fs/cgroup/svc".into(), true),
                ("/sys/fs/cgroup".into(), true)
            ]
        );
        assert_eq!(unescape("/a\\040b"), PathBuf::from("/a b"));
        assert_eq!(
            mem_available("MemTotal: 9 kB\nMemAvailable:   2 kB\n"),
            Some(2048)
        );
        let m = Memory {
            available: 100,
            cgroup: Some(Headroom {
                dir: "/x".into(),
                limit: 50,
                usage: 20,
            }),
        };
        assert_eq!(m.usable(), 30);
    }

    #[test]
    fn the_memory_of_this_process() {
        let m = Memory::now().unwrap();
        assert!(m.available > 0);
        assert!(m.usable() <= m.available);
    }
}
