//! mmcp's command line: cp-style operands and flags, the plan (which source goes where), and the run:
//! trees listed, the overwrite policy applied (with prompts), directories made, files copied in
//! parallel by the core's engine, directories finished, and each result reported in input order.

use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};
use serde_json::{Map, json};

use crate::cache::{CacheMode, CacheTally};
use crate::cli::common::{
    EXIT_FAILURE, JsonLines, ProgressArgs, Reporter, insert_name, usage_error,
};
use crate::copy::plan::{
    self as copy_plan, Action, Asks, Event, Leaf, Make, Policy, Settings, Work, entry_name,
    is_directory, is_regular_file, target_directory_problem,
};
use crate::copy::tree::Follow;
use crate::copy::{self, Copied, CopyOptions, DestIo, Failure, Hooks, Sparse};
use crate::error::describe;
use crate::sys::signals;

mod args;
mod messages;
mod parents;
mod settings;
pub use args::{Args, DestIoArg, ReflinkArg, SparseArg, command};
pub use messages::message;
pub use parents::plan_parents;
pub use settings::Setting;

use messages::quote;

const TOOL: &str = "mmcp";

/// Copies this big (in total) show a progress bar on a terminal.
const PROGRESS_THRESHOLD: u64 = 256 << 20;

/// One source and where it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair {
    /// The source as named.
    pub src: PathBuf,
    /// The destination path.
    pub dst: PathBuf,
}

/// A validated mmcp run.
#[derive(Debug)]
pub struct Plan {
    /// Sources and destinations, in operand order.
    pub pairs: Vec<Pair>,
    /// How the copy core copies them.
    pub copy: Settings,
    /// Print each copy.
    pub verbose: bool,
    /// JSON Lines output.
    pub json: bool,
    /// Progress bar settings.
    pub progress: ProgressArgs,
    /// With --parents: the directories leading to each SRC, made under DIR (source, destination).
    pub parents: Vec<Vec<(PathBuf, PathBuf)>>,
}

/// A usage error: reported as `mmcp: message` and a `Try 'mmcp --help'` line, exit 1 (as cp).
#[derive(Debug)]
pub(crate) struct Usage(pub(crate) String);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

/// Turns arguments into a plan: which source goes to which path.
pub fn plan(args: &Args) -> anyhow::Result<Plan> {
    let reflink = args.reflink.as_deref().map(ReflinkArg::parse).transpose();
    if reflink.map_err(Usage)? == Some(ReflinkArg::Always) {
        bail!(
            "--reflink=always is not supported: mmcp never clones, it copies (use auto or never)"
        );
    }
    if args.no_target_directory {
        if args.target_directory.is_some() {
            bail!("cannot combine --target-directory (-t) and --no-target-directory (-T)");
        }
        if args.parents {
            return Err(Usage("with --parents, the destination must be a directory".into()).into());
        }
        return match args.paths.as_slice() {
            [] => Err(Usage("missing file operand".into()).into()),
            [one] => Err(Usage(format!(
                "missing destination file operand after {}",
                quote(one)
            ))
            .into()),
            [src, dst] => plan_with(
                args,
                vec![Pair {
                    src: src.clone(),
                    dst: dst.clone(),
                }],
            ),
            [_, _, extra, ..] => Err(Usage(format!("extra operand {}", quote(extra))).into()),
        };
    }
    if args.parents {
        return plan_parents(args);
    }
    let (sources, dir) = match &args.target_directory {
        Some(dir) => {
            if let Some(e) = target_directory_problem(dir) {
                bail!("target directory {}: {}", quote(dir), describe(&e));
            }
            (args.paths.clone(), Some(dir.clone()))
        }
        None => {
            let [sources @ .., last] = args.paths.as_slice() else {
                return Err(Usage("missing file operand".into()).into());
            };
            if sources.is_empty() {
                return Err(Usage(format!(
                    "missing destination file operand after {}",
                    quote(last)
                ))
                .into());
            }
            if is_directory(last) {
                (sources.to_vec(), Some(last.clone()))
            } else if sources.len() > 1 || last.as_os_str().as_bytes().ends_with(b"/") {
                bail!("target {} is not a directory", quote(last));
            } else {
                let mut plan = plan_with(
                    args,
                    vec![Pair {
                        src: sources[0].clone(),
                        dst: last.clone(),
                    }],
                )?;
                backup_onto_itself(args, &mut plan);
                return Ok(plan);
            }
        }
    };
    let dir = dir.unwrap_or_default();
    let pairs = sources
        .into_iter()
        .map(|src| {
            // `SRC/.` names SRC's contents, as in cp: they go into DIR itself (`cp -a src/. dst`).
            let bytes = src.as_os_str().as_bytes();
            // Named DIR/. as cp names it, so that messages and -v lines read 'DIR/./NAME' as cp's do.
            if bytes == b"." || bytes.ends_with(b"/.") {
                return Pair {
                    dst: dir.join("."),
                    src,
                };
            }
            Pair {
                dst: dir.join(entry_name(&src)),
                src,
            }
        })
        .collect();
    plan_with(args, pairs)
}

pub(crate) fn plan_with(args: &Args, pairs: Vec<Pair>) -> anyhow::Result<Plan> {
    let resolved = settings::resolve(&args.settings).map_err(Usage)?;
    let recursive = args.recursive || resolved.recursive;
    // cp's default: no symlink followed in trees, every symlink followed without -r.
    // cp -l follows every symlink unless told otherwise, even in trees.
    let follow = resolved.follow.unwrap_or(if recursive && !args.link {
        Follow::Never
    } else {
        Follow::Always
    });
    let asked = match &args.backup {
        Some(control) => Some(control.as_str()),
        None if args.backup_default || args.suffix.is_some() => Some(""),
        None => None,
    };
    if asked.is_some() && args.no_clobber {
        return Err(
            Usage("options --backup and --no-clobber are mutually exclusive".into()).into(),
        );
    }
    let control =
        settings::backup(asked, std::env::var_os("VERSION_CONTROL").as_deref()).map_err(Usage)?;
    if control.is_some() && args.in_place {
        return Err(Usage(
            "--in-place cannot make backups: the destination is rewritten, not replaced".into(),
        )
        .into());
    }
    let backup = control.map(|c| {
        let env = std::env::var_os("SIMPLE_BACKUP_SUFFIX");
        (
            c,
            copy::simple_suffix(args.suffix.as_deref(), env.as_deref()),
        )
    });
    let copy = Settings {
        options: CopyOptions {
            map_mode: args.read.map_mode.into(),
            no_mmap: args.read.no_mmap,
            window: args.read.window_size,
            sparse: match args.sparse {
                SparseArg::Auto => Sparse::Auto,
                SparseArg::Always => Sparse::Always,
                SparseArg::Never => Sparse::Never,
            },
            dest_io: match args.dest_io {
                DestIoArg::Write => DestIo::Write,
                DestIoArg::Map => DestIo::Map,
            },
            small: args.mmap_min,
            sync: args.sync,
            verify: args.verify,
            in_place: args.in_place,
            // Tests of the path taken on filesystems without O_TMPFILE (see CAVEATS).
            named_temp: std::env::var_os("MMCP_NAMED_TEMP").is_some_and(|v| v == "1"),
            preserve: resolved.preserve,
            through_dangling: std::env::var_os("POSIXLY_CORRECT").is_some(),
            cache: args.read.cache.into(),
        },
        recursive,
        follow,
        backup,
        policy: Policy {
            no_clobber: args.no_clobber,
            interactive: args.interactive,
            force: args.force,
            update: args.update,
        },
        make: if args.link {
            Make::HardLink
        } else if args.symbolic_link {
            Make::Symlink
        } else {
            Make::Copy
        },
        remove_destination: args.remove_destination,
        one_file_system: args.one_file_system,
        attributes_only: args.attributes_only,
        copy_contents: args.copy_contents,
    };
    Ok(Plan {
        pairs,
        copy,
        verbose: args.verbose,
        json: args.json,
        progress: args.progress.clone(),
        parents: Vec::new(),
    })
}

/// `mmcp --force --backup F F` (one name, twice, literally) copies the regular file F to its backup
/// name, as cp does: F stays, the copy is the backup, and no other backup is made.
fn backup_onto_itself(args: &Args, plan: &mut Plan) {
    let [pair] = plan.pairs.as_mut_slice() else {
        return;
    };
    if !args.force || pair.src.as_os_str() != pair.dst.as_os_str() || !is_regular_file(&pair.dst) {
        return;
    }
    let Some((control, suffix)) = plan.copy.backup.take() else {
        return;
    };
    if let Some(name) = copy::backup_path(&pair.dst, control, &suffix) {
        pair.dst = name;
    }
}

/// Totals of a run.
#[derive(Debug, Default)]
struct Totals {
    files: u64,
    errors: u64,
    bytes: u64,
    hole_bytes: u64,
}

/// Copies everything the plan names and reports. Per-file errors are reported and the run goes on.
pub fn run(plan: &Plan, reporter: &Reporter) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut work = Work::default();
    let stop = || signals::caught().is_some();
    let asks = Asks {
        stop: &stop,
        overwrite: &|dst| ask(&format!("overwrite {}? ", quote(dst))),
    };
    for (i, pair) in plan.pairs.iter().enumerate() {
        if stop() {
            break;
        }
        if let Some(dirs) = plan.parents.get(i)
            && !copy_plan::leading(dirs, &mut work)
        {
            continue;
        }
        copy_plan::gather(&plan.copy, &pair.src, &pair.dst, asks, &mut work)
            .context("cannot read the answer")?;
    }
    // A bar over the total bytes of the regular files, shown on a terminal for long copies.
    let progress = plan.progress.bar(work.total, PROGRESS_THRESHOLD);
    let progress_bytes = |n: u64| progress.inc(n);
    let hooks = Hooks {
        progress: &progress_bytes,
        stop: &stop,
    };
    let results = copy_plan::execute(&plan.copy, &mut work, hooks);
    progress.finish_and_clear();
    if stop() {
        return Ok(());
    }
    report(
        plan,
        reporter,
        &work.leaves,
        &results,
        &work.events,
        started,
    )
}

/// Prints `mmcp: QUESTION` on stderr and reads one line from stdin; true for an answer starting with
/// y or Y. A termination signal while waiting ends the run (the answer is no).
fn ask(question: &str) -> io::Result<bool> {
    let _ = write!(io::stderr().lock(), "{TOOL}: {question}");
    let line = crate::sys::terminal::read_answer(&|| signals::caught().is_some())?;
    Ok(line.is_some_and(|line| matches!(line.first(), Some(b'y' | b'Y'))))
}

fn report(
    plan: &Plan,
    reporter: &Reporter,
    leaves: &[Leaf],
    results: &[Result<Copied, Failure>],
    events: &[Event],
    started: Instant,
) -> anyhow::Result<()> {
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let mut json = JsonLines::new(io::stdout());
    let mut totals = Totals::default();
    let neutral = plan.copy.options.cache == CacheMode::Neutral;
    let mut cache = CacheTally::default();
    for event in events {
        match event {
            Event::Made { src, dst } => {
                if plan.verbose && !plan.json {
                    writeln!(out, "{} -> {}", quote(src), quote(dst))?;
                }
            }
            Event::Parent { src, dst } => {
                if plan.verbose && !plan.json {
                    let name = crate::cli::quote::name;
                    writeln!(out, "{} -> {}", name(src), name(dst))?;
                }
            }
            Event::Leaf(i) => {
                let leaf = &leaves[*i];
                match &results[*i] {
                    Ok(copied) => {
                        totals.files += 1;
                        totals.bytes += copied.bytes;
                        totals.hole_bytes += copied.hole_bytes;
                        cache.add(copied.cache);
                        if copied.cache.hidden {
                            reporter.warn(hidden_warning(&leaf.src));
                        }
                        if plan.json {
                            let mut fields = Map::new();
                            insert_name(&mut fields, "src", leaf.src.as_os_str());
                            insert_name(&mut fields, "dst", leaf.dst.as_os_str());
                            fields.insert("bytes".into(), copied.bytes.into());
                            fields.insert("hole_bytes".into(), copied.hole_bytes.into());
                            if neutral {
                                insert_cache(&mut fields, copied.cache);
                            }
                            if let Action::Link(first) = leaf.action {
                                let to = leaves[first].dst.as_os_str();
                                insert_name(&mut fields, "link_to", to);
                            }
                            if let Some(backup) = &leaf.backup {
                                insert_name(&mut fields, "backup", backup.as_os_str());
                            }
                            json.write("file", fields)?;
                        } else if plan.verbose {
                            write!(out, "{} -> {}", quote(&leaf.src), quote(&leaf.dst))?;
                            match &leaf.backup {
                                Some(backup) => writeln!(out, " (backup: {})", quote(backup))?,
                                None => writeln!(out)?,
                            }
                        }
                    }
                    Err(failure) => {
                        let Some(text) = message(failure) else {
                            continue;
                        };
                        totals.errors += 1;
                        out.flush()?;
                        reporter.error(&text);
                        if plan.json {
                            json.error(leaf.src.as_os_str(), &text)?;
                        }
                    }
                }
            }
            Event::Refused { path, problem } => {
                let message = messages::problem(path, problem);
                totals.errors += 1;
                out.flush()?;
                reporter.error(&message);
                if plan.json {
                    json.error(path.as_os_str(), &message)?;
                }
            }
            Event::Skipped { path, what } => {
                totals.errors += 1;
                out.flush()?;
                // An error for the exit status, worded as the warning it is.
                reporter.error(format_args!(
                    "warning: skipping {what} {}: not copied",
                    quote(path)
                ));
            }
        }
    }
    if plan.json {
        let mut summary = json!({
            "files": totals.files,
            "errors": totals.errors,
            "bytes": totals.bytes,
            "hole_bytes": totals.hole_bytes,
            "elapsed_seconds": started.elapsed().as_secs_f64(),
        });
        if let (true, Some(fields)) = (neutral, summary.as_object_mut()) {
            insert_cache(fields, cache);
        }
        json.write("summary", summary)?;
        json.flush()?;
    }
    out.flush().context("write error")?;
    Ok(())
}

/// The warning for a source whose residency the kernel hides from this user.
fn hidden_warning(src: &Path) -> String {
    format!(
        "{}: its page-cache residency is hidden from this user (not the owner, may not write it): \
read without dropping any page",
        crate::cli::quote::name(src)
    )
}

/// The fields of a neutral copy: the pages it dropped and the pages it left cached.
fn insert_cache(fields: &mut Map<String, serde_json::Value>, tally: CacheTally) {
    fields.insert("dropped_pages".into(), tally.dropped_pages.into());
    fields.insert("kept_pages".into(), tally.kept_pages.into());
}

/// The entry point of the `mmcp` binary.
pub fn main() -> ExitCode {
    crate::sys::signals::ignore_file_size_limit();
    let args = Args::parse_ordered();
    // Any catchable signal that would kill mmcp stops the copy first, so that a named temporary file
    // (on a filesystem without O_TMPFILE) is removed before mmcp dies of it.
    signals::catch_also(&signals::OTHER_FATAL_SIGNALS);
    let reporter = Reporter::new(TOOL);
    let result = match plan(&args) {
        // A usage error exits 1, as cp's does.
        Err(e) if e.downcast_ref::<Usage>().is_some() => usage_error(TOOL, e, EXIT_FAILURE),
        Err(e) => Err(e),
        Ok(plan) => args
            .read
            .with_threads(|| run(&plan, &reporter))
            .and_then(|r| r),
    };
    if let Some(signal) = signals::caught() {
        signals::die_of(signal);
    }
    reporter.finish(result)
}

/// Hand-written man page sections: EXAMPLES, EXIT STATUS, JSON OUTPUT, CAVEATS.
pub const MAN_SECTIONS: &[(&str, &str)] = &[
    (
        "EXAMPLES",
        "Copy a file, then check the copy against the source:\n\
\n    mmcp --verify disk.img disk.copy\n\
\nCopy into a directory, keeping times, ownership and mode, durable when mmcp returns:\n\
\n    mmcp -p --sync db.dump /backup/\n\
\nA tree, naming each file; symlinks stay symlinks:\n\
\n    mmcp -r -v photos /mnt/usb/photos\n\
\nA sparse disk image, zero pages turned into holes too, with a JSON summary:\n\
\n    mmcp --sparse=always --json vm.raw vm.copy\n\
\nAn archive of a tree, as cp -a: symlinks as symlinks, hard links kept, owners, modes, times and \
extended attributes preserved; SRC/. copies the contents of SRC into an existing DIR:\n\
\n    mmcp -a /srv/data/. /backup/data\n\
\nReplace a file, keeping the old one as app.conf.~1~, app.conf.~2~, ... (VERSION_CONTROL=numbered \
makes -b do the same):\n\
\n    mmcp --backup=numbered -v new.conf app.conf",
    ),
    (
        "EXIT STATUS",
        "0 when every file was copied (or skipped by -n, -u or a \"no\" to -i); 1 when a file could not be \
copied, a source changed size during its copy, a verification failed, SRC and DST are the same file, or \
a device in a tree was skipped (the other files are still copied), and also for a usage error, \
as with cp. On SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2, SIGALRM or SIGXCPU, mmcp stops, removes what it \
created, and dies of the same signal. SIGXFSZ is ignored: a copy past the file size limit (ulimit -f) \
fails with \"File too large\", exit status 1.",
    ),
    (
        "JSON OUTPUT",
        "With --json, one JSON object per line, each with a \"type\" first: \"file\" per file created, \
in input order, \"error\" per failure, and \"summary\" last:\n\
\n    {\"type\":\"file\",\"src\":\"a\",\"dst\":\"b\",\"bytes\":4096,\"hole_bytes\":0}\n    {\"type\":\"summary\",\"schema\":1,\"files\":1,\"errors\":0,\"bytes\":4096,\"hole_bytes\":0,\"elapsed_seconds\":0.002}\n\
\nA name made a hard link to an earlier copy has bytes 0 and \"link_to\"; a destination kept aside has \
\"backup\". Every record type and field is listed, with its meaning, in mmtools-json(7); a summary record carries \"schema\", that page's version. Names are strings (lossy when not UTF-8, with the exact bytes in base64 in a sibling \"..._bytes\" field).\n\
\n-v prints names as cp -v does: always quoted, with what cannot be printed escaped for the shell \
('a'$'\\377''b' -> 'd/a'$'\\377''b').",
    ),
    ("PAGE CACHE", crate::cli::cachedoc::MMCP),
    (
        "CAVEATS",
        "DST is replaced by a new file (a link and a rename), not rewritten. The new file takes over the old one's \
mode and owner (where permitted), so the result is what cp gives by writing into DST; but other hard \
links to the old DST keep the old contents, and DST's directory needs room for two copies while the copy \
runs. --in-place writes DST itself, as cp does, but a failure then leaves \
it partly written.\n\
\nThe copy is an anonymous file (O_TMPFILE) until it is complete: a new DST is then linked in directly; \
an existing one is replaced by linking the copy under a temporary name .DST.mmcp-XXXXXX and at once \
renaming it over DST (a kill in that instant leaves the complete copy under the temporary name). Where \
the filesystem has no anonymous files (FAT, some network and FUSE filesystems), the copy is built under \
that temporary name from the start. It is removed on any error and on every signal that can be caught \
(mmcp then dies of the signal), but SIGKILL, an OOM kill or a power loss leaves it behind. \
MMCP_NAMED_TEMP=1 in the environment takes that path on every filesystem, for tests.\n\
\nIn an append-only or immutable directory (chattr +a, +i), where nothing can be renamed or removed, an \
existing DST is written in place, as cp writes it (a failure then leaves it partly written); a new DST \
is linked in whole; a backup cannot be made, and the copy is refused before anything is created, as cp \
refuses it.\n\
\nA symlink at DST is written through (the file it points to is replaced); a dangling one is refused (and written through when POSIXLY_CORRECT is set, as by cp). \
With --backup the symlink itself is renamed to the backup name and DST becomes a new file, as in cp. \
A backup is a second hard link to the old DST, made just before the new copy is renamed over DST, so \
DST exists at every moment and a copy that fails makes no backup; where hard links are impossible, the \
copy and the old DST are exchanged (RENAME_EXCHANGE) and the old one then renamed to the backup name. --in-place cannot make backups.\n\
\nAttributes: without -p, -a or --preserve=mode a copy gets SRC's permission bits less the umask (never \
its set-ID bits); --no-preserve=mode gives 0666 (files) and 0777 (directories) less the umask. \
Preserving the mode (-p, -a, --preserve=mode) also copies POSIX ACLs (and removes an ACL the copy \
inherited that SRC does not have), as cp does. --preserve=xattr copies every other extended \
attribute mmcp may read and write (trusted.* and security.* too, as root) except SELinux labels and \
those /etc/xattr.conf tells cp to skip; --preserve=all and -a do the same but ignore failures. An \
attribute that cannot be preserved is an error for that file; a regular file's copy is then discarded \
and DST left as it was (cp keeps the copy and reports the error). --preserve=context is refused: mmcp does not \
copy SELinux contexts. --preserve=links makes the second and later names of one source file (same \
device and inode, among the operands and within trees) hard links to its first copy, after all the \
copies are made. mmcp never clones (it copies through its own maps by design): --reflink=auto \
and --reflink=never copy as usual, --reflink=always (or a bare --reflink) is refused.\n\
\nA socket in a tree is recreated as a socket node, as cp does: nothing listens on it. \
--attributes-only creates a missing DST empty and keeps an existing DST's contents.\n\
\nA source that grows during the copy is copied at the size it had when opened; one that shrinks is an \
error. --verify compares through the page cache: it catches a copy that went wrong in mmcp, not a disk \
that will lose the data later (use --sync for durability).\n\
\nA FIFO named as SRC is read until its writer closes it; a FIFO with no writer when mmcp opens it reads \
as empty (mmcp never waits for a writer, where cp does). In a tree a FIFO is recreated as a FIFO. \
Standard input (-) and /proc files are read to their end, and cannot be verified. A source that never \
ends (/dev/zero) is copied until the destination is full, as with cp; SIGINT stops it and removes the \
partial copy.\n\
\nA character or block device or a FIFO that exists as DST is written into, as cp does, never replaced: \
mmcp a /dev/null discards, and a FIFO is waited for until a reader opens it (SIGINT ends the wait). \
Attributes (-p, -a) are not applied to such a DST, so a copy never changes /dev/null's mode; with \
--backup, the device or FIFO is renamed aside and a regular file takes its place, as with cp.\n\
\n-i asks all its questions before copying starts. Files of a tree are copied in parallel; reports come \
in input order once the copies are done.",
    ),
];
