fn main() -> std::process::ExitCode {
    homey_kit::cli::main(|cli: &kuma_sync::Cli| cli.verbosity, kuma_sync::run)
}
