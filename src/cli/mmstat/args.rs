//! mmstat's arguments (clap) and the plan they become: inputs, walk options, method, columns, output
//! format and file, grouping, sorting, watching, the check threshold and the snapshot file, all
//! validated.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};

use crate::cli::common::{FilesArgs, InputName, parse_range_arg};
use crate::cli::walkargs::WalkArgs;
use crate::range::Range;
use crate::residency::Method;
use crate::residency::system::SystemOptions;
use crate::walk::{self, WalkOptions};

/// Show page-cache residency of files, trees and processes: how much of each file is in memory.
#[derive(Debug, Parser)]
#[command(
    name = "mmstat",
    version,
    about = "Show how much of each file is in the page cache, for files, trees and processes",
    long_about = "Show how much of each FILE is in the page cache: resident pages and bytes, and the \
share resident. Directories are walked recursively, by directory descriptors (a directory swapped for a \
symlink during the walk does not lead out of the tree), and their files measured in parallel; hard links \
are counted once in the totals. With --pid, look at the files a process maps or holds open. A block \
device named on the command line is measured as one file: its own page cache (walks pass over devices).\n\n\
mmstat asks the kernel with cachestat(2) (Linux 6.5 and later), which costs the same for a 1 TiB file \
as for a 4 KiB one and also counts dirty, writeback and evicted pages; it falls back to mincore(2) over \
bounded windows where cachestat is missing. The kernel hides the residency of files the caller may not \
write (mincore then claims every page is resident): mmstat reports such residency as unknown (`-`, or \
null in JSON) and never as a fake 100%.",
    after_long_help = "Examples:\n  \
mmstat /var/lib/db                      residency of every file under a directory\n  \
mmstat --sort res --top 10 /            the ten files with the most bytes in the page cache\n  \
mmstat -v big.db                        a residency map as wide as the terminal\n  \
mmstat --ranges big.db                  resident byte ranges: 0-24M resident, 24M-64M missing\n  \
mmstat --pid 1234                       the files process 1234 maps or holds open\n  \
mmstat --check 90 /srv/index || warm    exit 1 while less than 90% is resident\n  \
mmstat --group-by dir:2 /data           totals per directory, two levels below /data\n  \
mmstat --format prometheus --output-file /var/lib/node_exporter/mmstat.prom /data\n  \
mmstat --watch 2 /data                  refresh every 2 seconds, with changes\n  \
mmstat --save snap.jsonl /data          a snapshot for mmadvise restore"
)]
pub struct Args {
    /// Files and directories (walked recursively); `-` is standard input when it is a regular file
    #[arg(value_name = "PATH", required_unless_present_any = ["files0_from", "pid", "system"])]
    pub files: Vec<PathBuf>,

    /// Columns to show, comma-separated: res, pages, size, pct, dirty, writeback, evicted,
    /// recently_evicted, file (and in --watch, delta and recently_evicted_delta), in either case
    /// (fincore's RES,PAGES,SIZE,FILE work as they are)
    #[arg(
        short,
        long,
        value_name = "COLUMNS",
        value_parser = ColumnParser,
        value_delimiter = ',',
    )]
    pub output: Vec<Column>,

    /// Write the report (table, JSON or Prometheus) to FILE instead of standard output, whole or not
    /// at all: built in FILE's directory and renamed over it when complete, so that a reader such as
    /// node_exporter never sees half a file; with --watch, each refresh replaces FILE
    #[arg(long, value_name = "FILE")]
    pub output_file: Option<PathBuf>,

    /// Aggregate the files per directory, DEPTH levels below each argument (dir alone is dir:1;
    /// files higher up count in their own directory), one row, JSON "group" record or set of
    /// Prometheus gauges per directory instead of per file; with --top N, each directory's N files
    /// with the most resident bytes (or by --sort) follow it
    #[arg(long, value_name = "dir[:DEPTH]", value_parser = parse_group_by)]
    pub group_by: Option<GroupBy>,

    /// Print sizes as exact byte counts instead of human-readable ones such as 1.5G
    #[arg(short = 'b', long)]
    pub bytes: bool,

    /// Leave out the heading line (and the summary line, unless --summary is given)
    #[arg(short = 'n', long, visible_alias = "noheadings")]
    pub no_headings: bool,

    /// Print the summary only, not a row per file
    #[arg(long)]
    pub summary: bool,

    /// Quiet: no table and no summary, only errors; with --check, the verdict is the exit status.
    /// JSON and Prometheus output are what was asked for, and stay
    #[arg(short, long, conflicts_with_all = ["summary", "map", "ranges"])]
    pub quiet: bool,

    /// Draw a residency map under each file: a bar as wide as the terminal, each cell shaded by the
    /// share of its pages that is resident
    #[arg(short = 'v', long = "map")]
    pub map: bool,

    /// Draw maps with ASCII characters instead of Unicode blocks
    #[arg(long)]
    pub ascii: bool,

    /// List the resident and missing byte ranges of each file (arrays of [start, end) in JSON)
    #[arg(long)]
    pub ranges: bool,

    /// Write JSON Lines: a "file" object per file, "error" per failure, and a "summary"
    #[arg(short = 'J', long, conflicts_with = "format")]
    pub json: bool,

    /// Output format: a text table, JSON Lines, or Prometheus's text exposition format (for
    /// node_exporter's textfile collector)
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = Format::Text)]
    pub format: Format,

    /// Sort files: by resident bytes, size, resident share or dirty pages (largest first), or by
    /// name; or none, in the order found. A sorted table keeps every file's record until the end
    /// (about 0.5 KiB a file); unsorted output and --top N print as they go in bounded memory
    #[arg(long, value_enum, value_name = "KEY")]
    pub sort: Option<SortKey>,

    /// Show only the first N files (sorted by resident bytes unless --sort says otherwise); the summary
    /// still covers every file
    #[arg(long, value_name = "N")]
    pub top: Option<usize>,

    /// Refresh every SECS seconds (fractions allowed) until interrupted: in place on a terminal,
    /// otherwise appending each refresh, with changes since the previous one
    #[arg(long, value_name = "SECS", value_parser = parse_seconds, conflicts_with_all = ["save"])]
    pub watch: Option<Duration>,

    /// With --watch: stop after N refreshes
    #[arg(long, value_name = "N", requires = "watch", value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,

    /// Exit with status 1 unless at least PCT percent of the pages (of files whose residency is known)
    /// are resident
    #[arg(long, value_name = "PCT", value_parser = parse_percent)]
    pub check: Option<f64>,

    /// Write a snapshot of the resident ranges of every file to FILE (JSON Lines; see SNAPSHOT FORMAT),
    /// for mmadvise restore
    #[arg(long, value_name = "FILE")]
    pub save: Option<PathBuf>,

    /// With --save: store each file's content fingerprint (its size and five sampled 4 KiB blocks,
    /// hashed), so that mmadvise restore --match fingerprint can recognise copies and catch changes
    #[arg(long, requires = "save")]
    pub fingerprint: bool,

    /// Look only at this byte range of each file: OFFSET:LENGTH or OFFSET..END, such as 1G:64M
    #[arg(long, value_name = "RANGE", value_parser = parse_range_arg)]
    pub range: Option<Range>,

    /// Look at the files process PID maps or holds open (repeatable)
    #[arg(long, value_name = "PID", value_parser = clap::value_parser!(u32).range(1..))]
    pub pid: Vec<u32>,

    /// The whole machine: walk every mounted local filesystem (each once, without crossing into
    /// another) and the files processes hold open or map, deleted ones too; show the top files (20
    /// unless --top says), totals per mount, and how /proc/meminfo's Cached splits between them
    #[arg(
        long,
        conflicts_with_all = ["files", "files0_from", "pid", "watch", "save", "check", "range", "map", "ranges", "sort", "output"]
    )]
    pub system: bool,

    /// With --system: walk network filesystems too (NFS, CIFS, Ceph, 9p, virtiofs...), and FUSE
    /// filesystems other than fuseblk (their servers may answer slowly, or never)
    #[arg(long)]
    pub all_fs: bool,

    /// With --system: also group the files processes hold by the memory cgroup of those processes
    #[arg(long, value_enum, value_name = "GROUP")]
    pub by: Option<By>,

    #[command(flatten)]
    pub(crate) walk: WalkArgs,

    #[command(flatten)]
    pub(crate) files_from: FilesArgs,

    /// How to ask the kernel: cachestat(2) where the kernel has it, else mincore(2) (auto); or one of
    /// them only
    #[arg(long, value_enum, value_name = "METHOD", default_value_t = MethodArg::Auto)]
    pub method: MethodArg,

    /// Worker threads for walking and measuring [default: available parallelism]
    #[arg(short = 'j', long, value_name = "N", value_parser = crate::cli::common::parse_threads)]
    pub threads: Option<u16>,
}

/// One output column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Column {
    /// Resident bytes.
    Res,
    /// Resident pages / pages.
    Pages,
    /// The size of the file (or of the range looked at).
    Size,
    /// The share of pages resident.
    Pct,
    /// Dirty pages (cachestat only).
    Dirty,
    /// Pages under writeback (cachestat only).
    Writeback,
    /// Evicted pages the kernel still remembers (cachestat only).
    Evicted,
    /// Evicted pages that were recently in use: the sign of thrashing (cachestat only).
    #[value(name = "recently_evicted", alias = "recently-evicted")]
    RecentlyEvicted,
    /// Change of resident bytes since the previous refresh (--watch).
    Delta,
    /// Change of recently evicted pages since the previous refresh (--watch).
    #[value(name = "recently_evicted_delta", alias = "recently-evicted-delta")]
    RecentlyEvictedDelta,
    /// The path.
    File,
}

impl Column {
    /// The heading.
    pub fn heading(self) -> &'static str {
        match self {
            Column::Res => "RES",
            Column::Pages => "PAGES",
            Column::Size => "SIZE",
            Column::Pct => "%",
            Column::Dirty => "DIRTY",
            Column::Writeback => "WRITEBACK",
            Column::Evicted => "EVICTED",
            Column::RecentlyEvicted => "RECENTLY_EVICTED",
            Column::Delta => "DELTA",
            Column::RecentlyEvictedDelta => "RECENTLY_EVICTED_DELTA",
            Column::File => "FILE",
        }
    }
}

/// Parses a column name (in either case) as clap's enum parser does, and points a value that is no
/// column (a file name, most likely) at --output-file.
#[derive(Debug, Clone, Copy)]
struct ColumnParser;

impl clap::builder::TypedValueParser for ColumnParser {
    type Value = Column;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<Column, clap::Error> {
        let text = value.to_string_lossy();
        Column::from_str(text.trim(), true).map_err(|_| {
            let names: Vec<String> = Column::value_variants()
                .iter()
                .filter_map(|c| Some(c.to_possible_value()?.get_name().to_string()))
                .collect();
            let option = arg.map_or_else(|| "--output".into(), ToString::to_string);
            clap::Error::raw(
                clap::error::ErrorKind::InvalidValue,
                format!(
                    "invalid column '{text}' for '{option}' (columns: {}); to write the report to a \
file, use --output-file FILE\n",
                    names.join(", ")
                ),
            )
            .with_cmd(cmd)
        })
    }

    fn possible_values(
        &self,
    ) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        Some(Box::new(
            Column::value_variants()
                .iter()
                .filter_map(ValueEnum::to_possible_value),
        ))
    }
}

/// `--group-by dir[:DEPTH]`: files are aggregated per directory, at most `depth` levels below the
/// argument they were found under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupBy {
    /// Levels below each argument: 0 is the argument itself.
    pub depth: usize,
}

fn parse_group_by(text: &str) -> Result<GroupBy, String> {
    let bad = || format!("invalid grouping '{text}': expected dir or dir:DEPTH, such as dir:2");
    let (kind, depth) = match text.split_once(':') {
        Some((kind, depth)) => (kind, Some(depth)),
        None => (text, None),
    };
    if !kind.eq_ignore_ascii_case("dir") {
        return Err(bad());
    }
    let depth = match depth {
        None => 1,
        Some(d) if !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()) => {
            d.parse().map_err(|_| bad())?
        }
        Some(_) => return Err(bad()),
    };
    Ok(GroupBy { depth })
}

/// `--by` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum By {
    /// The memory cgroup of the processes holding each file (from /proc/PID/cgroup).
    Cgroup,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A table.
    Text,
    /// JSON Lines.
    Json,
    /// Prometheus text exposition format.
    Prometheus,
}

/// Sort keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SortKey {
    /// Resident bytes, most first.
    Res,
    /// Size, largest first.
    Size,
    /// Resident share, highest first.
    Pct,
    /// Dirty pages, most first.
    Dirty,
    /// Path, in byte order.
    Name,
    /// None: the order of the inputs and of the walk, each file printed as it is measured (with
    /// --top, the first N files)
    None,
}

/// `--method` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MethodArg {
    /// cachestat where the kernel has it, mincore otherwise.
    Auto,
    /// cachestat only.
    Cachestat,
    /// mincore only.
    Mincore,
}

impl From<MethodArg> for Method {
    fn from(m: MethodArg) -> Method {
        match m {
            MethodArg::Auto => Method::Auto,
            MethodArg::Cachestat => Method::Cachestat,
            MethodArg::Mincore => Method::Mincore,
        }
    }
}

fn parse_seconds(text: &str) -> Result<Duration, String> {
    let secs: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("invalid interval '{text}': expected seconds, such as 2 or 0.5"))?;
    if !(0.01..=86_400.0 * 365.0).contains(&secs) {
        return Err(format!(
            "invalid interval '{text}': give 0.01 seconds to a year"
        ));
    }
    Ok(Duration::from_secs_f64(secs))
}

fn parse_percent(text: &str) -> Result<f64, String> {
    let number = text.trim().strip_suffix('%').unwrap_or(text.trim());
    match number.parse::<f64>() {
        Ok(p) if (0.0..=100.0).contains(&p) => Ok(p),
        _ => Err(format!(
            "invalid percentage '{text}': expected 0 to 100, such as 90 or 99.5"
        )),
    }
}

/// How residency maps are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MapStyle {
    /// ASCII characters instead of Unicode blocks.
    pub ascii: bool,
    /// Cells per bar.
    pub cells: usize,
}

/// A validated mmstat run.
#[derive(Debug)]
pub struct Plan {
    /// Files and directories, stdin and invalid names, in order.
    pub inputs: Vec<InputName>,
    /// Processes whose files to look at, after the inputs.
    pub pids: Vec<u32>,
    /// How to walk directories.
    pub walk: WalkOptions,
    /// The range of each file looked at.
    pub range: Range,
    /// How to ask the kernel.
    pub method: Method,
    /// Text columns, in order.
    pub columns: Vec<Column>,
    /// The output format.
    pub format: Format,
    /// Exact byte counts.
    pub bytes: bool,
    /// Print the heading line.
    pub headings: bool,
    /// Print a row (or object) per file.
    pub rows: bool,
    /// Print the summary.
    pub summary: bool,
    /// Draw maps.
    pub map: Option<MapStyle>,
    /// List ranges.
    pub ranges: bool,
    /// Sort order.
    pub sort: Option<SortKey>,
    /// Show at most this many files.
    pub top: Option<usize>,
    /// Refresh interval.
    pub watch: Option<Duration>,
    /// Number of refreshes.
    pub count: Option<u64>,
    /// Threshold for the exit status.
    pub check: Option<f64>,
    /// Snapshot file.
    pub save: Option<PathBuf>,
    /// Store content fingerprints in the snapshot.
    pub fingerprint: bool,
    /// The file the report replaces (--output-file), or `None` for standard output.
    pub output: Option<PathBuf>,
    /// Per-directory aggregation.
    pub group_by: Option<GroupBy>,
    /// Worker threads.
    pub threads: Option<u16>,
    /// The terminal's height when stdout is one (for --watch in place).
    pub tty_rows: Option<usize>,
    /// With --system: what to measure (the whole machine instead of the inputs).
    pub system: Option<SystemOptions>,
    /// No progress bar (-q).
    pub quiet: bool,
}

impl Plan {
    /// Whether resident ranges must be found for every file.
    pub fn needs_runs(&self) -> bool {
        self.ranges || self.save.is_some()
    }
}

/// The files --system lists unless --top says otherwise.
pub const SYSTEM_TOP: usize = 20;

/// The default columns, and the ones --watch adds.
const DEFAULT_COLUMNS: &[Column] = &[Column::Res, Column::Pages, Column::Pct, Column::File];
const WATCH_COLUMNS: &[Column] = &[
    Column::Res,
    Column::Delta,
    Column::Pages,
    Column::Pct,
    Column::RecentlyEvictedDelta,
    Column::File,
];

fn walk_options(args: &Args) -> WalkOptions {
    WalkOptions {
        threads: args.threads.map_or(0, usize::from),
        ..args.walk.to_options()
    }
}

/// Checks what clap cannot: the globs, and combinations of flags. The message is a usage error.
pub fn validate(args: &Args) -> Result<(), String> {
    walk::validate(&walk_options(args))?;
    if !args.system && (args.all_fs || args.by.is_some()) {
        return Err(format!(
            "{} only applies to --system",
            if args.all_fs { "--all-fs" } else { "--by" }
        ));
    }
    let w = &args.walk;
    if args.system
        && (w.follow_links
            || !w.include.is_empty()
            || !w.exclude.is_empty()
            || w.min_size.is_some()
            || w.max_size.is_some())
    {
        return Err(
            "--system walks every local filesystem as it is: -L, --include, --exclude, --min-size and \
--max-size do not apply"
                .into(),
        );
    }
    if args.watch.is_some() && args.format == Format::Prometheus && output_file(args).is_none() {
        return Err(
            "--watch with --format prometheus needs --output-file FILE (each refresh replaces FILE); \
standard output would carry one exposition after another"
                .into(),
        );
    }
    if args.ascii && !args.map {
        return Err("--ascii only changes how --map draws; add -v/--map".into());
    }
    if args.top == Some(0) {
        return Err("--top needs at least 1".into());
    }
    Ok(())
}

/// The --output-file to replace, `None` for standard output (also for `-`).
fn output_file(args: &Args) -> Option<&PathBuf> {
    args.output_file.as_ref().filter(|p| p.as_os_str() != "-")
}

/// Turns validated arguments into a plan (reading --files0-from, which may fail).
pub fn plan(args: &Args) -> anyhow::Result<Plan> {
    let walk = walk_options(args);
    let format = if args.json { Format::Json } else { args.format };
    // -q quiets the table; JSON and Prometheus output are what was asked for.
    let quiet = args.quiet && format == Format::Text;
    let inputs = if args.files.is_empty() && args.files_from.files0_from.is_none() {
        Vec::new()
    } else {
        args.files_from.inputs(&args.files)?
    };
    let columns = if args.output.is_empty() {
        if args.watch.is_some() {
            WATCH_COLUMNS.to_vec()
        } else {
            DEFAULT_COLUMNS.to_vec()
        }
    } else {
        args.output.clone()
    };
    let stdout = std::io::stdout();
    let output = output_file(args).cloned();
    let terminal = if output.is_none() && stdout.is_terminal() {
        crate::sys::terminal::size(&stdout)
    } else {
        None
    };
    let width = terminal
        .map(|(w, _)| usize::from(w))
        .or_else(|| std::env::var("COLUMNS").ok()?.trim().parse().ok())
        .unwrap_or(80)
        .max(12);
    Ok(Plan {
        inputs,
        pids: args.pid.clone(),
        walk,
        range: args.range.unwrap_or(Range::ALL),
        method: args.method.into(),
        columns,
        format,
        bytes: args.bytes,
        headings: !args.no_headings && !args.summary && !quiet,
        rows: !args.summary && !quiet,
        summary: (args.summary || !args.no_headings) && !quiet,
        map: args.map.then_some(MapStyle {
            ascii: args.ascii,
            cells: width - 2,
        }),
        ranges: args.ranges,
        sort: match args.sort {
            Some(SortKey::None) => None,
            Some(key) => Some(key),
            None => args.top.map(|_| SortKey::Res),
        },
        top: args.top,
        watch: args.watch,
        count: args.count,
        check: args.check,
        save: args.save.clone(),
        fingerprint: args.fingerprint,
        output,
        group_by: args.group_by,
        threads: args.threads,
        tty_rows: terminal.map(|(_, h)| usize::from(h)),
        system: args.system.then(|| SystemOptions {
            all_fs: args.all_fs,
            top: args.top.unwrap_or(SYSTEM_TOP),
            by_cgroup: args.by == Some(By::Cgroup),
            method: args.method.into(),
        }),
        quiet: args.quiet,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_is_well_formed() {
        Args::command().debug_assert();
    }

    #[test]
    fn values() {
        assert_eq!(parse_percent("90%"), Ok(90.0));
        assert_eq!(parse_percent("99.5"), Ok(99.5));
        assert!(parse_percent("101").is_err());
        assert!(parse_percent("x").is_err());
        assert_eq!(parse_seconds("0.5"), Ok(Duration::from_millis(500)));
        assert!(parse_seconds("0").is_err());
        assert!(parse_seconds("-1").is_err());
    }

    #[test]
    fn plans() {
        let args = Args::parse_from([
            "mmstat",
            "--top",
            "3",
            "-o",
            "res,recently_evicted,file",
            "a",
        ]);
        let p = plan(&args).unwrap();
        assert_eq!(p.sort, Some(SortKey::Res));
        assert_eq!(
            p.columns,
            [Column::Res, Column::RecentlyEvicted, Column::File]
        );
        assert!(p.headings && p.rows && p.summary);
        let args = Args::parse_from(["mmstat", "--no-headings", "a"]);
        let p = plan(&args).unwrap();
        assert!(!p.headings && !p.summary && p.rows);
        assert!(Args::try_parse_from(["mmstat"]).is_err());
        assert!(Args::try_parse_from(["mmstat", "--pid", "1"]).is_ok());
        assert!(Args::try_parse_from(["mmstat", "--count", "2", "a"]).is_err());
        let args = Args::parse_from(["mmstat", "--include", "[", "a"]);
        assert!(validate(&args).is_err());
        let args = Args::parse_from(["mmstat", "--ascii", "a"]);
        assert!(validate(&args).is_err());
    }
}
