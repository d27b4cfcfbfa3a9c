//! mmcount: count spaces, blanks, white space, lines, words, bytes or any byte through memory maps.

fn main() -> std::process::ExitCode {
    mmtools::cli::mmcount::main()
}
