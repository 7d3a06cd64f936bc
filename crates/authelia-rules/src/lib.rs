//! authelia-rules: Priority-sorted Authelia access control: render, lint, explain, check subjects against LDAP.

use homey_kit::Exit;
use homey_kit::cli::Verbosity;

#[derive(Debug, clap::Parser)]
#[command(name = "authelia-rules", version, about = "Priority-sorted Authelia access control: render, lint, explain, check subjects against LDAP.", after_help = homey_kit::exit::EXIT_HELP)]
pub struct Cli {
    #[command(flatten)]
    pub verbosity: Verbosity,
}

pub fn run(_cli: Cli) -> anyhow::Result<Exit> {
    homey_kit::warn!("authelia-rules: no subcommands yet");
    Ok(Exit::Usage)
}
