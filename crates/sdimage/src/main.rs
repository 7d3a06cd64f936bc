fn main() -> std::process::ExitCode {
    homey_kit::cli::main_with(sdimage::MANUAL, |cli: &sdimage::Cli| cli.verbosity, sdimage::run)
}
