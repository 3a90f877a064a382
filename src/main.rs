fn main() -> std::process::ExitCode {
    scim_sync::cli::main()
}
