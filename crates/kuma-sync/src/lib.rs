//! kuma-sync: Make Uptime Kuma's monitors match a declared list, over its socket.io API; hash-gated.

use homey_kit::Exit;
use homey_kit::cli::Verbosity;

#[derive(Debug, clap::Parser)]
#[command(name = "kuma-sync", version, about = "Make Uptime Kuma's monitors match a declared list, over its socket.io API; hash-gated.", after_help = homey_kit::exit::EXIT_HELP)]
pub struct Cli {
    #[command(flatten)]
    pub verbosity: Verbosity,
}

pub fn run(_cli: Cli) -> anyhow::Result<Exit> {
    homey_kit::warn!("kuma-sync: no subcommands yet");
    Ok(Exit::Usage)
}
