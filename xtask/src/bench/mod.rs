//! `cargo xtask bench [TOOL]`: build release binaries and measure the figures each issue names, by
//! timing whole processes (what an operator waits for). Each tool's benchmark is its own module and
//! prints `figure: value (limit)` lines for the issue notes.

mod attic_token;
mod authelia_rules;
mod backup_hooks;
mod kuma_sync;
mod net_watchdog;
mod sdimage;

use crate::util::{Part, cargo, run_parts, target_dir};
use anyhow::Context;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

#[allow(dead_code)] // `dir` and the RSS probe are for the tools' benchmark modules
pub struct Bench {
    pub dir: PathBuf,
    bin_dir: PathBuf,
}

impl Bench {
    pub fn bin(&self, tool: &str) -> PathBuf {
        self.bin_dir.join(tool)
    }

    /// Median wall time of `runs` runs of a command built by `make` (after one warm-up run).
    pub fn median_wall(&self, runs: usize, mut make: impl FnMut() -> Command) -> anyhow::Result<Duration> {
        let _ = make().output();
        let mut times = vec![];
        for _ in 0..runs {
            let mut c = make();
            let t = Instant::now();
            let out = c.output().with_context(|| crate::util::show(&c))?;
            times.push(t.elapsed());
            anyhow::ensure!(out.status.code().is_some(), "{} was killed", crate::util::show(&c));
        }
        times.sort();
        Ok(times[times.len() / 2])
    }

    #[allow(dead_code)]
    /// Peak RSS of one run, in KiB, from GNU time's `%M`-equivalent: wait4's rusage.
    pub fn peak_rss_kib(&self, cmd: &mut Command) -> anyhow::Result<(i32, u64)> {
        use std::os::unix::process::ExitStatusExt;
        let child = cmd.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn()?;
        let pid = child.id() as i32;
        let mut status = 0;
        let mut ru = std::mem::MaybeUninit::<Rusage>::zeroed();
        // SAFETY: wait4 on our own child; the rusage buffer is large enough (see Rusage).
        let r = unsafe { wait4(pid, &mut status, 0, ru.as_mut_ptr()) };
        anyhow::ensure!(r == pid, "wait4 failed");
        std::mem::forget(child);
        let ru = unsafe { ru.assume_init() };
        let st = std::process::ExitStatus::from_raw(status);
        Ok((st.code().unwrap_or(-1), ru.ru_maxrss as u64))
    }

    pub fn report(&self, figure: &str, value: String, limit: &str) {
        println!("{figure}: {value}   (target {limit})");
    }
}

/// The parts of `struct rusage` we read, laid out as on Linux (two timevals, then the longs).
#[allow(dead_code)]
#[repr(C)]
struct Rusage {
    ru_utime: [i64; 2],
    ru_stime: [i64; 2],
    ru_maxrss: i64,
    _rest: [i64; 13],
}

unsafe extern "C" {
    #[allow(dead_code)]
    fn wait4(pid: i32, status: *mut i32, options: i32, rusage: *mut Rusage) -> i32;
}

const PARTS: &[Part<Bench>] = &[
    ("kuma-sync", kuma_sync::run),
    ("authelia-rules", authelia_rules::run),
    ("backup-hooks", backup_hooks::run),
    // Issue 15's figures on S3, apart: they need moto's server (`cargo xtask deps`).
    ("backup-hooks-s3", backup_hooks::run_s3),
    ("attic-token", attic_token::run),
    ("net-watchdog", net_watchdog::run),
    ("sdimage", sdimage::run),
];

pub fn run(args: &[String]) -> anyhow::Result<()> {
    // The whole workspace even for one tool: one feature set, so no bench run rebuilds another's dependencies.
    let mut build = cargo();
    build.args(["build", "--release", "--workspace", "--bins"]);
    let bin_dir = target_dir().join("release");
    let verdicts = run_parts("bench", PARTS, args, &mut build, |dir| Bench { dir, bin_dir: bin_dir.clone() })?;
    let failed: Vec<&str> = verdicts.iter().filter(|(_, r)| r.is_err()).map(|(n, _)| *n).collect();
    anyhow::ensure!(failed.is_empty(), "benchmarks failed: {}", failed.join(", "));
    Ok(())
}
