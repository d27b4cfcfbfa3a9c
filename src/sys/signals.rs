//! Termination signals (SIGINT, SIGTERM, SIGHUP, and for a tool that asks, the other signals that kill
//! by default) caught as a flag, so that a tool can clean up (remove a temporary file, release a lock)
//! and then die of the same signal, as the shell expects; and SIGXFSZ ignored, so that a write past
//! `ulimit -f` fails with EFBIG like any other write error.
#![allow(unsafe_code)]

use std::sync::Once;
use std::sync::atomic::{AtomicI32, Ordering};

static CAUGHT: AtomicI32 = AtomicI32::new(0);

/// The signals [`catch_termination`] catches.
pub const TERMINATION_SIGNALS: [i32; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

extern "C" fn on_termination(signal: libc::c_int) {
    CAUGHT.store(signal, Ordering::SeqCst);
}

/// From now on, SIGINT, SIGTERM and SIGHUP set a flag instead of killing the process. The handlers are
/// installed without SA_RESTART, so a blocking system call (a read of stdin, a lock wait, pause) returns
/// EINTR and the caller can look at [`caught`].
pub fn catch_termination() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for signal in TERMINATION_SIGNALS {
            // SAFETY: a zeroed sigaction is valid; the handler only stores to an atomic, which is
            // async-signal-safe, and lives for the whole program.
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = on_termination as *const () as usize;
                libc::sigemptyset(&mut action.sa_mask);
                libc::sigaction(signal, &action, std::ptr::null_mut());
            }
        }
    });
}

/// Signals that kill a process by default and that nobody sends to ask for a clean stop, beyond
/// [`TERMINATION_SIGNALS`]: a tool that leaves files behind when killed catches these too
/// ([`catch_also`]). SIGXFSZ is not among them: it is ignored ([`ignore_file_size_limit`]).
pub const OTHER_FATAL_SIGNALS: [i32; 4] =
    [libc::SIGUSR1, libc::SIGUSR2, libc::SIGALRM, libc::SIGXCPU];

/// From now on, `signals` (for example [`OTHER_FATAL_SIGNALS`]) are caught as the termination signals
/// are: [`caught`] returns them, and [`die_of`] ends the process with them after the clean-up.
pub fn catch_also(signals: &[i32]) {
    catch_termination();
    for &signal in signals {
        // SAFETY: as in `catch_termination`: a zeroed sigaction is valid, and the handler only stores
        // to an atomic and lives for the whole program.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_termination as *const () as usize;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
}

/// Ignores SIGXFSZ, whose default action kills the process (status 153, no message) when a write goes
/// past the file size limit (`ulimit -f`). Ignored, the write fails with EFBIG ("File too large"),
/// which the tools report as any other error. Every tool calls this first.
pub fn ignore_file_size_limit() {
    // SAFETY: setting SIGXFSZ's disposition to SIG_IGN has no memory-safety preconditions.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
}

/// Ignores SIGPIPE, as Rust's runtime does before `main`: a write to a closed pipe then fails with
/// EPIPE, which the tools turn into a quiet exit. For a binary that starts without that runtime
/// (`#![no_main]`).
pub fn ignore_broken_pipe() {
    // SAFETY: setting SIGPIPE's disposition to SIG_IGN has no memory-safety preconditions.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
}

/// The termination signal caught since [`catch_termination`], if any.
pub fn caught() -> Option<i32> {
    match CAUGHT.load(Ordering::SeqCst) {
        0 => None,
        s => Some(s),
    }
}

/// Forgets `signal` if it is the one caught (SIGHUP asking for a rescan, say), so that a later
/// [`caught`] reports only what arrives next. Returns whether it was.
pub fn take(signal: i32) -> bool {
    CAUGHT
        .compare_exchange(signal, 0, Ordering::SeqCst, Ordering::SeqCst)
        .is_ok()
}

/// Restores the default action for `signal` and raises it, so the process ends the way it would have
/// without our handler (the shell then sees "killed by SIGINT", status 130). Returns only if the signal
/// does not end the process.
pub fn die_of(signal: i32) {
    // SAFETY: restoring SIG_DFL and raising a signal have no memory-safety preconditions.
    unsafe {
        libc::signal(signal, libc::SIG_DFL);
        libc::raise(signal);
    }
}

/// The signal masks around a wait for a termination signal: `previous` is the thread's mask before,
/// with the termination signals blocked since; `waiting` is `previous` with them unblocked, for
/// sigsuspend(2) or ppoll(2), which unblock them atomically while they wait.
pub struct TerminationMasks {
    /// The mask to restore after the wait.
    pub previous: libc::sigset_t,
    /// The mask to wait with.
    pub waiting: libc::sigset_t,
}

/// Installs the termination handlers if needed and blocks the termination signals in this thread, so
/// that a signal arriving between a check of [`caught`] and the wait is delivered during the wait rather
/// than lost. Restore with [`TerminationMasks::restore`].
pub fn block_termination() -> TerminationMasks {
    catch_termination();
    // SAFETY: the sigset_t values live in this frame and are initialised by sigemptyset/sigaddset (or
    // filled by pthread_sigmask) before use.
    unsafe {
        let mut block: libc::sigset_t = std::mem::zeroed();
        let mut previous: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut block);
        for signal in TERMINATION_SIGNALS {
            libc::sigaddset(&mut block, signal);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &block, &mut previous);
        let mut waiting = previous;
        for signal in TERMINATION_SIGNALS {
            libc::sigdelset(&mut waiting, signal);
        }
        TerminationMasks { previous, waiting }
    }
}

impl TerminationMasks {
    /// Restores the thread's signal mask as it was before [`block_termination`].
    pub fn restore(&self) {
        // SAFETY: `previous` is a mask filled in by pthread_sigmask.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.previous, std::ptr::null_mut()) };
    }
}

/// Blocks until a termination signal arrives and returns it, without losing one that arrives just
/// before the wait.
pub fn wait_for_termination() -> i32 {
    let masks = block_termination();
    while caught().is_none() {
        // SAFETY: `waiting` is a valid, initialised signal mask.
        unsafe { libc::sigsuspend(&masks.waiting) };
    }
    masks.restore();
    caught().unwrap_or(libc::SIGTERM)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_caught_signal_is_a_flag_not_a_death() {
        catch_termination();
        // SAFETY: raising a signal whose handler only sets a flag.
        unsafe { libc::raise(libc::SIGHUP) };
        assert_eq!(caught(), Some(libc::SIGHUP));
        assert_eq!(wait_for_termination(), libc::SIGHUP);
    }
}
