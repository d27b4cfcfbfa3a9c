//! mmcp: copy files through memory maps — sparse-aware, parallel, atomic, never half-written.

fn main() -> std::process::ExitCode {
    mmtools::cli::mmcp::main()
}
