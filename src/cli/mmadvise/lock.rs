//! `mmadvise lock`: check RLIMIT_MEMLOCK, lock and load each file (one failing does not stop the
//! others), report, then hold the locks until a termination signal, in the foreground or, with
//! `--daemon`, in a detached child that tells its parent how the start went.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::Map;

use crate::advise::lock::{Budget, Locked, cost, lock};
use crate::cli::common::{EXIT_FAILURE, EXIT_OK, Reporter, is_broken_pipe};
use crate::error::describe;
use crate::size::human;
use crate::sys::daemon::{Forked, child_status, detach_stdio, fork_single_threaded, new_session};
use crate::sys::signals::{catch_termination, caught, die_of, wait_for_termination};

use super::LockArgs;
use super::driver::{Driver, Kind};
use super::plan::Plan;

/// What the user is told when a lock would pass RLIMIT_MEMLOCK.
pub(super) fn over_limit(need: u64, budget: &Budget, available: u64) -> String {
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
fn lock_all(
    args: &LockArgs,
    plan: Plan<'_>,
    reporter: &Reporter,
    held: &mut Vec<Locked>,
) -> anyhow::Result<()> {
    let mut driver = Driver::new(plan, reporter)?;
    let budget = Budget::current();
    let mut available = budget.available();
    let options = driver.plan.load;
    let mut warned = false;
    let mut locked_total = 0u64;
    driver.run(true, |d, items| {
        if !warned {
            warned = true;
            if let Some(free) = available
                && d.size > free
                && args.targets.range.is_none()
            {
                reporter.warn(format_args!(
                    "these files hold {} but RLIMIT_MEMLOCK lets this process lock {} more: the \
files that do not fit will fail (raise it with `ulimit -l`, or run with CAP_IPC_LOCK)",
                    human(d.size),
                    human(free)
                ));
            }
        }
        d.load(
            &items,
            Kind::Lock,
            &mut |report, subject, data| {
                let need = cost(subject);
                if let Some(free) = available
                    && need > free
                {
                    report.error(subject.path, &over_limit(need, &budget, free))?;
                    return Ok(None);
                }
                let locked = if !subject.span.is_empty() {
                    let holes = data != [subject.span];
                    match lock(subject, options.mode, options.pattern, holes) {
                        Ok(l) => Some(l),
                        Err(e) => {
                            report.core_error(&e)?;
                            return Ok(None);
                        }
                    }
                } else {
                    None
                };
                available = available.map(|a| a.saturating_sub(need));
                Ok(Some(locked))
            },
            &mut |report, s, o| {
                let locked = match &s.lock {
                    Some(l) => l.locked_bytes().map_err(|e| {
                        crate::error::Error::io(crate::error::Op::Read, s.subject.path, e)
                    })?,
                    None => 0,
                };
                o.fields.insert("locked_bytes".into(), locked.into());
                o.tail = format!(", locked {}", report.size(locked));
                locked_total += locked;
                held.extend(s.lock.take());
                Ok(())
            },
        )
    })?;
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
            driver.report.size(locked_total)
        )
    };
    driver.report.summary(fields, &tail)?;
    Ok(())
}

/// Waits in the parent of a `--daemon` fork for the child's verdict: its exit status byte, sent once
/// its files are locked (or it gave up).
pub(super) fn parent(
    mut verdict: std::io::PipeReader,
    child: i32,
    reporter: &Reporter,
) -> ExitCode {
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
pub(super) fn write_pidfile(path: &std::path::Path) -> std::io::Result<()> {
    crate::dest::write_whole(path, 0o644, |out| writeln!(out, "{}", std::process::id()))
}

/// What a run that may detach (--daemon, --pidfile) goes on with.
pub(super) struct Detached {
    /// The pid file's absolute name.
    pub(super) pidfile: Option<PathBuf>,
    /// With --daemon: where the child tells the waiting parent its verdict.
    pub(super) notify: Option<std::io::PipeWriter>,
}

/// Makes the pid file's name absolute (the daemon leaves the directory) and, with `daemon`, forks:
/// the parent waits for the child's verdict and returns the exit status to end with (`Err`); the
/// child goes on in a new session.
pub(super) fn detach(
    pidfile: Option<&std::path::Path>,
    daemon: bool,
    reporter: &Reporter,
) -> Result<Detached, ExitCode> {
    let pidfile: Option<PathBuf> = match pidfile.map(std::path::absolute) {
        None => None,
        Some(Ok(p)) => Some(p),
        Some(Err(e)) => {
            reporter.error(format_args!("invalid pid file name: {}", describe(&e)));
            return Err(ExitCode::from(EXIT_FAILURE));
        }
    };
    let mut notify = None;
    if daemon {
        let cannot = |e: std::io::Error| {
            reporter.error(format_args!("cannot detach: {}", describe(&e)));
            ExitCode::from(EXIT_FAILURE)
        };
        let (reader, writer) = std::io::pipe().map_err(cannot)?;
        match fork_single_threaded().map_err(cannot)? {
            Forked::Parent { child } => {
                drop(writer);
                return Err(parent(reader, child, reporter));
            }
            Forked::Child => {
                drop(reader);
                let _ = new_session();
                notify = Some(writer);
            }
        }
    }
    Ok(Detached { pidfile, notify })
}

/// Runs `mmadvise lock`.
pub fn main(args: &LockArgs, plan: Plan<'_>, reporter: &Reporter) -> ExitCode {
    let Detached { pidfile, notify } = match detach(args.pidfile.as_deref(), args.daemon, reporter)
    {
        Ok(detached) => detached,
        Err(code) => return code,
    };
    catch_termination();
    let mut held = Vec::new();
    let result = lock_all(args, plan, reporter, &mut held);
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
        reporter.file_error(&crate::error::Error::io(crate::error::Op::Write, path, e));
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
