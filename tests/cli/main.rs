//! Black-box tests of the real binaries, in temporary directories. One integration target; one module
//! per tool, plus hazards (faults and bad input), fuse (a FUSE filesystem's files, and its I/O errors),
//! man (staleness of man pages and completions) and startup (how the binaries are linked).

mod dialect;
mod eio;
mod fuse;
mod hazards;
mod man;
mod mmadvise;
mod mmcount;
mod mmcounter;
mod mmcp;
mod mmstat;
mod names;
mod schema;
mod startup;
mod util;
