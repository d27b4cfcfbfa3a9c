//! The directory-walking flags shared by the tools that walk (mmadvise, mmstat): `-L`, `-x`,
//! `--include`, `--exclude`, `--min-size`, `--max-size`, defined once as a clap group that turns into
//! [`WalkOptions`] for [`crate::walk::walk`].

use clap::Args;

use crate::cli::common::parse_size_arg;
use crate::walk::WalkOptions;

/// How directories named on the command line are walked.
#[derive(Debug, Clone, Default, Args)]
pub struct WalkArgs {
    /// Follow symbolic links while walking directories (loops are detected and skipped); without it,
    /// links met inside directories are skipped with a note, and links named on the command line are
    /// followed
    #[arg(short = 'L', long = "dereference")]
    pub follow_links: bool,

    /// Stay on the filesystem of each directory named on the command line
    #[arg(short = 'x', long = "one-file-system")]
    pub one_file_system: bool,

    /// Only files whose name (or, with a /, whose path) matches GLOB; repeatable
    #[arg(long, value_name = "GLOB")]
    pub include: Vec<String>,

    /// Leave out files and directories whose name (or path) matches GLOB; repeatable
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,

    /// Leave out files smaller than SIZE (such as 4K or 1M)
    #[arg(long, value_name = "SIZE", value_parser = parse_size_arg)]
    pub min_size: Option<u64>,

    /// Leave out files larger than SIZE
    #[arg(long, value_name = "SIZE", value_parser = parse_size_arg)]
    pub max_size: Option<u64>,
}

impl WalkArgs {
    /// The walk these flags ask for (walker threads left at the walker's default).
    pub fn to_options(&self) -> WalkOptions {
        WalkOptions {
            follow_links: self.follow_links,
            one_file_system: self.one_file_system,
            include: self.include.clone(),
            exclude: self.exclude.clone(),
            min_size: self.min_size,
            max_size: self.max_size,
            threads: 0,
            block_devices: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        walk: WalkArgs,
    }

    #[test]
    fn flags_become_options() {
        let cli = Cli::parse_from([
            "t",
            "-L",
            "-x",
            "--include",
            "*.db",
            "--exclude",
            "tmp",
            "--min-size",
            "4K",
            "--max-size",
            "1G",
        ]);
        let o = cli.walk.to_options();
        assert!(o.follow_links && o.one_file_system);
        assert_eq!(
            (o.include, o.exclude),
            (vec!["*.db".into()], vec!["tmp".into()])
        );
        assert_eq!((o.min_size, o.max_size), (Some(4096), Some(1 << 30)));
        let none = Cli::parse_from(["t"]).walk.to_options();
        assert!(!none.follow_links && none.include.is_empty() && none.min_size.is_none());
    }
}
