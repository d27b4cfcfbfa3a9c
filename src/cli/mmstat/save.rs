//! `--save FILE`: the snapshot of every file's resident ranges, in the format of [`crate::snapshot`],
//! written whole or not at all: a kill leaves the old snapshot or the new one, never a part.

use std::io;
use std::path::{Path, PathBuf};

use super::measure::Report;
use crate::snapshot::{FileRecord, Writer};

/// Writes the snapshot of the files counted whose residency is known, and returns how many it holds;
/// with `fingerprints`, each file's content fingerprint too (absent for a file that changed since it
/// was measured). FILE is written whole or not at all (see [`crate::dest::write_whole`]).
pub fn save(path: &Path, report: &Report, fingerprints: bool) -> io::Result<usize> {
    crate::dest::write_whole(path, 0o644, |out| write(out, report, fingerprints))
}

fn write(out: &mut dyn io::Write, report: &Report, fingerprints: bool) -> io::Result<usize> {
    let mut writer = Writer::new(out)?;
    let mut n = 0;
    for f in report.files() {
        let (Some(runs), true) = (&f.runs, f.counted) else {
            continue;
        };
        if f.path.as_os_str() == "-" {
            continue;
        }
        let record = FileRecord {
            path: std::path::absolute(&f.path).unwrap_or_else(|_| PathBuf::from(&f.path)),
            identity: f.identity,
            fingerprint: if fingerprints {
                crate::fingerprint::of_path(&f.path, &f.identity)
            } else {
                None
            },
            resident: runs
                .iter()
                .filter(|r| r.resident)
                .map(|r| r.range)
                .collect(),
        };
        writer.file(&record)?;
        n += 1;
    }
    writer.finish()?;
    Ok(n)
}
