fn main() -> std::process::ExitCode {
    homey_kit::cli::main_with(kuma_sync::MANUAL, |cli: &kuma_sync::Cli| cli.verbosity, kuma_sync::run)
}
