fn main() -> std::process::ExitCode {
    homey_kit::cli::main(|cli: &net_watchdog::Cli| cli.verbosity, net_watchdog::run)
}
