//! mmcount's command line: arguments, the plan (what to count, in which column order, over which
//! inputs), the run over the core's scanner, and wc-style or JSON Lines reports.

use std::ffi::OsStr;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{CommandFactory, Parser};
use serde_json::{Map, Value};

use crate::cache::{CacheMode, CacheTally, Tally};
use crate::cli::common::{
    EXIT_FAILURE, FilesArgs, InputName, JsonLines, NameList, ProgressArgs, ReadArgs, Reporter,
    input_name, insert_name, parse_args,
};
use crate::cli::quote;
use crate::count::{Counts, Encoding, Spec, parse_byte};
use crate::input::{Input, Planned, planned_len, planned_len_stdin};
use crate::window::{Fold, ScanOptions, scan_tallied};
use indicatif::ProgressBar;

const TOOL: &str = "mmcount";

/// Inputs this big (in total) show a progress bar on a terminal.
const PROGRESS_THRESHOLD: u64 = 1 << 30;

/// Count spaces, blanks, white space, lines, words, bytes or any byte, through memory maps.
#[derive(Debug, Parser)]
#[command(
    name = "mmcount",
    version,
    about = "Count spaces, blanks, white space, lines, words, bytes or any byte, through memory maps",
    long_about = "Count spaces, blanks, white space, lines, words, bytes or any byte in each FILE, \
through memory maps read on all cores. With no FILE, or when FILE is -, read standard input.\n\n\
With no counter flag, mmcount counts ASCII spaces (0x20). Columns always come in this order, whatever \
the order of the flags: lines, words, spaces, blanks, whitespace, each --byte in the order given, \
characters, bytes, longest line. The results agree with wc -l, wc -c, wc -m, wc -L, tr -cd ' ' | wc -c \
and LC_ALL=C wc -w.",
    after_long_help = "Examples:\n  mmcount notes.txt                 spaces in notes.txt\n  \
mmcount -lw *.log                 lines and words, with a total\n  \
mmcount -B '\\t' -B , data.csv     tabs and commas\n  \
find . -name '*.txt' -print0 | mmcount --files0-from - --json"
)]
pub struct Args {
    /// Files to count; `-` is standard input
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// Count ASCII spaces (0x20); the default when no counter is given
    #[arg(short, long)]
    pub spaces: bool,

    /// Count `[:blank:]` bytes: space and tab
    #[arg(short, long)]
    pub blanks: bool,

    /// Count white-space bytes: space, \t, \n, \v, \f and \r
    #[arg(short = 'W', long)]
    pub whitespace: bool,

    /// Count newline bytes, as wc -l
    #[arg(short, long)]
    pub lines: bool,

    /// Count words: maximal runs of bytes other than white space (GNU wc -w in the C locale)
    #[arg(short, long)]
    pub words: bool,

    /// Count bytes
    #[arg(short = 'c', long)]
    pub bytes: bool,

    /// Count characters, as wc -m: complete UTF-8 sequences in a UTF-8 locale (invalid bytes are not
    /// characters), bytes in the C locale
    #[arg(short = 'm', long)]
    pub chars: bool,

    /// Print the width of the longest line, as wc -L: tabs stop every 8 columns, wide characters take
    /// 2 and non-printing ones none; the total is the longest of all
    #[arg(short = 'L', long)]
    pub max_line_length: bool,

    /// Count occurrences of one byte: a character, or \t, \n, \r, \0, \\, \xHH (repeatable)
    #[arg(short = 'B', long = "byte", value_name = "VALUE", value_parser = parse_byte)]
    pub byte_values: Vec<u8>,

    /// Write JSON Lines: a "file" object per input, "error" per failure, and a "summary"
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub(crate) files_from: FilesArgs,

    #[command(flatten)]
    pub(crate) read: ReadArgs,

    #[command(flatten)]
    pub(crate) progress: ProgressArgs,
}

/// The clap command, for man pages and completions.
pub fn command() -> clap::Command {
    Args::command()
}

/// One output column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    /// Newlines.
    Lines,
    /// Words.
    Words,
    /// Spaces.
    Spaces,
    /// Spaces and tabs.
    Blanks,
    /// White space.
    Whitespace,
    /// The i-th `--byte` value.
    Byte(usize),
    /// Characters.
    Chars,
    /// Bytes.
    Bytes,
    /// The longest line's width.
    MaxLine,
}

/// The inputs of a run: known in advance (operands, or a list in a regular file, read ahead as wc
/// reads it), or a `--files0-from` list read as the run goes (a pipe, /dev/zero: it may not end).
#[derive(Debug)]
pub enum Names {
    /// Every input, in order.
    Listed(Vec<InputName>),
    /// A list read one name at a time; the columns are not padded, as wc does not pad them then.
    Streamed(std::sync::Mutex<NameList>),
}

/// A validated mmcount run.
#[derive(Debug)]
pub struct Plan {
    /// What to count.
    pub spec: Spec,
    /// Columns in output order.
    pub columns: Vec<Column>,
    /// Inputs in order.
    pub inputs: Names,
    /// Column width for text output.
    pub width: usize,
    /// JSON Lines instead of text.
    pub json: bool,
    /// How to read.
    pub scan: ScanOptions,
    /// Total bytes known in advance (for progress).
    pub total: u64,
}

/// The character encoding of the locale, set from the environment as wc sets it (LC_ALL, LC_CTYPE,
/// LANG); a locale that is not installed is the C locale, as for wc.
fn locale_encoding() -> Encoding {
    match crate::sys::locale::ctype_from_environment() {
        crate::sys::locale::Codeset::Utf8 => Encoding::Utf8,
        crate::sys::locale::Codeset::SingleByte => Encoding::SingleByte,
    }
}

/// Turns arguments into a plan: counters, column order, inputs and the column width wc would use.
pub fn plan(args: &Args) -> anyhow::Result<Plan> {
    let mut spec = Spec {
        lines: args.lines,
        words: args.words,
        spaces: args.spaces,
        blanks: args.blanks,
        whitespace: args.whitespace,
        bytes: args.bytes,
        byte_values: args.byte_values.clone(),
        chars: args.chars,
        max_line: args.max_line_length,
        encoding: locale_encoding(),
    };
    if spec
        == (Spec {
            encoding: spec.encoding,
            ..Spec::default()
        })
    {
        spec.spaces = true;
    }
    let mut columns = Vec::new();
    for (on, column) in [
        (spec.lines, Column::Lines),
        (spec.words, Column::Words),
        (spec.spaces, Column::Spaces),
        (spec.blanks, Column::Blanks),
        (spec.whitespace, Column::Whitespace),
    ] {
        if on {
            columns.push(column);
        }
    }
    columns.extend((0..spec.byte_values.len()).map(Column::Byte));
    for (on, column) in [
        (spec.chars, Column::Chars),
        (spec.bytes, Column::Bytes),
        (spec.max_line, Column::MaxLine),
    ] {
        if on {
            columns.push(column);
        }
    }
    let inputs = match args.files_from.list()? {
        Some(list) if !list.regular => {
            return Ok(Plan {
                spec,
                columns,
                inputs: Names::Streamed(std::sync::Mutex::new(list)),
                width: 1,
                json: args.json,
                scan: args.read.scan_options(),
                total: 0,
            });
        }
        Some(list) => list.collect::<anyhow::Result<Vec<_>>>()?,
        None => args.files_from.inputs(&args.files)?,
    };
    // As wc: the width is the number of digits of the total size of the regular files, at least 7 when
    // some input's size is unknown, and 1 when a single number is printed.
    let mut total = 0u64;
    let mut unknown = false;
    for name in &inputs {
        match name {
            InputName::Path(p) => match planned_len(p) {
                Planned::Regular(n) => total += n,
                Planned::Stream => unknown = true,
                Planned::Unavailable => {}
            },
            // wc stats its standard input too: `wc -lc < file` uses the file's size.
            InputName::Stdin { .. } => match planned_len_stdin() {
                Planned::Regular(n) => total += n,
                _ => unknown = true,
            },
            InputName::Invalid(_) => {}
        }
    }
    let mut width = total.max(1).to_string().len();
    if unknown {
        width = width.max(7);
    }
    if columns.len() == 1 && inputs.len() == 1 {
        width = 1;
    }
    Ok(Plan {
        spec,
        columns,
        inputs: Names::Listed(inputs),
        width,
        json: args.json,
        scan: args.read.scan_options(),
        total,
    })
}

fn value(counts: &Counts, column: Column) -> u64 {
    match column {
        Column::Lines => counts.lines,
        Column::Words => counts.words,
        Column::Spaces => counts.spaces,
        Column::Blanks => counts.blanks,
        Column::Whitespace => counts.whitespace,
        Column::Byte(i) => counts.byte_values[i],
        Column::Chars => counts.chars,
        Column::Bytes => counts.bytes,
        Column::MaxLine => counts.max_line(),
    }
}

fn key(plan: &Plan, column: Column) -> String {
    match column {
        Column::Lines => "lines".into(),
        Column::Words => "words".into(),
        Column::Spaces => "spaces".into(),
        Column::Blanks => "blanks".into(),
        Column::Whitespace => "whitespace".into(),
        Column::Byte(i) => format!("byte_0x{:02x}", plan.spec.byte_values[i]),
        Column::Chars => "chars".into(),
        Column::Bytes => "bytes".into(),
        Column::MaxLine => "max_line_length".into(),
    }
}

/// One line of the table, newline included. `name` is printed as wc prints it ([`quote::wc_name`]).
fn text_row(plan: &Plan, counts: &Counts, name: &[u8]) -> Vec<u8> {
    let mut line = plan
        .columns
        .iter()
        .map(|&c| format!("{:>w$}", value(counts, c), w = plan.width))
        .collect::<Vec<_>>()
        .join(" ")
        .into_bytes();
    if !name.is_empty() {
        line.push(b' ');
        line.extend_from_slice(name);
    }
    line.push(b'\n');
    line
}

fn json_fields(plan: &Plan, counts: &Counts) -> Map<String, Value> {
    plan.columns
        .iter()
        .map(|&c| (key(plan, c), Value::from(value(counts, c))))
        .collect()
}

/// Counts every input and reports. Per-file errors are reported and counted; the run goes on.
pub fn run(plan: &Plan, reporter: &Reporter, progress: &ProgressBar) -> anyhow::Result<()> {
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let mut json = JsonLines::new(io::stdout());
    let mut total = Fold::empty(&plan.spec);
    let (mut files, mut errors) = (0u64, 0u64);
    let on_bytes = |n: u64| progress.inc(n);
    let utf8 = quote::utf8_locale();
    let mut count = 0u64;
    let neutral = plan.scan.cache == CacheMode::Neutral;
    let mut cache = CacheTally::default();
    let mut each = |name: &InputName| -> anyhow::Result<()> {
        count += 1;
        let tally = Tally::new();
        let shown = input_name(name);
        let result = match name {
            InputName::Invalid(why) => {
                reporter.error(format_args!("{why}"));
                errors += 1;
                if plan.json {
                    json.error(shown, why)?;
                }
                return Ok(());
            }
            InputName::Stdin { .. } => Input::stdin(if shown.is_empty() {
                "-".into()
            } else {
                shown.to_string_lossy().into_owned()
            }),
            InputName::Path(p) => Input::open(p),
        }
        .and_then(|input| scan_tallied(&input, &plan.spec, &plan.scan, &on_bytes, &tally));
        let tallied = tally.get();
        cache.add(tallied);
        if tallied.hidden {
            progress.suspend(|| reporter.warn(hidden_warning(shown)));
        }
        match result {
            Ok(counts) => {
                files += 1;
                total.add(&counts);
                // Through the bar's suspend, so that no stale bar line stays among the rows.
                if plan.json {
                    let mut fields = with_path(shown, json_fields(plan, &counts));
                    if neutral {
                        insert_cache(&mut fields, tallied);
                    }
                    progress.suspend(|| json.write("file", fields).and_then(|()| json.flush()))?;
                } else {
                    let raw = match name {
                        InputName::Path(p) => quote::wc_name(p.as_os_str(), utf8),
                        _ => shown.as_bytes().to_vec(),
                    };
                    let row = text_row(plan, &counts, &raw);
                    progress.suspend(|| out.write_all(&row).and_then(|()| out.flush()))?;
                }
            }
            Err(e) => {
                errors += 1;
                // wc's words, not the shared table's: scripts match wc's messages.
                let message = crate::cli::messages::named(&e);
                progress.suspend(|| reporter.error(&message));
                if plan.json {
                    json.error(shown, &message)?;
                }
            }
        }
        Ok(())
    };
    match &plan.inputs {
        Names::Listed(names) => names.iter().try_for_each(&mut each)?,
        Names::Streamed(list) => {
            let mut list = list.lock().unwrap_or_else(|p| p.into_inner());
            for name in &mut *list {
                each(&name?)?;
            }
        }
    }
    progress.finish_and_clear();
    if plan.json {
        let mut summary = Map::new();
        summary.insert("files".into(), files.into());
        summary.insert("errors".into(), errors.into());
        summary.extend(json_fields(plan, &total));
        if neutral {
            insert_cache(&mut summary, cache);
        }
        json.write("summary", summary)?;
        json.flush()?;
    } else if count > 1 {
        out.write_all(&text_row(plan, &total, b"total"))?;
    }
    out.flush().context("write error")?;
    Ok(())
}

/// The warning for an input whose residency the kernel hides from this user.
fn hidden_warning(name: &OsStr) -> String {
    format!(
        "{}: its page-cache residency is hidden from this user (not the owner, may not write it): \
read without dropping any page",
        quote::name(name)
    )
}

/// The fields of a neutral run: the pages it dropped and the pages it left cached.
fn insert_cache(fields: &mut Map<String, Value>, tally: CacheTally) {
    fields.insert("dropped_pages".into(), tally.dropped_pages.into());
    fields.insert("kept_pages".into(), tally.kept_pages.into());
}

fn with_path(path: &OsStr, fields: Map<String, Value>) -> Map<String, Value> {
    let mut object = Map::new();
    insert_name(&mut object, "path", path);
    object.extend(fields);
    object
}

/// The entry point of the `mmcount` binary.
pub fn main() -> ExitCode {
    crate::sys::signals::ignore_file_size_limit();
    // A usage error exits 1, as wc's does.
    let args: Args = parse_args(command(), std::env::args_os(), EXIT_FAILURE);
    let reporter = Reporter::new(TOOL);
    let result = plan(&args).and_then(|plan| {
        let progress = args.progress.bar(plan.total, PROGRESS_THRESHOLD);
        args.read
            .with_threads(|| run(&plan, &reporter, &progress))?
    });
    reporter.finish(result)
}

/// Hand-written man page sections: EXAMPLES, EXIT STATUS, JSON OUTPUT, CAVEATS.
pub const MAN_SECTIONS: &[(&str, &str)] = &[
    (
        "EXAMPLES",
        "Count the spaces in a file (the classic count of blanks):\n\
\n    mmcount notes.txt\n\
\nLines, words and bytes of every log, with a total (columns in wc's order):\n\
\n    mmcount -lwc /var/log/*.log\n\
\nTabs and commas in a CSV file:\n\
\n    mmcount -B '\\t' -B , data.csv\n\
\nA tree, names from find, one JSON object per file:\n\
\n    find . -name '*.txt' -print0 | mmcount --files0-from - --json",
    ),
    (
        "EXIT STATUS",
        "0 when every input was counted; 1 when an input could not be opened or read, or changed size while \
being read (the other inputs are still counted, and the total covers those), and for a usage error, as \
with wc. \
Writing to a closed pipe ends the run quietly with status 0.",
    ),
    (
        "JSON OUTPUT",
        "With --json, one JSON object per line, each with a \"type\" first: \"file\" per input counted \
(one integer field per counter asked for), \"error\" per input that failed, and \"summary\" last, with the \
totals:\n\
\n    {\"type\":\"file\",\"path\":\"a.txt\",\"lines\":3,\"spaces\":12}\n    {\"type\":\"summary\",\"schema\":1,\"files\":1,\"errors\":0,\"lines\":3,\"spaces\":12}\n\
\nThe path of standard input is \"-\", or \"\" when no operand was given. Every record type and field is listed, with its meaning, in mmtools-json(7); a summary record carries \"schema\", that page's version. Names are strings (lossy when not UTF-8, with the exact bytes in base64 in a sibling \"..._bytes\" field).",
    ),
    ("PAGE CACHE", crate::cli::cachedoc::MMCOUNT),
    (
        "CAVEATS",
        "Words follow GNU wc 9.5 and later in the C locale: bytes that are not printable, and invalid \
UTF-8, are parts of words. wc 9.1 and older skip unprintable bytes, so they can count fewer words in \
binary data.\n\
\nA file that shrinks while it is mapped is reported as \"file changed size while being read\" and its \
counts are discarded; a file that grows is counted as it was when opened.\n\
\nA FIFO with no writer reads as empty: mmcount never waits for a writer to appear. Files in /proc and \
/sys are read with read(2), since their sizes are not their contents. A character device is read until \
it ends, as wc reads it: /dev/zero and /dev/urandom never end, so mmcount counts until it is \
interrupted (SIGINT or SIGTERM end it at once). A sparse file is read whole, holes included: a 1 TiB \
file of holes is a TiB of zeros to count (more than a minute here).\n\
\nFile names are printed as they are, byte for byte, except that a name holding a newline is quoted \
for the shell, as wc does ('x'$'\\n''y'), so that each file stays on one line. Error messages quote a name as wc's do. In \
JSON, a name that is not UTF-8 also comes exactly, as \"path_bytes\" (see JSON OUTPUT).",
    ),
];
