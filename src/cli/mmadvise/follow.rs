//! `mmadvise lock --follow` and `touch --follow`: hand the roots to the core's follower
//! ([`crate::advise::follow`]), print each event it reports (a line, or an "event" record with --json),
//! and run until SIGINT or SIGTERM (SIGHUP: walk everything again), in the foreground or, with
//! `--daemon`, in a detached child that tells its parent how the first walk went.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde_json::Map;

use crate::advise::follow::{
    Change, Event, Failure, FollowOptions, Follower, Gone, Policy, Rescan,
};
use crate::cli::common::{
    EXIT_FAILURE, EXIT_OK, InputName, JsonLines, Reporter, insert_name, is_broken_pipe,
};
use crate::cli::quote;
use crate::error::describe;
use crate::sys::daemon::detach_stdio;
use crate::sys::signals::{block_termination, catch_termination, take};
use crate::sys::wait::readable_or_termination;

use super::lock::{over_limit, write_pidfile};
use super::report::Report;
use super::run::{load_options, range_of, stream_kind};
use super::{Common, Loading, LockArgs, Targets, TouchArgs};

/// What a follow run needs from its action's flags.
struct Plan<'a> {
    policy: Policy,
    targets: &'a Targets,
    loading: &'a Loading,
    common: &'a Common,
    daemon: bool,
    pidfile: Option<&'a Path>,
}

/// Runs `mmadvise lock --follow`.
pub fn lock(args: &LockArgs, reporter: &Reporter) -> ExitCode {
    main(
        &Plan {
            policy: Policy::Lock,
            targets: &args.targets,
            loading: &args.loading,
            common: &args.common,
            daemon: args.daemon,
            pidfile: args.pidfile.as_deref(),
        },
        reporter,
    )
}

/// Runs `mmadvise touch --follow`.
pub fn touch(args: &TouchArgs, reporter: &Reporter) -> ExitCode {
    main(
        &Plan {
            policy: Policy::Touch,
            targets: &args.targets,
            loading: &args.loading,
            common: &args.common,
            daemon: args.daemon,
            pidfile: args.pidfile.as_deref(),
        },
        reporter,
    )
}

/// Prints events: text lines, or "event" records.
struct Printer<'a, 'r> {
    action: &'static str,
    policy: Policy,
    json: Option<JsonLines<std::io::Stdout>>,
    report: &'a mut Report<'r>,
    quiet: bool,
}

impl Printer<'_, '_> {
    fn verb(&self) -> &'static str {
        match self.policy {
            Policy::Lock => "locked",
            Policy::Touch => "loaded",
        }
    }

    fn bytes_key(&self) -> &'static str {
        match self.policy {
            Policy::Lock => "locked_bytes",
            Policy::Touch => "loaded_bytes",
        }
    }

    fn print(&mut self, event: Event) -> std::io::Result<()> {
        let size = |b: u64| self.report.size(b);
        let mut fields = Map::new();
        let (name, path, text) = match &event {
            Event::Acted {
                path,
                change,
                size: len,
                span,
                bytes,
            } => {
                fields.insert("size".into(), (*len).into());
                fields.insert("offset".into(), span.start().into());
                fields.insert("length_bytes".into(), span.len().into());
                fields.insert(self.bytes_key().into(), (*bytes).into());
                let verb = self.verb();
                let (name, text) = match change {
                    Change::Added => ("added", format!("{verb} {}", size(*bytes))),
                    Change::Replaced => ("replaced", format!("replaced: {verb} {}", size(*bytes))),
                    Change::Grew(from) => {
                        fields.insert("previous_size".into(), (*from).into());
                        let text = format!(
                            "grew from {} to {}: {verb} {} more",
                            size(*from),
                            size(*len),
                            size(*bytes)
                        );
                        ("grew", text)
                    }
                    Change::Shrank(from) => {
                        fields.insert("previous_size".into(), (*from).into());
                        let text = format!(
                            "shrank from {} to {}: {verb} {}",
                            size(*from),
                            size(*len),
                            size(*bytes)
                        );
                        ("shrank", text)
                    }
                };
                (name, Some(path.as_path()), text)
            }
            Event::Released { path, why, bytes } => {
                let reason = match why {
                    Gone::Deleted => "deleted",
                    Gone::Filtered => "filtered",
                };
                fields.insert("reason".into(), reason.into());
                let what = match why {
                    Gone::Deleted => "deleted",
                    Gone::Filtered => "no longer a file the walk keeps",
                };
                let text = match self.policy {
                    Policy::Lock => {
                        fields.insert("locked_bytes".into(), (*bytes).into());
                        format!("{what}: released {}", size(*bytes))
                    }
                    Policy::Touch => format!("{what}: no longer followed"),
                };
                ("released", Some(path.as_path()), text)
            }
            Event::Rescan(why) => {
                let (reason, text) = match why {
                    Rescan::Overflow => (
                        "overflow",
                        "rescan: the kernel's event queue overflowed, walking everything again",
                    ),
                    Rescan::Requested => ("requested", "rescan: asked for (SIGHUP)"),
                };
                fields.insert("reason".into(), reason.into());
                ("rescan", None, text.to_string())
            }
            Event::Watching {
                files,
                dirs,
                locked_bytes,
            } => {
                fields.insert("files".into(), (*files).into());
                fields.insert("directories".into(), (*dirs).into());
                let mut text = format!(
                    "following {files} file{} in {dirs} director{}",
                    if *files == 1 { "" } else { "s" },
                    if *dirs == 1 { "y" } else { "ies" }
                );
                if self.policy == Policy::Lock {
                    fields.insert("locked_bytes".into(), (*locked_bytes).into());
                    text.push_str(&format!(", locked {}", size(*locked_bytes)));
                }
                fields.insert("pid".into(), std::process::id().into());
                text.push_str(&format!(
                    ", process {} until SIGINT or SIGTERM (SIGHUP: rescan)",
                    std::process::id()
                ));
                ("watching", None, text)
            }
            Event::Skipped { path, kind, reason } => {
                let why = match (kind, reason) {
                    (Some(k), _) => stream_kind(*k),
                    (None, Some(r)) => r,
                    (None, None) => "not a regular file",
                };
                return self.report.skipped(path, why);
            }
            Event::Failed { path, failure } => {
                return match failure {
                    Failure::OverLimit {
                        need,
                        budget,
                        available,
                    } => self
                        .report
                        .error(path, &over_limit(*need, budget, *available)),
                    Failure::Error(e) => self.report.core_error(e),
                };
            }
        };
        if let Some(json) = &mut self.json {
            let mut object = Map::new();
            object.insert("action".into(), self.action.into());
            object.insert("event".into(), name.into());
            if let Some(p) = path {
                insert_name(&mut object, "path", p.as_os_str());
            }
            object.extend(fields);
            return json.write("event", object);
        }
        if self.quiet {
            return Ok(());
        }
        let mut out = std::io::stdout().lock();
        match path {
            Some(p) => writeln!(out, "{}: {text}", quote::row(p))?,
            None => writeln!(out, "{text}")?,
        }
        out.flush()
    }
}

/// The roots named by the targets (operands or --files0-from); bad names are reported.
fn roots(targets: &Targets, report: &mut Report<'_>) -> anyhow::Result<Vec<PathBuf>> {
    let names: Vec<InputName> = match targets.files_from.list()? {
        Some(list) => list.collect::<anyhow::Result<_>>()?,
        None => targets.files_from.inputs(&targets.files)?,
    };
    let mut roots = Vec::new();
    for name in names {
        match name {
            InputName::Path(p) => roots.push(p),
            InputName::Invalid(why) => report.plain_error(&why)?,
            InputName::Stdin { .. } => report.error(
                Path::new("-"),
                "standard input cannot be followed: name the file instead",
            )?,
        }
    }
    Ok(roots)
}

/// The first walk, then events until a termination signal. `ready` runs once the first walk is done.
fn follow(
    plan: &Plan<'_>,
    action: &'static str,
    reporter: &Reporter,
    ready: &mut dyn FnMut(bool),
) -> anyhow::Result<()> {
    let mut report = Report::new(action, plan.common, reporter);
    let roots = roots(plan.targets, &mut report)?;
    if roots.is_empty() {
        ready(false);
        anyhow::bail!("nothing to follow");
    }
    let mut options = FollowOptions {
        policy: plan.policy,
        range: range_of(plan.targets),
        load: load_options(plan.loading),
        walk: plan.targets.walk.to_options(),
    };
    options.walk.threads = 1;
    let mut follower = Follower::new(&roots, options)
        .map_err(|e| anyhow::anyhow!("cannot watch for changes (inotify): {}", describe(&e)))?;
    let mut printer = Printer {
        action,
        policy: plan.policy,
        json: plan.common.json.then(|| JsonLines::new(std::io::stdout())),
        report: &mut report,
        quiet: plan.common.progress.quiet,
    };
    follower.scan(&mut |e| printer.print(e))?;
    ready(true);
    loop {
        match readable_or_termination(follower.fd()) {
            Ok(None) => follower.handle_events(&mut |e| printer.print(e))?,
            Ok(Some(libc::SIGHUP)) => {
                take(libc::SIGHUP);
                follower.rescan(Rescan::Requested, &mut |e| printer.print(e))?;
            }
            Ok(Some(_)) => break,
            Err(e) => anyhow::bail!("cannot wait for changes: {}", describe(&e)),
        }
    }
    let locked = follower.locked_bytes();
    let files = follower.files();
    follower.release_all();
    let mut fields = Map::new();
    fields.insert("files".into(), files.into());
    let text = match plan.policy {
        Policy::Lock => {
            fields.insert("locked_bytes".into(), locked.into());
            format!(
                "stopped: released {files} file{} ({})",
                if files == 1 { "" } else { "s" },
                printer.report.size(locked)
            )
        }
        Policy::Touch => format!(
            "stopped: no longer following {files} file{}",
            if files == 1 { "" } else { "s" }
        ),
    };
    if let Some(json) = &mut printer.json {
        let mut object = Map::new();
        object.insert("action".into(), action.into());
        object.insert("event".into(), "stopped".into());
        object.extend(fields);
        json.write("event", object)?;
    } else if !plan.common.progress.quiet {
        println!("{text}");
    }
    Ok(())
}

fn main(plan: &Plan<'_>, reporter: &Reporter) -> ExitCode {
    let action = match plan.policy {
        Policy::Lock => "lock",
        Policy::Touch => "touch",
    };
    let super::lock::Detached { pidfile, notify } =
        match super::lock::detach(plan.pidfile, plan.daemon, reporter) {
            Ok(detached) => detached,
            Err(code) => return code,
        };
    let mut notify = notify;
    catch_termination();
    // The termination signals stay blocked in every thread (the loading threads, started later,
    // inherit the mask) except inside the wait for events, which unblocks them atomically: a signal
    // is then always delivered where it ends the wait, never to a thread that would not wake it.
    let _ = block_termination();
    let mut wrote_pidfile = false;
    let mut ready = |started: bool| {
        if started && let Some(path) = &pidfile {
            match write_pidfile(path) {
                Ok(()) => wrote_pidfile = true,
                Err(e) => {
                    reporter.file_error(&crate::error::Error::io(crate::error::Op::Write, path, e))
                }
            }
        }
        let status = if reporter.failed() {
            EXIT_FAILURE
        } else {
            EXIT_OK
        };
        let _ = std::io::stdout().flush();
        if let Some(mut writer) = notify.take() {
            let _ = writer.write_all(&[status]);
            drop(writer);
            let _ = detach_stdio();
        }
    };
    let result = crate::cli::common::in_pool(plan.common.threads, || {
        follow(plan, action, reporter, &mut ready)
    })
    .and_then(|r| r);
    if let Some(path) = &pidfile
        && wrote_pidfile
    {
        let _ = std::fs::remove_file(path);
    }
    match result {
        Ok(()) => ExitCode::from(EXIT_OK),
        Err(e) if is_broken_pipe(&e) => ExitCode::from(EXIT_OK),
        Err(e) => {
            reporter.error(format_args!("{e:#}"));
            ExitCode::from(EXIT_FAILURE)
        }
    }
}
