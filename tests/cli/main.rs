//! Black-box tests of the real binaries, in temporary directories. One integration target; one module
//! per tool, plus hazards (faults and bad input), man (staleness of man pages and completions), races
//! (trees changed while they are walked) and startup (how the binaries are linked).

mod hazards;
mod man;
mod mmadvise;
mod mmcount;
mod mmcounter;
mod mmcp;
mod mmstat;
mod races;
mod startup;
mod util;
