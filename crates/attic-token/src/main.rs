fn main() -> std::process::ExitCode {
    homey_kit::cli::main_with(attic_token::MANUAL, |cli: &attic_token::Cli| cli.verbosity, attic_token::run)
}
