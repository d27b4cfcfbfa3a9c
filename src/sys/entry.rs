//! A C `main` for a binary whose start-up time matters: it skips the set-up that Rust's runtime does
//! before `main` (a stack-overflow handler, which reads /proc/self/maps, and a check of the standard
//! descriptors), about 110 µs of every run on our machines. The binary declares `#![no_main]` and names
//! the function to run; that function does the part of the set-up it needs itself (SIGPIPE ignored,
//! stdout flushed at the end), as `cli::mmcounter::start` does.
#![allow(unsafe_code)]

use std::os::fd::{AsFd, IntoRawFd};

/// Defines the program's C entry point, `main`, calling `$start: fn() -> i32` and returning its value as
/// the exit status. For a binary crate with `#![no_main]`:
///
/// ```ignore
/// #![no_main]
/// mmtools::c_main!(mmtools::cli::mmcounter::start);
/// ```
#[macro_export]
macro_rules! c_main {
    ($start:path) => {
        // SAFETY: this is the C entry point, which the C runtime calls once, and `#![no_main]` leaves the
        // `main` symbol to us, so exporting it unmangled clashes with nothing. The arguments are not read
        // through these pointers: the tool takes them from std, or from /proc/self/cmdline.
        #[allow(unsafe_code)]
        #[unsafe(no_mangle)]
        extern "C" fn main(
            _argc: ::std::ffi::c_int,
            _argv: *const *const ::std::ffi::c_char,
        ) -> ::std::ffi::c_int {
            $start()
        }
    };
}

/// The program's arguments, program name first. A binary started as a C `main` (`#![no_main]`) gets
/// them from std on glibc, which hands them to initialisers; on other C libraries std has none to give,
/// and they are read from /proc/self/cmdline.
pub fn program_args() -> Vec<std::ffi::OsString> {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if !args.is_empty() {
        return args;
    }
    match std::fs::read("/proc/self/cmdline") {
        Ok(cmdline) => split_cmdline(&cmdline),
        Err(_) => args,
    }
}

/// The arguments in the contents of /proc/PID/cmdline: each one ends with a NUL.
fn split_cmdline(cmdline: &[u8]) -> Vec<std::ffi::OsString> {
    use std::os::unix::ffi::OsStrExt;
    if cmdline.is_empty() {
        return Vec::new();
    }
    let cmdline = cmdline.strip_suffix(b"\0").unwrap_or(cmdline);
    cmdline
        .split(|&b| b == 0)
        .map(|a| std::ffi::OsStr::from_bytes(a).to_os_string())
        .collect()
}

/// The runtime's check of the standard descriptors, which a C `main` skips: one that is closed would be
/// the next descriptor open(2) returns, a file the tool opens for its own use. Points each closed one of
/// 0 to 2 at /dev/null; returns whether standard output was closed (the caller decides what that means).
pub fn reopen_closed_standard_descriptors() -> bool {
    let closed = |fd: std::os::fd::BorrowedFd<'_>| {
        rustix::io::fcntl_getfd(fd) == Err(rustix::io::Errno::BADF)
    };
    let stdout_closed = closed(std::io::stdout().as_fd());
    for fd in [
        std::io::stdin().as_fd(),
        std::io::stdout().as_fd(),
        std::io::stderr().as_fd(),
    ] {
        if closed(fd) {
            // open(2) returns the lowest free descriptor: this one, as the lower ones are open by now.
            if let Ok(null) = rustix::fs::open(
                "/dev/null",
                rustix::fs::OFlags::RDWR,
                rustix::fs::Mode::empty(),
            ) {
                let _ = null.into_raw_fd();
            }
        }
    }
    stdout_closed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_lines_split_on_nul_keeping_empty_arguments() {
        let os = |a: &[&str]| a.iter().map(std::ffi::OsString::from).collect::<Vec<_>>();
        assert_eq!(
            split_cmdline(b"mmcounter\0--by\0-2\0\0c\0"),
            os(&["mmcounter", "--by", "-2", "", "c"])
        );
        assert_eq!(split_cmdline(b"mmcounter\0c"), os(&["mmcounter", "c"]));
        assert_eq!(split_cmdline(b""), os(&[]));
        assert_eq!(program_args(), std::env::args_os().collect::<Vec<_>>());
    }
}
