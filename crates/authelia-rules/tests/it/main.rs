//! Integration tests of the `authelia-rules` binary: one test binary per crate.

mod cli;
mod conformance;
mod ldap;

use std::path::PathBuf;
use std::process::{Command, Output};

pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_authelia-rules"));
    c.env(test_support::NO_HOST_CREDENTIALS.0, test_support::NO_HOST_CREDENTIALS.1);
    c
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
fn help_is_a_manual_and_version_works() {
    let help = bin().args(["lint", "--help"]).output().unwrap();
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    for part in ["Exit codes:", "    3  warnings only", "Examples:"] {
        assert!(text.contains(part), "{part:?} missing from:\n{text}");
    }
    assert!(text.contains("$ authelia-rules lint access-rules.json --strict"), "{text}");
    let top = String::from_utf8_lossy(&bin().arg("--help").output().unwrap().stdout).into_owned();
    assert!(!top.contains("Exit codes:") && top.contains("authelia-rules help COMMAND"), "{top}");
    let version = bin().arg("--version").output().unwrap();
    assert_eq!(String::from_utf8_lossy(&version.stdout).trim(), concat!("authelia-rules ", env!("CARGO_PKG_VERSION")));
}

#[test]
fn every_option_has_help_and_every_command_a_manual_page() {
    use clap::CommandFactory;
    let cmd = homey_kit::manual::apply(authelia_rules::Cli::command(), authelia_rules::MANUAL);
    assert_eq!(homey_kit::manual::problems(&cmd, authelia_rules::MANUAL), Vec::<String>::new());
}

#[test]
fn man_pages_and_completions_are_generated() {
    let d = tempfile::tempdir().unwrap();
    let out = bin().arg("--generate-manual").arg(d.path()).output().unwrap();
    assert!(out.status.success() && out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
    let page = std::fs::read_to_string(d.path().join("man1/authelia-rules-check-subjects.1")).unwrap();
    assert!(page.contains("bind\\-password\\-file") && page.contains("/etc/homey/credentials"), "{page}");
    for f in [
        "man1/authelia-rules.1",
        "completions/authelia-rules.bash",
        "completions/_authelia-rules",
        "completions/authelia-rules.fish",
    ] {
        assert!(d.path().join(f).is_file(), "{f}");
    }
}

#[test]
fn a_closed_stdout_ends_quietly() {
    use std::os::fd::{FromRawFd, OwnedFd};
    let rules = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/access-rules.json");
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills two fds this process then owns; the read end is closed at once, as `| head`
    // leaves it once it has read enough.
    let closed = unsafe {
        assert_eq!(libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC), 0);
        libc::close(fds[0]);
        std::process::Stdio::from(OwnedFd::from_raw_fd(fds[1]))
    };
    let out = bin().arg("render").arg(&rules).stdout(closed).stderr(std::process::Stdio::piped()).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(!err.contains("error") && !err.contains("panicked"), "{err}");
}
