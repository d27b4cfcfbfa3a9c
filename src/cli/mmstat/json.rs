//! The JSON Lines records: "file" per file measured, "skipped" per path passed over, "error" per
//! failure, and "summary" last. Numbers are exact integers (bytes and pages); residency the kernel does
//! not tell is null, never a guess.

use serde::Serialize;
use serde_json::{Map, Value};

use super::args::Plan;
use super::measure::{FileStat, Totals};
use super::watch::Previous;
use crate::range::Range;
use crate::residency::{FsKind, Unknown, Used};

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The name of a filesystem kind in JSON.
pub fn fs_name(fs: FsKind) -> &'static str {
    match fs {
        FsKind::Storage => "storage",
        FsKind::Tmpfs => "tmpfs",
        FsKind::Hugetlbfs => "hugetlbfs",
    }
}

/// The reason for unknown residency in JSON.
pub fn unknown_name(unknown: Unknown) -> &'static str {
    match unknown {
        Unknown::NotWritable => "not-writable",
        Unknown::Hugetlbfs => "hugetlbfs",
    }
}

/// Changes since the previous refresh, under --watch.
#[derive(Debug, Serialize)]
pub struct Deltas {
    resident_pages_delta: Option<i64>,
    resident_bytes_delta: Option<i64>,
    recently_evicted_pages_delta: Option<i64>,
}

/// A "file" record, serialised straight to the output (a tree can have millions).
#[derive(Debug, Serialize)]
pub struct FileRecord<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    path: std::borrow::Cow<'a, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    path_bytes: Option<String>,
    size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    range: Option<Range>,
    pages: u64,
    resident_pages: Option<u64>,
    resident_bytes: Option<u64>,
    percent: Option<f64>,
    dirty_pages: Option<u64>,
    writeback_pages: Option<u64>,
    evicted_pages: Option<u64>,
    recently_evicted_pages: Option<u64>,
    method: Option<&'static str>,
    fs: &'static str,
    unknown_reason: Option<&'static str>,
    counted: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    resident_ranges: Option<Option<Vec<Range>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    map: Option<Option<Vec<[u64; 2]>>>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    deltas: Option<Deltas>,
}

/// The "file" record of a file.
pub fn file<'a>(plan: &Plan, f: &'a FileStat, previous: Option<&Previous>) -> FileRecord<'a> {
    let r = &f.residency;
    let detail = |get: fn(&crate::sys::cachestat::Cachestat) -> u64| r.detail.as_ref().map(get);
    // The same pair of fields as common::insert_name writes.
    let (path, path_bytes) = crate::name::split(f.path.as_os_str());
    FileRecord {
        kind: "file",
        path,
        path_bytes,
        size: f.identity.size,
        range: (plan.range != Range::ALL).then_some(f.range),
        pages: r.pages,
        resident_pages: r.resident,
        resident_bytes: f.resident_bytes,
        percent: f.percent().map(round2),
        dirty_pages: detail(|d| d.dirty),
        writeback_pages: detail(|d| d.writeback),
        evicted_pages: detail(|d| d.evicted),
        recently_evicted_pages: detail(|d| d.recently_evicted),
        method: r.used.map(|u| match u {
            Used::Cachestat => "cachestat",
            Used::Mincore => "mincore",
        }),
        fs: fs_name(r.fs),
        unknown_reason: r.unknown.map(unknown_name),
        counted: f.counted,
        resident_ranges: plan.ranges.then(|| {
            f.runs.as_ref().map(|runs| {
                runs.iter()
                    .filter(|run| run.resident)
                    .map(|run| run.range)
                    .collect()
            })
        }),
        map: plan.map.map(|_| {
            f.cells
                .as_ref()
                .map(|cells| cells.iter().map(|c| [c.resident, c.pages]).collect())
        }),
        deltas: plan.watch.map(|_| {
            let change = previous.map(|p| p.change(f)).unwrap_or_default();
            Deltas {
                resident_pages_delta: change.resident_pages,
                resident_bytes_delta: change.resident_bytes,
                recently_evicted_pages_delta: change.recently_evicted,
            }
        }),
    }
}

/// The fields of the "summary" record (after its type and schema, which the writer adds).
pub fn summary(plan: &Plan, t: &Totals, previous: Option<&Previous>) -> Map<String, Value> {
    let detail = |get: fn(&crate::sys::cachestat::Cachestat) -> u64| {
        t.detail.as_ref().map(get).map_or(Value::Null, Value::from)
    };
    let mut o = Map::new();
    o.insert("files".into(), t.files.into());
    o.insert("links".into(), t.links.into());
    o.insert("directories".into(), t.dirs.into());
    o.insert("skipped".into(), t.skipped.into());
    o.insert("errors".into(), t.errors.into());
    o.insert("unknown_files".into(), t.unknown_files.into());
    o.insert("pages".into(), t.pages.into());
    o.insert("resident_pages".into(), t.resident_pages.into());
    o.insert("unknown_pages".into(), t.unknown_pages.into());
    o.insert("size".into(), t.size.into());
    o.insert("unknown_bytes".into(), t.unknown_size.into());
    o.insert("resident_bytes".into(), t.resident_bytes.into());
    o.insert("percent".into(), t.percent().map(round2).into());
    o.insert("dirty_pages".into(), detail(|d| d.dirty));
    o.insert("writeback_pages".into(), detail(|d| d.writeback));
    o.insert("evicted_pages".into(), detail(|d| d.evicted));
    o.insert(
        "recently_evicted_pages".into(),
        detail(|d| d.recently_evicted),
    );
    o.insert("elapsed_seconds".into(), t.elapsed.as_secs_f64().into());
    if let Some(threshold) = plan.check {
        o.insert("check".into(), threshold.into());
        o.insert(
            "check_passed".into(),
            super::check_passes(t, threshold).into(),
        );
    }
    if plan.watch.is_some() {
        let change = previous.map(|p| p.total_change(t));
        o.insert(
            "resident_pages_delta".into(),
            change.and_then(|c| c.resident_pages).into(),
        );
        o.insert(
            "resident_bytes_delta".into(),
            change.and_then(|c| c.resident_bytes).into(),
        );
        o.insert(
            "recently_evicted_pages_delta".into(),
            change.and_then(|c| c.recently_evicted).into(),
        );
    }
    o
}
