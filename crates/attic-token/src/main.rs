fn main() -> std::process::ExitCode {
    homey_kit::cli::main(|cli: &attic_token::Cli| cli.verbosity, attic_token::run)
}
