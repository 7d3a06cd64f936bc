//! Integration tests of the `backup-hooks` binary: one test binary per crate.

mod commands;
mod faults;
mod harness;
mod roundtrip;
mod s3;

use std::process::Command;

#[test]
fn help_is_a_manual() {
    use clap::CommandFactory;
    let cmd = backup_hooks::Cli::command();
    assert_eq!(homey_kit::manual::problems(&cmd, backup_hooks::MANUAL), Vec::<String>::new());
}

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_backup-hooks"));
    c.env(test_support::NO_HOST_CREDENTIALS.0, test_support::NO_HOST_CREDENTIALS.1);
    c
}

#[test]
fn help_and_version_work() {
    let help = bin().args(["run", "--help"]).output().unwrap();
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(text.contains("Exit codes:") && text.contains("78") && text.contains("Examples:"), "{text}");
    let help = bin().args(["check-config", "--help"]).output().unwrap();
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(text.contains("--file-only") && !text.contains(" 75 "), "check-config has no lock: {text}");
    let version = bin().arg("--version").output().unwrap();
    assert_eq!(String::from_utf8_lossy(&version.stdout).trim(), concat!("backup-hooks ", env!("CARGO_PKG_VERSION")));
}

#[test]
fn every_option_has_help_text() {
    use clap::CommandFactory;
    assert_eq!(homey_kit::manual::undescribed(&backup_hooks::Cli::command()), Vec::<String>::new());
}
