//! Prometheus's text exposition format, as node_exporter's textfile collector reads it: for each
//! metric, `# HELP` and `# TYPE` lines, then all its samples together; per-file gauges labelled by path
//! (label values escaped: backslash, double quote and newline; a name that is not UTF-8 gets a second
//! label, `path_bytes`, with its exact bytes, so two such names never make one series), then totals.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::fmt::Write as _;

use super::json::fs_name;
use super::measure::{FileStat, Totals};

/// Escapes a label value: `\` as `\\`, `"` as `\"`, a newline as `\n`.
pub fn escape_label(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// The labels that name a file or directory: `path="NAME"` (lossy when the name is not UTF-8), plus
/// `path_bytes="BASE64"` (its exact bytes, standard base64) only then, as JSON's `path_bytes`.
pub fn path_labels(name: &OsStr) -> String {
    let (text, bytes) = crate::name::split(name);
    match bytes {
        None => format!("path=\"{}\"", escape_label(&text)),
        Some(b64) => format!("path=\"{}\",path_bytes=\"{b64}\"", escape_label(&text)),
    }
}

type Getter = fn(&FileStat) -> Option<u64>;

/// Per-file gauges: name, help, value (absent when unknown).
const FILE_METRICS: &[(&str, &str, Getter)] = &[
    (
        "mmstat_file_size_bytes",
        "Bytes of the file looked at.",
        |f| Some(f.len()),
    ),
    ("mmstat_file_pages", "Pages of the file looked at.", |f| {
        Some(f.residency.pages)
    }),
    (
        "mmstat_file_resident_pages",
        "Pages of the file in the page cache (absent when the kernel does not say).",
        |f| f.resident(),
    ),
    (
        "mmstat_file_resident_bytes",
        "Bytes of the file in resident pages (absent when the kernel does not say).",
        |f| f.resident_bytes,
    ),
    (
        "mmstat_file_dirty_pages",
        "Dirty pages of the file (cachestat only).",
        |f| f.residency.detail.map(|d| d.dirty),
    ),
    (
        "mmstat_file_writeback_pages",
        "Pages of the file under writeback (cachestat only).",
        |f| f.residency.detail.map(|d| d.writeback),
    ),
    (
        "mmstat_file_evicted_pages",
        "Evicted pages of the file the kernel still remembers (cachestat only).",
        |f| f.residency.detail.map(|d| d.evicted),
    ),
    (
        "mmstat_file_recently_evicted_pages",
        "Evicted pages of the file that were recently in use, a sign of thrashing (cachestat only).",
        |f| f.residency.detail.map(|d| d.recently_evicted),
    ),
];

/// The `# HELP` and `# TYPE` lines of a gauge.
pub(super) fn family(out: &mut String, name: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} gauge");
}

/// The whole exposition for one report: per-file gauges for `files` (all, sorted, cut to --top, or
/// none with --summary), then the totals over every file. A path named twice (overlapping arguments)
/// gives one series, from its first measurement, as a series may appear only once.
pub fn render(t: &Totals, files: &[&FileStat]) -> String {
    let mut out = String::new();
    let mut seen = HashSet::new();
    let files: Vec<(&FileStat, String)> = files
        .iter()
        .filter(|f| seen.insert(f.path.as_path()))
        .map(|f| (*f, path_labels(f.path.as_os_str())))
        .collect();
    for (name, help, get) in FILE_METRICS {
        let samples: Vec<(&(&FileStat, String), u64)> =
            files.iter().filter_map(|f| Some((f, get(f.0)?))).collect();
        if samples.is_empty() {
            continue;
        }
        family(&mut out, name, help);
        for ((f, labels), value) in samples {
            let _ = writeln!(
                out,
                "{name}{{{labels},fs=\"{}\"}} {value}",
                fs_name(f.residency.fs)
            );
        }
    }
    let totals: [(&str, &str, Option<f64>); 10] = [
        (
            "mmstat_files",
            "Distinct files measured (hard links once).",
            Some(t.files as f64),
        ),
        (
            "mmstat_directories",
            "Directories walked.",
            Some(t.dirs as f64),
        ),
        (
            "mmstat_errors",
            "Files and directories that could not be read.",
            Some(t.errors as f64),
        ),
        (
            "mmstat_unknown_files",
            "Files whose residency the kernel does not tell.",
            Some(t.unknown_files as f64),
        ),
        (
            "mmstat_pages",
            "Pages of all files measured.",
            Some(t.pages as f64),
        ),
        (
            "mmstat_resident_pages",
            "Resident pages of the files whose residency is known.",
            Some(t.resident_pages as f64),
        ),
        (
            "mmstat_size_bytes",
            "Bytes of all files measured.",
            Some(t.size as f64),
        ),
        (
            "mmstat_resident_bytes",
            "Bytes in resident pages of the files whose residency is known.",
            Some(t.resident_bytes as f64),
        ),
        (
            "mmstat_resident_ratio",
            "Resident share of the pages whose residency is known, 0 to 1.",
            t.percent().map(|p| p / 100.0),
        ),
        (
            "mmstat_scan_duration_seconds",
            "How long the measurement took.",
            Some(t.elapsed.as_secs_f64()),
        ),
    ];
    for (name, help, value) in totals {
        if let Some(value) = value {
            family(&mut out, name, help);
            let _ = writeln!(out, "{name} {value}");
        }
    }
    if let Some(d) = t.detail {
        for (name, help, value) in [
            (
                "mmstat_dirty_pages",
                "Dirty pages of all files (cachestat only).",
                d.dirty,
            ),
            (
                "mmstat_recently_evicted_pages",
                "Recently evicted pages of all files (cachestat only).",
                d.recently_evicted,
            ),
        ] {
            family(&mut out, name, help);
            let _ = writeln!(out, "{name} {value}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_label_values() {
        assert_eq!(escape_label("plain/path"), "plain/path");
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
