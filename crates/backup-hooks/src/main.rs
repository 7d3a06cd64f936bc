fn main() -> std::process::ExitCode {
    homey_kit::cli::main(|cli: &backup_hooks::Cli| cli.verbosity, backup_hooks::run)
}
