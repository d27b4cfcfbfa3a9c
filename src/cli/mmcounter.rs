//! mmcounter's command line: arguments, the plan (which counter, which operation, how to report), the
//! run over the core's locked update, and plain, padded or JSON output. Start-up is kept lean, since a
//! counter is run once per number: no thread pool, no progress bar, and output built on the stack.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{ArgGroup, CommandFactory, Parser};

use crate::cli::common::{JsonLines, MapModeArg, Reporter, insert_name, parse_args};
use crate::cli::quote;
use crate::counter::{self, Counter, DEFAULT_WIDTH, MAX_WIDTH, Op, Outcome, Request, Source};
use crate::map::MapMode;
use crate::sys::signals::catch_termination;
use crate::sys::wait::{Ended, line_or_termination};

const TOOL: &str = "mmcounter";

/// A persistent counter in a mapped file or POSIX shared memory that never loses an update.
#[derive(Debug, Clone, PartialEq, Eq, Parser)]
#[command(
    name = "mmcounter",
    version,
    about = "A persistent counter in a mapped file or POSIX shared memory that never loses an update",
    long_about = "Add 1 to the counter stored in FILE and print the new value.\n\n\
The counter is plain text: decimal digits zero-padded to a fixed width (10 unless --width says \
otherwise when the file is created), then a newline, so that `0000000041` is 41. A missing or empty file \
is created holding 0, so the first run prints 1; an existing file keeps its width. Any program that \
writes the same digits and newline shares the counter.\n\n\
Every update holds an exclusive OFD lock (fcntl F_OFD_SETLKW) over the whole read-modify-write, which \
goes through a shared map of the file: any number of processes may update one counter at once, and each \
printed value is unique. --get takes a shared lock. Content that is not a counter, and results that do \
not fit (past the width's largest value, or below 0), are errors that leave the file as it was.",
    after_long_help = "Examples:\n  mmcounter hits                    add 1, print the new value\n  \
mmcounter --by -2 hits            subtract 2\n  \
mmcounter --get --padded hits     print the value as stored\n  \
mmcounter --shm jobs              a counter in /dev/shm/jobs\n  \
ls *.wav | xargs -P 8 -I{} sh -c 'mv -- \"$1\" \"take-$(mmcounter seq).wav\"' _ {}"
)]
#[command(group(ArgGroup::new("op").args(["by", "get", "set", "reset", "unlink"])))]
#[command(group(ArgGroup::new("target").args(["file", "shm"]).required(true)))]
pub struct Args {
    /// The counter file; created holding 0 when missing (updates only). A symbolic link is followed,
    /// as a shell redirect follows it: keep counters out of directories others may write, such as /tmp
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,

    /// Keep the counter in the POSIX shared-memory object NAME (shm_open; /dev/shm/NAME on Linux); a
    /// symbolic link planted at /dev/shm/NAME is refused, as shm_open refuses it
    #[arg(long, value_name = "NAME", value_parser = parse_shm_name)]
    pub shm: Option<String>,

    /// Add N instead of 1; N may be negative
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub by: Option<i64>,

    /// Print the value without changing it (takes a shared lock)
    #[arg(long)]
    pub get: bool,

    /// Store N (0 or more, and no wider than the counter)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i64).range(0..))]
    pub set: Option<i64>,

    /// Store 0
    #[arg(long)]
    pub reset: bool,

    /// Remove the shared-memory object named by --shm
    #[arg(long, conflicts_with = "file")]
    pub unlink: bool,

    /// Number of digits of a counter created now (1 to 20); existing counters keep theirs
    #[arg(long, value_name = "W", default_value_t = DEFAULT_WIDTH as u8,
          value_parser = clap::value_parser!(u8).range(1..=MAX_WIDTH as i64))]
    pub width: u8,

    /// Print the value as stored, zero-padded to the counter's width
    #[arg(long, conflicts_with = "json")]
    pub padded: bool,

    /// Print a JSON object: {"type":"counter","path":...,"previous":...,"value":...}
    #[arg(long)]
    pub json: bool,

    /// Quiet, as in every tool: mmcounter prints only what was asked for (the value) and errors
    /// anyway, so this changes nothing
    #[arg(short, long)]
    pub quiet: bool,

    /// shared: update the counter; private: map it copy-on-write, print the next value, store nothing
    #[arg(long, value_enum, default_value_t = MapModeArg::Shared, value_name = "MODE")]
    pub map_mode: MapModeArg,

    /// After the update, keep the map open (holding no lock) until Enter, end of input, SIGINT or
    /// SIGTERM, then print the value seen through it
    #[arg(long, conflicts_with = "unlink")]
    pub hold: bool,

    /// msync(MS_SYNC) the update before releasing the lock, so that it survives a power loss
    #[arg(long, conflicts_with_all = ["get", "unlink"])]
    pub sync: bool,

    /// Wait at most SECS (such as 2 or 0.5) for the lock, then fail; 0 tries once
    #[arg(long, value_name = "SECS", value_parser = parse_timeout)]
    pub timeout: Option<Duration>,
}

/// A POSIX shared-memory object name: one path component (after optional leading slashes), not `.` or
/// `..`, at most 255 bytes.
fn parse_shm_name(text: &str) -> Result<String, String> {
    let name = text.trim_start_matches('/');
    if name.is_empty() || name == "." || name == ".." || name.contains('/') || text.len() > 255 {
        return Err(format!(
            "invalid shared-memory name '{text}': give one name such as 'jobs' or '/jobs', \
             without '/' inside, at most 255 bytes"
        ));
    }
    Ok(text.to_string())
}

fn parse_timeout(text: &str) -> Result<Duration, String> {
    let secs: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("invalid number of seconds '{text}'"))?;
    if !(0.0..=1e9).contains(&secs) {
        return Err(format!(
            "invalid timeout '{text}': give 0 to 1000000000 seconds"
        ));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// The arguments of the bare form `mmcounter FILE` (one operand that does not start with `-`), built
/// without clap; `None` for any other command line, which clap parses.
///
/// This form is run once per number in loops and pipelines, where a run lasts well under a millisecond
/// and building and running clap's parser is about a tenth of it. The result is exactly what clap
/// gives for the same command line (a unit test checks this), so the fast path changes nothing but
/// the time.
pub fn bare(mut argv: impl Iterator<Item = std::ffi::OsString>) -> Option<Args> {
    let _program = argv.next()?;
    let file = argv.next()?;
    if argv.next().is_some() || file.is_empty() || file.as_encoded_bytes().starts_with(b"-") {
        return None;
    }
    Some(Args {
        file: Some(PathBuf::from(file)),
        shm: None,
        by: None,
        get: false,
        set: None,
        reset: false,
        unlink: false,
        width: DEFAULT_WIDTH as u8,
        padded: false,
        json: false,
        quiet: false,
        map_mode: MapModeArg::Shared,
        hold: false,
        sync: false,
        timeout: None,
    })
}

/// The clap command, for man pages and completions.
pub fn command() -> clap::Command {
    Args::command()
}

/// How to print a counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// The value as plain digits.
    Plain,
    /// The value as stored: zero-padded to the width.
    Padded,
    /// A JSON object per line.
    Json,
}

/// The counter a run is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A file.
    File(PathBuf),
    /// A shared-memory object.
    Shm(String),
}

impl Target {
    fn source(&self) -> Source<'_> {
        match self {
            Target::File(p) => Source::File(p),
            Target::Shm(n) => Source::Shm(n),
        }
    }
}

/// A validated mmcounter run.
#[derive(Debug)]
pub struct Plan {
    /// The counter.
    pub target: Target,
    /// Remove the shared-memory object instead of using it.
    pub unlink: bool,
    /// The operation and how to perform it.
    pub request: Request,
    /// Wait after the update, then print the value seen.
    pub hold: bool,
    /// Output style.
    pub style: Style,
}

/// Turns arguments into a plan.
pub fn plan(args: &Args) -> Plan {
    let target = match (&args.shm, &args.file) {
        (Some(name), _) => Target::Shm(name.clone()),
        (None, Some(path)) => Target::File(path.clone()),
        (None, None) => unreachable!("clap requires FILE or --shm"),
    };
    let op = if args.get {
        Op::Get
    } else if let Some(n) = args.set {
        Op::Set(n)
    } else if args.reset {
        Op::Set(0)
    } else {
        Op::Add(args.by.unwrap_or(1))
    };
    let mode: MapMode = args.map_mode.into();
    Plan {
        target,
        unlink: args.unlink,
        request: Request {
            op,
            mode,
            width: args.width as usize,
            timeout: args.timeout,
            sync: args.sync && mode == MapMode::Shared,
            keep: args.hold,
        },
        hold: args.hold,
        style: if args.json {
            Style::Json
        } else if args.padded {
            Style::Padded
        } else {
            Style::Plain
        },
    }
}

/// The message for a counter error: a refusal of the system in the shared table's words
/// ([`crate::cli::messages`]: `cannot lock 'NAME': REASON`), anything else as `NAME: problem`, the
/// name quoted as every tool quotes names.
fn message(e: &counter::Error) -> String {
    match e.problem() {
        counter::Problem::Io(op, io) => {
            crate::cli::messages::io_message(*op, std::path::Path::new(e.name()), io)
        }
        problem => format!("{}: {problem}", quote::name(e.name())),
    }
}

/// Reports a failure on stderr and, with --json, as an "error" record on stdout too (its `error`
/// the message as printed).
fn report(plan: &Plan, reporter: &Reporter, e: &counter::Error) -> io::Result<()> {
    let message = message(e);
    reporter.error(&message);
    if plan.style == Style::Json {
        emit(&json_record(
            "error",
            e.name(),
            &[("error", message.into())],
        ))?;
    }
    Ok(())
}

/// One JSON Lines record `kind` about the counter `name`, with `fields` after its path.
fn json_record(kind: &str, name: &std::ffi::OsStr, fields: &[(&str, serde_json::Value)]) -> String {
    let mut object = serde_json::Map::new();
    insert_name(&mut object, "path", name);
    for (key, value) in fields {
        object.insert((*key).into(), value.clone());
    }
    let mut out = JsonLines::new(Vec::with_capacity(96));
    // Writing to a Vec cannot fail.
    let _ = out.write(kind, object);
    String::from_utf8(out.into_inner()).unwrap_or_default()
}

/// One line of output for `counter` (with `previous` in JSON, under the record type `kind`).
fn line(
    style: Style,
    kind: &str,
    name: &std::ffi::OsStr,
    previous: Option<Counter>,
    counter: Counter,
) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(64 + name.len());
    match style {
        Style::Plain => {
            let _ = writeln!(out, "{}", counter.value());
        }
        Style::Padded => {
            let encoded = counter.encode();
            out.push_str(std::str::from_utf8(encoded.as_bytes()).unwrap_or_default());
        }
        Style::Json => {
            let mut fields = Vec::with_capacity(2);
            if let Some(previous) = previous {
                fields.push(("previous", previous.value().into()));
            }
            fields.push(("value", counter.value().into()));
            out.push_str(&json_record(kind, name, &fields));
        }
    }
    out
}

fn emit(text: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

/// Performs the plan and prints the result. Errors about the counter are reported here (and make the
/// exit status 1); an error writing the output is returned.
pub fn run(plan: &Plan, reporter: &Reporter) -> anyhow::Result<()> {
    let source = plan.target.source();
    let name = source.name();
    if plan.unlink {
        let Target::Shm(shm) = &plan.target else {
            unreachable!("clap refuses --unlink with FILE")
        };
        match counter::unlink_shm(shm) {
            Ok(()) if plan.style == Style::Json => emit(&json_record("unlinked", &name, &[]))?,
            Ok(()) => emit(&format!(
                "removed shared memory object {}\n",
                quote::always(&name)
            ))?,
            Err(e) => report(plan, reporter, &e)?,
        }
        return Ok(());
    }
    let outcome: Outcome = match counter::apply(&source, &plan.request) {
        Ok(outcome) => outcome,
        Err(e) => {
            report(plan, reporter, &e)?;
            return Ok(());
        }
    };
    if plan.hold {
        // Before the first value is printed: whoever reacts to it with SIGINT or SIGTERM must find the
        // signal caught (it then ends the wait), not meet the default action.
        catch_termination();
    }
    emit(&line(
        plan.style,
        "counter",
        &name,
        Some(outcome.previous),
        outcome.current,
    ))?;
    if !plan.hold {
        return Ok(());
    }
    let Some(view) = outcome.view else {
        return Ok(());
    };
    // Enter, the end of input and a termination signal all end the wait the same way: a signal is the
    // documented way to end it, not a failure, so the run still exits 0.
    let _ended: Ended = line_or_termination()?;
    match view.read(&source) {
        Ok(seen) => emit(&line(plan.style, "held", &name, None, seen))?,
        Err(e) => report(plan, reporter, &e)?,
    }
    Ok(())
}

/// The entry point of the `mmcounter` binary.
pub fn main() -> ExitCode {
    crate::sys::signals::ignore_file_size_limit();
    ExitCode::from(status())
}

/// The entry point of the mmcounter binary, which starts as a C `main` ([`crate::c_main`]) because an
/// increment is mostly process start-up: Rust's runtime set-up before `main` (a stack-overflow handler,
/// which reads /proc/self/maps, and a check of the standard descriptors) took about 110 µs of the 750
/// µs of a run here. Of that set-up the tool needs one thing, SIGPIPE ignored, done here. Returns the
/// exit status, after flushing stdout (which the runtime would have done at exit).
pub fn start() -> i32 {
    crate::sys::signals::ignore_broken_pipe();
    crate::sys::signals::ignore_file_size_limit();
    if let Err(code) = standard_descriptors() {
        return code;
    }
    let code = status();
    let _ = std::io::Write::flush(&mut std::io::stdout());
    i32::from(code)
}

/// A closed stdout fails the run before anything is touched: the value could not be printed, and a
/// sequence number taken but never delivered is lost (std would drop writes to it silently). Closed
/// stdin and stderr are pointed at /dev/null, so that the counter file never takes their numbers.
fn standard_descriptors() -> Result<(), i32> {
    if crate::sys::entry::reopen_closed_standard_descriptors() {
        Reporter::new(TOOL).error("standard output: Bad file descriptor");
        return Err(i32::from(crate::cli::common::EXIT_FAILURE));
    }
    Ok(())
}

fn status() -> u8 {
    let argv = crate::sys::entry::program_args();
    let args = bare(argv.iter().cloned())
        .unwrap_or_else(|| parse_args(command(), argv, crate::cli::common::EXIT_USAGE));
    let reporter = Reporter::new(TOOL);
    let result = run(&plan(&args), &reporter);
    reporter.status(result)
}

/// Hand-written man page sections: EXAMPLES, EXIT STATUS, JSON OUTPUT, CAVEATS.
pub const MAN_SECTIONS: &[(&str, &str)] = &[
    (
        "EXAMPLES",
        "Count visits; the first run creates the file holding 0 and prints 1:\n\
\n    mmcounter hits\n\
\nRead it without changing it, as stored; step down by 2; set it; reset it:\n\
\n    mmcounter --get --padded hits\n    mmcounter --by -2 hits\n    mmcounter --set 100 hits\n    mmcounter --reset hits\n\
\nSequence numbers for parallel jobs. Each of the 8 concurrent jobs takes the next number, no two jobs \
get the same one and none is skipped, whatever the interleaving:\n\
\n    ls *.wav | xargs -P 8 -I{} sh -c 'mv -- \"$1\" \"take-$(mmcounter seq).wav\"' _ {}\n\
\nThe same, numbering the lines of a job list into files named by a 6-digit counter:\n\
\n    mmcounter --width 6 --reset seq6\n    xargs -P 4 -I{} sh -c 'n=$(mmcounter --padded seq6); run-job \"$1\" > \"out.$n\"' _ {} < jobs.txt\n\
\nA counter in POSIX shared memory (/dev/shm/jobs), which lasts until reboot or --unlink:\n\
\n    mmcounter --shm jobs\n    mmcounter --shm jobs --unlink\n\
\nSeeing other processes' updates through a map: the first command updates, then waits holding the map (but no \
lock); the second updates meanwhile; pressing Enter in the first prints the value seen through its map, \
which includes the second update:\n\
\n    mmcounter --hold hits        # prints 7, waits\n    mmcounter hits               # in another terminal: prints 8\n    \
# Enter in the first terminal: prints 8\n\
\nA dry run through a copy-on-write map: print the next value, store nothing:\n\
\n    mmcounter --map-mode private hits\n\
\nGive up after 2 seconds if another process holds the lock:\n\
\n    mmcounter --timeout 2 hits",
    ),
    (
        "EXIT STATUS",
        "0 when the counter was read or updated (and printed); 1 when it could not be: the file cannot be \
opened or locked (including --timeout running out), its content is not a counter, or the result would \
not fit in its width or be below 0; in every such case the file is left exactly as it was. 2 for a usage \
error, such as --width 21 or a --set value below 0. A --hold ended by SIGINT or SIGTERM still exits 0. \
Writing to a closed pipe ends the run quietly with status 0.",
    ),
    (
        "JSON OUTPUT",
        "With --json, one JSON object per line, each with a \"type\" first: \"counter\" after an update \
or --get (the value before and after), \"held\" after --hold ends, \"unlinked\" after --unlink, and \
\"error\" when the counter could not be read or updated (also reported on standard error):\n\
\n    {\"type\":\"counter\",\"path\":\"hits\",\"previous\":41,\"value\":42}\n\
\nEvery record type and field is listed, with its meaning, in mmtools-json(7); a summary record carries \"schema\", that page's version. Names are strings (lossy when not UTF-8, with the exact bytes in base64 in a sibling \"..._bytes\" field).",
    ),
    (
        "CAVEATS",
        "FILE is opened as a shell redirect opens it: a symbolic link at FILE is followed, and a missing \
target is created. Where others may write the directory (/tmp, /var/tmp), one of them can plant such a \
link and make your counter update a file of theirs choosing, with your rights: keep counters in \
directories only you (or your group) can write. --shm NAME does not follow a link at /dev/shm/NAME, as \
shm_open does not.\n\
\nThe lock is advisory: it keeps out every mmcounter, and any program that takes fcntl or OFD locks \
on the file, but not a program that writes the file without locking. Run next to such a program, \
updates can still be lost; only the format is shared.\n\
\nWithout --sync, an update is in the page cache when mmcounter exits: other processes see it at once, \
but a power loss can lose it. --sync waits for it to reach storage.\n\
\n--timeout uses a POSIX timer and SIGALRM to interrupt the lock wait.\n\
\nA new counter is initialised with write(2), so that a full file system is an error (error writing \
'FILE': No space left on device) and leaves the file empty, which reads as 0; later updates write \
through the map into the block that holds the counter.\n\
\n--get and --map-mode private do not create a missing file; they read an empty one as 0. A missing \
file created by an update that then fails (for instance --by -1) is not created at all.\n\
\nThe value read by --hold is a look through the map without a lock: it may be a value another process \
is halfway through writing.\n\
\nAs root, a file without write permission can still be updated, as root can write any file.",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(words: &[&str]) -> Vec<std::ffi::OsString> {
        words.iter().map(|w| (*w).into()).collect()
    }

    #[test]
    fn the_bare_form_parses_as_clap_does() {
        for words in [
            &["mmcounter", "hits"][..],
            &["mmcounter", "dir/with space"],
            &["mmcounter", "9"],
        ] {
            let fast = bare(argv(words).into_iter());
            assert!(fast.is_some(), "{words:?}");
            assert_eq!(fast.unwrap(), Args::try_parse_from(argv(words)).unwrap());
        }
        for words in [
            &["mmcounter"][..],
            &["mmcounter", "-"],
            &["mmcounter", "--get"],
            &["mmcounter", ""],
            &["mmcounter", "a", "b"],
            &["mmcounter", "--shm", "x"],
            &["mmcounter", "hits", "--get"],
        ] {
            assert!(bare(argv(words).into_iter()).is_none(), "{words:?}");
        }
    }
}
