//! Integration tests of the `authelia-rules` binary: one test binary per crate.

mod cli;
mod conformance;
mod ldap;

use std::path::PathBuf;
use std::process::{Command, Output};

pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_authelia-rules"))
}

/// The shared specs and conformance data: beside the checkout (CI lays a copy there), or $HOMEY_SHARED.
/// A user's clone has none: the tests that read it are left out there (xtask/src/test/needs.rs), and fail
/// loudly when run anyway.
pub fn shared() -> PathBuf {
    test_support::need(&[test_support::Need::SharedConformance]);
    test_support::shared_dir().unwrap()
}

pub fn cases() -> serde_json::Value {
    let p = shared().join("conformance/authelia/cases.json");
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).unwrap()
}

pub fn text(o: &Output) -> (String, String) {
    (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

#[test]
fn help_and_version_work() {
    let help = bin().arg("--help").output().unwrap();
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(text.contains("Exit codes:") && text.contains("78"), "{text}");
    let version = bin().arg("--version").output().unwrap();
    assert_eq!(String::from_utf8_lossy(&version.stdout).trim(), concat!("authelia-rules ", env!("CARGO_PKG_VERSION")));
}
