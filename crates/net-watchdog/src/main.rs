fn main() -> std::process::ExitCode {
    homey_kit::cli::main_with(net_watchdog::MANUAL, |cli: &net_watchdog::Cli| cli.verbosity, net_watchdog::run)
}
