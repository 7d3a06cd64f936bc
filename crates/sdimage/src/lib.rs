//! sdimage: Build the bootstrap SD image and write it to a card safely, verified.

use homey_kit::Exit;
use homey_kit::cli::Verbosity;

#[derive(Debug, clap::Parser)]
#[command(name = "sdimage", version, about = "Build the bootstrap SD image and write it to a card safely, verified.", after_help = homey_kit::exit::EXIT_HELP)]
pub struct Cli {
    #[command(flatten)]
    pub verbosity: Verbosity,
}

pub fn run(_cli: Cli) -> anyhow::Result<Exit> {
    homey_kit::warn!("sdimage: no subcommands yet");
    Ok(Exit::Usage)
}
