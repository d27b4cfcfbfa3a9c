//! Black-box tests of the real binaries, in temporary directories. One integration target; one module
//! per tool, plus hazards (faults and bad input), bounds (resources held), man (staleness of man
//! pages and completions), escapes (trees changed while walked, links planted for a tool to follow)
//! and startup (how the binaries are linked).

mod bounds;
mod escapes;
mod hazards;
mod man;
mod mmadvise;
mod mmcount;
mod mmcounter;
mod mmcp;
mod mmstat;
mod startup;
mod util;
