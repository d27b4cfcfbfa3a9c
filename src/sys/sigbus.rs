//! The process-wide SIGBUS guard: it turns a fault inside a registered
//! mapping into a per-file error.
//!
//! A read through a shared file map faults with SIGBUS when the page lies past the file's current end,
//! which happens when another process truncates the file under us. The guard keeps a fixed table of
//! registered address ranges. Its handler looks the faulting address up; when it lies in a registered
//! range, it maps an anonymous zero page over the faulting page (`MAP_FIXED`), marks the range as faulted
//! and returns, so the interrupted read completes on zeros. The owner of the range checks the mark when it
//! is done and discards its result. Faults anywhere else go to the previous handler, or kill the process
//! as they would have without us.
#![allow(unsafe_code)]

use std::ffi::c_void;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// How many ranges can be registered at once. Each worker thread holds one or two windows, so this is
/// far more than needed; registration waits for a free slot rather than fail.
const SLOTS: usize = 1024;

struct Slot {
    start: AtomicUsize,
    end: AtomicUsize,
    faulted: AtomicBool,
}

#[allow(clippy::declare_interior_mutable_const)]
const EMPTY_SLOT: Slot = Slot {
    start: AtomicUsize::new(0),
    end: AtomicUsize::new(0),
    faulted: AtomicBool::new(false),
};

static TABLE: [Slot; SLOTS] = [EMPTY_SLOT; SLOTS];
static PAGE: AtomicUsize = AtomicUsize::new(0);
/// The action that was installed for SIGBUS before ours (std's stack-overflow handler, or the default).
static PREVIOUS: OnceLock<libc::sigaction> = OnceLock::new();

/// A registered address range. Dropping it unregisters the range.
#[derive(Debug)]
pub struct Guard {
    slot: usize,
}

impl Guard {
    /// Registers `[start, start + len)` with the guard, installing the handler on first use.
    ///
    /// # Safety
    ///
    /// `[start, start + len)` must be a file mapping that the caller owns and keeps mapped for as long
    /// as the returned guard lives, and whose pages may read as zeros after a fault: on a SIGBUS inside
    /// it, the handler maps an anonymous zero page over the faulting page (MAP_FIXED), which would
    /// silently replace any other memory registered by mistake.
    pub unsafe fn register(start: *const u8, len: usize) -> std::io::Result<Guard> {
        install()?;
        let start = start as usize;
        let end = start
            .checked_add(len)
            .ok_or_else(|| std::io::Error::from_raw_os_error(libc::EINVAL))?;
        loop {
            for (index, slot) in TABLE.iter().enumerate() {
                if slot.start.load(Ordering::Relaxed) != 0 {
                    continue;
                }
                // The slot's end is 0 while free, so the handler cannot match it before we publish the end.
                if slot
                    .start
                    .compare_exchange(0, start, Ordering::AcqRel, Ordering::Relaxed)
                    .is_ok()
                {
                    slot.faulted.store(false, Ordering::Release);
                    slot.end.store(end, Ordering::Release);
                    return Ok(Guard { slot: index });
                }
            }
            std::thread::yield_now();
        }
    }

    /// Marks the range as faulted without a signal: its owner learned by other means (an madvise that
    /// failed with EFAULT) that a page of it cannot be read.
    pub fn mark_faulted(&self) {
        TABLE[self.slot].faulted.store(true, Ordering::Release);
    }

    /// Whether a fault was caught inside the range since it was registered.
    pub fn faulted(&self) -> bool {
        TABLE[self.slot].faulted.load(Ordering::Acquire)
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let slot = &TABLE[self.slot];
        slot.end.store(0, Ordering::Release);
        slot.start.store(0, Ordering::Release);
    }
}

/// Installs the SIGBUS handler once for the process.
fn install() -> std::io::Result<()> {
    static RESULT: OnceLock<Result<(), i32>> = OnceLock::new();
    let result = RESULT.get_or_init(|| {
        PAGE.store(rustix::param::page_size(), Ordering::Release);
        // SAFETY: an all-zero sigaction is a valid value (no handler, empty mask, no flags); every field we
        // rely on is set below before use.
        let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
        action.sa_sigaction = on_sigbus as *const () as usize;
        action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_NODEFER;
        // SAFETY: `action.sa_mask` is a valid sigset_t owned by this frame.
        unsafe { libc::sigemptyset(&mut action.sa_mask) };
        // SAFETY: as above, a zeroed sigaction is a valid out-parameter.
        let mut previous: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: both pointers refer to live, initialised sigaction values; the handler is an
        // `extern "C"` function with the SA_SIGINFO signature and lives for the whole program.
        let rc = unsafe { libc::sigaction(libc::SIGBUS, &action, &mut previous) };
        if rc != 0 {
            return Err(std::io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EINVAL));
        }
        let _ = PREVIOUS.set(previous);
        Ok(())
    });
    result.map_err(std::io::Error::from_raw_os_error)
}

/// The SIGBUS handler. Only async-signal-safe work: atomic loads and stores, mmap, sigaction.
extern "C" fn on_sigbus(signal: libc::c_int, info: *mut libc::siginfo_t, context: *mut c_void) {
    // SAFETY: the kernel passes a valid siginfo_t for a handler installed with SA_SIGINFO.
    let addr = unsafe { (*info).si_addr() } as usize;
    let page = PAGE.load(Ordering::Acquire);
    for slot in TABLE.iter() {
        let start = slot.start.load(Ordering::Acquire);
        if start == 0 || addr < start || addr >= slot.end.load(Ordering::Acquire) {
            continue;
        }
        let base = addr & !(page - 1);
        // SAFETY: `base` is the page holding `addr`, which lies inside a mapping registered by a live
        // `Guard`; replacing that one page with private anonymous zeros keeps the address range mapped
        // (so the owner's later munmap stays valid) and lets the faulting access complete.
        let mapped = unsafe {
            libc::mmap(
                base as *mut c_void,
                page,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                -1,
                0,
            )
        };
        if mapped != libc::MAP_FAILED {
            slot.faulted.store(true, Ordering::Release);
            return;
        }
        break;
    }
    chain(signal, info, context);
}

/// Hands a fault that is not ours to whoever handled SIGBUS before us, or restores the default action so
/// that the faulting instruction, when retried, kills the process as usual.
fn chain(signal: libc::c_int, info: *mut libc::siginfo_t, context: *mut c_void) {
    if let Some(previous) = PREVIOUS.get() {
        let handler = previous.sa_sigaction;
        if handler != libc::SIG_DFL && handler != libc::SIG_IGN {
            if previous.sa_flags & libc::SA_SIGINFO != 0 {
                // SAFETY: the previous action was installed with SA_SIGINFO, so `handler` has this signature.
                let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut c_void) =
                    unsafe { std::mem::transmute(handler) };
                f(signal, info, context);
            } else {
                // SAFETY: without SA_SIGINFO the previous handler takes only the signal number.
                let f: extern "C" fn(libc::c_int) = unsafe { std::mem::transmute(handler) };
                f(signal);
            }
            return;
        }
    }
    // SAFETY: a zeroed sigaction with sa_sigaction = SIG_DFL is the default action; the pointer is valid.
    unsafe {
        let mut default: libc::sigaction = std::mem::zeroed();
        default.sa_sigaction = libc::SIG_DFL;
        libc::sigaction(libc::SIGBUS, &default, std::ptr::null_mut());
    }
}
