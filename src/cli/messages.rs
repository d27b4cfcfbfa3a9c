//! The words for a failure of the core ([`Error`]: an operation, a path and a reason), one table for
//! every tool, in cp's wording so that a script matching cp's messages matches ours. mmcount alone
//! words its failures as wc does ([`named`]), since scripts match wc's.
//!
//! A name inside a sentence is always quoted, as cp quotes it (`'a b'`, `'a'$'\377''b'`); a name that
//! leads the message is quoted only when it needs to be, as `cat` and `wc` print it (see
//! [`crate::cli::quote`]). REASON is the OS's text without Rust's ` (os error N)`.
//!
//! | What failed                           | Message                                     |
//! |---------------------------------------|---------------------------------------------|
//! | opening to read ([`Op::Open`])        | `cannot open 'NAME' for reading: REASON`    |
//! | opening to update ([`Op::OpenWrite`]) | `cannot open 'NAME' for writing: REASON`    |
//! | fstat, statfs ([`Op::Stat`])          | `cannot stat 'NAME': REASON`                |
//! | reading ([`Op::Read`])                | `error reading 'NAME': REASON`              |
//! | mapping ([`Op::Map`])                 | `cannot map 'NAME': REASON`                 |
//! | locking ([`Op::Lock`])                | `cannot lock 'NAME': REASON`                |
//! | advice ([`Op::Advise`])               | `cannot advise 'NAME': REASON`              |
//! | creating ([`Op::Create`])             | `cannot create 'NAME': REASON`              |
//! | sizing ([`Op::Resize`])               | `cannot allocate 'NAME': REASON`            |
//! | writing ([`Op::Write`])               | `error writing 'NAME': REASON`              |
//! | flushing ([`Op::Sync`])               | `cannot sync 'NAME': REASON`                |
//! | attributes ([`Op::Attributes`])       | `setting attributes for 'NAME': REASON`     |
//! | removing ([`Op::Remove`])             | `cannot remove 'NAME': REASON`              |
//! | a directory where a file was expected | `NAME: Is a directory`                      |
//! | the file shrank while read            | `NAME: file changed size while being read`  |
//! | a walk found another file             | `NAME: replaced by another file during the walk` |
//! | a copy onto a dangling symlink        | `not writing through dangling symlink 'NAME'` |
//!
//! The tool prints the message after `TOOL: ` on standard error; a JSON `"error"` record carries the
//! same message, without that prefix, in its `"error"` field.

use std::io;
use std::path::Path;

use crate::cli::quote;
use crate::error::{Error, Op, Reason, describe};

/// The message for a core error, worded as the table above words it.
pub fn message(e: &Error) -> String {
    let name = || quote::name(e.path());
    match e.reason() {
        Reason::Io(io) => io_message(e.op(), e.path(), io),
        Reason::IsDirectory => format!("{}: Is a directory", name()),
        Reason::ChangedSize => format!("{}: file changed size while being read", name()),
        Reason::DanglingSymlink => format!(
            "not writing through dangling symlink {}",
            quote::always(e.path())
        ),
        Reason::Replaced => format!("{}: replaced by another file during the walk", name()),
    }
}

/// The message for the OS error `err` of the operation `op` on `path` (a row of the table above),
/// for failures that are not a core [`Error`] (a counter's, say).
pub fn io_message(op: Op, path: &Path, err: &io::Error) -> String {
    let q = quote::always(path);
    let why = describe(err);
    match op {
        Op::Open => format!("cannot open {q} for reading: {why}"),
        Op::OpenWrite => format!("cannot open {q} for writing: {why}"),
        Op::Stat => format!("cannot stat {q}: {why}"),
        Op::Read => format!("error reading {q}: {why}"),
        Op::Map => format!("cannot map {q}: {why}"),
        Op::Lock => format!("cannot lock {q}: {why}"),
        Op::Advise => format!("cannot advise {q}: {why}"),
        Op::Create => format!("cannot create {q}: {why}"),
        Op::Resize => format!("cannot allocate {q}: {why}"),
        Op::Write => format!("error writing {q}: {why}"),
        Op::Sync => format!("cannot sync {q}: {why}"),
        Op::Attributes => format!("setting attributes for {q}: {why}"),
        Op::Remove => format!("cannot remove {q}: {why}"),
    }
}

/// A core error as wc words it: `NAME: REASON`, the name quoted only when it needs to be (mmcount's
/// messages, which scripts match against wc's).
pub fn named(e: &Error) -> String {
    format!("{}: {}", quote::name(e.path()), e.reason_text())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(errno: i32) -> io::Error {
        io::Error::from_raw_os_error(errno)
    }

    #[test]
    fn words_as_cp_does() {
        let e = Error::io(Op::Open, "a b", os(libc::ENOENT));
        assert_eq!(
            message(&e),
            "cannot open 'a b' for reading: No such file or directory"
        );
        assert_eq!(named(&e), "'a b': No such file or directory");
        let e = Error::io(Op::Stat, "x", os(libc::EIO));
        assert_eq!(message(&e), "cannot stat 'x': Input/output error");
        let e = Error::io(Op::Lock, "x", os(libc::EAGAIN));
        assert_eq!(
            message(&e),
            "cannot lock 'x': Resource temporarily unavailable"
        );
        let e = Error::new(Op::Open, "d", Reason::IsDirectory);
        assert_eq!(message(&e), "d: Is a directory");
        let e = Error::new(Op::Read, "f", Reason::ChangedSize);
        assert_eq!(message(&e), "f: file changed size while being read");
    }
}
