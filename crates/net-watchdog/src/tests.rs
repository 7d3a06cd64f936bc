//! The escalation ladder, driven through the seams: a scripted network, a fake runner, a fake clock.

use crate::args::{GatewaySpec, Target};
use crate::check::{Config, Deps, Ending, Net, check};
use crate::probe::{Effort, Outcome};
use crate::state::State;
use homey_kit::clock::FakeClock;
use homey_kit::process::{Cancel, FakeRunner, Output};
use homey_kit::units::GivenDuration;
use std::cell::RefCell;
use std::sync::Mutex;
use std::time::Duration;

const NOW: u64 = 1_795_764_699;

struct ScriptedNet {
    exists: bool,
    wireless: bool,
    routes: String,
    uptime: Duration,
    /// One list of outcomes per probe round, in order.
    rounds: Mutex<Vec<Vec<Outcome>>>,
    asked: Mutex<Vec<Vec<Target>>>,
}

fn routes(gw: &str) -> String {
    let hex = |a: &str| format!("{:08X}", u32::from_ne_bytes(a.parse::<std::net::Ipv4Addr>().unwrap().octets()));
    format!(
        "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\n\
         wlan0\t00000000\t{}\t0003\t0\t0\t600\t00000000\t0\t0\t0\n",
        hex(gw)
    )
}

impl ScriptedNet {
    fn new(rounds: Vec<Vec<Outcome>>) -> ScriptedNet {
        ScriptedNet {
            exists: true,
            wireless: true,
            routes: routes("192.168.1.1"),
            uptime: Duration::from_secs(3600),
            rounds: Mutex::new(rounds),
            asked: Mutex::default(),
        }
    }
}

impl Net for ScriptedNet {
    fn interface_exists(&self, _: &str) -> bool {
        self.exists
    }
    fn is_wireless(&self, _: &str) -> bool {
        self.wireless
    }
    fn route_table(&self) -> std::io::Result<String> {
        Ok(self.routes.clone())
    }
    fn uptime(&self) -> std::io::Result<Duration> {
        Ok(self.uptime)
    }
    fn probe(&self, _: &str, targets: &[Target], _: Effort) -> Vec<Outcome> {
        self.asked.lock().unwrap().push(targets.to_vec());
        let mut r = self.rounds.lock().unwrap();
        assert!(!r.is_empty(), "more probe rounds than scripted");
        let out = r.remove(0);
        assert_eq!(out.len(), targets.len(), "scripted outcomes per target");
        out
    }
}

fn cfg() -> Config {
    Config {
        interface: "wlan0".into(),
        gateway: GatewaySpec::Auto,
        targets: vec![],
        restart_unit: "wpa_supplicant.service".into(),
        settle: GivenDuration::parse("30s").unwrap(),
        max_reboots: 3,
        reboot_window: GivenDuration::parse("24h").unwrap(),
        boot_grace: GivenDuration::parse("5m").unwrap(),
        effort: Effort { count: 3, timeout: Duration::from_secs(1) },
        systemctl: "/run/current-system/sw/bin/systemctl".into(),
        iw: "iw".into(),
        dry_run: false,
    }
}

fn up() -> Outcome {
    Outcome::Answered { rtt: Duration::from_millis(3), note: None }
}
fn down() -> Outcome {
    Outcome::NoAnswer("no answer to 3 echo requests (1s each)".into())
}

struct Run {
    ending: Ending,
    commands: Vec<String>,
    saves: Vec<State>,
    sleeps: Duration,
    asked: Vec<Vec<Target>>,
    reason: String,
}

fn run(cfg: &Config, net: ScriptedNet, state: &mut State) -> Run {
    let runner = FakeRunner::new(|c| {
        Ok(if c.args.iter().any(|a| a == "get") { Output::ok("Power save: off\n") } else { Output::ok("") })
    });
    let clock = FakeClock::at_unix(NOW);
    let saves = RefCell::new(vec![]);
    let save = |s: &State| {
        saves.borrow_mut().push(s.clone());
        Ok(())
    };
    let deps = Deps { net: &net, runner: &runner, clock: &clock, cancel: Cancel::new() };
    let report = check(cfg, &deps, state, &save).unwrap();
    Run {
        ending: report.ending,
        commands: runner.command_lines(),
        saves: saves.into_inner(),
        sleeps: clock.sleeps().iter().sum(),
        asked: net.asked.into_inner().unwrap(),
        reason: report.reason,
    }
}

#[test]
fn healthy_does_nothing_and_probes_the_routes_gateway() {
    let mut st = State::default();
    let r = run(&cfg(), ScriptedNet::new(vec![vec![up()]]), &mut st);
    assert_eq!(r.ending, Ending::Healthy);
    assert!(r.commands.is_empty());
    assert_eq!(r.asked, vec![vec![Target::Icmp("192.168.1.1".parse().unwrap())]]);
    assert_eq!(r.reason, "gateway 192.168.1.1 answered");
    assert_eq!(r.saves.len(), 1, "the first healthy check is recorded");
}

#[test]
fn dead_then_back_after_restart_is_recovered_without_reboot() {
    let mut st = State::default();
    let r = run(&cfg(), ScriptedNet::new(vec![vec![down()], vec![up()]]), &mut st);
    assert_eq!(r.ending, Ending::Recovered);
    assert_eq!(
        r.commands,
        [
            "iw dev wlan0 set power_save off",
            "iw dev wlan0 get power_save",
            "/run/current-system/sw/bin/systemctl restart wpa_supplicant.service",
        ]
    );
    assert_eq!(r.sleeps, Duration::from_secs(30));
    assert!(st.reboots.is_empty());
}

#[test]
fn still_dead_records_the_reason_before_asking_for_the_reboot() {
    let mut st = State::default();
    let mut net = ScriptedNet::new(vec![vec![down()], vec![down()]]);
    net.wireless = false;
    let r = run(&cfg(), net, &mut st);
    assert_eq!(r.ending, Ending::Reboot);
    assert_eq!(
        r.commands,
        [
            "/run/current-system/sw/bin/systemctl restart wpa_supplicant.service",
            "/run/current-system/sw/bin/systemctl reboot",
        ],
        "not wireless: power save left alone"
    );
    let saved = r.saves.last().expect("saved before the reboot");
    assert_eq!(saved.reboots.len(), 1);
    assert_eq!(saved.reboots[0].at, NOW + 30);
    assert!(saved.reboots[0].reason.contains("after restarting wpa_supplicant.service and waiting 30s"), "{saved:?}");
}

#[test]
fn reboot_is_not_asked_for_when_it_cannot_be_recorded() {
    let mut st = State::default();
    let net = ScriptedNet::new(vec![vec![down()], vec![down()]]);
    let runner = FakeRunner::default();
    let clock = FakeClock::at_unix(NOW);
    let deps = Deps { net: &net, runner: &runner, clock: &clock, cancel: Cancel::new() };
    let err = check(&cfg(), &deps, &mut st, &|_| anyhow::bail!("No space left on device")).unwrap_err();
    assert!(format!("{err:#}").contains("not rebooting") && format!("{err:#}").contains("No space left"));
    assert!(!runner.command_lines().iter().any(|c| c.ends_with("reboot")), "{:?}", runner.command_lines());
}

#[test]
fn boot_grace_and_budget_hold_the_reboot_back() {
    let mut st = State::default();
    let mut net = ScriptedNet::new(vec![vec![down()], vec![down()]]);
    net.uptime = Duration::from_secs(120);
    let r = run(&cfg(), net, &mut st);
    assert_eq!(r.ending, Ending::HeldBack);
    assert!(r.reason.starts_with("uptime 2m is within the boot grace of 5m"), "{}", r.reason);
    assert!(!r.commands.iter().any(|c| c.ends_with("reboot")));

    let mut c = cfg();
    c.max_reboots = 1;
    let mut st = State::default();
    st.record_reboot(NOW - 3600, "earlier");
    let r = run(&c, ScriptedNet::new(vec![vec![down()], vec![down()]]), &mut st);
    assert_eq!(r.ending, Ending::HeldBack);
    assert!(r.reason.contains("reboot budget spent: 1 reboot in the last 24h (max 1)"), "{}", r.reason);
    assert_eq!(st.reboots.len(), 1);
}

#[test]
fn probe_broken_never_acts() {
    // No default route via the interface.
    let mut net = ScriptedNet::new(vec![]);
    net.routes = routes("192.168.1.1").replace("wlan0", "eth0");
    let r = run(&cfg(), net, &mut State::default());
    assert_eq!(r.ending, Ending::ProbeBroken);
    assert!(r.commands.is_empty() && r.asked.is_empty());
    assert!(r.reason.contains("no default route via wlan0 (default routes go via eth0)"), "{}", r.reason);

    // No such interface, even with a fixed gateway and targets.
    let mut c = cfg();
    c.gateway = GatewaySpec::Fixed("192.168.1.1".parse().unwrap());
    c.targets = vec![Target::Tcp("192.168.1.10:443".parse().unwrap())];
    let mut net = ScriptedNet::new(vec![]);
    net.exists = false;
    let r = run(&c, net, &mut State::default());
    assert_eq!(r.ending, Ending::ProbeBroken);
    assert!(r.commands.is_empty());

    // A socket error on the only target; the other one silent: not measured, so nothing done.
    let mut c = cfg();
    c.targets = vec![Target::Icmp("192.168.1.10".parse().unwrap())];
    let net = ScriptedNet::new(vec![vec![Outcome::Broken("cannot open an ICMP socket".into()), down()]]);
    let r = run(&c, net, &mut State::default());
    assert_eq!(r.ending, Ending::ProbeBroken);
    assert!(r.commands.is_empty());
}

#[test]
fn any_answer_is_health_even_with_a_broken_probe() {
    let mut c = cfg();
    c.targets = vec![Target::Tcp("192.168.1.10:443".parse().unwrap())];
    let net = ScriptedNet::new(vec![vec![Outcome::Broken("x".into()), up()]]);
    assert_eq!(run(&c, net, &mut State::default()).ending, Ending::Healthy);
}

#[test]
fn dry_run_acts_on_nothing_and_writes_nothing() {
    let mut c = cfg();
    c.dry_run = true;
    let mut st = State::default();
    let r = run(&c, ScriptedNet::new(vec![vec![down()]]), &mut st);
    assert_eq!(r.ending, Ending::Reboot, "the dry run ends as the real run would");
    assert!(r.commands.is_empty(), "{:?}", r.commands);
    assert!(r.saves.is_empty());
    assert_eq!(r.sleeps, Duration::ZERO);
    assert_eq!(st, State::default());
}

#[test]
fn status_shows_budget_reasons_and_folded_runs() {
    let mut st = State::default();
    st.record(NOW - 7200, crate::state::Kind::Healthy, "gateway 192.168.1.1 answered");
    st.record(NOW - 3000, crate::state::Kind::Healthy, "gateway 192.168.1.1 answered");
    st.record_reboot(NOW - 600, "no answer on wlan0 after restarting wpa_supplicant.service");
    let text = crate::render_status(
        &st,
        std::path::Path::new("/var/lib/net-watchdog/state.json"),
        NOW,
        3,
        &GivenDuration::parse("24h").unwrap(),
    );
    insta::assert_snapshot!(text);
}

#[test]
fn a_history_that_cannot_be_written_does_not_change_the_outcome() {
    let net = ScriptedNet::new(vec![vec![down()], vec![up()]]);
    let runner = FakeRunner::new(|_| Ok(Output::ok("Power save: off\n")));
    let clock = FakeClock::at_unix(NOW);
    let deps = Deps { net: &net, runner: &runner, clock: &clock, cancel: Cancel::new() };
    let report = check(&cfg(), &deps, &mut State::default(), &|_| anyhow::bail!("No space left on device")).unwrap();
    assert_eq!(report.ending, Ending::Recovered);
}

#[test]
fn report_of_the_whole_ladder() {
    let mut c = cfg();
    c.targets = vec![Target::Tcp("192.168.1.100:443".parse().unwrap())];
    let net = ScriptedNet::new(vec![
        vec![down(), Outcome::NoAnswer("no connection in 3 attempts (1s each; last: Connection timed out)".into())],
        vec![down(), Outcome::NoAnswer("no connection in 3 attempts (1s each; last: No route to host)".into())],
    ]);
    let runner = FakeRunner::new(|c| {
        Ok(if c.args.iter().any(|a| a == "get") { Output::ok("Power save: off\n") } else { Output::ok("") })
    });
    let clock = FakeClock::at_unix(NOW);
    let deps = Deps { net: &net, runner: &runner, clock: &clock, cancel: Cancel::new() };
    let mut st = State::default();
    let report = check(&c, &deps, &mut st, &|_| Ok(())).unwrap();
    // The reason is what the round after the restart saw, not the round before it.
    assert!(report.reason.contains("No route to host") && !report.reason.contains("timed out"), "{}", report.reason);
    assert_eq!(st.reboots[0].reason, report.reason);
    insta::assert_json_snapshot!(report);
}
