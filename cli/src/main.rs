//! `anfang`; everything lives in the library.
fn main() -> std::process::ExitCode {
    anfang_cli::main()
}
