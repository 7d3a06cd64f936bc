//! Integration tests of the `net-watchdog` binary: one test binary per crate.
//!
//! The check runs for real inside network namespaces the tests create (real ICMP, real TCP);
//! systemctl and iw are the fake executable, so nothing reaches the host.

mod check;
mod lab;
mod power_save;

use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_net-watchdog"))
}

#[test]
fn help_and_version_work() {
    let help = bin().arg("--help").output().unwrap();
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(text.contains("Exit codes:") && text.contains("78"), "{text}");
    let version = bin().arg("--version").output().unwrap();
    assert_eq!(String::from_utf8_lossy(&version.stdout).trim(), concat!("net-watchdog ", env!("CARGO_PKG_VERSION")));
}

#[test]
fn bad_flags_are_usage_errors_naming_the_value() {
    let d = tempfile::tempdir().unwrap();
    for (flag, value, says) in [
        ("--target", "nas.example.com", "no hostnames"),
        ("--gateway", "fe80::1", "IPv4 only"),
        ("--restart-unit", "--force", "not a unit name"),
        ("--interface", "../../etc", "not an interface name"),
        ("--timeout", "0s", "between"),
    ] {
        let out = bin().arg("check").arg("--state-dir").arg(d.path()).arg(format!("{flag}={value}")).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flag} {value}: {err}");
        assert!(err.contains(value) && err.contains(says), "{flag} {value}: {err}");
    }
    assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 0, "nothing written");
}
