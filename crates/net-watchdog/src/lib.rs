//! net-watchdog: Gateway probe, then restart wpa_supplicant, then reboot, without reboot loops.

use homey_kit::Exit;
use homey_kit::cli::Verbosity;

#[derive(Debug, clap::Parser)]
#[command(name = "net-watchdog", version, about = "Gateway probe, then restart wpa_supplicant, then reboot, without reboot loops.", after_help = homey_kit::exit::EXIT_HELP)]
pub struct Cli {
    #[command(flatten)]
    pub verbosity: Verbosity,
}

pub fn run(_cli: Cli) -> anyhow::Result<Exit> {
    homey_kit::warn!("net-watchdog: no subcommands yet");
    Ok(Exit::Usage)
}
