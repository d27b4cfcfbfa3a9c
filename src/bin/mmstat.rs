//! mmstat: page-cache residency of files, trees and processes.

fn main() -> std::process::ExitCode {
    mmtools::cli::mmstat::main()
}
