//! The thin layer that executes a plan: every child through the Runner, time through the Clock, and
//! maintenance mode turned off on every path out.

use crate::config::{Config, DumpKind, MaintenanceScope};
use crate::dumps;
use crate::nextcloud::Occ;
use crate::plan::Plan;
use crate::report::{Kuma, Outcome, Status, Step, StepResult};
use crate::restic::{self, Repo, Restic, Summary, Version};
use anyhow::Context;
use homey_kit::clock::Clock;
use homey_kit::process::{Cancel, Cmd, Runner, Stdout};
use homey_kit::units::count;
use homey_kit::{Exit, ResultExt};
use std::path::Path;
use std::time::{Duration, SystemTime};

pub struct Ctx<'a> {
    pub runner: &'a dyn Runner,
    pub clock: &'a dyn Clock,
    pub cancel: Cancel,
    pub env: &'a dyn Fn(&str) -> Option<std::ffi::OsString>,
}

pub const LOCK: &str = "backup";

/// `restic cat config` is a key derivation and a few small requests (~1 s): past this the remote is slow.
const SLOW_ANSWER: f64 = 5.0;

/// Ask the installed restic its version; everything version-dependent keys off this.
pub fn restic_version(ctx: &Ctx) -> anyhow::Result<Version> {
    let out = ctx
        .runner
        .run_ok(&Cmd::new("restic").arg("version").timeout(Duration::from_secs(30)))
        .context("asking restic its version")
        .exit_code(Exit::Unavailable)?;
    Version::parse(&out.stdout_str())
        .with_context(|| format!("cannot read restic's version from {:?}", out.stdout_str().trim()))
        .exit_code(Exit::Unavailable)
}

pub fn source_repo(cfg: &Config, ctx: &Ctx) -> anyhow::Result<Repo> {
    let env = match cfg.repository.environment() {
        Some(r) => r
            .load(ctx.env)
            .and_then(|s| crate::config::parse_env_file(&s))
            .context("[repository] environment")
            .exit_code(Exit::Config)?,
        None => vec![],
    };
    let password = crate::config::required("[repository]", "password", cfg.repository.password())?
        .load(ctx.env)
        .context("[repository] password")
        .exit_code(Exit::Config)?;
    let cache_dir = cfg.repository.cache_dir.clone().or_else(|| {
        (ctx.env)("CACHE_DIRECTORY")
            .map(|d| Path::new(&d.to_string_lossy().split(':').next().unwrap_or("").to_owned()).to_owned())
    });
    Ok(Repo { url: cfg.repository.url.clone(), password, env, cache_dir })
}

pub fn restic_for(cfg: &Config, repo: Repo, version: Version, cancel: Option<&Cancel>) -> Restic {
    Restic { program: "restic".into(), repo, version, cancel: cancel.cloned(), timeout: cfg.backup.timeout() }
}

fn since(clock: &dyn Clock, t: SystemTime) -> f64 {
    clock.now().duration_since(t).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

/// Steps as they happen, logged and kept for the status file.
struct Recorder<'a> {
    clock: &'a dyn Clock,
    steps: Vec<Step>,
}

impl Recorder<'_> {
    fn run<T>(&mut self, name: &str, f: impl FnOnce() -> anyhow::Result<(T, String)>) -> anyhow::Result<T> {
        let t = self.clock.now();
        homey_kit::debug!("{name}: starting");
        let r = f();
        let seconds = since(self.clock, t);
        match r {
            Ok((v, detail)) => {
                homey_kit::info!(
                    "{name}: ok{}",
                    if detail.is_empty() { String::new() } else { format!(" ({detail})") }
                );
                self.steps.push(Step { name: name.into(), result: StepResult::Ok, detail, seconds });
                Ok(v)
            }
            Err(e) => {
                homey_kit::error!("{name}: {e:#}");
                self.steps.push(Step {
                    name: name.into(),
                    result: StepResult::Failed,
                    detail: format!("{e:#}"),
                    seconds,
                });
                Err(e)
            }
        }
    }
    fn mark(&mut self, name: &str, result: StepResult, detail: impl Into<String>, seconds: f64) {
        let detail = detail.into();
        match result {
            StepResult::Warning => homey_kit::warn!("{name}: {detail}"),
            StepResult::Skipped => homey_kit::info!("{name}: skipped ({detail})"),
            _ => homey_kit::info!("{name}: {detail}"),
        }
        self.steps.push(Step { name: name.into(), result, detail, seconds });
    }
}

/// Maintenance mode with a backstop: once `on` was attempted, dropping this without a confirmed
/// `off` still tries to turn it off (an early return, a panic).
struct Maintenance<'a> {
    occ: Occ,
    runner: &'a dyn Runner,
    clock: &'a dyn Clock,
    since: Option<SystemTime>,
    window: Option<f64>,
    /// `off` was tried (and failed loudly): the backstop in Drop is for paths that never tried.
    tried_off: bool,
}

impl<'a> Maintenance<'a> {
    fn on(&mut self) -> anyhow::Result<()> {
        // Counted from the attempt: a failed --on may still have switched it on.
        self.since = Some(self.clock.now());
        self.occ.on(self.runner)
    }
    /// `pre` with whole-backup scope succeeded: the backup runs next and `post` turns it off.
    fn leave_on_for_post(&mut self) {
        self.window = Some(0.0);
    }
    fn pending(&self) -> bool {
        self.since.is_some() && self.window.is_none()
    }
    fn off(&mut self) -> anyhow::Result<usize> {
        self.tried_off = true;
        let attempts = self.occ.off_confirmed(self.runner, self.clock)?;
        self.window = self.since.map(|t| since(self.clock, t));
        Ok(attempts)
    }
}

impl Drop for Maintenance<'_> {
    fn drop(&mut self) {
        if self.pending() && !self.tried_off {
            homey_kit::error!("maintenance mode still on while leaving: turning it off");
            if let Err(e) = self.occ.off_confirmed(self.runner, self.clock) {
                homey_kit::error!("{e:#}");
            }
        }
    }
}

/// What happened, as far as the outcome is concerned.
#[derive(Default)]
struct Verdict {
    failure: Option<String>,
    warnings: Vec<String>,
    /// The keys or the password were refused: the config is wrong, not the night.
    config_fault: bool,
}

impl Verdict {
    fn fail(&mut self, msg: impl Into<String>) {
        if self.failure.is_none() {
            self.failure = Some(msg.into());
        }
    }
    fn ok(&self) -> bool {
        self.failure.is_none()
    }
    /// A signal is a failure from the moment it arrives.
    fn note_cancel(&mut self, cancel: &Cancel) {
        if cancel.is_cancelled() {
            let sig = match cancel.signal() {
                Some(s) if s == libc::SIGTERM => "SIGTERM".to_owned(),
                Some(s) if s == libc::SIGINT => "SIGINT".to_owned(),
                Some(s) => format!("signal {s}"),
                None => "a stop request".to_owned(),
            };
            self.fail(format!("stopped by {sig}"));
        }
    }
}

fn run_dump(ctx: &Ctx, cfg: &Config, kind: DumpKind, name: &str) -> anyhow::Result<dumps::Dumped> {
    match kind {
        DumpKind::Postgres => {
            let pg = cfg.postgres.iter().find(|p| p.name == name).expect("from config");
            dumps::postgres(ctx.runner, &ctx.cancel, ctx.env, cfg, pg)
        }
        DumpKind::Sqlite => {
            dumps::sqlite(&ctx.cancel, cfg, cfg.sqlite.iter().find(|p| p.name == name).expect("from config"))
        }
        DumpKind::Ldap => {
            dumps::ldap(&ctx.cancel, ctx.env, cfg, cfg.ldap.iter().find(|p| p.name == name).expect("from config"))
        }
    }
}

/// Staging, maintenance on, the dumps; shared by `run` and `pre`. Stops at the first failed dump.
fn prepare<'a>(
    ctx: &'a Ctx,
    cfg: &Config,
    occ: Option<&Occ>,
    dumps: &[(DumpKind, String)],
    rec: &mut Recorder,
    v: &mut Verdict,
) -> Option<Maintenance<'a>> {
    if v.ok() {
        let r = rec.run("staging", || {
            dumps::ensure_staging(&cfg.staging_dir)?;
            let n = dumps::clean_staging(cfg)?;
            Ok(((), if n > 0 { format!("removed {} leftover", count(n, "file", "files")) } else { String::new() }))
        });
        if let Err(e) = r {
            v.fail(format!("staging: {e:#}"));
        }
    }
    let mut maint = occ.map(|occ| Maintenance {
        occ: occ.clone(),
        runner: ctx.runner,
        clock: ctx.clock,
        since: None,
        window: None,
        tried_off: false,
    });
    v.note_cancel(&ctx.cancel);
    if v.ok() {
        if let Some(m) = &mut maint {
            if let Err(e) = rec.run("maintenance on", || m.on().map(|_| ((), String::new()))) {
                v.fail(format!("maintenance on: {e:#}"));
            }
        }
    }
    for (kind, name) in dumps {
        let step = format!("dump {name}");
        v.note_cancel(&ctx.cancel);
        if !v.ok() {
            rec.mark(&step, StepResult::Skipped, "an earlier step failed", 0.0);
            continue;
        }
        let r = rec.run(&step, || {
            let d = run_dump(ctx, cfg, *kind, name)?;
            Ok(((), format!("{}, {}", homey_kit::units::format_bytes(d.bytes), d.detail)))
        });
        if let Err(e) = r {
            v.fail(format!("{step}: {e:#}"));
        }
    }
    v.note_cancel(&ctx.cancel);
    maint
}

fn maintenance_off(m: &mut Maintenance, rec: &mut Recorder, v: &mut Verdict) {
    if !m.pending() {
        return;
    }
    if let Err(e) = rec.run("maintenance off", || {
        let n = m.off()?;
        Ok(((), if n > 1 { format!("confirmed after {n} attempts") } else { "confirmed".into() }))
    }) {
        // Louder than any other failure: the cloud is down until someone acts.
        v.failure = Some(format!("{e:#}"));
    }
}

fn clean_after(cfg: &Config, rec: &mut Recorder, v: &mut Verdict) {
    if let Err(e) = rec.run("clean staging", || dumps::clean_staging(cfg).map(|n| ((), count(n, "file", "files")))) {
        v.warnings.push(format!("could not empty the staging dir: {e:#}"));
    }
}

/// `backup-hooks run`: the whole nightly job. The lock is the caller's.
pub fn run(cfg: &Config, ctx: &Ctx, version: Version) -> Status {
    let started = ctx.clock.now();
    let kuma = match cfg.report.kuma_push_url(ctx.env) {
        Ok(url) => url.map(|url| Kuma { url, timeout: Duration::from_secs(10) }),
        Err(e) => {
            // Validated at load; if the secret vanished since, the backup still runs.
            homey_kit::warn!("[report] Uptime Kuma push URL: {e:#}; not telling Kuma");
            None
        }
    };
    if let Some(k) = &kuma {
        k.push(true, "start", None);
    }
    let mut rec = Recorder { clock: ctx.clock, steps: vec![] };
    let mut v = Verdict::default();
    let restic = match source_repo(cfg, ctx) {
        Ok(repo) => Some(restic_for(cfg, repo, version, Some(&ctx.cancel))),
        Err(e) => {
            v.fail(format!("{e:#}"));
            None
        }
    };
    let plan = restic.as_ref().map(|r| Plan::build(cfg, r));

    if let Some(preflight) = plan.as_ref().and_then(|p| p.preflight.as_ref()) {
        let mut refused = false;
        let init = plan.as_ref().and_then(|p| p.init.as_ref());
        let r = rec.run("repository", || {
            let asked = ctx.clock.now();
            let out = ctx.runner.run(preflight)?;
            let took = since(ctx.clock, asked);
            match (restic::classify(&out.status, &out.stderr_tail), init) {
                (restic::Outcome::Ok, _) => {
                    if took > SLOW_ANSWER {
                        homey_kit::warn!(
                            "the repository's server is slow: restic cat config took {took:.1} s; restic's steps \
                             are given up to the [backup] timeout ({})",
                            cfg.backup.timeout.as_deref().unwrap_or("6h")
                        );
                    }
                    Ok(((), format!("restic {version}, answered in {took:.1} s")))
                }
                (restic::Outcome::RepoMissing, Some(init)) => {
                    homey_kit::notice!(
                        "repository {} does not exist: creating it (init_if_missing)",
                        cfg.repository.url
                    );
                    ctx.runner.run_ok(init).context("restic init")?;
                    Ok(((), format!("created with restic {version} (init_if_missing)")))
                }
                (o @ (restic::Outcome::KeysRefused | restic::Outcome::WrongPassword), _) => {
                    refused = true;
                    // restic's own line may quote the key id; the explanation names where the secret lives.
                    anyhow::bail!("{} ({}); check {}", o.explain(), out.status, secret_origin(cfg, o))
                }
                (o, _) => anyhow::bail!("{} ({}): {}", o.explain(), out.status, last_line(&out.stderr_tail)),
            }
        });
        v.config_fault = refused;
        if let Err(e) = r {
            v.fail(format!("repository {}: {e:#}", cfg.repository.url));
        }
    }

    if let (Some(r), Some(p), true) = (&restic, &plan, v.ok()) {
        stale_locks(ctx, cfg, r, &p.locks, &mut rec, &mut v);
    }

    let mut summary: Option<Summary> = None;
    let mut maint = None;
    if let Some(plan) = &plan {
        maint = prepare(ctx, cfg, plan.maintenance.as_ref().map(|(o, _)| o), &plan.dumps, &mut rec, &mut v);
        if let (Some(m), Some((_, MaintenanceScope::DumpsOnly))) = (&mut maint, &plan.maintenance) {
            maintenance_off(m, &mut rec, &mut v);
        }
        v.note_cancel(&ctx.cancel);
        if v.ok() {
            summary = backup(ctx, cfg, plan, &mut rec, &mut v);
        } else {
            rec.mark("backup", StepResult::Skipped, "an earlier step failed", 0.0);
        }
        if let Some(m) = &mut maint {
            maintenance_off(m, &mut rec, &mut v);
        }
        clean_after(cfg, &mut rec, &mut v);
        v.note_cancel(&ctx.cancel);
        // A failed backup never prunes, and neither does an incomplete one: nights of unreadable files
        // must not make retention forget the last complete snapshots.
        let complete = rec.steps.iter().any(|s| s.name == "backup" && s.result == StepResult::Ok);
        let saved = summary.is_some() && complete && v.ok();
        if let Some(forget) = &plan.forget {
            if saved {
                let r = rec.run("retention", || ctx.runner.run_ok(forget).map(|_| ((), String::new())));
                if let Err(e) = r {
                    v.warnings.push(format!("retention: {e:#}"));
                    rec.steps.last_mut().expect("just pushed").result = StepResult::Warning;
                }
            } else {
                rec.mark("retention", StepResult::Skipped, "no complete snapshot saved", 0.0);
            }
        }
        v.note_cancel(&ctx.cancel);
        if let Some(check) = &plan.check {
            if summary.is_some() && v.ok() {
                if let Err(e) = rec.run("check", || ctx.runner.run_ok(check).map(|_| ((), String::new()))) {
                    v.fail(format!("restic check: {e:#}"));
                }
            } else {
                rec.mark("check", StepResult::Skipped, "no snapshot saved", 0.0);
            }
        }
    }
    let window = maint.as_ref().and_then(|m| m.window);
    drop(maint);

    let outcome = if !v.ok() {
        Outcome::Failed
    } else if !v.warnings.is_empty() {
        Outcome::Warning
    } else {
        Outcome::Success
    };
    let message = match (&v.failure, summary.as_ref()) {
        (Some(f), _) => f.clone(),
        (None, Some(s)) => {
            let mut m = format!("snapshot {}, {} added", s.snapshot_id, homey_kit::units::format_bytes(s.data_added));
            for w in &v.warnings {
                m += &format!("; {w}");
            }
            m
        }
        (None, None) => v.warnings.join("; "),
    };
    let previous = Status::load(&cfg.state_dir).ok().flatten();
    let finished = ctx.clock.unix();
    let status = Status {
        started_unix: started.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
        finished_unix: finished,
        outcome,
        message,
        restic_version: Some(version.to_string()),
        snapshot_id: summary.as_ref().map(|s| s.snapshot_id.clone()),
        bytes_added: summary.as_ref().map(|s| s.data_added),
        files_new: summary.as_ref().map(|s| s.files_new),
        files_changed: summary.as_ref().map(|s| s.files_changed),
        maintenance_seconds: window,
        steps: rec.steps,
        last_success_unix: if outcome == Outcome::Failed {
            previous.and_then(|p| p.last_success_unix)
        } else {
            Some(finished)
        },
        config_fault: v.config_fault,
    };
    if let Err(e) = status.save(&cfg.state_dir) {
        homey_kit::warn!("could not write the status file: {e:#}");
    }
    if let Some(dir) = &cfg.report.textfile_dir {
        if let Err(e) = status.metrics().write_textfile(dir, "backup-hooks") {
            homey_kit::warn!("could not write the metrics textfile: {e:#}");
        }
    }
    if let Some(k) = &kuma {
        let ping = (status.duration_seconds() * 1000).max(1);
        let msg: String = status.message.chars().take(200).collect();
        k.push(outcome != Outcome::Failed, &msg, Some(ping));
    }
    status
}

/// A killed run leaves its restic lock behind (restic cannot remove it once killed, nor when the remote is
/// gone); it does not stop `backup` (a shared lock) but makes `forget --prune` and `check` fail every night
/// after. Report each lock with its age; clear only this host's, older than the run interval.
fn stale_locks(ctx: &Ctx, cfg: &Config, restic: &Restic, list: &Cmd, rec: &mut Recorder, v: &mut Verdict) {
    let r = rec.run("locks", || {
        let out = ctx.runner.run_ok(list).context("restic list locks")?;
        let ids: Vec<String> =
            out.stdout_str().lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect();
        if ids.is_empty() {
            return Ok(((), "none".to_owned()));
        }
        // Go's os.Hostname reads the same file: restic writes this name into its locks.
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default().trim().to_owned();
        let now = ctx.clock.unix() as i64;
        let mut locks = vec![];
        for id in ids {
            let out = ctx.runner.run_ok(&restic.cat_lock(&id)).with_context(|| format!("restic cat lock {id}"))?;
            let info: restic::LockInfo =
                serde_json::from_str(&out.stdout_str()).with_context(|| format!("lock {id}: not a restic lock"))?;
            let t = restic::parse_rfc3339(&info.time)
                .with_context(|| format!("lock {id}: cannot read its time {:?}", info.time))?;
            let alive = info.hostname == host && info.pid > 0 && Path::new(&format!("/proc/{}", info.pid)).exists();
            locks.push(restic::Lock { id, info, age: now.saturating_sub(t).max(0) as u64, alive });
        }
        let (secs, text) = cfg.repository.stale_lock_after();
        let verdict = restic::judge_locks(&locks, &host, secs, &text);
        for line in &verdict.lines {
            homey_kit::warn!("{line}");
        }
        if verdict.unlock {
            ctx.runner.run_ok(&restic.unlock()).context("restic unlock")?;
        }
        Ok(((), verdict.lines.join("; ")))
    });
    if let Err(e) = r {
        // Not knowing the locks is no reason to skip tonight's backup.
        v.warnings.push(format!("locks: {e:#}"));
        if let Some(step) = rec.steps.last_mut() {
            step.result = StepResult::Warning;
        }
    }
}

/// Which config key holds the secret that was refused (never the secret).
fn secret_origin(cfg: &Config, o: restic::Outcome) -> String {
    use crate::config::SecretRef;
    let (key, r) = match o {
        restic::Outcome::KeysRefused => ("environment", cfg.repository.environment()),
        _ => ("password", cfg.repository.password()),
    };
    match r {
        Some(SecretRef::File(f)) => format!("[repository] {key}_file {}", f.display()),
        Some(SecretRef::Credential(c)) => format!("[repository] {key}_credential {c:?}"),
        None => format!("[repository] {key}_file or {key}_credential (not set)"),
    }
}

fn last_line(s: &str) -> String {
    let lines = restic::error_lines(s);
    lines.iter().rev().take(3).rev().cloned().collect::<Vec<_>>().join(" | ")
}

fn backup(ctx: &Ctx, cfg: &Config, plan: &Plan, rec: &mut Recorder, v: &mut Verdict) -> Option<Summary> {
    let t = ctx.clock.now();
    // restic before 0.19 exits 0 when a top-level path vanished: check them ourselves.
    let missing: Vec<String> = cfg
        .backup
        .paths
        .iter()
        .filter(|p| std::fs::symlink_metadata(p).is_err())
        .map(|p| p.display().to_string())
        .collect();
    if !missing.is_empty() {
        let msg = format!("source paths vanished: {}", missing.join(", "));
        rec.mark("backup", StepResult::Failed, &msg, 0.0);
        v.fail(format!("backup: {msg}"));
        return None;
    }
    let out = match ctx.runner.run(&plan.backup) {
        Ok(o) => o,
        Err(e) => {
            rec.mark("backup", StepResult::Failed, format!("{e:#}"), since(ctx.clock, t));
            v.fail(format!("backup: {e:#}"));
            return None;
        }
    };
    let seconds = since(ctx.clock, t);
    let outcome = restic::classify(&out.status, &out.stderr_tail);
    let summary = restic::parse_summary(&out.stdout_str());
    match (outcome, summary) {
        (restic::Outcome::Ok, Some(s)) => {
            let d = format!(
                "snapshot {}, {} new / {} changed files, {} added",
                s.snapshot_id,
                s.files_new,
                s.files_changed,
                homey_kit::units::format_bytes(s.data_added)
            );
            rec.mark("backup", StepResult::Ok, d, seconds);
            Some(s)
        }
        (restic::Outcome::Incomplete, Some(s)) => {
            let errs = restic::error_lines(&out.stderr_tail);
            let d = format!("snapshot {} saved, but some files could not be read: {}", s.snapshot_id, errs.join(" | "));
            rec.mark("backup", StepResult::Warning, &d, seconds);
            v.warnings.push(d);
            Some(s)
        }
        (restic::Outcome::Ok | restic::Outcome::Incomplete, None) => {
            let d = format!("restic {} without a summary line; no snapshot id", out.status);
            rec.mark("backup", StepResult::Failed, &d, seconds);
            v.fail(format!("backup: {d}"));
            None
        }
        (o, _) => {
            v.note_cancel(&ctx.cancel);
            let d = match &v.failure {
                Some(stopped) => format!("{stopped}; restic was terminated, no snapshot saved"),
                None if o == restic::Outcome::TimedOut => format!(
                    "restic did not finish within the [backup] timeout ({}) and was stopped; no snapshot saved: {}",
                    cfg.backup.timeout.as_deref().unwrap_or("6h"),
                    last_line(&out.stderr_tail)
                ),
                None => format!("{} ({}): {}", o.explain(), out.status, last_line(&out.stderr_tail)),
            };
            rec.mark("backup", StepResult::Failed, &d, seconds);
            v.fail(format!("backup: {d}"));
            None
        }
    }
}

/// `backup-hooks pre`: maintenance on and the dumps, for services.restic's backupPrepareCommand.
/// A failed pre leaves nothing on: maintenance off, staging emptied.
pub fn pre(cfg: &Config, ctx: &Ctx) -> anyhow::Result<Exit> {
    let mut rec = Recorder { clock: ctx.clock, steps: vec![] };
    let mut v = Verdict::default();
    let occ = cfg.nextcloud.as_ref().map(|n| Occ { program: n.occ.clone() });
    let dumps: Vec<(DumpKind, String)> = cfg.dumps().into_iter().map(|(k, n)| (k, n.to_owned())).collect();
    let mut maint = prepare(ctx, cfg, occ.as_ref(), &dumps, &mut rec, &mut v);
    let dumps_only = cfg.maintenance_scope() == Some(MaintenanceScope::DumpsOnly);
    if !v.ok() || dumps_only {
        if let Some(m) = &mut maint {
            maintenance_off(m, &mut rec, &mut v);
        }
    }
    if !v.ok() {
        clean_after(cfg, &mut rec, &mut v);
    }
    if let Some(m) = &mut maint {
        m.leave_on_for_post();
    }
    match v.failure {
        Some(f) => Err(homey_kit::exit::coded(Exit::Failed, anyhow::anyhow!("pre: {f}"))),
        None => Ok(Exit::Ok),
    }
}

/// `backup-hooks post`: maintenance off (confirmed) and staging emptied; safe to run at any time.
pub fn post(cfg: &Config, ctx: &Ctx) -> anyhow::Result<Exit> {
    if let Some(nc) = &cfg.nextcloud {
        let occ = Occ { program: nc.occ.clone() };
        let n = occ.off_confirmed(ctx.runner, ctx.clock)?;
        homey_kit::info!(
            "maintenance off: confirmed{}",
            if n > 1 { format!(" after {n} attempts") } else { String::new() }
        );
    }
    let n = dumps::clean_staging(cfg)?;
    homey_kit::info!("staging: removed {} from {}", count(n, "file", "files"), cfg.staging_dir.display());
    Ok(Exit::Ok)
}

/// `backup-hooks offload`: copy every snapshot into the offload repository, creating it (with the
/// source's chunker parameters) only when it is really missing, never when it is merely locked.
pub fn offload(cfg: &Config, ctx: &Ctx, version: Version) -> anyhow::Result<Exit> {
    let Some(o) = &cfg.offload else {
        homey_kit::fail!(Exit::Config, "no [offload] section in the config");
    };
    let src = source_repo(cfg, ctx)?;
    let dest = restic_for(cfg, offload_repo(ctx, o, &src)?, version, Some(&ctx.cancel));
    let out = ctx.runner.run(&dest.cat_config())?;
    match restic::classify(&out.status, &out.stderr_tail) {
        restic::Outcome::Ok => {}
        restic::Outcome::RepoMissing => {
            homey_kit::notice!(
                "offload repository {} does not exist: creating it with the source's chunker parameters",
                o.repository
            );
            ctx.runner.run_ok(&dest.init_copy_of(&src)).context("restic init of the offload repository")?;
        }
        other => homey_kit::fail!(
            Exit::Failed,
            "offload repository {}: {} ({}): {}",
            o.repository,
            other.explain(),
            out.status,
            last_line(&out.stderr_tail)
        ),
    }
    let out = ctx.runner.run(&dest.copy_from(&src))?;
    if !out.status.success() {
        let o2 = restic::classify(&out.status, &out.stderr_tail);
        homey_kit::fail!(
            Exit::Failed,
            "restic copy: {} ({}): {}",
            o2.explain(),
            out.status,
            last_line(&out.stderr_tail)
        );
    }
    let copied = out.stdout_str().lines().filter(|l| l.starts_with("snapshot ") && l.contains("saved")).count();
    homey_kit::info!("offload to {}: {} copied", o.repository, count(copied, "snapshot", "snapshots"));
    Ok(Exit::Ok)
}

/// The `[offload]` repository: a local disk, its own password, no keys.
fn offload_repo(ctx: &Ctx, o: &crate::config::Offload, src: &Repo) -> anyhow::Result<Repo> {
    Ok(Repo {
        url: o.repository.clone(),
        password: crate::config::required("[offload]", "password", o.password())?
            .load(ctx.env)
            .context("[offload] password")
            .exit_code(Exit::Config)?,
        env: vec![],
        cache_dir: src.cache_dir.clone(),
    })
}

/// What `restore-db` was asked for.
pub struct Restore {
    pub name: String,
    pub snapshot: String,
    pub to: std::path::PathBuf,
    pub into_database: Option<String>,
    pub from_offload: bool,
}

/// `backup-hooks restore-db`: a dump back out of a snapshot into DIR (checked), and for PostgreSQL
/// optionally into a new scratch database: the restore drill.
pub fn restore_db(cfg: &Config, ctx: &Ctx, version: Version, r: &Restore) -> anyhow::Result<Exit> {
    let Restore { name, snapshot, to, into_database, from_offload } = r;
    let (name, snapshot, to, into_database, from_offload) =
        (name.as_str(), snapshot.as_str(), to.as_path(), into_database.as_deref(), *from_offload);
    let Some((kind, _)) = cfg.dumps().into_iter().find(|(_, n)| *n == name) else {
        let names: Vec<&str> = cfg.dumps().into_iter().map(|(_, n)| n).collect();
        homey_kit::fail!(Exit::Usage, "no dump named {name:?} in the config (there are: {})", names.join(", "));
    };
    if into_database.is_some() && kind != DumpKind::Postgres {
        homey_kit::fail!(Exit::Usage, "--into-database is for PostgreSQL dumps; {name:?} is {}", kind.section());
    }
    let pg = cfg.postgres.iter().find(|p| p.name == name);
    if let (Some(db), Some(pg)) = (into_database, pg) {
        if db == pg.database {
            homey_kit::fail!(
                Exit::Usage,
                "--into-database {db:?} is the live database; restore drills go into a scratch database"
            );
        }
    }
    homey_kit::fs::ensure_dir(to, 0o700).exit_code(Exit::Config)?;
    let src = source_repo(cfg, ctx)?;
    let repo = match (&cfg.offload, from_offload) {
        (_, false) => src,
        (Some(o), true) => offload_repo(ctx, o, &src)?,
        (None, true) => homey_kit::fail!(Exit::Usage, "--from-offload: there is no [offload] section in the config"),
    };
    let restic = restic_for(cfg, repo, version, Some(&ctx.cancel));
    let inside = cfg.dump_path(kind, name);
    let target = to.join(inside.file_name().expect("dump file name"));
    let file = homey_kit::fs::AtomicFile::create(&target, 0o600)?;
    let cmd = restic.dump(snapshot, &cfg.backup.tags, &inside).stdout(Stdout::File(file.temp_path().to_owned()));
    let out = ctx.runner.run(&cmd)?;
    if !out.status.success() {
        let o = restic::classify(&out.status, &out.stderr_tail);
        homey_kit::fail!(
            Exit::Failed,
            "restic dump {snapshot} {}: {} ({}): {}",
            inside.display(),
            o.explain(),
            out.status,
            last_line(&out.stderr_tail)
        );
    }
    match kind {
        DumpKind::Postgres => {
            ctx.runner
                .run_ok(&Cmd::new("pg_restore").arg("--list").arg(file.temp_path()).stdout(Stdout::Null))
                .context("the restored dump does not read (pg_restore --list)")?;
        }
        DumpKind::Sqlite => {
            let c = rusqlite::Connection::open(file.temp_path())?;
            let verdict: String = c.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
            anyhow::ensure!(verdict == "ok", "the restored database fails integrity_check: {verdict}");
        }
        DumpKind::Ldap => {
            let text = std::fs::read_to_string(file.temp_path())?;
            anyhow::ensure!(text.starts_with("dn:") && crate::ldif::count_entries(&text) > 0, "not an LDIF export");
        }
    }
    file.commit()?;
    homey_kit::info!("restored {name} from snapshot {snapshot} to {}", target.display());
    if let (Some(db), Some(pg)) = (into_database, pg) {
        // A new database, never an existing one: a drill must not be able to overwrite anything.
        let mut args = vec!["--no-password".to_owned()];
        args.extend(crate::dumps::pg_conn_args(pg));
        args.push(db.to_owned());
        ctx.runner
            .run_ok(&crate::dumps::pg_cmd(pg, "createdb", args, ctx.env)?)
            .with_context(|| format!("creating the scratch database {db:?} (it must not exist yet)"))?;
        let mut args = vec!["--no-owner".into(), "--no-acl".into(), "--exit-on-error".into(), "--no-password".into()];
        args.extend(crate::dumps::pg_conn_args(pg));
        args.push(format!("--dbname={db}"));
        // By stdin: with `run_as` pg_restore runs as another user, who cannot open our 0600 file.
        let cmd = crate::dumps::pg_cmd(pg, "pg_restore", args, ctx.env)?
            .stdin(homey_kit::process::Stdin::File(target.clone()))
            .timeout(dumps::DUMP_TIMEOUT);
        ctx.runner.run_ok(&cmd).with_context(|| format!("pg_restore into {db:?}"))?;
        homey_kit::info!("restored into the scratch database {db:?}");
    }
    Ok(Exit::Ok)
}
