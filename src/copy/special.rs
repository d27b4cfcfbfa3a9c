//! Copying into an existing destination that is not a regular file: a character or block device, or a
//! FIFO. cp writes the data into such a file; replacing it with a regular file (the temporary file and
//! rename that every other copy uses) would destroy /dev/null or a pipeline's FIFO. The data is written
//! in order, attributes are left alone (a copy must not chmod /dev/null), and a FIFO with no reader is
//! waited for, as cp waits, but the wait and the writes stop when [`Hooks::stop`] says so.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;
use std::time::Duration;

use super::{Copied, Failure, Hooks};
use crate::error::{Error, Op};
use crate::input::Input;

/// How often a FIFO with no reader is tried again.
const READER_POLL: Duration = Duration::from_millis(20);

/// Whether `dst` exists (after symlinks) and is a file that a copy must write into rather than replace:
/// a character or block device, or a FIFO. Sockets cannot be opened and fail on open, as with cp.
pub fn is_special(dst: &Path) -> bool {
    std::fs::metadata(dst).is_ok_and(|m| {
        let t = m.file_type();
        t.is_char_device() || t.is_block_device() || t.is_fifo() || t.is_socket()
    })
}

/// Writes the whole of `input` into the existing special file `dst`.
pub fn copy_into(input: &Input, dst: &Path, hooks: Hooks<'_>) -> Result<Copied, Failure> {
    let out = open_waiting(dst, &hooks)?;
    let bytes = super::engine::pump(input, hooks, None, |chunk, _| {
        (&out)
            .write_all(chunk)
            .map_err(|e| Failure::from(Error::io(Op::Write, dst, e)))
    })?;
    Ok(Copied {
        bytes,
        ..Copied::default()
    })
}

/// Opens `dst` for writing without blocking; a FIFO with no reader yet (ENXIO) is tried again until a
/// reader comes or `stop` says to give up. The descriptor is then made blocking for the writes.
fn open_waiting(dst: &Path, hooks: &Hooks<'_>) -> Result<File, Failure> {
    let open_err = |e: io::Error| Failure::from(Error::io(Op::Create, dst, e));
    loop {
        match OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(dst)
        {
            Ok(file) => {
                rustix::fs::fcntl_setfl(&file, rustix::fs::OFlags::empty())
                    .map_err(|e| open_err(e.into()))?;
                return Ok(file);
            }
            Err(e)
                if e.raw_os_error() == Some(libc::ENXIO)
                    && std::fs::metadata(dst).is_ok_and(|m| m.file_type().is_fifo()) =>
            {
                if (hooks.stop)() {
                    return Err(Failure::Interrupted);
                }
                std::thread::sleep(READER_POLL);
            }
            Err(e) => return Err(open_err(e)),
        }
    }
}
