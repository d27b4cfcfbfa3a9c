//! What rustix and memmap2 lack, wrapped once: raw system calls and signal handling. These modules (and
//! `map`) are the only places where `unsafe` is allowed; every block carries a `// SAFETY:` comment.

pub mod advise;
pub mod cachestat;
pub mod daemon;
pub mod entry;
pub mod ioprio;
pub mod locale;
pub mod lock;
pub mod populate;
pub mod sigbus;
pub mod signals;
pub mod terminal;
pub mod wait;
pub mod writeback;

pub use sigbus::Guard;
