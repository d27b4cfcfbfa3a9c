//! Waiting for a line on standard input (Enter), its end, or a termination signal, whichever comes
//! first, without the race of checking a signal flag and then blocking in read(2).
//!
//! The termination signals are blocked while the flag set by [`super::signals`] is checked and are
//! unblocked only inside ppoll(2), atomically: a signal that arrives at any moment either is seen by
//! the check or interrupts the poll. Data is read only once poll says stdin is readable.
#![allow(unsafe_code)]

use std::io;

use super::signals::{block_termination, caught};

/// What ended the wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// A line (a newline byte) arrived on stdin.
    Line,
    /// Standard input reached its end, or cannot be read.
    Eof,
    /// A termination signal (SIGINT, SIGTERM or SIGHUP) was caught.
    Signal(i32),
}

/// Blocks until a newline arrives on stdin, stdin ends, or a termination signal is caught. Installs the
/// termination handlers (`signals::catch_termination`) if they are not installed yet.
pub fn line_or_termination() -> io::Result<Ended> {
    let masks = block_termination();
    let ended = wait(&masks.waiting);
    masks.restore();
    ended
}

fn wait(waiting: &libc::sigset_t) -> io::Result<Ended> {
    let mut buf = [0u8; 512];
    loop {
        if let Some(signal) = caught() {
            return Ok(Ended::Signal(signal));
        }
        let mut poll = libc::pollfd {
            fd: libc::STDIN_FILENO,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, no timeout, and a valid signal mask, all in this frame or borrowed.
        let rc = unsafe { libc::ppoll(&mut poll, 1, std::ptr::null(), waiting) };
        if rc == -1 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return Err(e);
        }
        if poll.revents & libc::POLLNVAL != 0 {
            return Ok(Ended::Eof);
        }
        // SAFETY: reading into a buffer of this frame, with its exact length.
        let n = unsafe { libc::read(libc::STDIN_FILENO, buf.as_mut_ptr().cast(), buf.len()) };
        match n {
            0 => return Ok(Ended::Eof),
            n if n > 0 => {
                if buf[..n as usize].contains(&b'\n') {
                    return Ok(Ended::Line);
                }
            }
            _ => {
                let e = io::Error::last_os_error();
                match e.raw_os_error() {
                    Some(libc::EINTR | libc::EAGAIN) => continue,
                    _ => return Ok(Ended::Eof),
                }
            }
        }
    }
}

/// Blocks until `fd` is readable (`Ok(None)`) or a termination signal is caught (`Ok(Some(signal))`),
/// without the race of checking the flag and then blocking. Installs the termination handlers if they
/// are not installed yet.
pub fn readable_or_termination(fd: std::os::fd::BorrowedFd<'_>) -> io::Result<Option<i32>> {
    use std::os::fd::AsRawFd;
    let masks = block_termination();
    let ended = loop {
        if let Some(signal) = caught() {
            break Ok(Some(signal));
        }
        let mut poll = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd of this frame, no timeout, and a valid signal mask.
        let rc = unsafe { libc::ppoll(&mut poll, 1, std::ptr::null(), &masks.waiting) };
        if rc == -1 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            break Err(e);
        }
        if rc > 0 {
            break Ok(None);
        }
    };
    masks.restore();
    ended
}
