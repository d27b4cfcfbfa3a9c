//! What every tool's command line shares: flags, error reporting as `tool: file: reason`, exit codes,
//! quiet exit on a broken pipe, the progress-bar factory, the JSON Lines writer, `--files0-from`, and
//! value parsers for sizes and ranges.

use std::ffi::{OsStr, OsString};
use std::io::{self, BufRead, IsTerminal, Write};
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::cache::CacheMode;
use crate::map::MapMode;
use crate::names0::{Name0, Names0, open_list};
use crate::window::ScanOptions;

/// Exit status 0: success.
pub const EXIT_OK: u8 = 0;
/// Exit status 1: a file or operation failed, or a check was not met.
pub const EXIT_FAILURE: u8 = 1;
/// Exit status 2: a usage error (clap's own).
pub const EXIT_USAGE: u8 = 2;

/// Prints diagnostics for one tool and remembers whether any file failed.
#[derive(Debug)]
pub struct Reporter {
    tool: &'static str,
    failed: AtomicBool,
}

impl Reporter {
    /// A reporter for `tool` (the program name used as the message prefix).
    pub fn new(tool: &'static str) -> Self {
        Reporter {
            tool,
            failed: AtomicBool::new(false),
        }
    }

    /// Prints `tool: message` to stderr and marks the run failed. stdout is flushed first so that the
    /// two streams interleave in order on a terminal.
    pub fn error(&self, message: impl std::fmt::Display) {
        let _ = io::stdout().flush();
        diagnostic(format!("{}: {message}\n", self.tool));
        self.failed.store(true, Ordering::Relaxed);
    }

    /// Prints a core error in the words of the shared table ([`crate::cli::messages`]) and marks the
    /// run failed.
    pub fn file_error(&self, e: &crate::error::Error) {
        self.error(crate::cli::messages::message(e));
    }

    /// Prints `tool: warning: message` to stderr; the run does not fail for it.
    pub fn warn(&self, message: impl std::fmt::Display) {
        let _ = io::stdout().flush();
        diagnostic(format!("{}: warning: {message}\n", self.tool));
    }

    /// Whether an error was reported.
    pub fn failed(&self) -> bool {
        self.failed.load(Ordering::Relaxed)
    }

    /// Turns the result of a whole run into the exit code: a broken pipe on stdout exits 0 quietly, any
    /// other error is printed once and exits 1, and a run that reported errors exits 1.
    pub fn finish(&self, result: anyhow::Result<()>) -> ExitCode {
        ExitCode::from(self.status(result))
    }

    /// [`finish`](Self::finish) as a number, for a binary that returns from a C `main`.
    pub fn status(&self, result: anyhow::Result<()>) -> u8 {
        match result {
            Ok(()) if self.failed() => EXIT_FAILURE,
            Ok(()) => EXIT_OK,
            // A reader that stopped early (`| head`) is not an error, but files that failed before still are.
            Err(e) if is_broken_pipe(&e) => {
                if self.failed() {
                    EXIT_FAILURE
                } else {
                    EXIT_OK
                }
            }
            Err(e) => {
                self.error(format_args!("{e:#}"));
                EXIT_FAILURE
            }
        }
    }
}

/// Writes a diagnostic line to stderr in one write: stderr is unbuffered, and a line written in parts
/// costs a system call a part (a walk that notes thousands of links would pay four per note), and
/// could interleave with another process's output.
fn diagnostic(line: String) {
    let _ = io::stderr().lock().write_all(line.as_bytes());
}

/// Parses `argv` (program name first) with `command`, as GNU tools parse: a long option may be
/// abbreviated to any unambiguous prefix (`--files0` for `--files0-from`), in subcommands too.
/// `--help` and `--version` print to stdout and exit 0. A usage error prints one line
/// `TOOL: message` and `Try 'TOOL --help' for more information.` on stderr, and exits with
/// `usage_status`: 2 by convention, 1 where the peer tool (cp, wc) exits 1.
pub fn parse_command_line(
    command: clap::Command,
    argv: impl IntoIterator<Item = OsString>,
    usage_status: u8,
) -> clap::ArgMatches {
    let mut command = command.infer_long_args(true);
    let tool = command.get_name().to_string();
    match command.try_get_matches_from_mut(argv) {
        Ok(matches) => matches,
        Err(e) => usage_exit(&tool, &e, usage_status),
    }
}

/// [`parse_command_line`], then the tool's typed arguments.
pub fn parse_args<A: clap::FromArgMatches>(
    command: clap::Command,
    argv: impl IntoIterator<Item = OsString>,
    usage_status: u8,
) -> A {
    let tool = command.get_name().to_string();
    let matches = parse_command_line(command, argv, usage_status);
    A::from_arg_matches(&matches).unwrap_or_else(|e| usage_exit(&tool, &e, usage_status))
}

/// Reports a usage error found after parsing (options that cannot go together) as
/// [`parse_command_line`] reports clap's, and exits with `usage_status`.
pub fn usage_error(tool: &str, message: impl std::fmt::Display, usage_status: u8) -> ! {
    let _ = io::stdout().flush();
    let _ = writeln!(
        io::stderr().lock(),
        "{tool}: {message}\nTry '{tool} --help' for more information."
    );
    std::process::exit(i32::from(usage_status));
}

/// Ends the process for a clap error: help and version are printed as clap prints them; anything
/// else is a usage error, reported in one line in the tools' own format.
pub fn usage_exit(tool: &str, e: &clap::Error, usage_status: u8) -> ! {
    use clap::error::ErrorKind;
    if !e.use_stderr()
        || matches!(
            e.kind(),
            ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
        )
    {
        e.exit();
    }
    usage_error(tool, usage_message(&e.render().to_string()), usage_status)
}

/// The first paragraph of clap's rendered error, without its `error: ` prefix, on one line.
fn usage_message(rendered: &str) -> String {
    let first = rendered.split("\n\n").next().unwrap_or(rendered);
    let first = first.strip_prefix("error: ").unwrap_or(first);
    first
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether an error comes from writing to a closed pipe (as in `| head`).
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// Read-only map mode as a command-line value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum MapModeArg {
    /// MAP_SHARED: read the page cache directly.
    #[default]
    Shared,
    /// MAP_PRIVATE: copy-on-write private map.
    Private,
}

impl From<MapModeArg> for MapMode {
    fn from(m: MapModeArg) -> MapMode {
        match m {
            MapModeArg::Shared => MapMode::Shared,
            MapModeArg::Private => MapMode::Private,
        }
    }
}

/// What a run leaves in the page cache, as a command-line value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum CacheArg {
    /// What is read or written stays cached, as with any read or write.
    #[default]
    Normal,
    /// Pages the run brings in are dropped once done with; pages cached before stay.
    Neutral,
}

impl From<CacheArg> for CacheMode {
    fn from(c: CacheArg) -> CacheMode {
        match c {
            CacheArg::Normal => CacheMode::Normal,
            CacheArg::Neutral => CacheMode::Neutral,
        }
    }
}

/// Flags of the tools that read files through maps.
#[derive(Debug, Clone, Args)]
pub struct ReadArgs {
    /// How to map inputs: shared (the page cache itself) or private (copy-on-write)
    #[arg(long, value_enum, default_value_t = MapModeArg::Shared, value_name = "MODE")]
    pub map_mode: MapModeArg,

    /// Read with read(2) instead of mapping (the escape hatch; results are the same)
    #[arg(long)]
    pub no_mmap: bool,

    /// Worker threads [default: available parallelism]
    #[arg(short = 'j', long, value_name = "N", value_parser = parse_threads)]
    pub threads: Option<u16>,

    /// Largest window mapped at once per worker, such as 64K or 16M; rounded up to whole pages
    #[arg(long, value_name = "SIZE", value_parser = parse_window, default_value = "16M")]
    pub window_size: usize,

    /// What to leave in the page cache: normal (what is read stays cached) or neutral (the pages the
    /// run brings in are dropped behind it; those cached before stay)
    #[arg(long, value_enum, default_value_t = CacheArg::Normal, value_name = "MODE")]
    pub cache: CacheArg,
}

impl ReadArgs {
    /// The scan options these flags ask for.
    pub fn scan_options(&self) -> ScanOptions {
        ScanOptions {
            mode: self.map_mode.into(),
            no_mmap: self.no_mmap,
            window: self.window_size,
            populate: true,
            cache: self.cache.into(),
        }
    }

    /// Runs `f` on a pool of `-j` threads, or on the global pool.
    pub fn with_threads<R: Send>(&self, f: impl FnOnce() -> R + Send) -> anyhow::Result<R> {
        in_pool(self.threads, f)
    }
}

/// The one builder of worker pools: `threads` workers (rayon's default, one per CPU, for `None`), each
/// running `start` first (an I/O priority, say). `None` when neither is asked for: the global pool
/// serves.
pub fn thread_pool(
    threads: Option<u16>,
    start: Option<Box<dyn Fn(usize) + Send + Sync>>,
) -> anyhow::Result<Option<rayon::ThreadPool>> {
    if threads.is_none() && start.is_none() {
        return Ok(None);
    }
    let mut builder = rayon::ThreadPoolBuilder::new().num_threads(threads.map_or(0, usize::from));
    if let Some(start) = start {
        builder = builder.start_handler(start);
    }
    Ok(Some(builder.build()?))
}

/// Runs `f` on a pool of `threads` workers ([`thread_pool`]), or on the global pool for `None`.
pub fn in_pool<R: Send>(threads: Option<u16>, f: impl FnOnce() -> R + Send) -> anyhow::Result<R> {
    Ok(match thread_pool(threads, None)? {
        Some(pool) => pool.install(f),
        None => f(),
    })
}

/// A share in percent, as every tool prints it: one decimal, "-" when there is nothing to share, and
/// never 0.0% or 100.0% for a share that is not none or all ("<0.1%", ">99.9%").
pub fn percent_text(percent: Option<f64>) -> String {
    let Some(p) = percent else {
        return "-".into();
    };
    let text = format!("{p:.1}%");
    if p > 0.0 && text == "0.0%" {
        "<0.1%".into()
    } else if p < 100.0 && text == "100.0%" {
        ">99.9%".into()
    } else {
        text
    }
}

/// `part` of `whole` in percent as [`percent_text`] prints it.
pub fn share_text(part: u64, whole: u64) -> String {
    percent_text(crate::residency::percent(part.min(whole), whole))
}

/// The most worker threads `-j` accepts: a pool is built whole before any work starts, and thousands of
/// threads on a few cores take seconds to minutes to start and stop.
pub const MAX_THREADS: u16 = 1024;

/// A `-j/--threads` value parser: 1 to [`MAX_THREADS`].
pub fn parse_threads(text: &str) -> Result<u16, String> {
    match text.parse::<u16>() {
        Ok(n) if (1..=MAX_THREADS).contains(&n) => Ok(n),
        _ => Err(format!(
            "invalid thread count '{text}': give 1 to {MAX_THREADS}"
        )),
    }
}

fn parse_window(text: &str) -> Result<usize, String> {
    let n = crate::size::parse_size(text)?;
    if n == 0 || n > (1 << 40) {
        return Err(format!("invalid window size '{text}': give 1 to 1T bytes"));
    }
    Ok(n.max(crate::map::page_size() as u64) as usize)
}

/// A `--size` style value parser: `4096`, `64K`, `1M`.
pub fn parse_size_arg(text: &str) -> Result<u64, String> {
    crate::size::parse_size(text)
}

/// A `--range` value parser: `OFFSET:LENGTH` or `OFFSET..END`.
pub fn parse_range_arg(text: &str) -> Result<crate::range::Range, String> {
    crate::size::parse_range(text)
}

/// `-q` and `--progress`.
#[derive(Debug, Clone, Args)]
pub struct ProgressArgs {
    /// Quiet: no progress bar and no per-file lines, only errors and what was asked for (counts, a
    /// --check verdict through the exit status)
    #[arg(short, long, conflicts_with = "progress")]
    pub quiet: bool,

    /// Show a progress bar on stderr even for short runs or when stderr is not a terminal
    #[arg(long)]
    pub progress: bool,
}

impl ProgressArgs {
    /// A byte progress bar on stderr for `total` bytes (0: unknown, as for a FIFO; the bar then shows
    /// no total and no ETA): shown when forced with --progress (also when stderr is not a terminal,
    /// then as a line per second), or when stderr is a terminal and the work is at least `threshold`
    /// bytes. Hidden bars cost nothing to update. Sizes are in the tools' own binary units.
    pub fn bar(&self, total: u64, threshold: u64) -> ProgressBar {
        let terminal = io::stderr().is_terminal();
        let show = !self.quiet && (self.progress || (terminal && total >= threshold));
        if !show {
            return ProgressBar::hidden();
        }
        let target = if terminal {
            ProgressDrawTarget::stderr_with_hz(8)
        } else {
            ProgressDrawTarget::term_like_with_hz(Box::new(PlainStderr), 1)
        };
        let bar = ProgressBar::with_draw_target((total > 0).then_some(total), target);
        let template = if total > 0 {
            "{bar:30} {human_pos}/{human_len} {human_rate} ETA {eta} {msg}"
        } else {
            "{human_pos} {human_rate} {msg}"
        };
        let style = ProgressStyle::with_template(template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .with_key(
                "human_pos",
                |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = write!(w, "{}", crate::size::human(state.pos()));
                },
            )
            .with_key(
                "human_len",
                |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = write!(w, "{}", crate::size::human(state.len().unwrap_or(0)));
                },
            )
            .with_key(
                "human_rate",
                |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = write!(w, "{}/s", crate::size::human(state.per_sec() as u64));
                },
            );
        bar.set_style(style);
        if terminal {
            bar.enable_steady_tick(Duration::from_millis(200));
        }
        bar
    }
}

/// Standard error when it is not a terminal (a log file, a pipe) and --progress asked for a bar
/// anyway: each redraw is a line of its own, with no cursor movement or escape sequences.
#[derive(Debug)]
struct PlainStderr;

impl indicatif::TermLike for PlainStderr {
    fn width(&self) -> u16 {
        80
    }
    fn move_cursor_up(&self, _: usize) -> io::Result<()> {
        Ok(())
    }
    fn move_cursor_down(&self, _: usize) -> io::Result<()> {
        Ok(())
    }
    fn move_cursor_right(&self, _: usize) -> io::Result<()> {
        Ok(())
    }
    fn move_cursor_left(&self, _: usize) -> io::Result<()> {
        Ok(())
    }
    fn write_line(&self, s: &str) -> io::Result<()> {
        if s.is_empty() {
            return Ok(());
        }
        writeln!(io::stderr().lock(), "{s}")
    }
    fn write_str(&self, s: &str) -> io::Result<()> {
        if s.trim().is_empty() {
            return Ok(());
        }
        writeln!(io::stderr().lock(), "{s}")
    }
    fn clear_line(&self) -> io::Result<()> {
        Ok(())
    }
    fn flush(&self) -> io::Result<()> {
        io::stderr().flush()
    }
}

/// Input file names: operands, or NUL-separated names from `--files0-from`.
#[derive(Debug, Clone, Args)]
pub struct FilesArgs {
    /// Read NUL-separated file names from FILE (`-` for stdin), as `find -print0` writes them
    #[arg(long, value_name = "FILE", conflicts_with = "files")]
    pub files0_from: Option<PathBuf>,
}

/// One input named by the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputName {
    /// Standard input (`-`, or no operands); `named` is false when no operand was given at all.
    Stdin {
        /// Whether the user wrote `-`.
        named: bool,
    },
    /// A path.
    Path(PathBuf),
    /// An empty name in a `--files0-from` list (an error for that entry).
    Invalid(String),
}

impl FilesArgs {
    /// The inputs to read: `operands`, or the `--files0-from` list, or stdin when there is neither.
    /// The whole list is read: for a list that may not end, use [`FilesArgs::list`].
    pub fn inputs(&self, operands: &[PathBuf]) -> anyhow::Result<Vec<InputName>> {
        match self.list()? {
            Some(list) => list.collect(),
            None if operands.is_empty() => Ok(vec![InputName::Stdin { named: false }]),
            None => Ok(operands.iter().map(|p| name_of(p.clone())).collect()),
        }
    }

    /// The `--files0-from` list, opened, to be read one name at a time; `None` without the option.
    pub fn list(&self) -> anyhow::Result<Option<NameList>> {
        let Some(list) = &self.files0_from else {
            return Ok(None);
        };
        let (names, regular) = open_list(list).map_err(|e| list_error(list, &e))?;
        Ok(Some(NameList {
            list: list.clone(),
            from_stdin: list.as_os_str() == "-",
            regular,
            names,
        }))
    }
}

fn list_error(list: &Path, e: &io::Error) -> anyhow::Error {
    anyhow::anyhow!(
        "cannot read file names from {}: {}",
        crate::cli::quote::always(list),
        crate::error::describe(e)
    )
}

/// The names of a `--files0-from` list, as they are read (memory bounded by PATH_MAX per name).
pub struct NameList {
    list: PathBuf,
    from_stdin: bool,
    /// The list is a regular file (it ends, and wc reads it ahead to size its columns).
    pub regular: bool,
    names: Names0<Box<dyn BufRead + Send>>,
}

impl std::fmt::Debug for NameList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NameList")
            .field("list", &self.list)
            .finish()
    }
}

impl Iterator for NameList {
    type Item = anyhow::Result<InputName>;

    fn next(&mut self) -> Option<Self::Item> {
        let (index, name) = match self.names.next()? {
            Ok(entry) => entry,
            Err(e) => return Some(Err(list_error(&self.list, &e))),
        };
        let invalid = |why: &str| {
            InputName::Invalid(format!(
                "{}:{index}: {why}",
                crate::cli::quote::name(&self.list)
            ))
        };
        Some(Ok(match name {
            // As wc: `LIST:N: ...`, so the user can find the entry (an empty name says nothing).
            Name0::Empty => invalid("invalid zero-length file name"),
            Name0::TooLong => invalid("File name too long"),
            Name0::Name(bytes) if bytes == b"-" && self.from_stdin => InputName::Invalid(
                "when reading file names from standard input, no file name of '-' is allowed"
                    .into(),
            ),
            Name0::Name(bytes) => name_of(PathBuf::from(OsString::from_vec(bytes))),
        }))
    }
}

fn name_of(path: PathBuf) -> InputName {
    if path.as_os_str() == "-" {
        InputName::Stdin { named: true }
    } else {
        InputName::Path(path)
    }
}

/// Writes JSON Lines: one object per line, each with a `"type"` field first.
#[derive(Debug)]
pub struct JsonLines<W: Write> {
    out: W,
}

impl<W: Write> JsonLines<W> {
    /// A writer over `out`.
    pub fn new(out: W) -> Self {
        JsonLines { out }
    }

    /// Writes `{"type": kind, ...fields}`. `fields` must serialise to an object. A summary record
    /// carries the schema's version after its type (see mmtools-json(7)).
    pub fn write(&mut self, kind: &str, fields: impl Serialize) -> io::Result<()> {
        let mut object = Map::new();
        object.insert("type".into(), Value::String(kind.into()));
        if kind == "summary" {
            object.insert("schema".into(), crate::cli::schema::VERSION.into());
        }
        match serde_json::to_value(fields).map_err(io::Error::other)? {
            Value::Object(rest) => object.extend(rest),
            other => {
                return Err(io::Error::other(format!(
                    "JSON record is not an object: {other}"
                )));
            }
        }
        serde_json::to_writer(&mut self.out, &Value::Object(object)).map_err(io::Error::from)?;
        self.out.write_all(b"\n")
    }

    /// Writes `{"type":"error","path":...,"error":...}` (with `path_bytes` for a name that is not
    /// UTF-8, see [`insert_name`]).
    pub fn error(&mut self, path: &OsStr, message: &str) -> io::Result<()> {
        let mut fields = Map::new();
        insert_name(&mut fields, "path", path);
        fields.insert("error".into(), message.into());
        self.write("error", fields)
    }

    /// Writes a record that carries its own `"type"` first, as it serialises (a struct streamed
    /// without building a map: mmstat writes one per file of a tree). An error of the output keeps
    /// its kind (a closed pipe stays a broken pipe, which ends a tool quietly).
    pub fn record(&mut self, record: &impl Serialize) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, record).map_err(io::Error::from)?;
        self.out.write_all(b"\n")
    }

    /// Flushes the underlying writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// The underlying writer.
    pub fn into_inner(self) -> W {
        self.out
    }
}

/// The name of an input as output shows it: `-` for stdin named so, nothing for stdin unnamed or an
/// invalid entry, else the path's exact bytes.
pub fn input_name(name: &InputName) -> &OsStr {
    match name {
        InputName::Stdin { named: true } => OsStr::new("-"),
        InputName::Stdin { named: false } | InputName::Invalid(_) => OsStr::new(""),
        InputName::Path(p) => p.as_os_str(),
    }
}

/// Puts a file name into a JSON record, the one way every tool does: `key` is a string (so that
/// `jq -r .path` works), lossy when the name is not UTF-8, and then `key_bytes` holds the exact name in
/// standard base64. A UTF-8 name never has `key_bytes`.
pub fn insert_name(fields: &mut Map<String, Value>, key: &str, name: &OsStr) {
    let (text, bytes) = crate::name::split(name);
    fields.insert(key.into(), Value::String(text.into_owned()));
    match bytes {
        Some(b64) => fields.insert(format!("{key}_bytes"), Value::String(b64)),
        None => fields.remove(&format!("{key}_bytes")),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_errors_are_one_line_without_clap_decorations() {
        let rendered = "error: unexpected argument '--bogus' found\n\n  tip: to pass '--bogus' as \
a value, use '-- --bogus'\n\nUsage: mmcount [OPTIONS] [FILE]...\n";
        assert_eq!(
            usage_message(rendered),
            "unexpected argument '--bogus' found"
        );
        let rendered = "error: the following required arguments were not provided:\n  <PATH>...\n\n\
Usage: mmcp <PATH>...\n";
        assert_eq!(
            usage_message(rendered),
            "the following required arguments were not provided: <PATH>..."
        );
    }

    #[test]
    fn json_lines_put_type_first() {
        use std::os::unix::ffi::OsStrExt;
        let mut out = Vec::new();
        let mut j = JsonLines::new(&mut out);
        j.write("file", serde_json::json!({"path": "a", "bytes": 3}))
            .unwrap();
        j.error(OsStr::new("b"), "No such file or directory")
            .unwrap();
        j.error(OsStr::from_bytes(b"\xff\n"), "x").unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], r#"{"type":"file","path":"a","bytes":3}"#);
        assert_eq!(
            lines[1],
            r#"{"type":"error","path":"b","error":"No such file or directory"}"#
        );
        assert_eq!(
            lines[2],
            "{\"type\":\"error\",\"path\":\"\u{fffd}\\n\",\"path_bytes\":\"/wo=\",\"error\":\"x\"}"
        );
    }

    #[test]
    fn files0_from_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let list = dir.path().join("list");
        std::fs::write(&list, b"a\0\0b c\0-\0").unwrap();
        let args = FilesArgs {
            files0_from: Some(list),
        };
        let names = args.inputs(&[]).unwrap();
        assert_eq!(names.len(), 4);
        assert_eq!(names[0], InputName::Path("a".into()));
        assert_eq!(
            names[1],
            InputName::Invalid(format!(
                "{}:2: invalid zero-length file name",
                crate::cli::quote::name(dir.path().join("list"))
            ))
        );
        assert_eq!(names[2], InputName::Path("b c".into()));
        assert_eq!(names[3], InputName::Stdin { named: true });
        let none = FilesArgs { files0_from: None };
        assert_eq!(
            none.inputs(&[]).unwrap(),
            vec![InputName::Stdin { named: false }]
        );
    }

    #[test]
    fn broken_pipe_is_recognised_through_context() {
        let e = anyhow::Error::from(io::Error::from(io::ErrorKind::BrokenPipe)).context("writing");
        assert!(is_broken_pipe(&e));
        assert!(!is_broken_pipe(&anyhow::anyhow!("other")));
    }
}
