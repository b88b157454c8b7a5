//! The real CLI entry point, rebuilt with the tests (see Cargo.toml).
fn main() -> std::process::ExitCode {
    anfang_cli::main()
}
