//! mmtools: command-line tools built on memory-mapped files.
//!
//! The core modules map, window, count and create files and print nothing; the [`cli`] module parses
//! arguments, calls the core and reports. `unsafe` lives only in [`map`] and [`sys`].
//!
//! - [`input`]: opening an input and deciding how to read it (map, empty, or read(2)).
//! - [`map`]: page-aligned read-only and read-write maps of byte ranges, guarded against SIGBUS.
//! - [`sys`]: raw system calls and the SIGBUS guard.
//! - [`window`]: bounded windows and the one driver over maps or read buffers.
//! - [`count`]: counting kernels for `mmcount`.
//! - [`residency`]: page-cache residency through cachestat or windowed mincore, per file and over
//!   whole runs of trees, standard input and processes (mmstat), in bounded memory.
//! - [`counter`]: the persistent counter of `mmcounter`: format, bounds, locked update.
//! - [`copy`]: the copy engine of `mmcp`: mapped windows, sparse extents, atomic replacement.
//! - [`dest`]: creating, sizing and preallocating output files.
//! - [`procmaps`]: the files a process maps or holds open (mmstat --pid).
//! - [`walk`]: the tree walker (by directory descriptors) shared by the tools that walk.
//! - [`names0`]: NUL-separated name lists (`--files0-from`), read as a stream.
//! - [`snapshot`]: the residency snapshot format (mmstat --save, mmadvise restore).
//! - [`advise`]: prefetching, loading, evicting, locking and advising for `mmadvise`.
//! - [`range`]: the one byte range `[start, end)`: page rounding, clamping, intersection, windows.
//! - [`size`]: size and range parsing, human-readable sizes.
//! - [`name`]: file names in JSON: the lossy text plus the exact bytes in base64.
//! - [`fingerprint`]: a cheap content fingerprint of sampled blocks (snapshots).
//! - [`error`]: the core error type.

pub mod advise;
pub mod cache;
pub mod cli;
pub mod copy;
pub mod count;
pub mod counter;
pub mod dest;
pub mod error;
pub mod fingerprint;
pub mod input;
pub mod map;
pub mod mounts;
pub mod name;
pub mod names0;
pub mod procmaps;
pub mod range;
pub mod residency;
pub mod size;
pub mod snapshot;
pub mod sys;
#[cfg(test)]
mod testing;
pub mod walk;
pub mod window;
