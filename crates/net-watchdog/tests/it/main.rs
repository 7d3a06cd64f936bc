//! Integration tests of the `net-watchdog` binary: one test binary per crate.
//!
//! The check runs for real inside network namespaces the tests create (real ICMP, real TCP);
//! systemctl and iw are the fake executable, so nothing reaches the host.

mod by_hand;
mod check;
mod lab;
mod power_save;

use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_net-watchdog"))
}

#[test]
fn help_is_a_manual_and_version_works() {
    let help = bin().args(["check", "--help"]).output().unwrap();
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    for part in
        ["Exit codes:", "  75  still dead, but the reboot was held back", "Examples:", "$ net-watchdog check --dry-run"]
    {
        assert!(text.contains(part), "{part:?} missing from:\n{text}");
    }
    let top = bin().arg("--help").output().unwrap();
    let top = String::from_utf8_lossy(&top.stdout);
    assert!(top.contains("net-watchdog help COMMAND") && !top.contains("Exit codes:"), "{top}");
    let version = bin().arg("--version").output().unwrap();
    assert_eq!(String::from_utf8_lossy(&version.stdout).trim(), concat!("net-watchdog ", env!("CARGO_PKG_VERSION")));
}

#[test]
fn every_option_has_help_and_every_command_a_manual_page() {
    use clap::CommandFactory;
    let cmd = homey_kit::manual::apply(net_watchdog::Cli::command(), net_watchdog::MANUAL);
    assert_eq!(homey_kit::manual::problems(&cmd, net_watchdog::MANUAL), Vec::<String>::new());
}

#[test]
fn man_pages_and_completions_are_generated() {
    let d = tempfile::tempdir().unwrap();
    let out = bin().arg("--generate-manual").arg(d.path()).output().unwrap();
    assert!(out.status.success() && out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
    let check = std::fs::read_to_string(d.path().join("man1/net-watchdog-check.1")).unwrap();
    assert!(check.contains("reboot\\-window") && check.contains("held back"), "{check}");
    for f in [
        "man1/net-watchdog.1",
        "man1/net-watchdog-status.1",
        "completions/net-watchdog.bash",
        "completions/_net-watchdog",
        "completions/net-watchdog.fish",
    ] {
        assert!(d.path().join(f).is_file(), "{f}");
    }
}

#[test]
fn bad_flags_are_usage_errors_naming_the_value() {
    // A dry run with a fake systemctl and nothing else on PATH: if a regression let a bad flag through,
    // the check would still change nothing on this host, and the fake would say it was called.
    let d = tempfile::tempdir().unwrap();
    let fakes = test_support::Fakes::new(&d.path().join("fakes"));
    let systemctl = fakes.install("systemctl");
    fakes.install("iw");
    let state = d.path().join("state");
    for (flag, value, says) in [
        ("--target", "nas.example.com", "no hostnames"),
        ("--gateway", "fe80::1", "IPv4 only"),
        ("--restart-unit", "--force", "not a unit name"),
        ("--interface", "../../etc", "not an interface name"),
        ("--timeout", "0s", "between"),
    ] {
        let out = bin()
            .args(["check", "--dry-run", "--iw", "iw"])
            .arg("--state-dir")
            .arg(&state)
            .arg("--systemctl")
            .arg(&systemctl)
            .arg(format!("{flag}={value}"))
            .env("PATH", fakes.path_env())
            .env_remove("STATE_DIRECTORY")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flag} {value}: {err}");
        assert!(err.contains(value) && err.contains(says), "{flag} {value}: {err}");
    }
    assert!(!state.exists(), "nothing written");
    assert!(fakes.calls().is_empty(), "{:?}", fakes.calls());
}
