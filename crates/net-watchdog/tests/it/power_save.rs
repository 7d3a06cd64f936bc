//! `power-save` against a fake `iw` that behaves like the real one: `set` changes what `get` prints.

use crate::lab::{code, stderr};
use std::process::Command;
use test_support::Fakes;

fn power_save(fakes: &Fakes, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_net-watchdog"))
        .arg("power-save")
        .args(args)
        .env("PATH", fakes.path_env())
        .output()
        .unwrap()
}

fn iw(d: &std::path::Path, obeys: bool) -> Fakes {
    let f = Fakes::new(d);
    let set = if obeys { "set ps=off\n" } else { "" };
    f.script("iw", &format!("when set power_save off\n{set}---\nwhen get power_save\nstdout Power save: {{ps}}\n"));
    f.set_state("ps", "on");
    f
}

#[test]
fn off_sets_and_reads_back_and_status_prints_it() {
    let d = tempfile::tempdir().unwrap();
    let f = iw(d.path(), true);
    let out = power_save(&f, &["--interface", "wlan0", "--status"]);
    assert_eq!((code(&out), String::from_utf8_lossy(&out.stdout).trim()), (0, "on"));
    let out = power_save(&f, &["--interface", "wlan0", "--off"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let lines: Vec<String> = f.calls_of("iw").iter().map(|c| c.args().join(" ")).collect();
    assert_eq!(lines[1..], ["dev wlan0 set power_save off", "dev wlan0 get power_save"]);
    let out = power_save(&f, &["--interface", "wlan0", "--status"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "off");
}

#[test]
fn off_that_does_not_stick_fails() {
    let d = tempfile::tempdir().unwrap();
    let f = iw(d.path(), false);
    let out = power_save(&f, &["--off"]);
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("power save on wlan0 is still on"), "{}", stderr(&out));
}

#[test]
fn iw_failing_or_missing_is_reported() {
    let d = tempfile::tempdir().unwrap();
    let f = Fakes::new(d.path());
    f.script("iw", "exit 237\nstderr command failed: No such device (-19)\n");
    let out = power_save(&f, &["--interface", "wlan9", "--status"]);
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("No such device"), "{}", stderr(&out));
    let out = power_save(&f, &["--status", "--iw", "/nonexistent/iw"]);
    assert_eq!(code(&out), 69, "{}", stderr(&out));
    assert!(stderr(&out).contains("/nonexistent/iw"), "{}", stderr(&out));
    let out = power_save(&f, &[]);
    assert_eq!(code(&out), 2, "one of --off or --status");
}
