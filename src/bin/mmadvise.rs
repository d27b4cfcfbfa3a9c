//! mmadvise: prefetch, load, evict, lock and advise files in the page cache, and check what happened.

fn main() -> std::process::ExitCode {
    mmtools::cli::mmadvise::main()
}
