//! backup-hooks: The nightly restic backup with Nextcloud maintenance mode and database/directory dumps.

use homey_kit::Exit;
use homey_kit::cli::Verbosity;

#[derive(Debug, clap::Parser)]
#[command(name = "backup-hooks", version, about = "The nightly restic backup with Nextcloud maintenance mode and database/directory dumps.", after_help = homey_kit::exit::EXIT_HELP)]
pub struct Cli {
    #[command(flatten)]
    pub verbosity: Verbosity,
}

pub fn run(_cli: Cli) -> anyhow::Result<Exit> {
    homey_kit::warn!("backup-hooks: no subcommands yet");
    Ok(Exit::Usage)
}
