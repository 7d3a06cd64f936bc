//! The S3 server that backup-hooks' tests start on loopback: moto's server (PyPI `moto[s3]` with Flask, the
//! pieces `moto_server` needs for S3 only — 140 MB instead of 315 MB for `moto[server]`). Debian has no moto package
//! and no other S3 server, so it goes into a virtualenv under target/, where test-support looks for it.

use crate::util::{is_root, root, run as sh};
use anyhow::bail;
use std::path::PathBuf;
use std::process::Command;

/// Pinned: the tests read this version's answers (errors, listing) through restic.
const PACKAGES: &[&str] = &["moto[s3]==5.2.1", "flask>=3,<4", "flask-cors>=5,<7"];

/// Where test-support's `s3::moto_server()` finds it (keep the two in step).
pub fn venv() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root().join("target")).join("s3-server")
}

pub fn ensure() -> anyhow::Result<()> {
    let dir = venv();
    let server = dir.join("bin/moto_server");
    if server.is_file() {
        return Ok(());
    }
    let make_venv = || Command::new("python3").args(["-m", "venv", "--clear"]).arg(&dir).status();
    if !make_venv().is_ok_and(|s| s.success()) {
        // Debian's python3 keeps venv (ensurepip) in a package of its own.
        if !is_root() {
            bail!(
                "backup-hooks' S3 tests need moto's server in a virtualenv; install it with:\n  \
                 sudo apt-get install -y python3-venv && python3 -m venv {d} && {d}/bin/pip install '{}'",
                PACKAGES.join("' '"),
                d = dir.display()
            );
        }
        sh(Command::new("apt-get")
            .args(["install", "-y", "-q", "--no-install-recommends", "python3-venv"])
            .env("DEBIAN_FRONTEND", "noninteractive"))?;
        sh(Command::new("python3").args(["-m", "venv", "--clear"]).arg(&dir))?;
    }
    eprintln!("xtask: installing moto's S3 server into {}", dir.display());
    sh(Command::new(dir.join("bin/pip")).args(["install", "--quiet", "--disable-pip-version-check"]).args(PACKAGES))?;
    if !server.is_file() {
        bail!("pip installed {} but {} is missing", PACKAGES.join(" "), server.display());
    }
    Ok(())
}
