fn main() -> std::process::ExitCode {
    matrix_sync::cli::main()
}
