//! Integration tests of the `kuma-sync` binary against the stand-in Uptime Kuma (test-support's
//! `kuma`): a real Socket.IO server over a WebSocket on loopback, behaving like 1.23 or 2.x.

mod docker;
mod export;
mod faults;
mod input;
mod maintenance;
mod notifications;
mod standin;
mod status_pages;
mod sync;

use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Output};
use test_support::kuma::{Builder, Kuma};

pub const USER: &str = "admin";
pub const PASSWORD: &str = "correct-horse-battery-9";

pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kuma-sync"));
    c.env(test_support::NO_HOST_CREDENTIALS.0, test_support::NO_HOST_CREDENTIALS.1);
    c
}

/// A stand-in server, a temp dir with the password file, the state dir and monitors files.
pub struct Env {
    pub kuma: Kuma,
    pub dir: tempfile::TempDir,
}

impl Env {
    pub fn new(builder: Builder) -> Env {
        Env::on(builder.start())
    }

    pub fn on(kuma: Kuma) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let pw = dir.path().join("password");
        std::fs::write(&pw, format!("{PASSWORD}\n")).unwrap();
        std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o600)).unwrap();
        Env { kuma, dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn monitors(&self, json: &str) -> PathBuf {
        let p = self.path("monitors.json");
        std::fs::write(&p, json).unwrap();
        p
    }

    /// `kuma-sync SUB --monitors FILE` with the URL, user, password file (and state dir for sync).
    pub fn cmd(&self, sub: &str, extra: &[&str]) -> Command {
        let mut c = bin();
        c.arg(sub)
            .arg("--monitors")
            .arg(self.path("monitors.json"))
            .args(["--url", &self.kuma.url(), "--username", USER])
            .arg("--password-file")
            .arg(self.path("password"));
        for (flag, default) in [("--wait", "5"), ("--ack-timeout", "5")] {
            if !extra.contains(&flag) {
                c.args([flag, default]);
            }
        }
        if sub == "sync" {
            c.arg("--state-dir").arg(self.path("state"));
        }
        c.args(extra).env_remove("KUMA_URL").env_remove("CREDENTIALS_DIRECTORY").env_remove("KUMA_PASSWORD_FILE");
        c
    }

    pub fn sync(&self, extra: &[&str]) -> Run {
        Run::of(self.cmd("sync", extra).output().unwrap())
    }

    pub fn names(&self) -> Vec<String> {
        let mut n: Vec<String> = self.kuma.monitors().iter().map(|m| m["name"].as_str().unwrap().to_owned()).collect();
        n.sort();
        n
    }

    pub fn monitor(&self, name: &str) -> Value {
        let ms = self.kuma.monitor_named(name);
        assert_eq!(ms.len(), 1, "exactly one monitor named {name}: {ms:?}");
        ms.into_iter().next().unwrap()
    }

    pub fn writes(&self) -> usize {
        self.kuma.writes().len()
    }

    /// Converged: a `--force` sync (which compares everything) writes nothing.
    pub fn assert_forced_sync_writes_nothing(&self) {
        let before = self.writes();
        self.sync(&["--force"]).expect(0);
        assert_eq!(self.writes(), before, "a forced sync after convergence wrote");
    }
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn of(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }

    #[track_caller]
    pub fn expect(&self, code: i32) -> &Run {
        assert_eq!(self.code, code, "exit code\nstdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        assert!(!self.stdout.contains(PASSWORD) && !self.stderr.contains(PASSWORD), "the password leaked");
        self
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(self.stdout.trim()).unwrap_or_else(|e| panic!("{e}: {}", self.stdout))
    }
}

#[test]
fn help_and_version_work() {
    let help = bin().arg("--help").output().unwrap();
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(text.contains("Exit codes:") && text.contains("78"), "{text}");
    let version = bin().arg("--version").output().unwrap();
    assert_eq!(String::from_utf8_lossy(&version.stdout).trim(), concat!("kuma-sync ", env!("CARGO_PKG_VERSION")));
}

#[test]
fn every_option_has_help_text() {
    use clap::CommandFactory;
    assert_eq!(homey_kit::manual::undescribed(&kuma_sync::Cli::command()), Vec::<String>::new());
}

#[test]
fn each_command_s_help_is_its_manual() {
    use clap::CommandFactory;
    let cmd = homey_kit::manual::apply(kuma_sync::Cli::command(), kuma_sync::MANUAL);
    assert_eq!(homey_kit::manual::problems(&cmd, kuma_sync::MANUAL), Vec::<String>::new());
    for sub in ["sync", "plan", "export", "validate"] {
        let out = bin().args([sub, "--help"]).output().unwrap();
        assert!(out.status.success());
        let page = String::from_utf8_lossy(&out.stdout);
        assert!(page.contains("Exit codes:") && page.contains("Examples:"), "{sub}: {page}");
        // Its own codes, not a generic table: validate never waits for a server.
        if sub == "validate" {
            assert!(!page.contains("\n   69  ") && !page.contains("\n   75  "), "{page}");
        }
        // Every example runs this tool, with flags the command has.
        for line in page.lines().filter_map(|l| l.trim().strip_prefix("$ kuma-sync ")) {
            for flag in line.split_whitespace().filter(|w| w.starts_with("--")) {
                assert!(page.contains(&format!("  {flag}")), "{sub}: example flag {flag} is not in the help:\n{page}");
            }
        }
    }
}
