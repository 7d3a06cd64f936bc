fn main() -> std::process::ExitCode {
    homey_kit::cli::main_with(backup_hooks::MANUAL, |cli: &backup_hooks::Cli| cli.verbosity, backup_hooks::run)
}
