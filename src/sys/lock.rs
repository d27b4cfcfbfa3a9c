//! Open-file-description (OFD) record locks over a whole file, with an optional bound on the wait.
//!
//! rustix's `fcntl_lock` takes classic POSIX locks (`F_SETLKW`), which belong to the process and vanish
//! when *any* descriptor of the file is closed; OFD locks (`F_OFD_SETLKW`, Linux 3.15) belong to the open
//! file description and last until it is closed. Neither rustix nor std offers them, nor a timed wait.
//!
//! A bounded wait blocks in `F_OFD_SETLKW` and lets a timer signal interrupt it, rather than polling
//! `F_OFD_SETLK` with a backoff: a blocked waiter is woken by the kernel the moment the holder unlocks,
//! so contended updates run back to back and no CPU is spent spinning, while a poller sleeps through
//! releases (and loses the lock to the blocked waiters) at every backoff step. The timer is a POSIX timer
//! on CLOCK_MONOTONIC that sends SIGALRM to the waiting thread itself (`SIGEV_THREAD_ID`, so other threads
//! are not disturbed), caught by a handler installed without `SA_RESTART`, so the wait returns EINTR.
//! After its first expiry the timer fires again every few milliseconds, which closes the race where the
//! first signal arrives just before the thread enters the wait.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Shared (read) or exclusive (write) lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockKind {
    /// Many holders at once; needs a descriptor open for reading.
    Shared,
    /// One holder; needs a descriptor open for writing.
    Exclusive,
}

/// Why a lock was not taken.
#[derive(Debug)]
pub enum LockError {
    /// The wait ran out: another open file description held a conflicting lock all along.
    TimedOut,
    /// The system refused.
    Io(io::Error),
}

/// Re-fire period of the timer after its first expiry (see the module documentation).
const REFIRE: Duration = Duration::from_millis(5);

/// The SIGALRM handler does nothing: its only purpose is to make the lock wait return EINTR. Once
/// installed it stays, so that concurrent bounded waits (in tests) never meet the default action, which
/// would end the process.
extern "C" fn on_alarm(_signal: libc::c_int) {}

fn install_alarm_handler() -> io::Result<()> {
    static RESULT: OnceLock<Result<(), i32>> = OnceLock::new();
    let result = RESULT.get_or_init(|| {
        // SAFETY: a zeroed sigaction is valid; the handler does nothing (trivially async-signal-safe) and
        // lives for the whole program. No SA_RESTART: the lock wait must return EINTR.
        let rc = unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_alarm as *const () as usize;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(libc::SIGALRM, &action, std::ptr::null_mut())
        };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EINVAL))
        }
    });
    result.map_err(io::Error::from_raw_os_error)
}

/// One `fcntl` lock command over the whole file (`l_start` 0, `l_len` 0: to the end, however it grows).
fn fcntl_lock(fd: BorrowedFd<'_>, command: libc::c_int, kind: libc::c_int) -> io::Result<()> {
    // SAFETY: an all-zero flock is a valid value; OFD commands require `l_pid` to be 0.
    let mut request: libc::flock = unsafe { std::mem::zeroed() };
    request.l_type = kind as libc::c_short;
    request.l_whence = libc::SEEK_SET as libc::c_short;
    request.l_start = 0;
    request.l_len = 0;
    // SAFETY: `fd` is a live descriptor borrowed for the call, and `request` is a valid flock that the
    // kernel only reads for the SETLK commands.
    let rc = unsafe { libc::fcntl(fd.as_raw_fd(), command, &request as *const libc::flock) };
    if rc == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn kind_of(kind: LockKind) -> libc::c_int {
    match kind {
        LockKind::Shared => libc::F_RDLCK,
        LockKind::Exclusive => libc::F_WRLCK,
    }
}

/// Takes an OFD lock of `kind` over the whole of `fd`'s file, waiting for a conflicting holder to let
/// go: forever with no `timeout`, or at most `timeout` (zero means: try once). The lock is released by
/// [`unlock`] or when the last descriptor of this open file description is closed.
pub fn lock(
    fd: BorrowedFd<'_>,
    kind: LockKind,
    timeout: Option<Duration>,
) -> Result<(), LockError> {
    let kind = kind_of(kind);
    let Some(timeout) = timeout else {
        loop {
            match fcntl_lock(fd, libc::F_OFD_SETLKW, kind) {
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
                other => return other.map_err(LockError::Io),
            }
        }
    };
    // The uncontended case costs one system call and no signal machinery.
    match fcntl_lock(fd, libc::F_OFD_SETLK, kind) {
        Ok(()) => return Ok(()),
        Err(e) if matches!(e.raw_os_error(), Some(libc::EAGAIN | libc::EACCES)) => {}
        Err(e) => return Err(LockError::Io(e)),
    }
    if timeout.is_zero() {
        return Err(LockError::TimedOut);
    }
    let deadline = Instant::now() + timeout;
    let _alarm = Alarm::arm(timeout).map_err(LockError::Io)?;
    loop {
        match fcntl_lock(fd, libc::F_OFD_SETLKW, kind) {
            Ok(()) => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => {
                if Instant::now() >= deadline {
                    return Err(LockError::TimedOut);
                }
            }
            Err(e) => return Err(LockError::Io(e)),
        }
    }
}

/// Releases this open file description's lock on `fd`'s file.
pub fn unlock(fd: BorrowedFd<'_>) -> io::Result<()> {
    fcntl_lock(fd, libc::F_OFD_SETLK, libc::F_UNLCK)
}

/// An armed POSIX timer that signals the calling thread; dropping it deletes the timer.
struct Alarm {
    timer: libc::timer_t,
}

fn timespec(d: Duration) -> libc::timespec {
    libc::timespec {
        tv_sec: d.as_secs().min(i32::MAX as u64) as libc::time_t,
        tv_nsec: d.subsec_nanos() as libc::c_long,
    }
}

impl Alarm {
    fn arm(after: Duration) -> io::Result<Alarm> {
        install_alarm_handler()?;
        // SAFETY: a zeroed sigevent is valid; the fields used by SIGEV_THREAD_ID are set below, and the
        // thread id is the caller's own, which outlives the timer (deleted before `lock` returns).
        let timer = unsafe {
            let mut event: libc::sigevent = std::mem::zeroed();
            event.sigev_notify = libc::SIGEV_THREAD_ID;
            event.sigev_signo = libc::SIGALRM;
            event.sigev_notify_thread_id = libc::gettid();
            let mut timer: libc::timer_t = std::mem::zeroed();
            if libc::timer_create(libc::CLOCK_MONOTONIC, &mut event, &mut timer) != 0 {
                return Err(io::Error::last_os_error());
            }
            timer
        };
        let alarm = Alarm { timer };
        // A zero it_value would leave the timer disarmed: ask for at least a microsecond.
        let spec = libc::itimerspec {
            it_value: timespec(after.max(Duration::from_micros(1))),
            it_interval: timespec(REFIRE),
        };
        // SAFETY: `alarm.timer` was just created and `spec` is a valid itimerspec in this frame.
        if unsafe { libc::timer_settime(alarm.timer, 0, &spec, std::ptr::null_mut()) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(alarm)
    }
}

impl Drop for Alarm {
    fn drop(&mut self) {
        // SAFETY: the timer was created by `arm` and is deleted exactly once. A signal already queued is
        // met by the do-nothing handler.
        unsafe {
            libc::timer_delete(self.timer);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::OpenOptions;
    use std::os::fd::AsFd;

    #[test]
    fn ofd_locks_conflict_between_descriptions_of_one_process() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c");
        std::fs::write(&path, b"0\n").unwrap();
        let open = || {
            OpenOptions::new()
                .read(true)
                .write(true)
                .open(&path)
                .unwrap()
        };
        let (a, b) = (open(), open());
        lock(a.as_fd(), LockKind::Exclusive, None).unwrap();
        // Classic POSIX locks would let the same process take it again; OFD locks do not.
        assert!(matches!(
            lock(b.as_fd(), LockKind::Exclusive, Some(Duration::ZERO)),
            Err(LockError::TimedOut)
        ));
        assert!(matches!(
            lock(b.as_fd(), LockKind::Shared, Some(Duration::from_millis(30))),
            Err(LockError::TimedOut)
        ));
        // Closing another descriptor of the file does not drop the lock (it would, for POSIX locks).
        drop(open());
        assert!(matches!(
            lock(b.as_fd(), LockKind::Shared, Some(Duration::ZERO)),
            Err(LockError::TimedOut)
        ));
        unlock(a.as_fd()).unwrap();
        lock(b.as_fd(), LockKind::Shared, Some(Duration::from_secs(5))).unwrap();
        lock(a.as_fd(), LockKind::Shared, Some(Duration::ZERO)).unwrap();
    }
}
