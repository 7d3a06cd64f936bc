//! One check: probe, and when nothing answers climb the ladder — power save off (WiFi), restart the
//! supplicant, settle, probe again, and only then reboot, within the boot grace and the budget.
//!
//! Everything the check touches comes in through seams (`Net` for sockets, sysfs and /proc;
//! `Runner` for systemctl and iw; `Clock`; a `save` callback for the state), so the ladder is tested
//! without a network; the integration tests run it for real in network namespaces.

use crate::args::{GatewaySpec, Target};
use crate::probe::{Effort, Outcome};
use crate::state::{Kind, RebootDecision, State, decide_reboot};
use anyhow::Context;
use homey_kit::Exit;
use homey_kit::clock::Clock;
use homey_kit::process::{Cancel, Cmd, Runner};
use homey_kit::units::GivenDuration;
use serde::Serialize;
use std::path::PathBuf;
use std::time::Duration;

const RESTART_TIMEOUT: Duration = Duration::from_secs(120);
const REBOOT_TIMEOUT: Duration = Duration::from_secs(60);

/// The system as the check sees it.
pub trait Net {
    fn interface_exists(&self, iface: &str) -> bool;
    fn is_wireless(&self, iface: &str) -> bool;
    fn route_table(&self) -> std::io::Result<String>;
    fn uptime(&self) -> std::io::Result<Duration>;
    /// One outcome per target, in order.
    fn probe(&self, iface: &str, targets: &[Target], effort: Effort) -> Vec<Outcome>;
}

pub struct SystemNet;

impl Net for SystemNet {
    fn interface_exists(&self, iface: &str) -> bool {
        crate::probe::interface_exists(iface)
    }
    fn is_wireless(&self, iface: &str) -> bool {
        let dir = std::path::Path::new("/sys/class/net").join(iface);
        dir.join("wireless").exists() || dir.join("phy80211").exists()
    }
    fn route_table(&self) -> std::io::Result<String> {
        std::fs::read_to_string("/proc/net/route")
    }
    fn uptime(&self) -> std::io::Result<Duration> {
        // CLOCK_BOOTTIME counts suspend too, like /proc/uptime, without parsing a file.
        let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: a valid timespec to fill.
        if unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
    }
    fn probe(&self, iface: &str, targets: &[Target], effort: Effort) -> Vec<Outcome> {
        crate::probe::all(iface, targets, effort)
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub interface: String,
    pub gateway: GatewaySpec,
    pub targets: Vec<Target>,
    pub restart_unit: String,
    pub settle: GivenDuration,
    pub max_reboots: u32,
    pub reboot_window: GivenDuration,
    pub boot_grace: GivenDuration,
    pub effort: Effort,
    pub systemctl: PathBuf,
    pub iw: PathBuf,
    pub dry_run: bool,
}

pub struct Deps<'a> {
    pub net: &'a dyn Net,
    pub runner: &'a dyn Runner,
    pub clock: &'a dyn Clock,
    pub cancel: Cancel,
}

#[derive(Debug, Clone, Serialize)]
pub struct Probe {
    pub role: &'static str,
    pub target: String,
    pub kind: &'static str,
    pub outcome: &'static str,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rtt_ms: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Healthy,
    Dead,
    ProbeBroken,
}

#[derive(Debug, Clone, Serialize)]
pub struct Round {
    pub verdict: Verdict,
    pub probes: Vec<Probe>,
}

impl Round {
    fn answered(&self) -> Option<&Probe> {
        self.probes.iter().find(|p| p.outcome == "answered")
    }
    fn summary(&self, outcome: &str) -> String {
        let parts: Vec<String> = self
            .probes
            .iter()
            .filter(|p| p.outcome == outcome)
            .map(|p| format!("{} {}: {}", p.role, p.target, p.detail))
            .collect();
        parts.join("; ")
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Action {
    pub action: &'static str,
    pub detail: String,
    /// done, failed: …, skipped: …, or dry-run.
    pub result: String,
}

/// What the check ended with; each has its own exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Ending {
    /// 0: a target answered; nothing done.
    Healthy,
    /// 3: dead at first, answered after the repair.
    Recovered,
    /// 69: could not measure (no interface, no default route, no socket); no action.
    ProbeBroken,
    /// 1: still dead after the repair; a reboot was asked of systemd (or would be, in a dry run).
    Reboot,
    /// 75: still dead, but the boot grace or the reboot budget held the reboot back.
    HeldBack,
}

impl Ending {
    pub fn exit(self) -> Exit {
        match self {
            Ending::Healthy => Exit::Ok,
            Ending::Recovered => Exit::Warnings,
            Ending::ProbeBroken => Exit::Unavailable,
            Ending::Reboot => Exit::Failed,
            Ending::HeldBack => Exit::TryAgain,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub interface: String,
    pub dry_run: bool,
    pub ending: Ending,
    pub reason: String,
    pub exit: u8,
    pub rounds: Vec<Round>,
    pub actions: Vec<Action>,
}

/// The targets of one round: the gateway (resolved anew each round) and the extra targets.
fn round(cfg: &Config, net: &dyn Net, label: &str) -> Round {
    let iface = &cfg.interface;
    let mut probes = vec![];
    let mut to_probe: Vec<(&'static str, Target)> = vec![];
    let gateway_broken = |reason: String| Probe {
        role: "gateway",
        target: match cfg.gateway {
            GatewaySpec::Auto => "auto".into(),
            GatewaySpec::Fixed(a) => a.to_string(),
        },
        kind: "icmp",
        outcome: "broken",
        detail: reason,
        rtt_ms: None,
    };
    if !net.interface_exists(iface) {
        probes.push(gateway_broken(format!("no interface {iface}")));
    } else {
        match cfg.gateway {
            GatewaySpec::Fixed(a) => to_probe.push(("gateway", Target::Icmp(a))),
            GatewaySpec::Auto => {
                let gw = net
                    .route_table()
                    .map_err(|e| format!("reading /proc/net/route: {e}"))
                    .and_then(|t| crate::route::parse(&t).map_err(|e| format!("/proc/net/route: {e}")))
                    .and_then(|routes| crate::route::default_gateway(&routes, iface));
                match gw {
                    Ok(a) => to_probe.push(("gateway", Target::Icmp(a))),
                    Err(e) => probes.push(gateway_broken(e)),
                }
            }
        }
    }
    to_probe.extend(cfg.targets.iter().map(|t| ("target", *t)));
    let outcomes = if to_probe.is_empty() {
        vec![]
    } else if net.interface_exists(iface) {
        let list: Vec<Target> = to_probe.iter().map(|(_, t)| *t).collect();
        net.probe(iface, &list, cfg.effort)
    } else {
        vec![Outcome::Broken(format!("no interface {iface}")); to_probe.len()]
    };
    let probed: Vec<Probe> = to_probe
        .iter()
        .zip(outcomes)
        .map(|((role, t), o)| {
            let (outcome, detail, rtt_ms) = match o {
                Outcome::Answered { rtt, note } => {
                    let ms = rtt.as_secs_f64() * 1e3;
                    let d = match note {
                        Some(n) => format!("answered in {ms:.1} ms ({n})"),
                        None => format!("answered in {ms:.1} ms"),
                    };
                    ("answered", d, Some((ms * 1000.0).round() / 1000.0))
                }
                Outcome::NoAnswer(d) => ("no-answer", d, None),
                Outcome::Broken(d) => ("broken", d, None),
                Outcome::NotAwaited => ("not-awaited", "another target answered first".to_owned(), None),
            };
            Probe { role, target: t.to_string(), kind: t.kind(), outcome, detail, rtt_ms }
        })
        .collect();
    probes.extend(probed);
    for p in &probes {
        let line =
            format!("{label}probe {} {} ({} via {iface}): {}: {}", p.role, p.target, p.kind, p.outcome, p.detail);
        match p.outcome {
            "answered" => homey_kit::info!("{line}"),
            "not-awaited" => homey_kit::debug!("{line}"),
            "broken" => homey_kit::error!("{line}"),
            _ => homey_kit::warn!("{line}"),
        }
    }
    // Any answer is health; otherwise a probe we could not run means we do not know, so we do nothing.
    let verdict = if probes.iter().any(|p| p.outcome == "answered") {
        Verdict::Healthy
    } else if probes.iter().any(|p| p.outcome == "broken") {
        Verdict::ProbeBroken
    } else {
        Verdict::Dead
    };
    Round { verdict, probes }
}

fn finish(cfg: &Config, ending: Ending, reason: String, rounds: Vec<Round>, actions: Vec<Action>) -> Report {
    Report {
        interface: cfg.interface.clone(),
        dry_run: cfg.dry_run,
        ending,
        reason,
        exit: ending.exit().code(),
        rounds,
        actions,
    }
}

/// Sleep through the settle time in slices, so SIGTERM (systemd stopping us) is honoured promptly.
fn settle(clock: &dyn Clock, cancel: &Cancel, total: Duration) -> bool {
    let slice = Duration::from_millis(250);
    let mut left = total;
    while !left.is_zero() {
        if cancel.is_cancelled() {
            return false;
        }
        let d = left.min(slice);
        clock.sleep(d);
        left -= d;
    }
    !cancel.is_cancelled()
}

/// Run the check. `save` persists the state (never called in a dry run).
pub fn check(
    cfg: &Config,
    deps: &Deps,
    state: &mut State,
    save: &dyn Fn(&State) -> anyhow::Result<()>,
) -> anyhow::Result<Report> {
    let dry = cfg.dry_run;
    let iface = &cfg.interface;
    // History is for people; failing to write it (a full disk) must not change what the check does
    // or how it ends. Only the reboot record is load-bearing, and it is handled on its own below.
    let record = |state: &mut State, kind: Kind, detail: &str| -> anyhow::Result<()> {
        if !dry && state.record(deps.clock.unix(), kind, detail) {
            if let Err(e) = save(state) {
                homey_kit::warn!("could not record this check ({}): {e:#}", kind.name());
            }
        }
        Ok(())
    };

    let first = round(cfg, deps.net, "");
    match first.verdict {
        Verdict::Healthy => {
            let p = first.answered().expect("healthy has an answer");
            let detail = format!("{} {} answered", p.role, p.target);
            homey_kit::info!("healthy: {detail}; nothing to do");
            record(state, Kind::Healthy, &detail)?;
            return Ok(finish(cfg, Ending::Healthy, detail, vec![first], vec![]));
        }
        Verdict::ProbeBroken => {
            let detail = first.summary("broken");
            homey_kit::error!("probe broken, so no action: {detail}");
            record(state, Kind::ProbeBroken, &detail)?;
            return Ok(finish(cfg, Ending::ProbeBroken, detail, vec![first], vec![]));
        }
        Verdict::Dead if dry => homey_kit::warn!("dead: no target answered on {iface}; dry run: showing the repair"),
        Verdict::Dead => homey_kit::warn!("dead: no target answered on {iface}; repairing"),
    }

    let mut actions = vec![];
    let prefix = if dry { "dry run: would " } else { "" };
    if deps.net.is_wireless(iface) {
        let cmd = crate::power_save::set_off_cmd(&cfg.iw, iface);
        let result = if dry {
            "dry-run".to_owned()
        } else {
            match crate::power_save::set_off(deps.runner, &cfg.iw, iface) {
                Ok(()) => "done".to_owned(),
                Err(e) => format!("failed: {e:#}"),
            }
        };
        let line = if dry {
            format!("{prefix}switch power save off on {iface} (`{cmd}`)")
        } else {
            format!("switch power save off on {iface} (`{cmd}`): {result}")
        };
        if result.starts_with("failed") {
            homey_kit::warn!("{line}")
        } else {
            homey_kit::notice!("{line}")
        }
        actions.push(Action { action: "power-save-off", detail: cmd.to_string(), result });
    } else {
        homey_kit::debug!("{iface} is not wireless: power save left alone");
    }

    let restart = Cmd::new(&cfg.systemctl)
        .args(["restart", cfg.restart_unit.as_str()])
        .timeout(RESTART_TIMEOUT)
        .cancel_on(&deps.cancel);
    let result = if dry {
        "dry-run".to_owned()
    } else {
        match deps.runner.run_ok(&restart) {
            Ok(_) => "done".to_owned(),
            Err(e) => format!("failed: {e:#}"),
        }
    };
    let line = if dry {
        format!("{prefix}restart {} (`{restart}`)", cfg.restart_unit)
    } else {
        format!("restart {} (`{restart}`): {result}", cfg.restart_unit)
    };
    if result.starts_with("failed") {
        homey_kit::warn!("{line}")
    } else {
        homey_kit::notice!("{line}")
    }
    actions.push(Action { action: "restart", detail: restart.to_string(), result });

    // The reason a reboot records is what the last round saw: after the restart when there was one.
    let mut dead_detail = first.summary("no-answer");
    let mut rounds = vec![first];
    let settle_text = cfg.settle.to_string();
    if dry {
        homey_kit::notice!("dry run: would wait {settle_text} and probe again; assuming it is still dead");
        actions.push(Action { action: "settle", detail: settle_text.clone(), result: "dry-run".into() });
    } else {
        homey_kit::info!("waiting {settle_text} for {iface} to settle");
        if !settle(deps.clock, &deps.cancel, cfg.settle.value) {
            homey_kit::fail!(Exit::TryAgain, "stopped by a signal while waiting to probe again; no reboot asked for");
        }
        actions.push(Action { action: "settle", detail: settle_text.clone(), result: "done".into() });
        let again = round(cfg, deps.net, "after restart: ");
        let verdict = again.verdict;
        let answered = again.answered().map(|p| format!("{} {}", p.role, p.target));
        let broken = again.summary("broken");
        let still_dead = again.summary("no-answer");
        rounds.push(again);
        match verdict {
            Verdict::Healthy => {
                let detail = format!(
                    "{} answered after restarting {} (before: {dead_detail})",
                    answered.unwrap_or_default(),
                    cfg.restart_unit
                );
                homey_kit::notice!("recovered: {detail}");
                record(state, Kind::Recovered, &detail)?;
                return Ok(finish(cfg, Ending::Recovered, detail, rounds, actions));
            }
            Verdict::ProbeBroken => {
                homey_kit::error!("probe broken after the restart, so no reboot: {broken}");
                record(state, Kind::ProbeBroken, &broken)?;
                return Ok(finish(cfg, Ending::ProbeBroken, broken, rounds, actions));
            }
            Verdict::Dead => dead_detail = still_dead,
        }
    }
    if deps.cancel.is_cancelled() {
        homey_kit::fail!(Exit::TryAgain, "stopped by a signal before deciding on a reboot; no reboot asked for");
    }

    let reason =
        format!("no answer on {iface} after restarting {} and waiting {settle_text}: {dead_detail}", cfg.restart_unit);
    let now = deps.clock.unix();
    let decision = match deps.net.uptime() {
        Ok(up) => decide_reboot(state, now, up, &cfg.boot_grace, cfg.max_reboots, &cfg.reboot_window),
        Err(e) => RebootDecision::HeldBack(format!("uptime unknown ({e}), so the boot grace cannot be checked")),
    };
    match decision {
        RebootDecision::HeldBack(why) => {
            homey_kit::warn!(
                "{}not rebooting: {why}; the network is still dead: {reason}",
                if dry { "dry run: " } else { "" }
            );
            record(state, Kind::HeldBack, &why)?;
            actions.push(Action { action: "reboot", detail: reason.clone(), result: format!("held back: {why}") });
            Ok(finish(cfg, Ending::HeldBack, format!("{why}; {reason}"), rounds, actions))
        }
        RebootDecision::Allowed { used, max } => {
            let budget = format!("reboot {} of {max} allowed in {}", used + 1, cfg.reboot_window);
            let reboot = Cmd::new(&cfg.systemctl).arg("reboot").timeout(REBOOT_TIMEOUT);
            if dry {
                homey_kit::notice!("dry run: would reboot (`{reboot}`; {budget}): {reason}");
                actions.push(Action { action: "reboot", detail: reason.clone(), result: "dry-run".into() });
                return Ok(finish(cfg, Ending::Reboot, reason, rounds, actions));
            }
            // The record comes first: the budget must count this reboot even if we never run again,
            // and if it cannot be written the budget cannot be kept, so there is no reboot.
            state.record_reboot(now, &reason);
            save(state).context("not rebooting: the reboot could not be recorded, so the budget could not be kept")?;
            homey_kit::error!("rebooting (`{reboot}`; {budget}): {reason}");
            deps.runner.run_ok(&reboot).context("asking systemd to reboot")?;
            actions.push(Action { action: "reboot", detail: reason.clone(), result: "done".into() });
            Ok(finish(cfg, Ending::Reboot, reason, rounds, actions))
        }
    }
}
