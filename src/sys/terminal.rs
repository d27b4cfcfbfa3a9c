//! The size of the terminal behind a file descriptor (the TIOCGWINSZ ioctl), for drawing residency maps
//! as wide as the terminal. rustix has it only behind a feature the crate does not otherwise need.
#![allow(unsafe_code)]

use std::os::fd::{AsFd, AsRawFd};

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
