//! The JSON Lines records: "file" per file measured, "skipped" per path passed over, "error" per
//! failure, and "summary" last. Numbers are exact integers (bytes and pages); residency the kernel does
//! not tell is null, never a guess.

use serde_json::{Map, Value, json};

use super::args::Plan;
use super::measure::{FileStat, Totals};
use super::watch::Previous;
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

/// The fields of a "file" record.
pub fn file(plan: &Plan, f: &FileStat, previous: Option<&Previous>) -> Map<String, Value> {
    let r = &f.residency;
    let detail = |get: fn(&crate::sys::cachestat::Cachestat) -> u64| {
        r.detail.as_ref().map(get).map_or(Value::Null, Value::from)
    };
    let mut o = Map::new();
    o.insert("path".into(), f.name().into());
    o.insert("size".into(), f.identity.size.into());
    if plan.range.offset != 0 || plan.range.len.is_some() {
        o.insert("range".into(), json!([f.start, f.end]));
    }
    o.insert("pages".into(), r.pages.into());
    o.insert("resident_pages".into(), r.resident.into());
    o.insert("resident_bytes".into(), f.resident_bytes.into());
    o.insert("percent".into(), f.percent().map(round2).into());
    o.insert("dirty".into(), detail(|d| d.dirty));
    o.insert("writeback".into(), detail(|d| d.writeback));
    o.insert("evicted".into(), detail(|d| d.evicted));
    o.insert("recently_evicted".into(), detail(|d| d.recently_evicted));
    o.insert(
        "method".into(),
        r.used
            .map(|u| match u {
                Used::Cachestat => "cachestat",
                Used::Mincore => "mincore",
            })
            .into(),
    );
    o.insert("fs".into(), fs_name(r.fs).into());
    o.insert("unknown".into(), r.unknown.map(unknown_name).into());
    o.insert("counted".into(), f.counted.into());
    if plan.ranges {
        let ranges = f.runs.as_ref().map(|runs| {
            runs.iter()
                .filter(|run| run.resident)
                .map(|run| json!([run.start, run.end]))
                .collect::<Vec<_>>()
        });
        o.insert("resident_ranges".into(), ranges.into());
    }
    if plan.map.is_some() {
        let cells = f.cells.as_ref().map(|cells| {
            cells
                .iter()
                .map(|c| json!([c.resident, c.pages]))
                .collect::<Vec<_>>()
        });
        o.insert("map".into(), cells.into());
    }
    if plan.watch.is_some() {
        let change = previous.map(|p| p.change(f));
        o.insert(
            "resident_pages_delta".into(),
            change.and_then(|c| c.resident_pages).into(),
        );
        o.insert(
            "resident_bytes_delta".into(),
            change.and_then(|c| c.resident_bytes).into(),
        );
        o.insert(
            "recently_evicted_delta".into(),
            change.and_then(|c| c.recently_evicted).into(),
        );
    }
    o
}

/// The fields of the "summary" record.
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
    o.insert("unknown_size".into(), t.unknown_size.into());
    o.insert("resident_bytes".into(), t.resident_bytes.into());
    o.insert("percent".into(), t.percent().map(round2).into());
    o.insert("dirty".into(), detail(|d| d.dirty));
    o.insert("writeback".into(), detail(|d| d.writeback));
    o.insert("evicted".into(), detail(|d| d.evicted));
    o.insert("recently_evicted".into(), detail(|d| d.recently_evicted));
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
            "recently_evicted_delta".into(),
            change.and_then(|c| c.recently_evicted).into(),
        );
    }
    o
}
