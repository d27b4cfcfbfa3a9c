//! mmcp's command-line arguments: clap's definition of every flag, and the parse that keeps the
//! order of the order-sensitive ones.

use std::path::PathBuf;

use clap::{ArgAction, CommandFactory, FromArgMatches, Parser, ValueEnum};

use super::TOOL;
use super::settings::{self, Setting};
use crate::cli::common::{
    EXIT_FAILURE, ProgressArgs, ReadArgs, parse_command_line, parse_size_arg, usage_exit,
};
/// Copy files through memory maps: sparse-aware, parallel, atomic, and never half-written.
#[derive(Debug, Parser)]
#[command(
    name = "mmcp",
    version,
    about = "Copy files through memory maps: sparse-aware, parallel, atomic, never half-written",
    long_about = "Copy SRC to DST, or each SRC into DIR, through memory maps read on all cores, with cp's \
options for links (-P, -H, -L, -d), attributes (-p, --preserve, --no-preserve, -a) and backups (-b, \
--backup, -S).\n\n\
The source is mapped read-only in bounded windows; the copy is built as an anonymous file (O_TMPFILE) in \
DST's directory, sized and preallocated before the first byte is written (so a full disk is found at \
once), and given DST's name only when complete: even SIGKILL leaves the old DST or the new one, never a \
partial file. On any error or signal an existing DST is left as it was. A source that shrinks during the copy is an error for that file, not a \
crash. Holes in the source stay holes (--sparse). mmcp refuses to copy a file onto itself, even through \
a hard link or a symlink. Pipes, devices, standard input (-) and /proc files are copied by read/write.",
    after_long_help = "Examples:\n  mmcp big.img /backup/                 copy into a directory\n  \
mmcp -p --sync db.dump db.copy        keep times and mode, durable when mmcp returns\n  \
mmcp -r -v photos/ /mnt/usb/photos    a tree, naming each file\n  \
mmcp --sparse=always vm.raw vm.copy   also turn zero pages into holes\n  \
mmcp -t /backup/ a.log b.log          several files into a directory\n  \
mmcp -a /srv/data /backup/data        an archive: links, owners, modes, times, xattrs\n  \
mmcp --backup=numbered new.conf app.conf   keep the old app.conf as app.conf.~N~"
)]
pub struct Args {
    /// SRC DST, or SRC... DIR (or SRC... with -t DIR); `-` as SRC is standard input
    #[arg(value_name = "PATH", required = true)]
    pub paths: Vec<PathBuf>,

    /// Copy every SRC into DIR
    #[arg(short = 't', long, value_name = "DIR")]
    pub target_directory: Option<PathBuf>,

    /// Copy directories recursively; symlinks are copied as symlinks, FIFOs and sockets recreated,
    /// devices skipped (unless --copy-contents)
    #[arg(short = 'r', short_alias = 'R', long)]
    pub recursive: bool,

    /// Copy an archive: -R -P --preserve=all (mode, ownership, timestamps, hard links, and extended
    /// attributes where possible)
    #[arg(short = 'a', long, overrides_with = "archive")]
    pub archive: bool,

    /// Follow every symlink in SRC (copy what they point to)
    #[arg(short = 'L', long, overrides_with = "dereference")]
    pub dereference: bool,

    /// Never follow symlinks in SRC: copy them as symlinks (the default with -r)
    #[arg(short = 'P', long, overrides_with = "no_dereference")]
    pub no_dereference: bool,

    /// Follow symlinks named on the command line, not those found in trees
    #[arg(short = 'H', overrides_with = "dereference_command_line")]
    pub dereference_command_line: bool,

    /// Same as --no-dereference --preserve=links
    #[arg(short = 'd', overrides_with = "no_dereference_preserve_links")]
    pub no_dereference_preserve_links: bool,

    /// Never overwrite an existing file
    /// (-n and -i override each other, the last wins; -f does not override -n, as in cp)
    #[arg(short = 'n', long, overrides_with = "interactive")]
    pub no_clobber: bool,

    /// Ask on stderr before overwriting; the answer is read from stdin
    #[arg(short = 'i', long, overrides_with = "no_clobber")]
    pub interactive: bool,

    /// Replace an existing destination even if it is not writable
    #[arg(short = 'f', long)]
    pub force: bool,

    /// Copy only when SRC is newer than DST, or DST is missing
    #[arg(short = 'u', long)]
    pub update: bool,

    /// Same as --preserve=mode,ownership,timestamps
    #[arg(short = 'p', overrides_with = "preserve_basic")]
    pub preserve_basic: bool,

    /// Keep these attributes (default: mode,ownership,timestamps): mode (exact bits and POSIX ACLs),
    /// ownership (where permitted), timestamps (atime, mtime, ns), links (hard links among the copied
    /// files), xattr (other extended attributes, not SELinux labels), all (all of them, extended
    /// attributes only where possible); context (SELinux) is not supported
    #[arg(
        long,
        value_name = "ATTR_LIST",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "mode,ownership,timestamps",
        action = ArgAction::Append
    )]
    pub preserve: Vec<String>,

    /// Don't keep these attributes; --no-preserve=mode creates files 0666 and directories 0777, less
    /// the umask
    #[arg(long, value_name = "ATTR_LIST", action = ArgAction::Append)]
    pub no_preserve: Vec<String>,

    /// Back up each existing destination before it is replaced: CONTROL is none/off, numbered/t
    /// (NAME.~N~), existing/nil (numbered if numbered backups exist, else simple), simple/never
    /// (NAME~); without CONTROL, $VERSION_CONTROL, else existing
    #[arg(
        long,
        value_name = "CONTROL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = ""
    )]
    pub backup: Option<String>,

    /// Like --backup, but takes no argument
    #[arg(short = 'b')]
    pub backup_default: bool,

    /// Suffix of simple backups (default: $SIMPLE_BACKUP_SUFFIX, else ~); implies --backup
    #[arg(short = 'S', long, value_name = "SUFFIX")]
    pub suffix: Option<std::ffi::OsString>,

    /// Print 'SRC' -> 'DST' for each file copied
    #[arg(short = 'v', long)]
    pub verbose: bool,

    /// Holes: auto keeps the source's holes, always also makes holes of all-zero pages (and reserves
    /// no blocks ahead, so a full disk shows as the data is written), never writes every byte
    #[arg(long, value_enum, default_value_t = SparseArg::Auto, value_name = "WHEN")]
    pub sparse: SparseArg,

    /// Write DST directly instead of through a temporary file (no room for two copies; a failure
    /// leaves DST partly written)
    #[arg(long)]
    pub in_place: bool,

    /// msync and fsync each copy before it replaces DST, then fsync the directory
    #[arg(long)]
    pub sync: bool,

    /// After copying, compare SRC and the copy through maps; a difference fails the file
    #[arg(long)]
    pub verify: bool,

    /// How the mapped source reaches DST: write (pwrite from the map, the fastest) or map (a shared
    /// read-write map of DST)
    #[arg(long, value_enum, default_value_t = DestIoArg::Write, value_name = "HOW")]
    pub dest_io: DestIoArg,

    /// Files smaller than SIZE are copied with pread/pwrite, which is faster for them than mapping; 0
    /// maps every file
    #[arg(long, value_name = "SIZE", value_parser = parse_size_arg, default_value = "1M")]
    pub mmap_min: u64,

    /// Treat DST as a normal file, never as a directory to copy into
    #[arg(short = 'T', long)]
    pub no_target_directory: bool,

    /// Remove each existing destination before creating the new one (a symlink or device at DST is
    /// replaced, not written through)
    #[arg(long)]
    pub remove_destination: bool,

    /// Make hard links to the source files instead of copying them
    #[arg(short = 'l', long, overrides_with = "symbolic_link")]
    pub link: bool,

    /// Make symbolic links to the source files instead of copying them (the link holds SRC as
    /// named: a relative SRC works only when DST is in the current directory)
    #[arg(short = 's', long, overrides_with = "link")]
    pub symbolic_link: bool,

    /// Append SRC as named to DIR (making the missing directories), instead of SRC's last name
    #[arg(long)]
    pub parents: bool,

    /// Stay on the file system of each SRC: directories on other file systems (mount points) are
    /// created empty
    #[arg(short = 'x', long)]
    pub one_file_system: bool,

    /// Copy only the attributes asked for (-p, --preserve), not the data: a missing DST is created
    /// empty, an existing one keeps its contents
    #[arg(long)]
    pub attributes_only: bool,

    /// With -r, copy the contents of FIFOs and devices found in trees as regular files, instead of
    /// recreating FIFOs (and skipping devices)
    #[arg(long)]
    pub copy_contents: bool,

    /// Clone data blocks (WHEN: auto, always, never): mmcp never clones, so auto and never copy as
    /// usual, and always (the default of a bare --reflink) is refused
    #[arg(
        long,
        value_name = "WHEN",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "always"
    )]
    pub reflink: Option<String>,

    /// Write JSON Lines: a "file" object per file copied, "error" per failure, and a "summary"
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub(crate) read: ReadArgs,

    #[command(flatten)]
    pub(crate) progress: ProgressArgs,

    /// The order-sensitive flags, in command-line order (filled from clap's matches).
    #[arg(skip)]
    pub settings: Vec<Setting>,
}

impl Args {
    /// Parses the command line (exits on a usage error), keeping the order of -L/-P/-H and of the
    /// attribute flags.
    pub fn parse_ordered() -> Args {
        Self::from_matches(parse_command_line(
            Self::command(),
            std::env::args_os(),
            EXIT_FAILURE,
        ))
    }

    /// Parses `argv` as [`Args::parse_ordered`] does.
    pub fn parse_ordered_from<I, T>(argv: I) -> Args
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let argv = argv.into_iter().map(Into::into);
        Self::from_matches(parse_command_line(Self::command(), argv, EXIT_FAILURE))
    }

    fn from_matches(matches: clap::ArgMatches) -> Args {
        let mut args =
            Args::from_arg_matches(&matches).unwrap_or_else(|e| usage_exit(TOOL, &e, EXIT_FAILURE));
        args.settings = settings::from_matches(&matches);
        args
    }
}

/// `--sparse` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SparseArg {
    /// Keep the source's holes
    Auto,
    /// Keep holes and make holes of all-zero pages
    Always,
    /// Write every byte
    Never,
}

/// `--reflink` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReflinkArg {
    /// Clone where possible, else copy: mmcp copies
    Auto,
    /// Clone or fail: refused, mmcp never clones
    Always,
    /// Copy
    Never,
}

/// `--dest-io` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DestIoArg {
    /// pwrite(2) from the source's map
    Write,
    /// memcpy into a shared map of the destination
    Map,
}

/// The clap command, for man pages and completions.
pub fn command() -> clap::Command {
    Args::command()
}

impl ReflinkArg {
    /// The value named by `word` or an unambiguous abbreviation of it, as cp reads it; otherwise
    /// cp's message.
    pub fn parse(word: &str) -> Result<ReflinkArg, String> {
        const ALL: [(&str, ReflinkArg); 3] = [
            ("auto", ReflinkArg::Auto),
            ("always", ReflinkArg::Always),
            ("never", ReflinkArg::Never),
        ];
        let found: Vec<ReflinkArg> = ALL
            .iter()
            .filter(|(name, _)| name.starts_with(word))
            .map(|(_, r)| *r)
            .collect();
        match found.as_slice() {
            [one] => Ok(*one),
            _ => Err(format!(
                "{} argument '{word}' for '--reflink'\nValid arguments are:\n  - 'auto'\n  - \
'always'\n  - 'never'",
                if found.is_empty() {
                    "invalid"
                } else {
                    "ambiguous"
                }
            )),
        }
    }
}
