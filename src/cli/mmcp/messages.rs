//! mmcp's words: every failure and planning problem of the copy core, worded as cp words it, so that
//! scripts matching cp's messages match mmcp's. Failures of the core's [`Error`] take the words of
//! the shared table, [`crate::cli::messages`].

use std::path::Path;

use crate::copy::Failure;
use crate::copy::plan::Problem;
use crate::error::{Error, Reason, describe};

/// A path quoted as cp quotes it in messages and `-v` lines (always quoted, escaped as the shell reads
/// it: `'a'$'\377''b'`).
pub(super) fn quote(path: &Path) -> String {
    crate::cli::quote::always(path)
}

/// The message for a failure, cp style; None for an interruption (the run dies of the signal).
pub fn message(failure: &Failure) -> Option<String> {
    let text = match failure {
        Failure::Interrupted => return None,
        Failure::Mismatch { src, dst, offset } => format!(
            "{}: verification failed: differs from {} at byte {offset}",
            crate::cli::quote::name(dst),
            quote(src)
        ),
        Failure::File(e) => file_message(e),
    };
    Some(text)
}

/// A core error in the shared table's words ([`crate::cli::messages`]), except a file that changed
/// size, which a copy words as its own.
fn file_message(e: &Error) -> String {
    match e.reason() {
        Reason::ChangedSize => format!(
            "{}: file changed size during copy",
            crate::cli::quote::name(e.path())
        ),
        _ => crate::cli::messages::message(e),
    }
}

/// Why an error happened, as its reason reads after the name.
fn why(e: &Error) -> String {
    match e.reason() {
        Reason::Io(io) => describe(io),
        _ => e.reason_text(),
    }
}

/// The message for a problem found while planning, about `path` (the source, unless the problem
/// concerns the destination).
pub(super) fn problem(path: &Path, problem: &Problem) -> String {
    let q = quote(path);
    match problem {
        Problem::Stat(e) => format!("cannot stat {}: {}", quote(e.path()), why(e)),
        Problem::Access(e) => format!("cannot access {}: {}", quote(e.path()), why(e)),
        Problem::OmitDirectory => format!("-r not specified; omitting directory {q}"),
        Problem::IntoItself(dst) => {
            format!("cannot copy a directory, {q}, into itself, {}", quote(dst))
        }
        Problem::SameFile(dst) => same_file(path, dst),
        Problem::NonDirectoryWithDirectory(src) => format!(
            "cannot overwrite non-directory {q} with directory {}",
            quote(src)
        ),
        Problem::DirectoryWithNonDirectory(dst) => format!(
            "cannot overwrite directory {} with non-directory",
            quote(dst)
        ),
        Problem::ThroughJustCreatedSymlink(dst) => format!(
            "will not copy {q} through just-created symlink {}",
            quote(dst)
        ),
        Problem::OverwriteJustCreated(dst) => {
            format!("will not overwrite just-created {} with {q}", quote(dst))
        }
        Problem::RelativeSymlinkElsewhere(dst) => format!(
            "{}: can make relative symbolic links only in current directory",
            crate::cli::quote::name(dst)
        ),
        Problem::LinkExists { symbolic, dst } => {
            let kind = if *symbolic {
                "symbolic link"
            } else {
                "hard link"
            };
            format!("cannot create {kind} {} to {q}: File exists", quote(dst))
        }
        Problem::NotWritable {
            dst,
            error,
            force_would_do,
        } => {
            let hint = if *force_would_do {
                " (use -f to replace it)"
            } else {
                ""
            };
            format!("cannot create {}: {}{hint}", quote(dst), describe(error))
        }
        Problem::BackupDestroysSource(dst) => format!(
            "backing up {} might destroy source;  {q} not copied",
            quote(dst)
        ),
        Problem::LeadingAttributes(e) => {
            format!("failed to get attributes of {q}: {}", why(e))
        }
        Problem::File(e) => file_message(e),
    }
}

/// cp's refusal of a copy of a file onto itself.
fn same_file(src: &Path, dst: &Path) -> String {
    format!("{} and {} are the same file", quote(src), quote(dst))
}
