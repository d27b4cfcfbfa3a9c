//! Black-box tests of the real binaries, in temporary directories. One integration target; one module
//! per tool, plus hazards (faults and bad input), man (staleness of man pages and completions) and
//! startup (how the binaries are linked).

mod dialect;
mod eio;
mod hazards;
mod man;
mod mmadvise;
mod mmcount;
mod mmcounter;
mod mmcp;
mod mmstat;
mod names;
mod startup;
mod util;
