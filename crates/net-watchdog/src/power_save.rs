//! WiFi power save through `iw`: the brcmfmac driver drops idle connections with it on.

use homey_kit::process::{Cmd, Runner};
use homey_kit::{Exit, ResultExt};
use std::path::Path;
use std::time::Duration;

const IW_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PowerSave {
    On,
    Off,
}

impl PowerSave {
    pub fn word(self) -> &'static str {
        match self {
            PowerSave::On => "on",
            PowerSave::Off => "off",
        }
    }
}

pub fn set_off_cmd(iw: &Path, iface: &str) -> Cmd {
    Cmd::new(iw).args(["dev", iface, "set", "power_save", "off"]).timeout(IW_TIMEOUT)
}

pub fn get_cmd(iw: &Path, iface: &str) -> Cmd {
    Cmd::new(iw).args(["dev", iface, "get", "power_save"]).timeout(IW_TIMEOUT)
}

/// `iw dev wlan0 get power_save` prints `Power save: on` or `Power save: off`.
pub fn parse(stdout: &str) -> Result<PowerSave, String> {
    for line in stdout.lines() {
        if let Some(v) = line.trim().strip_prefix("Power save:") {
            return match v.trim() {
                "on" => Ok(PowerSave::On),
                "off" => Ok(PowerSave::Off),
                other => Err(format!("unexpected power save state {other:?}")),
            };
        }
    }
    Err(format!("no \"Power save:\" line in iw's output {:?}", stdout.trim()))
}

/// Run `iw`; a missing `iw` is "unavailable" rather than a failure of the interface.
fn run(runner: &dyn Runner, cmd: &Cmd) -> anyhow::Result<String> {
    let out = runner.run(cmd).exit_code(Exit::Unavailable)?;
    if !out.status.success() {
        let tail = out.stderr_tail.trim();
        let said = if tail.is_empty() { out.stdout_str().trim().to_owned() } else { tail.to_owned() };
        anyhow::bail!("`{cmd}` {}: {said}", out.status);
    }
    Ok(out.stdout_str())
}

pub fn get(runner: &dyn Runner, iw: &Path, iface: &str) -> anyhow::Result<PowerSave> {
    let cmd = get_cmd(iw, iface);
    let out = run(runner, &cmd)?;
    parse(&out).map_err(|e| anyhow::anyhow!("`{cmd}`: {e}"))
}

/// Switch power save off and read it back: the driver may refuse silently.
pub fn set_off(runner: &dyn Runner, iw: &Path, iface: &str) -> anyhow::Result<()> {
    run(runner, &set_off_cmd(iw, iface))?;
    match get(runner, iw, iface)? {
        PowerSave::Off => Ok(()),
        PowerSave::On => anyhow::bail!("power save on {iface} is still on after `{}`", set_off_cmd(iw, iface)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use homey_kit::process::{FakeRunner, Output};

    #[test]
    fn parses_iw_output() {
        assert_eq!(parse("Power save: on\n"), Ok(PowerSave::On));
        assert_eq!(parse("\tPower save: off\n"), Ok(PowerSave::Off));
        assert!(parse("command failed").unwrap_err().contains("no \"Power save:\" line"));
        assert!(parse("Power save: maybe").is_err());
    }

    #[test]
    fn set_off_confirms_by_reading_back() {
        let stubborn =
            FakeRunner::new(|c| Ok(Output::ok(if c.args.contains(&"get".into()) { "Power save: on\n" } else { "" })));
        let err = set_off(&stubborn, Path::new("iw"), "wlan0").unwrap_err();
        assert!(format!("{err}").contains("still on"), "{err}");
        assert_eq!(stubborn.command_lines(), ["iw dev wlan0 set power_save off", "iw dev wlan0 get power_save"]);
        let fine = FakeRunner::new(|_| Ok(Output::ok("Power save: off\n")));
        set_off(&fine, Path::new("iw"), "wlan0").unwrap();
    }

    #[test]
    fn iw_errors_carry_its_message_and_a_missing_iw_is_unavailable() {
        let no_dev = FakeRunner::new(|_| Ok(Output::failed(237, "command failed: No such device (-19)")));
        let err = get(&no_dev, Path::new("iw"), "wlan9").unwrap_err();
        assert!(format!("{err}").contains("No such device"), "{err}");
        let missing = FakeRunner::new(|_| anyhow::bail!("starting `iw`: No such file or directory"));
        assert_eq!(Exit::of(&get(&missing, Path::new("iw"), "wlan0").unwrap_err()), Exit::Unavailable);
    }
}
