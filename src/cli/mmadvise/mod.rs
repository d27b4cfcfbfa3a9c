//! mmadvise's command line: one subcommand per action (willneed, touch, evict, lock, advise, restore),
//! the flags they share, and the entry point. The actions live in `run`, `lock` and `restore`; the
//! output (text or JSON Lines) in `report`.

mod driver;
mod follow;
mod lock;
mod plan;
mod report;
mod restore;
mod run;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args as ClapArgs, CommandFactory, Parser, Subcommand, ValueEnum};

use crate::advise::load::Pattern;
use crate::advise::restore::{Match, PrefixMap};
use crate::cli::common::{
    EXIT_USAGE, FilesArgs, MapModeArg, ProgressArgs, Reporter, parse_args, parse_range_arg,
    parse_size_arg,
};
use crate::cli::walkargs::WalkArgs;
use crate::range::Range;

const TOOL: &str = "mmadvise";

/// Prefetch, load, evict, lock and advise files in the page cache, and check what happened.
#[derive(Debug, Parser)]
#[command(
    name = "mmadvise",
    version,
    about = "Prefetch, load, evict, lock and advise files in the page cache, and check what happened",
    long_about = "Prefetch, load, evict, lock and advise files in the page cache, and check what \
happened: every action measures each file's residency before and after (cachestat, or mincore) and \
reports both, per file and in total, with the reason when pages did not go where they were asked to.\n\n\
Directories are walked recursively (the same walker and flags as mmstat and mmcp -r), by directory \
descriptors; a file found is acted on only if its path still leads to it when it is opened. FIFOs, sockets and devices are \
skipped with a note, never opened in a way that blocks. A block device named on the command line is \
its own page cache: willneed, touch and evict act on it, as root. Holes of sparse files are never read.",
    after_long_help = "Examples:\n  \
mmadvise touch /srv/db                       load a tree into the page cache, in parallel\n  \
mmadvise willneed --wait big.img             prefetch the whole file, wait until it is resident\n  \
mmadvise evict --sync logs/                  write back, then drop from the cache\n  \
mmadvise lock --daemon --pidfile /run/lk.pid index.bin\n  \
mmstat --save cache.snap /srv/db; ...; mmadvise restore cache.snap",
    subcommand_required = true,
    arg_required_else_help = true
)]
pub struct Args {
    /// What to do
    #[command(subcommand)]
    pub action: Action,
}

/// The actions.
#[derive(Debug, Subcommand)]
pub enum Action {
    /// Prefetch in the background (WILLNEED in chunks of the device's readahead cap, missing data only)
    #[command(
        long_about = "Ask the kernel to read the files' missing data into the page cache in the \
background: POSIX_FADV_WILLNEED in chunks no larger than the device's readahead cap (one call reads at \
most that much, 8 MiB on many disks), over the pages not yet cached, skipping holes. With --wait, wait \
until the pages are resident, or until reading stops making progress; pages that reclaim takes back \
before the rest arrive are asked for again. --budget, --rate and --ionice bound how much is asked for, \
how fast, and at which I/O priority."
    )]
    Willneed(WillneedArgs),

    /// Load synchronously (MADV_POPULATE_READ per window, in parallel), skipping holes
    #[command(
        visible_alias = "load",
        long_about = "Load the files' missing data into the page cache and wait for it: \
MADV_POPULATE_READ per window, in parallel across windows and files (-j), each run of windows read as \
one sequential stream with large readahead. Near holes and range ends, windows are asked for exactly \
(WILLNEED chunked to the readahead cap) and populated without readahead, so that holes of sparse files \
are neither read nor cached. Where the kernel lacks MADV_POPULATE_READ (before 5.14), one byte per page \
is read under the SIGBUS guard. A file that shrinks meanwhile is an error for that file.\n\n\
--budget loads at most that much, in the order the files are named (walked); --rate paces the reads \
and --ionice sets the I/O priority of the loading threads, so that a warm-up does not starve the \
service beside it.\n\n\
With --follow, the files are watched (inotify) and kept loaded as they change: a file replaced by a \
rename is loaded again, a file that grows has its new tail loaded, new files under a directory (passing \
the walk's filters) are loaded, deleted files are let go; one line (or \"event\" record) per change, \
until SIGINT or SIGTERM (status 0). SIGHUP walks everything again. --daemon and --pidfile detach and \
record the process as lock does.",
        after_long_help = "Examples:\n  \
mmadvise touch /srv/db                            load a tree, in parallel\n  \
mmadvise touch --follow --include '*.log' /var/log/app\n  \
                                                  keep the logs cached as they grow and rotate"
    )]
    Touch(TouchArgs),

    /// Drop the files' clean pages from the page cache and explain what stayed
    #[command(
        long_about = "Drop the files' pages from the page cache (POSIX_FADV_DONTNEED), then measure what \
stayed and say why: dirty pages (not yet written back: use --sync), pages under writeback, pages mapped \
or locked by a process (named), or tmpfs, whose pages have nowhere else to go."
    )]
    Evict(EvictArgs),

    /// Lock the files in memory and hold them until SIGINT or SIGTERM
    #[command(
        long_about = "Map the files, lock the maps with mlock2(MLOCK_ONFAULT) and load them, so that \
every data page is read once and locked; then hold the locks until SIGINT, SIGTERM or SIGHUP. With \
--daemon, detach once the files are locked. RLIMIT_MEMLOCK is checked first: mmadvise says how much may \
be locked and how to raise the limit. A file that cannot be locked does not stop the others.\n\n\
With --follow, the files are watched (inotify) and kept locked as they change: a file replaced by a \
rename is let go and the new one locked, a file that grows has its new tail locked, new files under a \
directory (passing the walk's filters) are locked, deleted files are let go. Each change is one line, \
or one \"event\" record with --json. SIGHUP walks everything again (as an overflow of the kernel's \
event queue does); SIGINT or SIGTERM unlock and exit with status 0. RLIMIT_MEMLOCK is checked again \
before each new lock.",
        after_long_help = "Examples:\n  \
mmadvise lock /srv/index.bin                      hold it until Ctrl-C\n  \
mmadvise lock --follow --daemon --pidfile /run/idx.pid /srv/index\n  \
                                                  keep a tree locked through compactions"
    )]
    Lock(LockArgs),

    /// Give advice with a lasting effect (cold, pageout, hugepage), and verify it
    #[command(
        long_about = "Give ADVICE for the files' pages and check its effect.\n\n\
cold (MADV_COLD): move the cached pages to the inactive list, so that reclaim takes them first; checked \
in /proc/kpageflags. pageout (MADV_PAGEOUT): reclaim the cached pages now; checked by residency. Both \
act on the pages this process maps, so mmadvise maps the cached pages (reading nothing else) first; \
pages that another process maps are left alone. hugepage (MADV_HUGEPAGE, plus MADV_COLLAPSE where the \
kernel can): load the data through a map that asks for huge pages, so that the page cache holds it in \
2 MiB pages; checked in /proc/self/smaps.\n\n\
sequential, random, normal and dontneed only change this process's own map or descriptor, and end \
when mmadvise exits: they are refused here. Use them while loading instead (touch --advice sequential), \
or evict to drop pages from the cache."
    )]
    Advise(AdviseArgs),

    /// Warm the page cache from a residency snapshot (mmstat --save)
    #[command(
        long_about = "Read a residency snapshot written by mmstat --save and load exactly the ranges \
that were resident, for every file whose identity (device, inode, size, modification time) still \
matches. Files that changed or no longer exist are skipped, each with a note, and counted in the \
total; they do not fail the run unless --strict is given. The run fails when nothing at all could be \
restored. The cache warm-up after a restart: save before, restore after.\n\n\
--order chooses which files come first (the snapshot's order, the highest resident share, or the \
most resident bytes), and --budget how much is loaded in that order: ranges are loaded until the \
next would pass the budget (that one is cut at a page boundary), and the rest is left out and \
reported, in bytes and files. Pages still cached cost nothing. --rate and --ionice keep the \
warm-up gentle.\n\n\
--match says how a file is recognised: identity (the default: device, inode, size and modification \
time, the same file), size-mtime (size and modification time: a copy made with cp -a, rsync -a or \
mmcp -a, or the same files on another host), or fingerprint (size and the content fingerprint that \
mmstat --save --fingerprint stored: five sampled 4 KiB blocks, see mmstat(1), read before loading). \
--map-prefix OLD=NEW restores a file saved as OLD/x from NEW/x: for a copy in another directory, or a \
volume mounted elsewhere. Prefixes match whole path components, and the longest one that matches wins.",
        after_long_help = "Examples:\n  \
mmadvise restore cache.snap && systemctl start db      warm up, then start\n  \
mmadvise restore --budget 25% --order density cache.snap\n  \
mmadvise restore --rate 200M --ionice idle cache.snap  beside a running service\n  \
mmstat --save db.snap --fingerprint /srv/db      on the old host\n  \
mmadvise restore --map-prefix /srv/db=/mnt/db --match fingerprint db.snap\n  \
                                                  on the new one, over a copy"
    )]
    Restore(RestoreArgs),
}

/// Flags of every action.
#[derive(Debug, Clone, ClapArgs)]
pub struct Common {
    /// Write JSON Lines: a "file" object per file, "skipped" and "error" objects, and a "summary"
    #[arg(long)]
    pub json: bool,

    /// Print exact byte counts instead of human-readable sizes
    #[arg(long)]
    pub bytes: bool,

    /// Worker threads [default: available parallelism]
    #[arg(short = 'j', long, value_name = "N", value_parser = crate::cli::common::parse_threads)]
    pub threads: Option<u16>,

    #[command(flatten)]
    pub(crate) progress: ProgressArgs,
}

/// The files an action works on.
#[derive(Debug, Clone, ClapArgs)]
pub struct Targets {
    /// Files, and directories to walk recursively
    #[arg(value_name = "PATH", required_unless_present = "files0_from")]
    pub files: Vec<PathBuf>,

    #[command(flatten)]
    pub(crate) files_from: FilesArgs,

    /// Only this part of each file: OFFSET:LENGTH or OFFSET..END (such as 1G:64M), widened to whole pages
    #[arg(long, value_name = "RANGE", value_parser = parse_range_arg)]
    pub range: Option<Range>,

    #[command(flatten)]
    pub(crate) walk: WalkArgs,
}

/// Access patterns for loading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LoadAdvice {
    /// MADV_NORMAL: the kernel's read-around on each fault
    Normal,
    /// MADV_SEQUENTIAL and POSIX_FADV_SEQUENTIAL: aggressive readahead
    Sequential,
    /// MADV_RANDOM and POSIX_FADV_RANDOM: no readahead, one read per page
    Random,
}

/// Flags of the actions that load pages through maps.
#[derive(Debug, Clone, ClapArgs)]
pub struct Loading {
    /// How to map files: shared (the page cache itself) or private (copy-on-write)
    #[arg(long, value_enum, default_value_t = MapModeArg::Shared, value_name = "MODE")]
    pub map_mode: MapModeArg,

    /// Access advice while loading [default: sequential readahead, exact reads near holes and range ends]
    #[arg(long, value_enum, value_name = "ADVICE")]
    pub advice: Option<LoadAdvice>,

    /// Largest window loaded at once per worker, such as 4M or 64M
    #[arg(long, value_name = "SIZE", value_parser = parse_window, default_value = "16M")]
    pub window_size: u64,
}

impl Loading {
    /// The load pattern asked for.
    pub fn pattern(&self) -> Pattern {
        match self.advice {
            None => Pattern::Tuned,
            Some(LoadAdvice::Normal) => Pattern::Normal,
            Some(LoadAdvice::Sequential) => Pattern::Sequential,
            Some(LoadAdvice::Random) => Pattern::Random,
        }
    }
}

fn parse_window(text: &str) -> Result<u64, String> {
    let n = parse_size_arg(text)?;
    if n == 0 || n > (1 << 40) {
        return Err(format!("invalid window size '{text}': give 1 to 1T bytes"));
    }
    Ok(n)
}

/// How much to load, and how fast: the flags that keep a warm-up from starving the service it warms.
#[derive(Debug, Clone, ClapArgs)]
pub struct Throttling {
    /// Load at most SIZE bytes (such as 2G), or PCT% of the memory available now (MemAvailable, or
    /// the room left under this process's memory cgroup limit when that is smaller); what does not fit
    /// is left out and reported
    #[arg(long, value_name = "SIZE|PCT%", value_parser = plan::parse_budget)]
    pub budget: Option<plan::BudgetArg>,

    /// Read at most BYTES per second (such as 40M), counting only the missing data that is read
    #[arg(long, value_name = "BYTES/s", value_parser = plan::parse_rate)]
    pub rate: Option<u64>,

    /// I/O priority of the loading threads, set before any read: idle, best-effort[:0-7] or
    /// realtime[:0-7] (level 4 when not given; realtime needs CAP_SYS_ADMIN)
    #[arg(long, value_name = "CLASS[:LEVEL]", value_parser = plan::parse_ionice)]
    pub ionice: Option<crate::sys::ioprio::IoPriority>,
}

/// `mmadvise willneed`.
#[derive(Debug, Clone, ClapArgs)]
pub struct WillneedArgs {
    #[command(flatten)]
    pub(crate) targets: Targets,

    /// Wait until the pages are resident (or reading stops making progress), with a progress bar
    #[arg(long)]
    pub wait: bool,

    #[command(flatten)]
    pub(crate) throttling: Throttling,

    #[command(flatten)]
    pub(crate) common: Common,
}

/// `mmadvise touch`.
#[derive(Debug, Clone, ClapArgs)]
pub struct TouchArgs {
    #[command(flatten)]
    pub(crate) targets: Targets,

    /// Keep following the files until SIGINT or SIGTERM: a file replaced by a rename is loaded again,
    /// a file that grows has its new tail loaded, new files under a directory are loaded, deleted files are
    /// let go; each change is reported as it happens (SIGHUP walks everything again)
    #[arg(long, conflicts_with_all = ["budget", "rate", "ionice"])]
    pub follow: bool,

    /// With --follow: detach once the first walk is done, and follow in the background
    #[arg(long, requires = "follow")]
    pub daemon: bool,

    /// With --follow: write the following process's id to FILE once the first walk is done; removed
    /// when it ends
    #[arg(long, value_name = "FILE", requires = "follow")]
    pub pidfile: Option<PathBuf>,

    #[command(flatten)]
    pub(crate) loading: Loading,

    #[command(flatten)]
    pub(crate) throttling: Throttling,

    #[command(flatten)]
    pub(crate) common: Common,
}

/// `mmadvise evict`.
#[derive(Debug, Clone, ClapArgs)]
pub struct EvictArgs {
    #[command(flatten)]
    pub(crate) targets: Targets,

    /// Write dirty pages back first (fdatasync), so that they can be evicted too
    #[arg(long)]
    pub sync: bool,

    #[command(flatten)]
    pub(crate) common: Common,
}

/// `mmadvise lock`.
#[derive(Debug, Clone, ClapArgs)]
pub struct LockArgs {
    #[command(flatten)]
    pub(crate) targets: Targets,

    /// Detach once the files are locked, and hold them in the background
    #[arg(long)]
    pub daemon: bool,

    /// Keep following the files until SIGINT or SIGTERM: a file replaced by a rename is locked again,
    /// a file that grows has its new tail locked, new files under a directory are locked, deleted files are
    /// let go; each change is reported as it happens (SIGHUP walks everything again)
    #[arg(long)]
    pub follow: bool,

    /// Write the holding process's id to FILE once the files are locked; removed when it ends
    #[arg(long, value_name = "FILE")]
    pub pidfile: Option<PathBuf>,

    #[command(flatten)]
    pub(crate) loading: Loading,

    #[command(flatten)]
    pub(crate) common: Common,
}

/// Advice for `mmadvise advise`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Advice {
    /// MADV_COLD: deactivate the cached pages, so reclaim takes them first
    Cold,
    /// MADV_PAGEOUT: reclaim the cached pages now
    Pageout,
    /// MADV_HUGEPAGE: load the data into huge pages
    Hugepage,
    /// Refused: only affects this process's own map (use touch --advice sequential)
    Sequential,
    /// Refused: only affects this process's own map (use touch --advice random)
    Random,
    /// Refused: only affects this process's own map (use touch --advice normal)
    Normal,
    /// Refused: MADV_DONTNEED only drops this process's own map (use evict)
    Dontneed,
}

/// `mmadvise advise`.
#[derive(Debug, Clone, ClapArgs)]
pub struct AdviseArgs {
    /// The advice
    #[arg(value_enum, value_name = "ADVICE")]
    pub advice: Advice,

    #[command(flatten)]
    pub(crate) targets: Targets,

    /// How to map files: shared (the page cache itself) or private (copy-on-write)
    #[arg(long, value_enum, default_value_t = MapModeArg::Shared, value_name = "MODE")]
    pub map_mode: MapModeArg,

    #[command(flatten)]
    pub(crate) common: Common,
}

/// `mmadvise restore`.
#[derive(Debug, Clone, ClapArgs)]
pub struct RestoreArgs {
    /// The snapshot written by mmstat --save (`-` for standard input)
    #[arg(value_name = "SNAPSHOT")]
    pub snapshot: PathBuf,

    /// Exit 1 when any file of the snapshot is skipped (changed or removed since it was saved)
    #[arg(long)]
    pub strict: bool,

    /// The order files are loaded in, which decides what a --budget keeps: the snapshot's own, the
    /// highest resident share of the file first (density), or the most resident bytes first (size)
    #[arg(long, value_enum, value_name = "ORDER", default_value_t = OrderArg::Snapshot)]
    pub order: OrderArg,

    /// Restore files saved under OLD from under NEW instead (repeatable; the longest OLD that is a
    /// prefix of whole path components wins), for a snapshot saved on another host or before a copy
    #[arg(long, value_name = "OLD=NEW", value_parser = parse_prefix_map())]
    pub map_prefix: Vec<PrefixMap>,

    /// How a saved file is recognised: identity (device, inode, size and modification time: the same
    /// file), size-mtime (a copy made with cp -a, rsync -a or mmcp -a), or fingerprint (the size and
    /// the content fingerprint saved by mmstat --save --fingerprint)
    #[arg(long = "match", value_enum, value_name = "HOW", default_value_t = MatchArg::Identity)]
    pub matching: MatchArg,

    #[command(flatten)]
    pub(crate) loading: Loading,

    #[command(flatten)]
    pub(crate) throttling: Throttling,

    #[command(flatten)]
    pub(crate) common: Common,
}

/// Orders of a restore.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OrderArg {
    /// The snapshot's order
    Snapshot,
    /// Files with the highest resident share first
    Density,
    /// Files with the most resident bytes first
    Size,
}

/// How restore recognises a saved file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MatchArg {
    /// Device, inode, size and modification time: the same file
    Identity,
    /// Size and modification time: a copy that kept them
    SizeMtime,
    /// Size and content fingerprint (mmstat --save --fingerprint)
    Fingerprint,
}

impl From<MatchArg> for Match {
    fn from(m: MatchArg) -> Match {
        match m {
            MatchArg::Identity => Match::Identity,
            MatchArg::SizeMtime => Match::SizeMtime,
            MatchArg::Fingerprint => Match::Fingerprint,
        }
    }
}

fn parse_prefix_map() -> impl clap::builder::TypedValueParser<Value = PrefixMap> {
    use clap::builder::TypedValueParser;
    clap::builder::OsStringValueParser::new().try_map(|s| PrefixMap::parse(&s))
}

/// The clap command, for man pages and completions.
pub fn command() -> clap::Command {
    Args::command()
}

/// Why advice that only affects this process is refused, or `None` for advice that acts.
pub fn refusal(advice: Advice) -> Option<String> {
    let (name, instead) = match advice {
        Advice::Cold | Advice::Pageout | Advice::Hugepage => return None,
        Advice::Sequential => ("sequential", "mmadvise touch --advice sequential PATH"),
        Advice::Random => ("random", "mmadvise touch --advice random PATH"),
        Advice::Normal => ("normal", "mmadvise touch --advice normal PATH"),
        Advice::Dontneed => (
            "dontneed",
            "mmadvise evict PATH, which drops the pages from the page cache",
        ),
    };
    Some(format!(
        "advice '{name}' only changes this process's own map of the file, and that ends when \
mmadvise exits: alone it would have no lasting effect, so it is refused. Use it with an action that \
reads, or instead: {instead}"
    ))
}

/// The entry point of the `mmadvise` binary.
pub fn main() -> ExitCode {
    crate::sys::signals::ignore_file_size_limit();
    let args: Args = parse_args(command(), std::env::args_os(), EXIT_USAGE);
    let reporter = Reporter::new(TOOL);
    let plan = match plan::plan(&args.action) {
        Ok(plan) => plan,
        Err(why) => {
            reporter.error(why);
            return ExitCode::from(EXIT_USAGE);
        }
    };
    match &args.action {
        Action::Lock(a) if a.follow => follow::lock(a, &reporter),
        Action::Touch(a) if a.follow => follow::touch(a, &reporter),
        Action::Lock(a) => lock::main(a, plan, &reporter),
        action => {
            let result = driver::Driver::new(plan, &reporter).and_then(|mut d| match action {
                Action::Willneed(a) => run::willneed(a, &mut d),
                Action::Touch(_) => run::touch(&mut d),
                Action::Evict(a) => run::evict(a, &mut d),
                Action::Advise(a) => run::advise(a, &mut d),
                Action::Restore(a) => restore::run(a, &mut d),
                Action::Lock(_) => Ok(()),
            });
            reporter.finish(result)
        }
    }
}

/// Hand-written man page sections: EXAMPLES, EXIT STATUS, JSON OUTPUT, CAVEATS.
pub const MAN_SECTIONS: &[(&str, &str)] = &[
    (
        "ACTIONS",
        "Each action is a subcommand; mmadvise ACTION --help lists its flags.\n\
\n    mmadvise willneed [--wait] [THROTTLE OPTIONS] [FILE OPTIONS] PATH...\n\
\nAsk the kernel to read the missing data in the background: POSIX_FADV_WILLNEED in chunks of the \
device's readahead cap, holes skipped. --wait waits until the pages are resident, or until reading \
stops making progress, with a progress bar; pages that reclaim takes back before the rest arrive are \
asked for again (3 times at most).\n\
\n    mmadvise touch [LOAD OPTIONS] [THROTTLE OPTIONS] [FILE OPTIONS] PATH...     (alias: load)\n\
\nLoad the missing data and wait for it: MADV_POPULATE_READ per window, in parallel across windows and \
files, holes skipped.\n\
\n    mmadvise evict [--sync] [FILE OPTIONS] PATH...\n\
\nDrop the pages from the page cache and explain what stayed. --sync writes dirty pages back first \
(fdatasync).\n\
\n    mmadvise lock [--daemon] [--pidfile FILE] [LOAD OPTIONS] [FILE OPTIONS] PATH...\n\
\nLock the data in memory (mlock2 MLOCK_ONFAULT, then a load) and hold it until SIGINT, SIGTERM or \
SIGHUP. --daemon detaches once the files are locked; --pidfile writes the holder's process id, and the \
file is removed when it ends.\n\
\n    mmadvise lock|touch --follow [--daemon] [--pidfile FILE] [LOAD OPTIONS] [FILE OPTIONS] PATH...\n\
\nKeep the files locked (or loaded) while they change, until SIGINT or SIGTERM, which unlock and exit \
with status 0. Directories and the directories of file arguments are watched with inotify. A file \
replaced by a rename is let go and the new one locked (loaded); a file that grows has its new tail \
locked (loaded); a file created under a directory argument is found by walking that argument again, \
with the same filters; a deleted file is let go. When the kernel's event queue overflows, or on SIGHUP, \
every argument is walked again (and files that failed are tried again). RLIMIT_MEMLOCK is checked \
before each new lock, with the message lock gives. Each change is one line: PATH: locked SIZE, PATH: \
replaced: locked SIZE, PATH: grew from SIZE to SIZE: locked SIZE more, PATH: deleted: released SIZE, \
rescan: ..., following N files in M directories ..., and stopped: ... at the end; with --json, one \
\"event\" record each.\n\
\n    mmadvise advise cold|pageout|hugepage [--map-mode MODE] [FILE OPTIONS] PATH...\n\
\nGive advice with a lasting effect, and check it. sequential, random, normal and dontneed are refused \
(see CAVEATS).\n\
\n    mmadvise restore [--strict] [--order snapshot|density|size] [--map-prefix OLD=NEW]... [--match identity|size-mtime|fingerprint] [LOAD OPTIONS] [THROTTLE OPTIONS] SNAPSHOT\n\
\nLoad exactly the ranges a snapshot (mmstat --save; - for standard input) lists as resident, for the \
files whose device, inode, size and modification time still match; with --match size-mtime, whose size and modification time are (a copy made with cp -a, rsync -a or \
mmcp -a); with --match fingerprint, whose size and content fingerprint (mmstat --save --fingerprint; \
which blocks, in mmstat(1)) are. --map-prefix OLD=NEW (repeatable) rewrites saved paths first: the \
longest OLD that is a prefix of whole path components is replaced by NEW. Names are bytes; the first = \
splits OLD from NEW. A file that does not match is skipped with the reason, and none of it is loaded \
(the blocks a fingerprint check read are dropped again). A file that changed or no longer \
exists is skipped with a note and counted; --strict makes any skipped file a failure. --order says \
which files come first: the snapshot's order, the highest resident share of the file (density), or \
the most resident bytes (size); with a --budget, it decides what is kept.\n\
\nFILE OPTIONS: --range OFFSET:LENGTH or OFFSET..END (widened to whole pages); --files0-from FILE \
(NUL-separated names, - for standard input); and the walk of directories: -L/--dereference, \
-x/--one-file-system, --include GLOB, --exclude GLOB, --min-size SIZE, --max-size SIZE.\n\
\nLOAD OPTIONS: --map-mode shared|private; --advice normal|sequential|random (the access pattern while \
loading; by default sequential readahead, and exact reads with no readahead near holes and range ends); \
--window-size SIZE (16M).\n\
\nTHROTTLE OPTIONS (touch, willneed, restore): --budget SIZE|PCT% loads at most SIZE bytes, or PCT \
percent of the memory available when the run starts: MemAvailable of /proc/meminfo, or the room left \
under the memory cgroup limit of mmadvise's cgroup or any cgroup above it (memory.max less \
memory.current; memory.limit_in_bytes less memory.usage_in_bytes in version 1), whichever is \
smaller. Missing ranges are loaded in order until the next would pass the budget; that one is cut at \
a page boundary and everything after it is left out, and reported per file and in total, in bytes \
and files. Pages already cached cost nothing. --rate BYTES/s (such as 40M or 40M/s) paces the reads \
with a token bucket shared by all threads, over the missing data only: N bytes never take less than \
N/rate seconds. --ionice CLASS[:LEVEL] (idle, best-effort:0-7, realtime:0-7; level 4 when not \
given) sets the I/O priority of every loading thread with ioprio_set before the first read.\n\
\nEvery action also takes --json, --bytes (exact sizes in text), -j/--threads N, -q/--quiet and \
--progress.",
    ),
    (
        "EXAMPLES",
        "Load a database directory into the page cache, and see how much was missing:\n\
\n    mmadvise touch /srv/db\n\
\nPrefetch a disk image in the background, then wait until it is all cached:\n\
\n    mmadvise willneed --wait vm.img\n\
\nDrop a file from the cache, writing its dirty pages first:\n\
\n    mmadvise evict --sync big.log\n\
\nKeep an index locked in memory in the background:\n\
\n    mmadvise lock --daemon --pidfile /run/index.pid /srv/index.bin\n    kill $(cat /run/index.pid)\n\
\nWarm the cache after a restart with what was cached before it:\n\
\n    mmstat --save /var/lib/cache.snap /srv/db\n    (restart)\n    mmadvise restore /var/lib/cache.snap\n\
\nWarm up beside a running service: a quarter of the memory available at most, the densest files \
first, 200 MiB/s at most, at idle I/O priority:\n\
\n    mmadvise restore --budget 25% --order density --rate 200M --ionice idle /var/lib/cache.snap\n\
\nWarm a copy of the database on another host (copied with rsync -a), checking content:\n\
\n    mmstat --save db.snap --fingerprint /srv/db\n    rsync -a /srv/db db.snap newhost:/data/\n\
    ssh newhost mmadvise restore --map-prefix /srv/db=/data/db --match fingerprint /data/db.snap\n\
\nKeep an index directory locked through compactions (files replaced by rename) and appends:\n\
\n    mmadvise lock --follow --daemon --pidfile /run/idx.pid /srv/index\n    kill -HUP $(cat /run/idx.pid)     (walk again)\n    kill $(cat /run/idx.pid)\n\
\nKeep logs cached while they grow and rotate, and print a JSON record per change:\n\
\n    mmadvise touch --follow --json --include '*.log' /var/log/app",
    ),
    (
        "EXIT STATUS",
        "0 when every file was handled; 1 when a file could not be opened, read, locked or advised, \
changed size while being loaded, or a snapshot could not be read (the other files are still handled); \
2 for a usage error, including advice that only affects mmadvise's own map (sequential, random, normal, \
dontneed) given alone. Pages that stay cached after evict or pageout for a reason the kernel gives \
(dirty, writeback, mapped, tmpfs) are explained, not failures; so are files skipped by restore because \
they changed or no longer exist, unless --strict is given; but restore exits 1 when not one file of \
the snapshot could be restored. lock holds until a termination signal and then ends by that signal, after releasing the \
locks and removing its pid file. With --follow, lock and touch exit with status 0 on SIGINT or \
SIGTERM (after unlocking), whatever failed meanwhile (each failure was reported); with --daemon, \
the parent's status says how the first walk went. Writing to a closed pipe ends the run quietly with status 0.",
    ),
    (
        "JSON OUTPUT",
        "With --json, one JSON object per line, each with a \"type\" first: \"file\" per file handled \
(sizes in bytes, residency in pages of the covered range, null where the kernel hides it, and fields of \
the action's own), \"skipped\" per path passed over, \"error\" per file that failed, and \"summary\" \
last:\n\
\n    {\"type\":\"file\",\"action\":\"touch\",\"path\":\"a.db\",\"size\":8192,\"offset\":0,\"length_bytes\":8192,\"pages\":2,\"data_bytes\":8192,\"resident_pages_before\":0,\"resident_pages_after\":2,\"loaded_bytes\":8192,\"notes\":[]}\n\
\nThe summary of touch, willneed and restore adds loaded_bytes, loaded_files, elapsed_seconds and \
rate_bytes_per_second (the rate achieved); with --budget, budget_bytes, left_out_bytes and \
left_out_files (and left_out_bytes per file); with --rate, rate_limit_bytes_per_second; with --ionice, \
ionice. restore's adds changed_files and removed_files.\n\
\nEvery record type and field is listed, with its meaning, in mmtools-json(7); a summary record carries \"schema\", that page's version. Names are strings (lossy when not UTF-8, with the exact bytes in base64 in a sibling \"..._bytes\" field).\n\
\nIn text, a name holding a newline, a control character or bytes that are not a printable character is \
quoted and escaped for the shell, as ls shows it ('a'$'\\377''b'); messages quote names as wc's do.",
    ),
    (
        "CAVEATS",
        "One WILLNEED call reads at most the device's readahead cap (the larger of read_ahead_kb and \
max_sectors_kb under /sys/block/DEV/queue); mmadvise chunks its requests to that size, or to 128 KiB \
when the device cannot be found. willneed without --wait returns as soon as the reads are queued: the \
residency after is whatever arrived by then.\n\
\nFor files the caller may not write, the kernel hides residency (Linux 5.2 and later): it is reported \
as unknown, and cold and pageout, which the kernel ignores for such files, fail.\n\
\nAdvice that only affects the caller's own map (sequential, random, normal, dontneed) has no lasting \
effect once mmadvise exits, so advise refuses it; touch --advice uses it while loading.\n\
\nevict cannot drop dirty pages (use --sync), pages under writeback, pages mapped or locked by a process, \
or tmpfs pages; it says which. A lock lasts only while the holding process lives, and RLIMIT_MEMLOCK \
counts the whole size of each locked file, holes included, although holes are never read or locked. \
hugepage depends on the filesystem's support for large folios; pages cached before in small pages stay \
small unless the kernel can collapse them (MADV_COLLAPSE).\n\
\n--rate counts the bytes mmadvise asks for; the kernel's readahead may read a little ahead of the \
pace within them, never past them. willneed without --wait only asks: the reads follow as fast as \
the device goes. --ionice only matters to an I/O scheduler that honours priorities (bfq; mq-deadline \
for realtime; none and kyber ignore it, as do tmpfs and the page cache itself). A percentage \
--budget is worked out once, when the run starts.\n\
\n--follow needs inotify: the watches count against fs.inotify.max_user_watches (one per directory), \
and a directory created and filled faster than it is watched is caught by the walk that its creation \
starts. A file changed in place without growing (same size, written through) keeps its lock or its \
pages as the kernel keeps them; only renames, growth, shrinking and deletion are acted on. A file \
that keeps growing gains a locked map per growth; past 16 they are merged into one.\n\
\nA fingerprint samples five 4 KiB blocks: an edit elsewhere that keeps the size and modification time \
is not seen. --match size-mtime trusts the copy tool to have kept both.",
    ),
];
