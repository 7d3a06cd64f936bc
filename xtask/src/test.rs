//! `cargo xtask test`: install what the tests need, then run every test in the workspace.

use crate::util::{cargo, have, is_root, run as sh};
use anyhow::bail;
use std::process::Command;

/// (a program the tests run, the Debian package that brings it)
const NEEDS: &[(&str, &str)] = &[
    ("restic", "restic"),
    ("/usr/sbin/slapd", "slapd"),
    ("ldapadd", "ldap-utils"),
    ("pg_ctlcluster", "postgresql"),
    ("ip", "iproute2"),
    ("zstd", "zstd"),
    ("openssl", "openssl"),
    ("losetup", "mount"),
    ("nix-instantiate", "nix-bin"),
    ("systemd-analyze", "systemd"),
    ("sqlite3", "sqlite3"),
    // sdimage refuses a disk with a mounted partition: its test formats one.
    ("mkfs.ext4", "e2fsprogs"),
    // backup-hooks' S3 tests put moto's server into a virtualenv under target/ (xtask/src/s3server.rs).
    ("python3", "python3-venv"),
    // authelia-rules checks its rendered output against Authelia's own JSON schema.
    ("/usr/lib/python3/dist-packages/jsonschema", "python3-jsonschema"),
];

pub fn ensure_deps() -> anyhow::Result<()> {
    ensure_debian_packages()?;
    // backup-hooks' S3 tests: moto's server from PyPI (after apt: it needs python3-venv).
    crate::s3server::ensure()
}

fn ensure_debian_packages() -> anyhow::Result<()> {
    let missing: Vec<&str> = NEEDS.iter().filter(|(p, _)| !have(p)).map(|(_, pkg)| *pkg).collect();
    if missing.is_empty() {
        return Ok(());
    }
    if !is_root() {
        bail!(
            "the tests need Debian packages that are missing; install them with:\n  sudo apt-get install -y {}",
            missing.join(" ")
        );
    }
    eprintln!("xtask: installing {}", missing.join(" "));
    sh(Command::new("apt-get").arg("update").arg("-q"))?;
    sh(Command::new("apt-get")
        .args(["install", "-y", "-q", "--no-install-recommends"])
        .args(&missing)
        .env("DEBIAN_FRONTEND", "noninteractive"))?;
    Ok(())
}

pub fn run_tests(extra: &[String]) -> anyhow::Result<()> {
    // The fake executable is a binary of test-support; build it once so every crate's tests find it.
    sh(cargo().args(["build", "--quiet", "-p", "test-support", "--bins"]))?;
    let nextest = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["nextest", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if nextest {
        // The workspace keeps its examples in tests, not doctests, so nextest (which skips doctests) sees them all.
        sh(cargo().args(["nextest", "run", "--workspace", "--no-fail-fast"]).args(extra))
    } else {
        sh(cargo().args(["test", "--workspace", "--no-fail-fast"]).args(extra))
    }
}

pub fn run(extra: &[String]) -> anyhow::Result<()> {
    ensure_deps()?;
    crate::checks::run()?;
    run_tests(extra)
}
