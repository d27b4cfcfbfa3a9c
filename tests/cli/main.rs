//! Black-box tests of the real binaries, in temporary directories. One integration target; one module
//! per tool, plus hazards (faults and bad input), bounds (resources held), blockdev (block devices
//! named), eio and fuse (devices that fail to read), escapes (trees changed while walked, links planted
//! for a tool to follow), dialect and schema (what all five tools share), man (staleness of man pages
//! and completions), startup (how the binaries are linked), warmup (restore, budgets and throttling of
//! mmadvise) and examples (the deployment files under examples/, parsed and run).

mod blockdev;
mod bounds;
mod cache;
mod dialect;
mod eio;
mod escapes;
mod examples;
mod follow;
mod fuse;
mod hazards;
mod man;
mod mmadvise;
mod mmcount;
mod mmcounter;
mod mmcp;
mod mmstat;
mod names;
mod restore_match;
mod schema;
mod startup;
mod util;
mod warmup;
