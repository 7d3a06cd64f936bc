//! net-watchdog: keep the Pi on the network without reboot loops.
//!
//! `check` probes the gateway (and any extra targets); when nothing answers it switches WiFi power
//! save off, restarts wpa_supplicant, waits, probes again, and only then asks systemd to reboot —
//! never during the boot grace, never beyond the reboot budget, never when it could not measure.
//! `power-save` is the interface-up hook; `status` shows what happened and the budget left.

pub mod args;
pub mod check;
pub mod power_save;
pub mod probe;
pub mod route;
pub mod state;

use anyhow::Context;
use homey_kit::Exit;
use homey_kit::cli::Verbosity;
use homey_kit::manual::Page;
use homey_kit::process::{Cancel, SystemRunner};
use homey_kit::units::GivenDuration;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, clap::Parser)]
#[command(
    name = "net-watchdog",
    version,
    about = "Gateway probe, then restart wpa_supplicant, then reboot, without reboot loops."
)]
pub struct Cli {
    #[command(flatten)]
    pub verbosity: Verbosity,
    #[command(subcommand)]
    pub command: Command,
}

/// Each subcommand's exit codes and examples, shown under its `--help` and in its man page.
pub const MANUAL: &[Page] = &[
    Page {
        command: "check",
        exits: &[
            (Exit::Ok, "healthy: the gateway or a target answered; nothing was done"),
            (Exit::Warnings, "recovered: nothing answered, and after the restart something did"),
            (Exit::Failed, "still dead after the restart, so a reboot was asked for (--dry-run: would be)"),
            (Exit::Unavailable, "the probe is broken (no interface, no default route, no socket): no action"),
            (
                Exit::TryAgain,
                "still dead, but the reboot was held back (boot grace, reboot budget); or another check \
                 holds the lock; or a signal stopped it before a reboot",
            ),
            (Exit::BadInput, "the state file is not valid; nothing was done"),
            (Exit::Config, "the state directory cannot be made (by hand: run as root, or pass --state-dir)"),
        ],
        examples: &[
            ("By hand over SSH, changing nothing", "net-watchdog check --dry-run"),
            (
                "Also count a TCP answer from the router's web interface",
                "net-watchdog check --target 192.168.1.1:443 --dry-run",
            ),
            ("The report as JSON", "net-watchdog check --dry-run --json | jq .ending"),
        ],
    },
    Page {
        command: "power-save",
        exits: &[
            (Exit::Ok, "power save is off (read back), or its state was printed"),
            (Exit::Failed, "iw failed, or power save is still on after switching it off"),
            (Exit::Unavailable, "iw cannot be run"),
        ],
        examples: &[
            ("Is power save on?", "net-watchdog power-save --status"),
            ("Switch it off (the interface-up hook does this)", "net-watchdog power-save --off --interface wlan0"),
        ],
    },
    Page {
        command: "status",
        exits: &[
            (Exit::Ok, "printed (also when nothing is recorded yet)"),
            (Exit::BadInput, "the state file is not valid"),
        ],
        examples: &[
            ("What happened, and the reboot budget left", "net-watchdog status"),
            ("Against the budget the timer's check uses", "net-watchdog status --max-reboots 3 --reboot-window 24h"),
            ("As JSON", "net-watchdog status --json | jq .budget"),
        ],
    },
];

#[derive(Debug, clap::Subcommand)]
// Parsed once per process: the size of the largest variant costs nothing.
#[allow(clippy::large_enum_variant)]
pub enum Command {
    /// Probe; when nothing answers, repair, probe again, and reboot as the last resort.
    Check(CheckArgs),
    /// Switch WiFi power save off (read back to confirm), or print whether it is on.
    PowerSave(PowerSaveArgs),
    /// Recent checks and actions, and the reboot budget left.
    Status(StatusArgs),
}

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The interface whose network is watched; every probe is bound to it.
    #[arg(long, default_value = "wlan0", value_parser = args::interface)]
    pub interface: String,
    /// `auto` (the interface's default route, lowest metric) or an IPv4 address.
    #[arg(long, default_value = "auto", value_parser = args::GatewaySpec::parse)]
    pub gateway: args::GatewaySpec,
    /// Another signal: an IPv4 address (ICMP echo) or IP:PORT (TCP connect). Repeatable.
    #[arg(long = "target", value_name = "IP | IP:PORT", value_parser = args::Target::parse)]
    pub targets: Vec<args::Target>,
    /// The unit restarted when nothing answers.
    #[arg(long, default_value = "wpa_supplicant.service", value_parser = args::unit)]
    pub restart_unit: String,
    /// How long to wait after the restart before probing again.
    #[arg(long, default_value = "30s", value_parser = args::settle)]
    pub settle: GivenDuration,
    /// At most this many reboots per --reboot-window (0: never reboot).
    #[arg(long, default_value_t = 3)]
    pub max_reboots: u32,
    /// The window the reboot budget counts over (30m, 24h, 7d).
    #[arg(long, default_value = "24h", value_parser = args::window)]
    pub reboot_window: GivenDuration,
    /// No reboot while the uptime is below this.
    #[arg(long, default_value = "5m", value_parser = args::grace)]
    pub boot_grace: GivenDuration,
    /// Probes per target.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=20))]
    pub count: u32,
    /// How long each probe waits for its answer.
    #[arg(long, default_value = "1s", value_parser = args::probe_timeout)]
    pub timeout: Duration,
    /// Where the reboot record and history live [default: $STATE_DIRECTORY, else /var/lib/net-watchdog].
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// The systemctl that restarts the unit and reboots (a name on PATH or a path).
    #[arg(long, default_value = "systemctl")]
    pub systemctl: PathBuf,
    /// The iw that switches WiFi power save off before the restart (a name on PATH or a path).
    #[arg(long, default_value = "iw")]
    pub iw: PathBuf,
    /// Say what would be done; change nothing (no restart, no reboot, no state written).
    #[arg(long)]
    pub dry_run: bool,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct PowerSaveArgs {
    /// The WiFi interface.
    #[arg(long, default_value = "wlan0", value_parser = args::interface)]
    pub interface: String,
    /// Switch it off and read it back.
    #[arg(long, conflicts_with = "status", required_unless_present = "status")]
    pub off: bool,
    /// Print `on` or `off`.
    #[arg(long)]
    pub status: bool,
    /// The iw to run (a name on PATH or a path).
    #[arg(long, default_value = "iw")]
    pub iw: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// Where check keeps its record [default: $STATE_DIRECTORY, else /var/lib/net-watchdog]; only read.
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// The budget to report against (as given to check).
    #[arg(long, default_value_t = 3)]
    pub max_reboots: u32,
    /// The budget's window (as given to check).
    #[arg(long, default_value = "24h", value_parser = args::window)]
    pub reboot_window: GivenDuration,
    /// Print the record and the budget as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

pub fn run(cli: Cli) -> anyhow::Result<Exit> {
    match cli.command {
        Command::Check(a) => run_check(a),
        Command::PowerSave(a) => run_power_save(a),
        Command::Status(a) => run_status(a),
    }
}

fn run_check(a: CheckArgs) -> anyhow::Result<Exit> {
    let cfg = check::Config {
        interface: a.interface,
        gateway: a.gateway,
        targets: a.targets,
        restart_unit: a.restart_unit,
        settle: a.settle,
        max_reboots: a.max_reboots,
        reboot_window: a.reboot_window,
        boot_grace: a.boot_grace,
        effort: probe::Effort { count: a.count, timeout: a.timeout },
        systemctl: a.systemctl,
        iw: a.iw,
        dry_run: a.dry_run,
    };
    // The lock keeps a manual run and the timer's from both spending the budget; a dry run takes
    // none and creates nothing.
    let (dir, _lock) = if cfg.dry_run {
        (homey_kit::state::StateDir::locate("net-watchdog", a.state_dir.as_deref()), None)
    } else {
        let sd = homey_kit::state::StateDir::resolve("net-watchdog", a.state_dir.as_deref())?;
        let lock = sd.lock("check", "net-watchdog check")?;
        (sd.path().to_owned(), Some(lock))
    };
    let file = state::path(&dir);
    let mut st = state::load(&file)?;
    let save = |s: &state::State| homey_kit::fs::write_atomic(&file, s.to_json().as_bytes(), 0o644);
    let deps = check::Deps {
        net: &check::SystemNet,
        runner: &SystemRunner,
        clock: &homey_kit::clock::SystemClock,
        cancel: Cancel::on_signals(),
    };
    let report = check::check(&cfg, &deps, &mut st, &save)?;
    if a.json {
        homey_kit::outln!("{}", serde_json::to_string_pretty(&report).expect("report serialises"))?;
    }
    Ok(report.ending.exit())
}

fn run_power_save(a: PowerSaveArgs) -> anyhow::Result<Exit> {
    if a.off {
        power_save::set_off(&SystemRunner, &a.iw, &a.interface)?;
        homey_kit::notice!("power save on {} is off (read back)", a.interface);
    } else {
        homey_kit::outln!("{}", power_save::get(&SystemRunner, &a.iw, &a.interface)?.word())?;
    }
    Ok(Exit::Ok)
}

fn run_status(a: StatusArgs) -> anyhow::Result<Exit> {
    use homey_kit::clock::Clock;
    let file = state::path(&homey_kit::state::StateDir::locate("net-watchdog", a.state_dir.as_deref()));
    let st = state::load(&file)?;
    let now = homey_kit::clock::SystemClock.unix();
    let used = st.reboots_within(now, a.reboot_window.value).len();
    let left = (a.max_reboots as usize).saturating_sub(used);
    if a.json {
        let v = serde_json::json!({
            "state_file": file,
            "budget": {"max": a.max_reboots, "window_secs": a.reboot_window.value.as_secs(), "window": a.reboot_window.text, "used": used, "left": left},
            "reboots": st.reboots,
            "events": st.events,
        });
        homey_kit::outln!("{}", serde_json::to_string_pretty(&v).context("printing")?)?;
        return Ok(Exit::Ok);
    }
    homey_kit::out!("{}", render_status(&st, &file, now, a.max_reboots, &a.reboot_window))?;
    Ok(Exit::Ok)
}

pub fn render_status(st: &state::State, file: &Path, now: u64, max: u32, window: &GivenDuration) -> String {
    use args::utc;
    let used = st.reboots_within(now, window.value).len();
    let mut out = format!("state: {}\n", file.display());
    out += &format!(
        "reboot budget: {} of {max} left ({} in the last {window})\n",
        (max as usize).saturating_sub(used),
        homey_kit::units::count(used, "reboot", "reboots"),
    );
    match st.reboots.last() {
        Some(r) => out += &format!("last reboot: {}: {}\n", utc(r.at), r.reason),
        None => out += "last reboot: none recorded\n",
    }
    if st.events.is_empty() {
        out += "no checks recorded yet\n";
        return out;
    }
    out += "recent checks and actions (oldest first):\n";
    for e in &st.events {
        let until = if e.last_at > e.at { format!(" (again until {})", utc(e.last_at)) } else { String::new() };
        out += &format!("  {}  {:<12}  {}{until}\n", utc(e.at), e.kind.name(), e.detail);
    }
    out
}

#[cfg(test)]
mod tests;
