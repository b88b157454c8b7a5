//! The real server entry point, rebuilt with the tests (see Cargo.toml).
fn main() -> std::process::ExitCode {
    anfang_server::cli::main()
}
