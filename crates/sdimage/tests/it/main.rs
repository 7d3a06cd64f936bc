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
fn help_and_version_work() {
    let help = bin().arg("--help").output().unwrap();
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(text.contains("Exit codes:") && text.contains("78"), "{text}");
    let version = bin().arg("--version").output().unwrap();
    assert_eq!(String::from_utf8_lossy(&version.stdout).trim(), concat!("sdimage ", env!("CARGO_PKG_VERSION")));
}
