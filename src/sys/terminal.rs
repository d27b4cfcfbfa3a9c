//! The terminal: its size behind a file descriptor (the TIOCGWINSZ ioctl, for drawing residency maps
//! as wide as the terminal; rustix has it only behind a feature the crate does not otherwise need),
//! and an answer read from standard input that a termination signal can interrupt.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsFd, AsRawFd};

/// Reads one line (without its newline) from standard input, a byte at a time so that nothing after
/// it is consumed. `None` when `stop` says so after a signal interrupted the read.
pub fn read_answer(stop: &dyn Fn() -> bool) -> io::Result<Option<Vec<u8>>> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        match rustix::io::read(rustix::stdio::stdin(), &mut byte) {
            Ok(0) => return Ok(Some(line)),
            Ok(_) if byte[0] == b'\n' => return Ok(Some(line)),
            Ok(_) => line.push(byte[0]),
            Err(rustix::io::Errno::INTR) if stop() => return Ok(None),
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

/// The terminal's width and height in character cells, or `None` when `fd` is not a terminal (or the
/// terminal does not know its size).
pub fn size(fd: impl AsFd) -> Option<(u16, u16)> {
    // SAFETY: winsize is plain old data, so all zeroes is a valid value.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ writes one struct winsize through the pointer, which points to `ws`, alive and
    // exclusively borrowed for the call; `fd` is a valid descriptor borrowed for the call.
    let rc = unsafe {
        libc::ioctl(
            fd.as_fd().as_raw_fd(),
            libc::TIOCGWINSZ,
            &mut ws as *mut libc::winsize,
        )
    };
    (rc == 0 && ws.ws_col > 0).then_some((ws.ws_col, ws.ws_row))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_regular_file_has_no_size() {
        let file = tempfile::tempfile().unwrap();
        assert_eq!(size(&file), None);
    }
}
