//! `anfang-server`; everything lives in the library (see `cli`).
fn main() -> std::process::ExitCode {
    anfang_server::cli::main()
}
