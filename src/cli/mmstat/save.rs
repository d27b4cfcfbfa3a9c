//! `--save FILE`: the snapshot of every file's resident ranges, in the format of [`crate::snapshot`],
//! written to a temporary file beside FILE and renamed over it, so that FILE is never half written.

use std::fs::{self, File};
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};

use super::measure::Report;
use crate::snapshot::{FileRecord, Writer};

/// Writes the snapshot of the files counted whose residency is known, and returns how many it holds.
pub fn save(path: &Path, report: &Report) -> io::Result<usize> {
    // Something that is not a regular file (a pipe, /dev/stdout) is written in place.
    if fs::metadata(path).is_ok_and(|m| !m.is_file()) {
        let out = fs::OpenOptions::new().write(true).open(path)?;
        return write(BufWriter::new(out), report).map(|(n, _)| n);
    }
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::other("not a file name"))?;
    let mut temporary = name.to_os_string();
    temporary.push(format!(".mmstat-{}.tmp", std::process::id()));
    let temporary = path.with_file_name(temporary);
    let result = File::create_new(&temporary).and_then(|file| {
        let (n, out) = write(BufWriter::new(file), report)?;
        let file = out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        fs::rename(&temporary, path)?;
        Ok(n)
    });
    if result.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    result
}

fn write<W: io::Write>(out: W, report: &Report) -> io::Result<(usize, W)> {
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
            resident: runs
                .iter()
                .filter(|r| r.resident)
                .map(|r| (r.start, r.end))
                .collect(),
        };
        writer.file(&record)?;
        n += 1;
    }
    Ok((n, writer.finish()?))
}
