//! The device's readahead cap: the most one WILLNEED call (fadvise, madvise or readahead(2)) reads. The
//! kernel clips each call to the larger of the backing device's readahead window (`read_ahead_kb`) and
//! its largest request (`max_sectors_kb`), so a prefetch of a whole file must come in chunks of that size.

use std::path::{Path, PathBuf};

/// The kernel's default readahead window (VM_READAHEAD_PAGES, 128 KiB): the cap assumed when the device
/// cannot be found. Smaller chunks are merely more calls; larger ones would be cut short silently.
pub const DEFAULT_CAP: u64 = 128 << 10;

/// How the cap was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CapSource {
    /// From `/sys/block/NAME/queue` of this block device (the disk, for a partition).
    Device(String),
    /// From `/sys/class/bdi/MAJ:MIN/read_ahead_kb` (a filesystem without its own block device: NFS,
    /// FUSE, overlay...).
    Bdi(String),
    /// Nothing found: [`DEFAULT_CAP`].
    Default,
}

/// The largest useful WILLNEED chunk for files on one device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cap {
    /// Bytes per call, a whole number of pages, at least one page.
    pub bytes: u64,
    /// Where the number came from.
    pub source: CapSource,
}

fn read_kb(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The cap for files whose `st_dev` is `dev`.
pub fn cap_for_device(dev: u64) -> Cap {
    cap_in(Path::new("/sys"), dev)
}

/// The queue directory of the block device `major:minor` under `sys`, going from a partition to its disk.
fn queue_dir(sys: &Path, major: u32, minor: u32) -> Option<(PathBuf, String)> {
    let dev = std::fs::canonicalize(sys.join(format!("dev/block/{major}:{minor}"))).ok()?;
    for dir in [Some(dev.as_path()), dev.parent()].into_iter().flatten() {
        let queue = dir.join("queue");
        if queue.join("read_ahead_kb").is_file() {
            let name = dir.file_name()?.to_string_lossy().into_owned();
            return Some((queue, name));
        }
    }
    None
}

fn cap_in(sys: &Path, dev: u64) -> Cap {
    let (major, minor) = (rustix::fs::major(dev), rustix::fs::minor(dev));
    let page = crate::map::page_size() as u64;
    let finish = |kb: u64, source| Cap {
        bytes: (kb * 1024).div_ceil(page).max(1) * page,
        source,
    };
    if let Some((queue, name)) = queue_dir(sys, major, minor) {
        let ra = read_kb(&queue.join("read_ahead_kb")).unwrap_or(0);
        let io = read_kb(&queue.join("max_sectors_kb")).unwrap_or(0);
        if ra.max(io) > 0 {
            return finish(ra.max(io), CapSource::Device(name));
        }
    }
    let bdi = format!("{major}:{minor}");
    if let Some(ra) = read_kb(&sys.join("class/bdi").join(&bdi).join("read_ahead_kb"))
        && ra > 0
    {
        return finish(ra, CapSource::Bdi(bdi));
    }
    Cap {
        bytes: DEFAULT_CAP.max(page),
        source: CapSource::Default,
    }
}

/// Readahead caps per device, each found once.
#[derive(Debug, Default)]
pub struct Caps(std::collections::HashMap<u64, u64>);

impl Caps {
    /// The readahead cap, in bytes, of the device that holds `file`.
    pub fn of(&mut self, file: &std::fs::File) -> u64 {
        let dev = rustix::fs::fstat(file).map_or(0, |st| st.st_dev);
        *self
            .0
            .entry(dev)
            .or_insert_with(|| cap_for_device(dev).bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_sys() -> tempfile::TempDir {
        let sys = tempfile::tempdir().unwrap();
        let s = sys.path();
        let disk = s.join("devices/pci/block/sda");
        std::fs::create_dir_all(disk.join("queue")).unwrap();
        std::fs::create_dir_all(disk.join("sda1")).unwrap();
        std::fs::write(disk.join("sda1/partition"), "1\n").unwrap();
        std::fs::write(disk.join("queue/read_ahead_kb"), "128\n").unwrap();
        std::fs::write(disk.join("queue/max_sectors_kb"), "1280\n").unwrap();
        std::fs::create_dir_all(s.join("dev/block")).unwrap();
        std::os::unix::fs::symlink(&disk, s.join("dev/block/8:0")).unwrap();
        std::os::unix::fs::symlink(disk.join("sda1"), s.join("dev/block/8:1")).unwrap();
        std::fs::create_dir_all(s.join("class/bdi/0:42")).unwrap();
        std::fs::write(s.join("class/bdi/0:42/read_ahead_kb"), "4096\n").unwrap();
        sys
    }

    #[test]
    fn disks_partitions_bdis_and_the_default() {
        let sys = fake_sys();
        let dev = |maj, min| rustix::fs::makedev(maj, min);
        let disk = cap_in(sys.path(), dev(8, 0));
        assert_eq!(disk.bytes, 1280 << 10);
        assert_eq!(disk.source, CapSource::Device("sda".into()));
        let part = cap_in(sys.path(), dev(8, 1));
        assert_eq!(part, disk, "a partition uses its disk's queue");
        let bdi = cap_in(sys.path(), dev(0, 42));
        assert_eq!(
            (bdi.bytes, bdi.source),
            (4 << 20, CapSource::Bdi("0:42".into()))
        );
        let none = cap_in(sys.path(), dev(9, 9));
        assert_eq!(none.source, CapSource::Default);
        assert!(none.bytes >= DEFAULT_CAP);
    }

    #[test]
    fn the_real_device_of_the_temp_dir() {
        let dir = tempfile::tempdir().unwrap();
        let meta = std::fs::metadata(dir.path()).unwrap();
        let cap = cap_for_device(std::os::unix::fs::MetadataExt::dev(&meta));
        assert!(cap.bytes >= crate::map::page_size() as u64);
        assert_eq!(cap.bytes % crate::map::page_size() as u64, 0);
    }
}
