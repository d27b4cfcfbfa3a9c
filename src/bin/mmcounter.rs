//! mmcounter: a persistent counter in a mapped file or POSIX shared memory that never loses an update.

fn main() -> std::process::ExitCode {
    mmtools::cli::mmcounter::main()
}
