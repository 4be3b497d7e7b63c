fn main() -> std::process::ExitCode {
    orion_bot::cli::main()
}
