//! Detaching into the background: fork(2) while the process has a single thread, a new session, and
//! standard streams sent to /dev/null once the parent has been told how the start went.
#![allow(unsafe_code)]

use std::fs::File;
use std::io;
use std::os::fd::AsFd;

/// Which side of a fork this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forked {
    /// The original process; `child` is the new process's id.
    Parent {
        /// The child's process id.
        child: i32,
    },
    /// The new process.
    Child,
}

/// The number of threads of this process, from /proc/self/status.
pub fn thread_count() -> io::Result<usize> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
        .ok_or_else(|| io::Error::other("no thread count in /proc/self/status"))
}

/// Forks the process. Refuses unless the process has exactly one thread: a child forked from a
/// multi-threaded process inherits locks that other threads may hold, and could deadlock.
pub fn fork_single_threaded() -> io::Result<Forked> {
    let threads = thread_count()?;
    if threads != 1 {
        return Err(io::Error::other(format!(
            "cannot detach: the process runs {threads} threads"
        )));
    }
    // SAFETY: the process has a single thread (checked just above), so the child inherits no lock held
    // by another thread and may go on running ordinary Rust code, as a single-threaded C program does
    // after fork.
    let pid = unsafe { libc::fork() };
    match pid {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(Forked::Child),
        child => Ok(Forked::Parent { child }),
    }
}

/// Starts a new session, so that the terminal's hangup and job control no longer reach this process.
pub fn new_session() -> io::Result<()> {
    rustix::process::setsid()
        .map(|_| ())
        .map_err(io::Error::from)
}

/// Points standard input, output and error at /dev/null, so that whoever reads our output (a shell's
/// command substitution, a test harness) sees it end.
pub fn detach_stdio() -> io::Result<()> {
    let null = File::options().read(true).write(true).open("/dev/null")?;
    rustix::stdio::dup2_stdin(null.as_fd())?;
    rustix::stdio::dup2_stdout(null.as_fd())?;
    rustix::stdio::dup2_stderr(null.as_fd())?;
    Ok(())
}

/// How a child process ended, if it has: `Some(Ok(code))` for an exit, `Some(Err(signal))` for a
/// death by signal, `None` while it runs. Reaps it when it has ended.
pub fn child_status(child: i32) -> io::Result<Option<Result<i32, i32>>> {
    let pid = rustix::process::Pid::from_raw(child)
        .ok_or_else(|| io::Error::from_raw_os_error(libc::ESRCH))?;
    match rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::empty())? {
        None => Ok(None),
        Some((_, status)) => {
            if let Some(code) = status.exit_status() {
                Ok(Some(Ok(code)))
            } else if let Some(signal) = status.terminating_signal() {
                Ok(Some(Err(signal)))
            } else {
                Ok(None)
            }
        }
    }
}
