fn main() -> std::process::ExitCode {
    homey_kit::cli::main(|cli: &authelia_rules::Cli| cli.verbosity, authelia_rules::run)
}
