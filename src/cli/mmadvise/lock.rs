//! `mmadvise lock`: check RLIMIT_MEMLOCK, lock and load each file (one failing does not stop the
//! others), report, then hold the locks until a termination signal, in the foreground or, with
//! `--daemon`, in a detached child that tells its parent how the start went.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::Map;

use crate::advise::load::{Job, load};
use crate::advise::lock::{Budget, Locked, cost, lock};
use crate::advise::total;
use crate::cli::common::{EXIT_FAILURE, EXIT_OK, Reporter, is_broken_pipe};
use crate::cli::quote;
use crate::error::describe;
use crate::size::human;
use crate::sys::daemon::{Forked, child_status, detach_stdio, fork_single_threaded, new_session};
use crate::sys::signals::{catch_termination, caught, die_of, wait_for_termination};

use super::LockArgs;
use super::report::Report;
use super::run::{
    Caps, PROGRESS_THRESHOLD, batch, gather, load_options, open_batch, outcome, range_of,
    run_in_pool, subjects,
};

/// What the user is told when a lock would pass RLIMIT_MEMLOCK.
fn over_limit(need: u64, budget: &Budget, available: u64) -> String {
    let limit = budget.soft.map_or("unlimited".into(), human);
    let hard = budget.hard.map_or("unlimited".into(), human);
    format!(
        "cannot lock {}: RLIMIT_MEMLOCK lets this process lock {limit} ({} still free), and a lock \
counts the whole mapped size; raise the limit to at least {} KiB with `ulimit -l` (the hard limit is \
{hard}; above it, set memlock in /etc/security/limits.conf or LimitMEMLOCK= for a systemd service), or \
run with CAP_IPC_LOCK",
        human(need),
        human(available),
        (budget.used + need).div_ceil(1024)
    )
}

/// Locks and loads every file, reporting each; the locks taken are pushed to `held`.
fn lock_all(args: &LockArgs, reporter: &Reporter, held: &mut Vec<Locked>) -> anyhow::Result<()> {
    let mut report = Report::new("lock", &args.common, reporter);
    let (files, size) = gather(&args.targets, &args.common, &mut report, false)?;
    let budget = Budget::current();
    let mut available = budget.available();
    if let Some(free) = available
        && size > free
        && args.targets.range.is_none()
    {
        reporter.warn(format_args!(
            "these files hold {} but RLIMIT_MEMLOCK lets this process lock {} more: the files that \
do not fit will fail (raise it with `ulimit -l`, or run with CAP_IPC_LOCK)",
            human(size),
            human(free)
        ));
    }
    let bar = args.common.progress.bar(size, PROGRESS_THRESHOLD);
    bar.set_length(0);
    report.set_bar(bar);
    let range = range_of(&args.targets);
    let options = load_options(&args.loading);
    let mut caps = Caps::default();
    let mut locked_total = 0u64;
    for paths in files.chunks(batch()) {
        let opened = open_batch(paths, &mut report)?;
        let subjects = subjects(&opened, range, &mut report)?;
        let mut prepared = Vec::new();
        for subject in &subjects {
            let need = cost(subject);
            if let Some(free) = available
                && need > free
            {
                report.error(subject.path, &over_limit(need, &budget, free))?;
                continue;
            }
            let step = subject.measure().and_then(|before| {
                let data = subject.data()?;
                let lock = if subject.span.0 < subject.span.1 {
                    let holes = data != [subject.span];
                    Some(lock(subject, options.mode, options.pattern, holes)?)
                } else {
                    None
                };
                Ok((before, data, lock))
            });
            match step {
                Ok((before, data, lock)) => {
                    available = available.map(|a| a.saturating_sub(need));
                    report.bar().inc_length(total(&data));
                    prepared.push((subject, before, data, lock));
                }
                Err(e) => report.core_error(&e)?,
            }
        }
        let jobs: Vec<Job<'_, '_>> = prepared
            .iter()
            .map(|(subject, _, data, lock)| Job {
                subject,
                spans: if lock.is_some() {
                    data.clone()
                } else {
                    Vec::new()
                },
                cap: caps.of(subject),
                map: lock.as_ref().map(|l| &l.map),
            })
            .collect();
        let bar = report.bar().clone();
        let errors = run_in_pool(&args.common, || load(&jobs, &options, &|n| bar.inc(n)))?;
        drop(jobs);
        for ((subject, before, data, lock), error) in prepared.into_iter().zip(errors) {
            if let Some(e) = error {
                report.core_error(&e)?;
                continue;
            }
            let measured = subject.measure().and_then(|after| {
                let locked = match &lock {
                    Some(l) => l.locked_bytes().map_err(|e| {
                        crate::error::Error::io(crate::error::Op::Read, subject.path, e)
                    })?,
                    None => 0,
                };
                Ok((after, locked))
            });
            match measured {
                Ok((after, locked)) => {
                    let mut o = outcome(subject, &data, before, after);
                    o.fields.insert("locked_bytes".into(), locked.into());
                    o.tail = format!(", locked {}", report.size(locked));
                    locked_total += locked;
                    report.file(&o)?;
                    held.extend(lock);
                }
                Err(e) => report.core_error(&e)?,
            }
        }
    }
    let pid = std::process::id();
    let mut fields = Map::new();
    fields.insert("locked_bytes".into(), locked_total.into());
    fields.insert("pid".into(), pid.into());
    fields.insert("holding".into(), (!held.is_empty()).into());
    let tail = if held.is_empty() {
        ", nothing locked".to_string()
    } else {
        format!(
            ", locked {}, held by process {pid} until SIGINT or SIGTERM",
            report.size(locked_total)
        )
    };
    report.summary(fields, &tail)?;
    Ok(())
}

/// Waits in the parent of a `--daemon` fork for the child's verdict: its exit status byte, sent once
/// its files are locked (or it gave up).
fn parent(mut verdict: std::io::PipeReader, child: i32, reporter: &Reporter) -> ExitCode {
    let mut byte = Vec::new();
    let _ = verdict.read_to_end(&mut byte);
    if let Some(&code) = byte.first() {
        return ExitCode::from(code);
    }
    let why = match child_status(child) {
        Ok(Some(Ok(code))) => format!("exited with status {code}"),
        Ok(Some(Err(signal))) => format!("was killed by signal {signal}"),
        Ok(None) => "stopped answering".into(),
        Err(e) => describe(&e),
    };
    reporter.error(format_args!(
        "the background process {child} {why} before holding any lock"
    ));
    ExitCode::from(EXIT_FAILURE)
}

/// Writes the pid file whole or not at all.
fn write_pidfile(path: &std::path::Path) -> std::io::Result<()> {
    crate::dest::write_whole(path, 0o644, |out| writeln!(out, "{}", std::process::id()))
}

/// Runs `mmadvise lock`.
pub fn main(args: &LockArgs, reporter: &Reporter) -> ExitCode {
    let pidfile: Option<PathBuf> = match args.pidfile.as_deref().map(std::path::absolute) {
        None => None,
        Some(Ok(p)) => Some(p),
        Some(Err(e)) => {
            reporter.error(format_args!("invalid pid file name: {}", describe(&e)));
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    let mut notify = None;
    if args.daemon {
        let (reader, writer) = match std::io::pipe() {
            Ok(p) => p,
            Err(e) => {
                reporter.error(format_args!("cannot detach: {}", describe(&e)));
                return ExitCode::from(EXIT_FAILURE);
            }
        };
        match fork_single_threaded() {
            Err(e) => {
                reporter.error(format_args!("cannot detach: {}", describe(&e)));
                return ExitCode::from(EXIT_FAILURE);
            }
            Ok(Forked::Parent { child }) => {
                drop(writer);
                return parent(reader, child, reporter);
            }
            Ok(Forked::Child) => {
                drop(reader);
                let _ = new_session();
                notify = Some(writer);
            }
        }
    }
    catch_termination();
    let mut held = Vec::new();
    let result = lock_all(args, reporter, &mut held);
    let quiet_pipe = matches!(&result, Err(e) if is_broken_pipe(e));
    if let Err(e) = &result
        && !quiet_pipe
    {
        reporter.error(format_args!("{e:#}"));
    }
    if !held.is_empty()
        && let Some(path) = &pidfile
        && let Err(e) = write_pidfile(path)
    {
        reporter.error(format_args!("{}: {}", quote::name(path), describe(&e)));
        held.clear();
    }
    let status = if reporter.failed() {
        EXIT_FAILURE
    } else {
        EXIT_OK
    };
    let _ = std::io::stdout().flush();
    if let Some(mut writer) = notify {
        let _ = writer.write_all(&[status]);
        drop(writer);
        let _ = detach_stdio();
    }
    if held.is_empty() {
        return ExitCode::from(status);
    }
    let signal = match caught() {
        Some(s) => s,
        None => wait_for_termination(),
    };
    drop(held);
    if let Some(path) = &pidfile {
        let _ = std::fs::remove_file(path);
    }
    die_of(signal);
    ExitCode::from(128 + signal as u8)
}
