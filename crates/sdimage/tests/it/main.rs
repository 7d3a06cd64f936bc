//! Integration tests of the `sdimage` binary: one test binary per crate.
//!
//! - `rules`: every refusal on sysfs/mountinfo trees recorded from a laptop, a Pi and a desktop;
//! - `devices`: real writes and verifies on loop devices this test creates (root only);
//! - `build`: `sdimage build` against a fake nix that prints an out path laid out like the real one.

mod build;
mod devices;
mod rules;

use std::path::{Path, PathBuf};
use std::process::Command;

pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sdimage"))
}

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn run(cmd: &mut Command) -> Out {
    let o = cmd.output().expect("running sdimage");
    Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// A disk image as the real one starts: an MBR signature, then varied (not all-zero) content.
pub fn disk_image(len: usize) -> Vec<u8> {
    let mut v: Vec<u8> = (0..len).map(|i| ((i / 4096) as u8) ^ (i as u8).wrapping_mul(13)).collect();
    v[510] = 0x55;
    v[511] = 0xAA;
    v
}

#[test]
fn help_is_a_manual_and_version_works() {
    let help = bin().args(["write", "--help"]).output().unwrap();
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    for part in ["Exit codes:", "  65  refused before writing", "Examples:", "$ sdimage write "] {
        assert!(text.contains(part), "{part:?} missing from:\n{text}");
    }
    let build = String::from_utf8_lossy(&bin().args(["build", "--help"]).output().unwrap().stdout).into_owned();
    assert!(build.contains("  69  nix is missing or older than 2.4"), "{build}");
    let version = bin().arg("--version").output().unwrap();
    assert_eq!(String::from_utf8_lossy(&version.stdout).trim(), concat!("sdimage ", env!("CARGO_PKG_VERSION")));
}

#[test]
fn every_option_has_help_and_every_command_a_manual_page() {
    use clap::CommandFactory;
    let cmd = homey_kit::manual::apply(sdimage::Cli::command(), sdimage::MANUAL);
    assert_eq!(homey_kit::manual::problems(&cmd, sdimage::MANUAL), Vec::<String>::new());
}

#[test]
fn man_pages_and_completions_are_generated() {
    let d = tempfile::tempdir().unwrap();
    let out = bin().arg("--generate-manual").arg(d.path()).output().unwrap();
    assert!(out.status.success() && out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
    let write = std::fs::read_to_string(d.path().join("man1/sdimage-write.1")).unwrap();
    assert!(write.contains("allow\\-fixed") && write.contains("refused before writing"), "{write}");
    for f in ["man1/sdimage.1", "completions/sdimage.bash", "completions/_sdimage", "completions/sdimage.fish"] {
        assert!(d.path().join(f).is_file(), "{f}");
    }
}

#[test]
fn a_closed_stdout_ends_quietly() {
    use std::os::fd::{FromRawFd, OwnedFd};
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills two fds this process then owns; the read end is closed at once, as `| head`
    // leaves it once it has read enough.
    let closed = unsafe {
        assert_eq!(libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC), 0);
        libc::close(fds[0]);
        std::process::Stdio::from(OwnedFd::from_raw_fd(fds[1]))
    };
    let out = bin()
        .args(["list", "--all", "--sys-root"])
        .arg(fixture("laptop"))
        .stdout(closed)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.is_empty(), "{err}");
}
