//! `cargo xtask test`: install what the tests need, then run every test in the workspace.

mod needs;

use crate::need::Need;
use crate::util::{cargo, have, is_root, run as sh};
use anyhow::{Context, bail};
use std::collections::BTreeMap;
use std::process::Command;

/// A program the tests run, the Debian package that brings it, and whether the demo runs it too.
const NEEDS: &[(&str, &str, Demo)] = &[
    ("restic", "restic", Demo::Too),
    ("/usr/sbin/slapd", "slapd", Demo::Too),
    ("ldapadd", "ldap-utils", Demo::Too),
    ("pg_ctlcluster", "postgresql", Demo::No),
    ("ip", "iproute2", Demo::No),
    ("zstd", "zstd", Demo::Too),
    ("openssl", "openssl", Demo::No),
    ("losetup", "mount", Demo::Too),
    ("nix-instantiate", "nix-bin", Demo::No),
    ("systemd-analyze", "systemd", Demo::No),
    ("sqlite3", "sqlite3", Demo::Too),
    // sdimage refuses a disk with a mounted partition: its test formats one.
    ("mkfs.ext4", "e2fsprogs", Demo::No),
    // backup-hooks' S3 tests put moto's server into a virtualenv under target/ (xtask/src/s3server.rs).
    ("python3", "python3-venv", Demo::No),
    // authelia-rules checks its rendered output against Authelia's own JSON schema.
    ("/usr/lib/python3/dist-packages/jsonschema", "python3-jsonschema", Demo::No),
];

#[derive(PartialEq)]
enum Demo {
    Too,
    No,
}

pub fn ensure_deps() -> anyhow::Result<()> {
    ensure_debian_packages("the tests need", NEEDS.iter().map(|(p, pkg, _)| (*p, *pkg)))?;
    // backup-hooks' S3 tests: moto's server from PyPI (after apt: it needs python3-venv).
    crate::s3server::ensure()
}

/// What `cargo xtask demo` runs besides the tools: installed the same way, before anything is built.
pub fn ensure_demo_deps() -> anyhow::Result<()> {
    ensure_debian_packages("the demo needs", NEEDS.iter().filter(|n| n.2 == Demo::Too).map(|(p, pkg, _)| (*p, *pkg)))
}

/// As root: apt-get install what is missing. Otherwise: the exact command, and stop.
fn ensure_debian_packages<'a>(who_needs: &str, needs: impl Iterator<Item = (&'a str, &'a str)>) -> anyhow::Result<()> {
    let missing: Vec<&str> = needs.filter(|(p, _)| !have(p)).map(|(_, pkg)| pkg).collect();
    if missing.is_empty() {
        return Ok(());
    }
    if !is_root() {
        bail!(
            "{who_needs} Debian packages that are missing; install them with:\n  sudo apt-get install -y {}",
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

/// What the machine lacks, for the needs the table names: each need with why it is missing.
fn missing_needs() -> BTreeMap<Need, String> {
    let mut asked: Vec<Need> = needs::TABLE.iter().flat_map(|t| t.needs.iter().copied()).collect();
    asked.sort();
    asked.dedup();
    asked.into_iter().filter_map(|n| n.missing().map(|why| (n, why))).collect()
}

/// Every test nextest would run, as (binary id, test name).
fn list_tests() -> anyhow::Result<Vec<(String, String)>> {
    // Cargo's progress and errors on the terminal: on a fresh clone this is the long build.
    let out = cargo()
        .args(["nextest", "list", "--workspace", "--message-format", "json"])
        .stderr(std::process::Stdio::inherit())
        .output()?;
    if !out.status.success() {
        bail!("cargo nextest list failed: {}", out.status);
    }
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).context("reading nextest's list")?;
    let mut tests = vec![];
    for (binary, suite) in list["rust-suites"].as_object().context("nextest's list has no rust-suites")? {
        for name in suite["testcases"].as_object().into_iter().flat_map(|t| t.keys()) {
            tests.push((binary.clone(), name.clone()));
        }
    }
    Ok(tests)
}

/// Run every test but those the machine cannot run (see needs.rs), saying which and why.
pub fn run_tests(extra: &[String]) -> anyhow::Result<()> {
    ensure_nextest()?;
    eprintln!("$ cargo nextest list --workspace   (building the tests)");
    let tests = list_tests()?;
    let stale: Vec<String> = needs::TABLE
        .iter()
        .filter(|t| !tests.iter().any(|(b, n)| t.matches(b, n)))
        .map(|t| format!("{} {}", t.binary, t.test))
        .collect();
    if !stale.is_empty() {
        bail!("xtask/src/test/needs.rs names tests that do not exist (renamed?): {}", stale.join(", "));
    }
    let missing = missing_needs();
    let left_out: Vec<&needs::LeftOut> =
        needs::TABLE.iter().filter(|t| t.needs.iter().any(|n| missing.contains_key(n))).collect();
    // Grouped by the first need each lacks, so the reason is said once per group.
    let mut by_need: BTreeMap<Need, Vec<String>> = BTreeMap::new();
    for t in &left_out {
        let need = t.needs.iter().find(|n| missing.contains_key(n)).copied().unwrap();
        let names = tests.iter().filter(|(b, n)| t.matches(b, n)).map(|(b, n)| format!("{b} {n}"));
        by_need.entry(need).or_default().extend(names);
    }
    let summary: Vec<String> = by_need
        .iter()
        .map(|(need, names)| {
            let n = names.len();
            format!(
                "left out {n} test{} that need{} {}: {}",
                plural(n),
                if n == 1 { "s" } else { "" },
                need.what(),
                missing[need]
            )
        })
        .collect();
    for ((_, names), line) in by_need.iter().zip(&summary) {
        eprintln!("xtask: {line}");
        for name in names {
            eprintln!("  {name}");
        }
    }
    let mut cmd = cargo();
    cmd.args(["nextest", "run", "--workspace", "--no-fail-fast"]);
    let mut shown = crate::util::show(&cmd);
    if !left_out.is_empty() {
        let excluded: Vec<String> = left_out.iter().map(|t| t.filterset()).collect();
        cmd.arg("-E").arg(format!("not ({})", excluded.join(" | ")));
        shown += " -E 'not (the tests left out above)'";
    }
    cmd.args(extra);
    for arg in extra {
        shown += &format!(" {arg}");
    }
    let result = crate::util::run_shown(&mut cmd, &shown);
    // Again after nextest's summary, where a reader looks for the verdict.
    for line in &summary {
        eprintln!("xtask: {line} (not run, not counted as passed)");
    }
    result
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The tests run under cargo-nextest (a process per test, the timeouts in .config/nextest.toml, filters by
/// name); without it, install it the ordinary way.
fn ensure_nextest() -> anyhow::Result<()> {
    let present = cargo().args(["nextest", "--version"]).output().is_ok_and(|o| o.status.success());
    if !present {
        eprintln!("xtask: cargo-nextest is missing; installing it with cargo (once, a few minutes)");
        sh(cargo().args(["install", "--locked", "cargo-nextest"]))?;
    }
    Ok(())
}

pub fn run(extra: &[String]) -> anyhow::Result<()> {
    ensure_deps()?;
    crate::checks::run()?;
    let tests = run_tests(extra);
    if !extra.is_empty() {
        // A run narrowed by nextest's arguments: only those tests.
        return tests;
    }
    // The README's examples are tests too; they run even when a test failed, so one run reports both.
    let examples = crate::readme::run(&[]);
    match (tests, examples) {
        (Ok(()), Ok(())) => Ok(()),
        (Err(e), Ok(())) | (Ok(()), Err(e)) => Err(e),
        (Err(t), Err(r)) => Err(t.context(format!("{r:#}"))),
    }
}
