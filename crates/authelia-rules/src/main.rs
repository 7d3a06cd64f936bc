fn main() -> std::process::ExitCode {
    homey_kit::cli::main_with(authelia_rules::MANUAL, |cli: &authelia_rules::Cli| cli.verbosity, authelia_rules::run)
}
