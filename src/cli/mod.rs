//! The command-line layer: one module per tool (its clap arguments, plan and run), plus what they share.
//! Only this layer prints or sets exit codes.

pub mod cachedoc;
pub mod common;
pub mod messages;
pub mod mmadvise;
pub mod mmcount;
pub mod mmcounter;
pub mod mmcp;
pub mod mmstat;
pub mod quote;
pub mod schema;
pub mod walkargs;

/// A tool's command definition and hand-written man page sections, for generating man pages and
/// completions.
#[derive(Debug, Clone, Copy)]
pub struct Tool {
    /// The program name.
    pub name: &'static str,
    /// The clap command.
    pub command: fn() -> clap::Command,
    /// Extra man page sections, as (title, text) pairs.
    pub man_sections: &'static [(&'static str, &'static str)],
}

/// Every tool that has been built.
pub const TOOLS: &[Tool] = &[
    Tool {
        name: "mmcount",
        command: mmcount::command,
        man_sections: mmcount::MAN_SECTIONS,
    },
    Tool {
        name: "mmadvise",
        command: mmadvise::command,
        man_sections: mmadvise::MAN_SECTIONS,
    },
    Tool {
        name: "mmcounter",
        command: mmcounter::command,
        man_sections: mmcounter::MAN_SECTIONS,
    },
    Tool {
        name: "mmstat",
        command: mmstat::command,
        man_sections: mmstat::MAN_SECTIONS,
    },
    Tool {
        name: "mmcp",
        command: mmcp::command,
        man_sections: mmcp::MAN_SECTIONS,
    },
];
