//! `mmstat --system`: the page cache of the whole machine, as the core measures it
//! ([`crate::residency::system`]), printed as text, JSON Lines or Prometheus text, with a progress bar
//! on a terminal and the problems met summarised on standard error.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use anyhow::Context;
use serde_json::{Map, Value};

use super::args::{Format, Plan};
use super::prometheus::escape_label;
use super::table::{elapsed_text, size_text};
use crate::cli::common::{JsonLines, ProgressArgs, Reporter, insert_name};
use crate::cli::quote;
use crate::residency::system::{self, Part, Reconciliation, SystemOptions, SystemReport};

/// What the rest of `Cached` is, said plainly.
pub const REST: &str = "The rest is pages of files the walk could not reach: files on filesystems no \
longer mounted, on mounts of other mount namespaces that no process here holds, and inodes no longer \
linked nor open, which stay cached until reclaimed.";

/// What the cgroup view cannot show.
pub const CGROUP_NOTE: &str = "A file counts in the cgroup of every process that holds it. The kernel \
charges each page to the cgroup that first faulted it in, which may be none of these: this view shows \
who holds the files, not whom their pages are charged to (see memory.stat in the cgroup's directory).";

const PARTS: [(Part, &str, &str); 4] = [
    (Part::Walked, "walked", "files on walked filesystems"),
    (
        Part::Memory,
        "tmpfs",
        "files on tmpfs and other memory filesystems (Shmem, not evictable)",
    ),
    (
        Part::Deleted,
        "deleted",
        "deleted files still open or mapped (memfd and shared memory too)",
    ),
    (
        Part::Elsewhere,
        "elsewhere",
        "files processes hold on filesystems not walked",
    ),
];

fn part_name(part: Part) -> &'static str {
    PARTS[part as usize].1
}

fn share(bytes: u64, of: u64) -> f64 {
    if of == 0 {
        0.0
    } else {
        (bytes as f64 * 10_000.0 / of as f64).round() / 100.0
    }
}

/// Measures the machine and reports it.
pub(crate) fn run(plan: &Plan, options: &SystemOptions, reporter: &Reporter) -> anyhow::Result<()> {
    let survey = system::survey(options.all_fs).context("cannot read the mount table")?;
    let progress = ProgressArgs {
        quiet: plan.quiet,
        progress: false,
    };
    let bar = progress.bar(survey.used_bytes, 0);
    let report = system::measure(&survey, options, &|bytes| bar.inc(bytes))
        .context("cannot list the processes")?;
    bar.finish_and_clear();
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    match plan.format {
        Format::Text => text(&mut out, plan, &report)?,
        Format::Json => json(&mut JsonLines::new(&mut out), &report)?,
        Format::Prometheus => out.write_all(prometheus(&report).as_bytes())?,
    }
    out.flush()?;
    for warning in warnings(&report) {
        reporter.warn(warning);
    }
    Ok(())
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The problems met, summarised: a line each, with a few examples.
fn warnings(report: &SystemReport) -> Vec<String> {
    let p = &report.problems;
    let mut out = Vec::new();
    let mut counted = |n: u64, one: &str, many: &str| {
        if n > 0 {
            out.push(format!("{n} {}", if n == 1 { one } else { many }));
        }
    };
    counted(
        p.unreadable,
        "directory or file could not be read (permission denied): its pages are in the rest",
        "directories or files could not be read (permission denied): their pages are in the rest",
    );
    counted(
        p.vanished,
        "file or directory vanished while the walk ran (deleted or unmounted)",
        "files or directories vanished while the walk ran (deleted or unmounted)",
    );
    counted(
        p.failed,
        "file or directory could not be measured",
        "files or directories could not be measured",
    );
    counted(
        p.processes_unreadable,
        "process could not be looked at (its files may not be listed)",
        "processes could not be looked at (their files may not be listed)",
    );
    counted(
        p.processes_gone,
        "process exited before it could be looked at",
        "processes exited before they could be looked at",
    );
    if p.unreadable + p.failed > 0 {
        for (path, reason) in &p.examples {
            out.push(format!("for example {}: {reason}", quote::name(path)));
        }
    }
    if report.unknown_files > 0 {
        out.push(format!(
            "the residency of {} is unknown: the kernel does not tell the page-cache residency of files \
you may not write; run as root",
            plural(report.unknown_files, "file", "files")
        ));
    }
    out
}

fn mount_point(report: &SystemReport, i: Option<usize>) -> Option<&Path> {
    Some(report.mounts.get(i?)?.mount.point.as_path())
}

/// Left-aligned columns, the last one free.
fn table(rows: &[Vec<String>], right: usize) -> Vec<String> {
    let cols = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..cols)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    rows.iter()
        .map(|r| {
            let mut line = String::new();
            for (c, cell) in r.iter().enumerate() {
                if c + 1 == cols {
                    line.push_str(cell);
                } else if c < right {
                    let _ = write!(line, "{cell:>w$}  ", w = widths[c]);
                } else {
                    let _ = write!(line, "{cell:<w$}  ", w = widths[c]);
                }
            }
            line
        })
        .collect()
}

fn text(out: &mut dyn Write, plan: &Plan, r: &SystemReport) -> io::Result<()> {
    let size = |b: u64| size_text(plan, b);
    if plan.rows {
        let mut rows = vec![vec![
            "RES".to_string(),
            "SIZE".into(),
            "PART".into(),
            "HELD BY".into(),
            "FILE".into(),
        ]];
        for f in &r.top {
            let held = match (f.pid, f.processes) {
                (Some(pid), 1) => format!("pid {pid}"),
                (Some(pid), n) => format!("pid {pid} +{}", n - 1),
                _ => "-".into(),
            };
            rows.push(vec![
                size(f.resident_bytes),
                size(f.size),
                part_name(f.part).into(),
                held,
                quote::row(&f.path),
            ]);
        }
        for line in table(&rows, 2) {
            writeln!(out, "{line}")?;
        }
        writeln!(out)?;
        let mut rows = vec![vec![
            "RES".to_string(),
            "FILES".into(),
            "TYPE".into(),
            "MOUNT".into(),
        ]];
        for m in r.mounts.iter().filter(|m| m.passed.is_none()) {
            rows.push(vec![
                size(m.resident_bytes),
                m.files.to_string(),
                m.mount.fstype.clone(),
                quote::row(&m.mount.point),
            ]);
        }
        for line in table(&rows, 2) {
            writeln!(out, "{line}")?;
        }
        writeln!(out)?;
        if let Some(cgroups) = &r.cgroups {
            let mut rows = vec![vec![
                "RES".to_string(),
                "FILES".into(),
                "PROCS".into(),
                "MEMORY CGROUP".into(),
            ]];
            for c in cgroups {
                rows.push(vec![
                    size(c.resident_bytes),
                    c.files.to_string(),
                    c.processes.to_string(),
                    quote::row(&c.path),
                ]);
            }
            for line in table(&rows, 3) {
                writeln!(out, "{line}")?;
            }
            writeln!(out, "{CGROUP_NOTE}")?;
            writeln!(out)?;
        }
    }
    reconciliation_text(out, plan, &r.reconciliation)?;
    let walked = r.mounts.iter().filter(|m| m.passed.is_none()).count() as u64;
    writeln!(
        out,
        "{}, {} counted once, {}; {} walked ({} passed over); {} hold {}; {}",
        plural(r.files, "file", "files"),
        plural(r.links, "hard link", "hard links"),
        plural(r.dirs, "directory", "directories"),
        plural(walked, "filesystem", "filesystems"),
        r.mounts.len() as u64 - walked,
        plural(r.processes, "process", "processes"),
        plural(r.held_files, "file", "files"),
        elapsed_text(r.elapsed)
    )
}

fn reconciliation_text(out: &mut dyn Write, plan: &Plan, rec: &Reconciliation) -> io::Result<()> {
    let m = &rec.meminfo;
    let size = |b: u64| size_text(plan, b);
    writeln!(
        out,
        "Cached {} (/proc/meminfo at the end of the walk), made of:",
        size(m.cached)
    )?;
    let mut rows = Vec::new();
    for (part, _, what) in PARTS {
        let bytes = rec.part(part);
        let what = if part == Part::Memory {
            format!("{what}; Shmem is {}", size(m.shmem))
        } else {
            what.to_string()
        };
        rows.push(vec![
            size(bytes),
            format!("{:.1}%", share(bytes, m.cached)),
            what,
        ]);
    }
    rows.push(vec![
        size(rec.rest()),
        format!("{:.1}%", share(rec.rest(), m.cached)),
        "the rest, not attributed to any file found".into(),
    ]);
    for line in table(&rows, 2) {
        writeln!(out, "  {line}")?;
    }
    if rec.over() > 0 {
        writeln!(
            out,
            "  The files found hold {} more than Cached: the cache changed while the walk ran.",
            size(rec.over())
        )?;
    }
    writeln!(
        out,
        "Buffers {} beside it: the cache of block devices themselves (filesystem metadata, raw device \
reads), not of files.",
        size(m.buffers)
    )?;
    writeln!(out, "{REST}")
}

fn named(record: &mut Map<String, Value>, key: &str, path: &Path) {
    insert_name(record, key, path.as_os_str());
}

fn json<W: Write>(out: &mut JsonLines<W>, r: &SystemReport) -> io::Result<()> {
    for (rank, f) in r.top.iter().enumerate() {
        let mut rec = Map::new();
        rec.insert("type".into(), "top_file".into());
        rec.insert("rank".into(), (rank as u64 + 1).into());
        named(&mut rec, "path", &f.path);
        rec.insert("size".into(), f.size.into());
        rec.insert("resident_bytes".into(), f.resident_bytes.into());
        rec.insert("part".into(), part_name(f.part).into());
        match mount_point(r, f.mount) {
            Some(p) => named(&mut rec, "mount", p),
            None => {
                rec.insert("mount".into(), Value::Null);
            }
        }
        rec.insert("pid".into(), f.pid.map_or(Value::Null, Value::from));
        rec.insert("processes".into(), f.processes.into());
        out.record(&rec)?;
    }
    for m in &r.mounts {
        let mut rec = Map::new();
        rec.insert("type".into(), "mount".into());
        named(&mut rec, "mount", &m.mount.point);
        rec.insert("fstype".into(), m.mount.fstype.as_str().into());
        named(&mut rec, "source", &m.mount.source);
        rec.insert("walked".into(), m.passed.is_none().into());
        rec.insert(
            "reason".into(),
            m.passed
                .as_ref()
                .map_or(Value::Null, |p| p.describe().into()),
        );
        rec.insert("files".into(), m.files.into());
        rec.insert("size".into(), m.size.into());
        rec.insert("resident_bytes".into(), m.resident_bytes.into());
        rec.insert("unknown_files".into(), m.unknown_files.into());
        rec.insert("held_files".into(), m.held_files.into());
        out.record(&rec)?;
    }
    for c in r.cgroups.iter().flatten() {
        let mut rec = Map::new();
        rec.insert("type".into(), "cgroup".into());
        named(&mut rec, "cgroup", &c.path);
        rec.insert("processes".into(), c.processes.into());
        rec.insert("files".into(), c.files.into());
        rec.insert("resident_bytes".into(), c.resident_bytes.into());
        out.record(&rec)?;
    }
    let rec = &r.reconciliation;
    let cached = rec.meminfo.cached;
    let mut fields = Map::new();
    fields.insert("cached_bytes".into(), cached.into());
    fields.insert("buffers_bytes".into(), rec.meminfo.buffers.into());
    fields.insert("shmem_bytes".into(), rec.meminfo.shmem.into());
    let parts = PARTS
        .iter()
        .map(|(part, name, _)| (*name, rec.part(*part)))
        .chain([("rest", rec.rest())]);
    for (name, bytes) in parts {
        fields.insert(format!("{name}_bytes"), bytes.into());
        fields.insert(format!("{name}_percent"), share(bytes, cached).into());
    }
    fields.insert("over_bytes".into(), rec.over().into());
    out.write("reconciliation", fields)?;
    let p = &r.problems;
    let mut s = Map::new();
    s.insert("files".into(), r.files.into());
    s.insert("links".into(), r.links.into());
    s.insert("directories".into(), r.dirs.into());
    s.insert("errors".into(), (p.unreadable + p.failed).into());
    s.insert("vanished".into(), p.vanished.into());
    s.insert("unknown_files".into(), r.unknown_files.into());
    s.insert("processes".into(), r.processes.into());
    s.insert("held_files".into(), r.held_files.into());
    s.insert("processes_gone".into(), p.processes_gone.into());
    s.insert("processes_unreadable".into(), p.processes_unreadable.into());
    s.insert(
        "mounts_walked".into(),
        (r.mounts.iter().filter(|m| m.passed.is_none()).count() as u64).into(),
    );
    s.insert("elapsed_seconds".into(), r.elapsed.as_secs_f64().into());
    out.write("summary", s)
}

fn family(out: &mut String, name: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} gauge");
}

fn label(path: &Path) -> Cow<'_, str> {
    Cow::Owned(escape_label(&path.to_string_lossy()))
}

fn prometheus(r: &SystemReport) -> String {
    let mut out = String::new();
    let rec = &r.reconciliation;
    family(
        &mut out,
        "mmstat_system_cached_bytes",
        "Cached (/proc/meminfo) split by where its pages were found; rest: not attributed.",
    );
    for (part, name, _) in PARTS {
        let _ = writeln!(
            out,
            "mmstat_system_cached_bytes{{part=\"{name}\"}} {}",
            rec.part(part)
        );
    }
    let _ = writeln!(
        out,
        "mmstat_system_cached_bytes{{part=\"rest\"}} {}",
        rec.rest()
    );
    family(
        &mut out,
        "mmstat_system_meminfo_bytes",
        "The kernel's figures from /proc/meminfo.",
    );
    for (field, value) in [
        ("Cached", rec.meminfo.cached),
        ("Buffers", rec.meminfo.buffers),
        ("Shmem", rec.meminfo.shmem),
    ] {
        let _ = writeln!(
            out,
            "mmstat_system_meminfo_bytes{{field=\"{field}\"}} {value}"
        );
    }
    let walked: Vec<_> = r.mounts.iter().filter(|m| m.passed.is_none()).collect();
    for (name, help, get) in [
        (
            "mmstat_mount_resident_bytes",
            "Resident bytes of the files of a walked mount.",
            (|m| m.resident_bytes) as fn(&system::MountTotals) -> u64,
        ),
        (
            "mmstat_mount_files",
            "Files of a walked mount, each counted once.",
            |m| m.files,
        ),
    ] {
        family(&mut out, name, help);
        for m in &walked {
            let _ = writeln!(
                out,
                "{name}{{mount=\"{}\",fstype=\"{}\"}} {}",
                label(&m.mount.point),
                escape_label(&m.mount.fstype),
                get(m)
            );
        }
    }
    if !r.top.is_empty() {
        family(
            &mut out,
            "mmstat_system_file_resident_bytes",
            "Resident bytes of the files with the most (--top).",
        );
        for f in &r.top {
            let _ = writeln!(
                out,
                "mmstat_system_file_resident_bytes{{path=\"{}\",part=\"{}\"}} {}",
                label(&f.path),
                part_name(f.part),
                f.resident_bytes
            );
        }
    }
    if let Some(cgroups) = &r.cgroups {
        family(
            &mut out,
            "mmstat_cgroup_resident_bytes",
            "Resident bytes of the files held by the processes of a memory cgroup.",
        );
        for c in cgroups {
            let _ = writeln!(
                out,
                "mmstat_cgroup_resident_bytes{{cgroup=\"{}\"}} {}",
                label(&c.path),
                c.resident_bytes
            );
        }
    }
    for (name, help, value) in [
        (
            "mmstat_files",
            "Distinct files measured (hard links once).",
            r.files as f64,
        ),
        ("mmstat_directories", "Directories walked.", r.dirs as f64),
        (
            "mmstat_errors",
            "Files and directories that could not be read.",
            (r.problems.unreadable + r.problems.failed) as f64,
        ),
        (
            "mmstat_scan_duration_seconds",
            "How long the measurement took.",
            r.elapsed.as_secs_f64(),
        ),
    ] {
        family(&mut out, name, help);
        let _ = writeln!(out, "{name} {value}");
    }
    out
}
