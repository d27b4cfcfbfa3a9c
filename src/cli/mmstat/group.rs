//! `--group-by dir[:DEPTH]`: the files measured, added up per directory at most DEPTH levels below the
//! argument they were found under (files higher up count in their own directory), so that a tree of
//! millions of files gives a bounded number of rows, JSON "group" records or Prometheus series. Each
//! file counts once (a second name of a file already counted adds to `links` only), so the groups add
//! up to the summary. With --top N, each group keeps its first N files in the --sort order (resident
//! bytes by default), holding at most 2N of them while the files are added: fed one at a time as they
//! are measured ([`Grouper`]), the groups take memory for their number times N, whatever the tree.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::{self, Write};
use std::ops::Deref;
use std::path::{Component, Path, PathBuf};

use serde::Serialize;

use super::args::{Column, Format, GroupBy, Plan, SortKey};
use super::measure::{FileStat, Outcome, Report, Totals};
use super::table::{self, percent_text, size_text};
use super::watch::Previous;
use super::{Frame, by_key, problem, problem_record, prometheus, refresh_heading, summary_record};
use crate::cli::common::{JsonLines, Reporter, insert_name};
use crate::cli::quote;
use crate::residency::percent;
use crate::sys::cachestat::Cachestat;

/// The files of one directory (and of the directories below it, down to the depth asked).
#[derive(Debug)]
pub struct Group<'r> {
    /// The directory, as named: the argument joined with the components below it.
    pub path: PathBuf,
    /// Distinct files counted here.
    pub files: u64,
    /// Further names of files already counted (here or in another group).
    pub links: u64,
    /// Pages of the files.
    pub pages: u64,
    /// Resident pages, over the files whose residency is known.
    pub resident_pages: u64,
    /// Files whose residency is unknown.
    pub unknown_files: u64,
    /// Their pages.
    pub unknown_pages: u64,
    /// Bytes of the files.
    pub size: u64,
    /// Bytes of the files whose residency is unknown.
    pub unknown_size: u64,
    /// Bytes in resident pages.
    pub resident_bytes: u64,
    /// Sums of cachestat's counters, when some file here was measured with cachestat.
    pub detail: Option<Cachestat>,
    /// With --top N: the first N files in the plan's order.
    pub top: Vec<Kept<'r>>,
}

/// A file kept under its group: borrowed from a whole report, or owned when the files stream.
#[derive(Debug)]
pub enum Kept<'r> {
    /// A file of a report kept whole.
    Borrowed(&'r FileStat),
    /// A file handed over as it was measured.
    Owned(Box<FileStat>),
}

impl Deref for Kept<'_> {
    type Target = FileStat;

    fn deref(&self) -> &FileStat {
        match self {
            Kept::Borrowed(f) => f,
            Kept::Owned(f) => f,
        }
    }
}

impl<'r> Group<'r> {
    fn new(path: PathBuf) -> Self {
        Group {
            path,
            files: 0,
            links: 0,
            pages: 0,
            resident_pages: 0,
            unknown_files: 0,
            unknown_pages: 0,
            size: 0,
            unknown_size: 0,
            resident_bytes: 0,
            detail: None,
            top: Vec::new(),
        }
    }

    fn add(&mut self, f: &FileStat) {
        if !f.counted {
            self.links += 1;
            return;
        }
        let r = &f.residency;
        self.files += 1;
        self.pages += r.pages;
        self.size += f.len();
        match r.resident {
            Some(resident) => {
                self.resident_pages += resident;
                self.resident_bytes += f.resident_bytes.unwrap_or(0);
            }
            None => {
                self.unknown_files += 1;
                self.unknown_pages += r.pages;
                self.unknown_size += f.len();
            }
        }
        if let Some(d) = r.detail {
            let sum = self.detail.get_or_insert_with(Cachestat::default);
            sum.cache += d.cache;
            sum.dirty += d.dirty;
            sum.writeback += d.writeback;
            sum.evicted += d.evicted;
            sum.recently_evicted += d.recently_evicted;
        }
    }

    /// Pages whose residency is known.
    fn known_pages(&self) -> u64 {
        self.pages - self.unknown_pages
    }

    /// The share of known pages resident, in percent; `None` with no known page.
    pub fn percent(&self) -> Option<f64> {
        percent(self.resident_pages, self.known_pages())
    }

    /// Whether the residency of some page is known (else resident counts show as unknown).
    fn known(&self) -> bool {
        self.files > self.unknown_files
    }
}

/// Finds the directory each file counts in: the argument it was found under (the report lists the
/// files in argument order, so a cursor over the arguments follows them), then at most `depth`
/// directory levels below it.
struct Keyer<'p> {
    roots: Vec<&'p Path>,
    cursor: usize,
    depth: usize,
}

impl Keyer<'_> {
    fn key(&mut self, path: &Path) -> PathBuf {
        let found = self.roots[self.cursor..]
            .iter()
            .position(|root| path.starts_with(root));
        let Some(at) = found else {
            return self.outside(path);
        };
        self.cursor += at;
        let root = self.roots[self.cursor];
        let below = path.strip_prefix(root).unwrap_or(Path::new(""));
        let Some(dirs) = below.parent() else {
            // The argument itself is a file: it counts in the directory that holds it.
            return crate::copy::place::parent_dir(path);
        };
        let mut key = root.to_path_buf();
        key.extend(dirs.components().take(self.depth));
        key
    }

    /// The directory of a file named by no argument (a process's file, standard input): at most
    /// `depth` levels below the root (or the current directory).
    fn outside(&self, path: &Path) -> PathBuf {
        if path.as_os_str() == "-" {
            return PathBuf::from("-");
        }
        let Some(dirs) = path.parent().filter(|p| !p.as_os_str().is_empty()) else {
            return PathBuf::from(".");
        };
        let mut key = PathBuf::new();
        let mut levels = 0;
        for c in dirs.components() {
            if matches!(c, Component::Normal(_)) {
                if levels == self.depth {
                    break;
                }
                levels += 1;
            }
            key.push(c);
        }
        if key.as_os_str().is_empty() {
            key.push(".");
        }
        key
    }
}

/// The groups of one report, in the order they are shown.
#[derive(Debug)]
pub struct Groups<'r> {
    /// In order of first appearance, or sorted by --sort.
    pub list: Vec<Group<'r>>,
}

/// Adds up files per directory as they come (in the order of the arguments they were found under).
pub struct Grouper<'p, 'r> {
    keyer: Keyer<'p>,
    index: HashMap<PathBuf, usize>,
    list: Vec<Group<'r>>,
    last: Option<(PathBuf, usize)>,
    /// Files kept per group (--top), 0 for none.
    keep: usize,
    /// Their order.
    key: SortKey,
    /// The order of the groups (--sort).
    sort: Option<SortKey>,
    /// Whether rows are shown (not with --summary or -q): else nothing is added up.
    rows: bool,
}

impl<'p, 'r> Grouper<'p, 'r> {
    /// No groups yet.
    pub fn new(plan: &'p Plan, by: GroupBy) -> Self {
        let roots = plan
            .inputs
            .iter()
            .filter_map(|name| match name {
                crate::cli::common::InputName::Path(p) => Some(p.as_path()),
                _ => None,
            })
            .collect();
        Grouper {
            keyer: Keyer {
                roots,
                cursor: 0,
                depth: by.depth,
            },
            index: HashMap::new(),
            list: Vec::new(),
            last: None,
            keep: plan.top.unwrap_or(0),
            key: plan.sort.unwrap_or(SortKey::Res),
            sort: plan.sort,
            rows: plan.rows,
        }
    }

    /// Adds a file to its group (which keeps it if it is among the group's first N).
    pub fn add(&mut self, f: Kept<'r>) {
        if !self.rows {
            return;
        }
        let path = self.keyer.key(&f.path);
        let at = match &self.last {
            Some((p, at)) if *p == path => *at,
            _ => {
                let list = &mut self.list;
                let at = *self.index.entry(path.clone()).or_insert_with(|| {
                    list.push(Group::new(path.clone()));
                    list.len() - 1
                });
                self.last = Some((path, at));
                at
            }
        };
        let group = &mut self.list[at];
        group.add(&f);
        if self.keep > 0 {
            group.top.push(f);
            if group.top.len() >= 2 * self.keep {
                cut(&mut group.top, self.key, self.keep);
            }
        }
    }

    /// The groups, in the order they are shown.
    pub fn finish(self) -> Groups<'r> {
        let mut list = self.list;
        for group in &mut list {
            cut(&mut group.top, self.key, self.keep);
        }
        if let Some(key) = self.sort {
            list.sort_by(|a, b| order(key, a, b));
        }
        Groups { list }
    }
}

impl<'r> Groups<'r> {
    /// Adds up the files of `report` per directory (none with --summary or -q, which show no rows).
    pub fn of(plan: &Plan, by: GroupBy, report: &'r Report) -> Self {
        let mut grouper = Grouper::new(plan, by);
        for f in report.files() {
            grouper.add(Kept::Borrowed(f));
        }
        grouper.finish()
    }

    /// The files shown under the groups (--top), group by group.
    fn top_files(&self) -> Vec<&FileStat> {
        self.list
            .iter()
            .flat_map(|g| g.top.iter().map(|f| &**f))
            .collect()
    }
}

/// Sorts `files` by `key` (ties in input order) and keeps the first `keep`.
fn cut(files: &mut Vec<Kept>, key: SortKey, keep: usize) {
    files.sort_by(|a, b| by_key(key, a, b));
    files.truncate(keep);
}

/// The order of two groups under a sort key: largest first, names in byte order; under `none`, as
/// they are listed.
fn order(key: SortKey, a: &Group, b: &Group) -> std::cmp::Ordering {
    let pct = |g: &Group| g.percent().unwrap_or(-1.0);
    let dirty = |g: &Group| g.detail.map(|d| d.dirty);
    match key {
        SortKey::Res => b.resident_bytes.cmp(&a.resident_bytes),
        SortKey::Size => b.size.cmp(&a.size),
        SortKey::Pct => pct(b).total_cmp(&pct(a)),
        SortKey::Dirty => dirty(b).cmp(&dirty(a)),
        SortKey::Name => a.path.cmp(&b.path),
        SortKey::None => std::cmp::Ordering::Equal,
    }
}

/// Writes the report per group in the plan's format, problems on stderr (and as records in JSON).
pub(crate) fn emit(
    out: &mut dyn Write,
    plan: &Plan,
    reporter: &Reporter,
    report: &Report,
    groups: &Groups,
    previous: Option<&Previous>,
    frame: &mut Frame,
) -> io::Result<()> {
    for outcome in &report.outcomes {
        match plan.format {
            Format::Json if !matches!(outcome, Outcome::File(_)) => {
                problem_record(&mut JsonLines::new(&mut *out), reporter, outcome, frame)?
            }
            Format::Json => {}
            _ => problem(reporter, outcome, frame),
        }
    }
    write(out, plan, groups, &report.totals, previous, frame)
}

/// Writes the groups and the totals in the plan's format (the problems went before them).
pub(crate) fn write(
    out: &mut dyn Write,
    plan: &Plan,
    groups: &Groups,
    totals: &Totals,
    previous: Option<&Previous>,
    frame: &Frame,
) -> io::Result<()> {
    match plan.format {
        Format::Text => {
            refresh_heading(out, plan, frame)?;
            // A refresh redrawn on a terminal keeps to its height.
            let limit = match (frame.tty && frame.refresh.is_some(), plan.tty_rows) {
                (true, Some(height)) => height.saturating_sub(5).max(1),
                _ => usize::MAX,
            };
            text(out, plan, groups, previous, limit)?;
            super::summary_text(out, plan, totals, previous, frame)
        }
        Format::Json => {
            let mut out = JsonLines::new(out);
            for group in &groups.list {
                out.record(&record(plan, group, previous))?;
                for f in &group.top {
                    let mut file = match serde_json::to_value(super::json::file(plan, f, previous))
                    {
                        Ok(serde_json::Value::Object(file)) => file,
                        Ok(_) => serde_json::Map::new(),
                        Err(e) => return Err(io::Error::other(e)),
                    };
                    insert_name(&mut file, "group", group.path.as_os_str());
                    out.record(&file)?;
                }
            }
            summary_record(&mut out, plan, totals, previous, frame)?;
            out.flush()
        }
        Format::Prometheus => {
            out.write_all(exposition(groups).as_bytes())?;
            out.write_all(prometheus::render(totals, &groups.top_files()).as_bytes())
        }
    }
}

/// The text of one column for one group.
fn value(plan: &Plan, column: Column, g: &Group, previous: Option<&Previous>) -> String {
    let known = |n: u64| if g.known() { n.to_string() } else { "-".into() };
    let detail =
        |get: fn(&Cachestat) -> u64| g.detail.as_ref().map_or("-".into(), |d| get(d).to_string());
    let change = || previous.map(|p| p.group_change(g)).unwrap_or_default();
    match column {
        Column::Res if g.known() => size_text(plan, g.resident_bytes),
        Column::Res => "-".into(),
        Column::Pages => format!("{}/{}", known(g.resident_pages), g.known_pages()),
        Column::Size => size_text(plan, g.size),
        Column::Pct => percent_text(g.percent()),
        Column::Dirty => detail(|d| d.dirty),
        Column::Writeback => detail(|d| d.writeback),
        Column::Evicted => detail(|d| d.evicted),
        Column::RecentlyEvicted => detail(|d| d.recently_evicted),
        Column::Delta => match change().resident_bytes {
            Some(c) => table::signed_size(plan, c),
            None => "-".into(),
        },
        Column::RecentlyEvictedDelta => match change().recently_evicted {
            Some(c) => table::signed(c),
            None => "-".into(),
        },
        // A directory ends in a slash; standard input's group is `-`.
        Column::File if g.path.as_os_str() == "-" => "-".into(),
        Column::File => quote::row(g.path.join("")),
    }
}

/// One line of the table: the texts of the plan's columns, with FILES before the name.
struct Line {
    cells: Vec<String>,
    files: String,
    extra: Vec<String>,
}

/// The table of groups: the plan's columns with FILES (distinct files counted) before the path, a
/// directory as `dir/`, and with --top its files indented below it.
fn text(
    out: &mut dyn Write,
    plan: &Plan,
    groups: &Groups,
    previous: Option<&Previous>,
    limit: usize,
) -> io::Result<()> {
    if !plan.rows {
        return Ok(());
    }
    let mut lines = Vec::new();
    for g in &groups.list {
        lines.push(Line {
            cells: plan
                .columns
                .iter()
                .map(|&c| value(plan, c, g, previous))
                .collect(),
            files: g.files.to_string(),
            extra: Vec::new(),
        });
        for f in &g.top {
            lines.push(Line {
                cells: plan
                    .columns
                    .iter()
                    .map(|&c| match c {
                        Column::File => format!("  {}", table::value(plan, c, f, previous)),
                        c => table::value(plan, c, f, previous),
                    })
                    .collect(),
                files: String::new(),
                extra: table::extra_lines(plan, f),
            });
        }
    }
    // FILES goes before the name column, or last when there is none.
    let at = plan
        .columns
        .iter()
        .position(|&c| c == Column::File)
        .unwrap_or(plan.columns.len());
    // The name column holds directories (and files under them with --top): PATH, not FILE.
    let headings: Vec<&str> = plan
        .columns
        .iter()
        .map(|&c| {
            if c == Column::File {
                "PATH"
            } else {
                c.heading()
            }
        })
        .collect();
    let row = |cells: &[String], files: &str| -> Vec<(String, bool)> {
        let mut row: Vec<(String, bool)> = cells
            .iter()
            .zip(&plan.columns)
            .map(|(text, &c)| (text.clone(), c == Column::File))
            .collect();
        row.insert(at, (files.to_string(), false));
        row
    };
    let heading = row(
        &headings.iter().map(|h| h.to_string()).collect::<Vec<_>>(),
        "FILES",
    );
    let rows: Vec<Vec<(String, bool)>> = lines.iter().map(|l| row(&l.cells, &l.files)).collect();
    let mut widths = vec![0; heading.len()];
    for r in std::iter::once(&heading).chain(&rows) {
        for (w, (text, _)) in widths.iter_mut().zip(r) {
            *w = (*w).max(text.chars().count());
        }
    }
    let show = |out: &mut dyn Write, r: &[(String, bool)]| -> io::Result<()> {
        let mut line = String::new();
        for (i, ((text, left), w)) in r.iter().zip(&widths).enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            let pad = w.saturating_sub(text.chars().count());
            if *left {
                line.push_str(text);
                if i + 1 != r.len() {
                    line.extend(std::iter::repeat_n(' ', pad));
                }
            } else {
                line.extend(std::iter::repeat_n(' ', pad));
                line.push_str(text);
            }
        }
        writeln!(out, "{}", line.trim_end())
    };
    if plan.headings {
        show(out, &heading)?;
    }
    let mut shown = 0;
    for (i, (r, l)) in rows.iter().zip(&lines).enumerate() {
        shown += 1 + l.extra.len();
        if shown > limit {
            let more = rows.len() - i;
            return writeln!(out, "... {more} more rows (see them all off the terminal)");
        }
        show(out, r)?;
        for extra in &l.extra {
            writeln!(out, "{extra}")?;
        }
    }
    Ok(())
}

/// Changes since the previous refresh, under --watch.
#[derive(Debug, Serialize)]
struct Deltas {
    resident_pages_delta: Option<i64>,
    resident_bytes_delta: Option<i64>,
    recently_evicted_pages_delta: Option<i64>,
}

/// A "group" record.
#[derive(Debug, Serialize)]
struct GroupRecord<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    path: Cow<'a, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    path_bytes: Option<String>,
    depth: usize,
    files: u64,
    links: u64,
    unknown_files: u64,
    pages: u64,
    resident_pages: Option<u64>,
    unknown_pages: u64,
    size: u64,
    unknown_bytes: u64,
    resident_bytes: Option<u64>,
    percent: Option<f64>,
    dirty_pages: Option<u64>,
    writeback_pages: Option<u64>,
    evicted_pages: Option<u64>,
    recently_evicted_pages: Option<u64>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    deltas: Option<Deltas>,
}

fn record<'a>(plan: &Plan, g: &'a Group, previous: Option<&Previous>) -> GroupRecord<'a> {
    let (path, path_bytes) = crate::name::split(g.path.as_os_str());
    let detail = |get: fn(&Cachestat) -> u64| g.detail.as_ref().map(get);
    let known = |n: u64| g.known().then_some(n);
    GroupRecord {
        kind: "group",
        path,
        path_bytes,
        depth: plan.group_by.map_or(0, |by| by.depth),
        files: g.files,
        links: g.links,
        unknown_files: g.unknown_files,
        pages: g.pages,
        resident_pages: known(g.resident_pages),
        unknown_pages: g.unknown_pages,
        size: g.size,
        unknown_bytes: g.unknown_size,
        resident_bytes: known(g.resident_bytes),
        percent: g.percent().map(|p| (p * 100.0).round() / 100.0),
        dirty_pages: detail(|d| d.dirty),
        writeback_pages: detail(|d| d.writeback),
        evicted_pages: detail(|d| d.evicted),
        recently_evicted_pages: detail(|d| d.recently_evicted),
        deltas: plan.watch.map(|_| {
            let change = previous.map(|p| p.group_change(g)).unwrap_or_default();
            Deltas {
                resident_pages_delta: change.resident_pages,
                resident_bytes_delta: change.resident_bytes,
                recently_evicted_pages_delta: change.recently_evicted,
            }
        }),
    }
}

type Getter = fn(&Group) -> Option<u64>;

/// Per-directory gauges: name, help, value (absent when unknown).
const GROUP_METRICS: &[(&str, &str, Getter)] = &[
    (
        "mmstat_dir_files",
        "Distinct files counted in the directory (--group-by), hard links once.",
        |g| Some(g.files),
    ),
    (
        "mmstat_dir_size_bytes",
        "Bytes of the files counted in the directory.",
        |g| Some(g.size),
    ),
    (
        "mmstat_dir_pages",
        "Pages of the files counted in the directory.",
        |g| Some(g.pages),
    ),
    (
        "mmstat_dir_resident_pages",
        "Resident pages of the directory's files whose residency is known.",
        |g| g.known().then_some(g.resident_pages),
    ),
    (
        "mmstat_dir_resident_bytes",
        "Bytes in resident pages of the directory's files whose residency is known.",
        |g| g.known().then_some(g.resident_bytes),
    ),
    (
        "mmstat_dir_unknown_files",
        "Files of the directory whose residency the kernel does not tell.",
        |g| Some(g.unknown_files),
    ),
    (
        "mmstat_dir_unknown_pages",
        "Pages of the directory's files whose residency is unknown.",
        |g| Some(g.unknown_pages),
    ),
    (
        "mmstat_dir_dirty_pages",
        "Dirty pages of the directory's files (cachestat only).",
        |g| g.detail.map(|d| d.dirty),
    ),
    (
        "mmstat_dir_writeback_pages",
        "Pages of the directory's files under writeback (cachestat only).",
        |g| g.detail.map(|d| d.writeback),
    ),
    (
        "mmstat_dir_evicted_pages",
        "Evicted pages of the directory's files the kernel still remembers (cachestat only).",
        |g| g.detail.map(|d| d.evicted),
    ),
    (
        "mmstat_dir_recently_evicted_pages",
        "Evicted pages of the directory's files that were recently in use (cachestat only).",
        |g| g.detail.map(|d| d.recently_evicted),
    ),
];

/// The per-directory families of the exposition, labelled by path (see [`prometheus::path_labels`]).
fn exposition(groups: &Groups) -> String {
    let mut out = String::new();
    for (name, help, get) in GROUP_METRICS {
        let mut samples = groups
            .list
            .iter()
            .filter_map(|g| Some((g, get(g)?)))
            .peekable();
        if samples.peek().is_none() {
            continue;
        }
        prometheus::family(&mut out, name, help);
        for (g, value) in samples {
            out.push_str(name);
            out.push('{');
            out.push_str(&prometheus::path_labels(g.path.as_os_str()));
            out.push_str("} ");
            out.push_str(&value.to_string());
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keyer<'p>(roots: &[&'p str], depth: usize) -> Keyer<'p> {
        Keyer {
            roots: roots.iter().map(|r| Path::new(*r)).collect(),
            cursor: 0,
            depth,
        }
    }

    #[test]
    fn keys_stop_at_the_depth_below_each_argument() {
        let mut k = keyer(&["/data", "b/", "file.db"], 1);
        assert_eq!(k.key(Path::new("/data/x")), Path::new("/data"));
        assert_eq!(k.key(Path::new("/data/a/x")), Path::new("/data/a"));
        assert_eq!(k.key(Path::new("/data/a/b/c/x")), Path::new("/data/a"));
        assert_eq!(k.key(Path::new("b/c/d/x")), Path::new("b/c"));
        assert_eq!(k.key(Path::new("file.db")), Path::new("."));
        // A process's file, named by no argument: below the root.
        assert_eq!(k.key(Path::new("/usr/lib/x.so")), Path::new("/usr"));
        assert_eq!(k.key(Path::new("/x.so")), Path::new("/"));
        assert_eq!(k.key(Path::new("-")), Path::new("-"));
        let mut k = keyer(&["d"], 0);
        assert_eq!(k.key(Path::new("d/a/b/x")), Path::new("d"));
        let mut k = keyer(&["./d"], 3);
        assert_eq!(k.key(Path::new("./d/a/b/c/e/x")), Path::new("./d/a/b/c"));
        assert_eq!(k.key(Path::new("./d/a/x")), Path::new("./d/a"));
        let mut k = keyer(&["/"], 2);
        assert_eq!(k.key(Path::new("/etc/ssl/certs/x")), Path::new("/etc/ssl"));
    }
}
