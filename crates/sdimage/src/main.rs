fn main() -> std::process::ExitCode {
    homey_kit::cli::main(|cli: &sdimage::Cli| cli.verbosity, sdimage::run)
}
