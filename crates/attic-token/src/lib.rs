//! attic-token: Attic tokens minted natively (byte-compatible with atticadm), the runtime server config, the Nix netrc.

use homey_kit::Exit;
use homey_kit::cli::Verbosity;

#[derive(Debug, clap::Parser)]
#[command(name = "attic-token", version, about = "Attic tokens minted natively (byte-compatible with atticadm), the runtime server config, the Nix netrc.", after_help = homey_kit::exit::EXIT_HELP)]
pub struct Cli {
    #[command(flatten)]
    pub verbosity: Verbosity,
}

pub fn run(_cli: Cli) -> anyhow::Result<Exit> {
    homey_kit::warn!("attic-token: no subcommands yet");
    Ok(Exit::Usage)
}
