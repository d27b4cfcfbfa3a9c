//! mmcounter: a persistent counter in a mapped file or POSIX shared memory that never loses an update.
//! It starts as a C `main`, without Rust's runtime set-up: see `mmtools::cli::mmcounter::start`.
#![no_main]

mmtools::c_main!(mmtools::cli::mmcounter::start);
