//! The one TOML file NixOS renders. Parsing is strict (unknown keys are errors) and validation runs
//! before anything else, so a typo never turns into a half-run backup.

use homey_kit::Exit;
use homey_kit::secret::{Secret, Source};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub const DEFAULT_CONFIG: &str = "/etc/backup-hooks/backup.toml";

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub state_dir: PathBuf,
    pub staging_dir: PathBuf,
    pub repository: Repository,
    pub backup: Backup,
    pub nextcloud: Option<Nextcloud>,
    #[serde(default)]
    pub postgres: Vec<Postgres>,
    #[serde(default)]
    pub sqlite: Vec<Sqlite>,
    #[serde(default)]
    pub ldap: Vec<Ldap>,
    pub retention: Option<Retention>,
    pub check: Option<Check>,
    pub offload: Option<Offload>,
    #[serde(default)]
    pub report: Report,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Repository {
    pub url: String,
    /// The password: a file, or a credential name (exactly one of the two).
    pub password_file: Option<PathBuf>,
    pub password_credential: Option<String>,
    /// `KEY=value` lines (S3/B2 keys) handed to restic as environment, never as arguments.
    pub environment_file: Option<PathBuf>,
    pub environment_credential: Option<String>,
    /// Defaults to `$CACHE_DIRECTORY` (systemd `CacheDirectory=`), else restic's own default.
    pub cache_dir: Option<PathBuf>,
    /// `run` creates the repository (`restic init`) when the server says it does not exist — never when the
    /// server cannot be reached or refuses the keys. Off by default: a missing repository is usually a typo.
    #[serde(default)]
    pub init_if_missing: bool,
    /// A restic lock from this host older than this (set it to the timer's interval) is left over from a
    /// killed run and is cleared before the run; younger ones, and other hosts' locks, are only reported.
    pub stale_lock_after: Option<String>,
}

impl Repository {
    pub fn stale_lock_after(&self) -> (u64, String) {
        let text = self.stale_lock_after.clone().unwrap_or_else(|| "24h".into());
        let secs = homey_kit::units::parse_duration(&text).map(|d| d.as_secs()).unwrap_or(86_400);
        (secs, text)
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Backup {
    pub paths: Vec<PathBuf>,
    #[serde(default)]
    pub exclude: Vec<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// How long one restic step (backup, forget, check, copy) may take before it is stopped and the run
    /// fails, e.g. "6h" (the default): a remote that hangs ends the night instead of holding the lock.
    pub timeout: Option<String>,
}

impl Backup {
    pub fn timeout(&self) -> std::time::Duration {
        self.timeout
            .as_deref()
            .and_then(|t| homey_kit::units::parse_duration(t).ok())
            .unwrap_or(crate::restic::BACKUP_TIMEOUT)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum MaintenanceScope {
    /// On for the dumps and the upload: files and database match exactly.
    #[default]
    WholeBackup,
    /// On only while the databases are dumped: a shorter outage, files may be a little newer.
    DumpsOnly,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Nextcloud {
    #[serde(default = "default_occ")]
    pub occ: String,
    #[serde(default)]
    pub maintenance: MaintenanceScope,
}

fn default_occ() -> String {
    "nextcloud-occ".into()
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Postgres {
    pub name: String,
    pub database: String,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub user: Option<String>,
    /// Given to pg_dump as `PGPASSWORD` in its environment; leave out for peer authentication.
    pub password_file: Option<PathBuf>,
    pub password_credential: Option<String>,
    /// Run pg_dump as this system user (`runuser -u USER --`), for peer authentication as root.
    pub run_as: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Sqlite {
    pub name: String,
    pub path: PathBuf,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Ldap {
    pub name: String,
    pub url: String,
    pub base_dn: String,
    pub bind_dn: String,
    pub bind_password_file: Option<PathBuf>,
    pub bind_password_credential: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    pub keep_last: Option<u32>,
    pub keep_hourly: Option<u32>,
    pub keep_daily: Option<u32>,
    pub keep_weekly: Option<u32>,
    pub keep_monthly: Option<u32>,
    pub keep_yearly: Option<u32>,
    pub keep_within: Option<String>,
    #[serde(default = "yes")]
    pub prune: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Check {
    pub read_data_subset: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Offload {
    pub repository: String,
    pub password_file: Option<PathBuf>,
    pub password_credential: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Report {
    /// The push URL carries the monitor's token: a secret. Prefer `kuma_push_url_credential` or
    /// `kuma_push_url_file`; the inline form stays for configs that are not world-readable.
    pub kuma_push_url: Option<String>,
    pub kuma_push_url_file: Option<PathBuf>,
    pub kuma_push_url_credential: Option<String>,
    pub textfile_dir: Option<PathBuf>,
}

/// What a dump is, for file names, messages and restore.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DumpKind {
    Postgres,
    Sqlite,
    Ldap,
}

impl DumpKind {
    pub fn extension(self) -> &'static str {
        match self {
            DumpKind::Postgres => "pgdump",
            DumpKind::Sqlite => "sqlite",
            DumpKind::Ldap => "ldif",
        }
    }
    pub fn section(self) -> &'static str {
        match self {
            DumpKind::Postgres => "postgres",
            DumpKind::Sqlite => "sqlite",
            DumpKind::Ldap => "ldap",
        }
    }
}

/// Where a secret named in the config lives: a file, or a credential NAME that homey-kit resolves
/// (`$CREDENTIALS_DIRECTORY/NAME` under systemd, the by-hand place otherwise). Each `*_file` key has a
/// `*_credential` sibling; exactly one of them is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRef {
    File(PathBuf),
    Credential(String),
}

impl SecretRef {
    /// The one set, if any; `validate` reports a config that sets both.
    pub fn of(file: &Option<PathBuf>, credential: &Option<String>) -> Option<SecretRef> {
        match (file, credential) {
            (Some(f), _) => Some(SecretRef::File(f.clone())),
            (None, Some(c)) => Some(SecretRef::Credential(c.clone())),
            (None, None) => None,
        }
    }

    /// Read it through the kit's `Source` (file modes and credential lookup are the kit's).
    pub fn load(&self, env: Env) -> anyhow::Result<Secret> {
        let source = match self {
            SecretRef::File(f) => Source { file: Some(f.clone()), ..Source::default() },
            SecretRef::Credential(name) => Source::credential(name.clone()),
        };
        source.try_load_with(env)?.ok_or_else(|| {
            let name = match self {
                SecretRef::Credential(name) => name.as_str(),
                SecretRef::File(_) => unreachable!("a file source always answers"),
            };
            let under = match env("CREDENTIALS_DIRECTORY") {
                Some(d) => format!("{}/{name}", Path::new(&d).display()),
                None => "$CREDENTIALS_DIRECTORY (not set)".to_owned(),
            };
            homey_kit::exit::coded(
                Exit::Config,
                anyhow::anyhow!(
                    "credential {name:?} not found: looked in {under} and {}",
                    source.fallback_dir.join(name).display()
                ),
            )
        })
    }
}

impl Repository {
    pub fn password(&self) -> Option<SecretRef> {
        SecretRef::of(&self.password_file, &self.password_credential)
    }
    pub fn environment(&self) -> Option<SecretRef> {
        SecretRef::of(&self.environment_file, &self.environment_credential)
    }
}

impl Postgres {
    pub fn password(&self) -> Option<SecretRef> {
        SecretRef::of(&self.password_file, &self.password_credential)
    }
}

impl Ldap {
    pub fn bind_password(&self) -> Option<SecretRef> {
        SecretRef::of(&self.bind_password_file, &self.bind_password_credential)
    }
}

impl Offload {
    pub fn password(&self) -> Option<SecretRef> {
        SecretRef::of(&self.password_file, &self.password_credential)
    }
}

impl Report {
    pub fn has_kuma(&self) -> bool {
        self.kuma_push_url.is_some() || self.kuma_push_url_file.is_some() || self.kuma_push_url_credential.is_some()
    }

    /// The push URL, read from wherever the config names it; `None` when there is no Kuma monitor.
    pub fn kuma_push_url(&self, env: Env) -> anyhow::Result<Option<String>> {
        if let Some(u) = &self.kuma_push_url {
            return Ok(Some(u.clone()));
        }
        match SecretRef::of(&self.kuma_push_url_file, &self.kuma_push_url_credential) {
            Some(r) => Ok(Some(r.load(env)?.expose_str()?.trim().to_owned())),
            None => Ok(None),
        }
    }
}

/// A required secret as a result, for the code that runs after validation.
pub fn required(entry: &str, key: &str, r: Option<SecretRef>) -> anyhow::Result<SecretRef> {
    r.ok_or_else(|| {
        homey_kit::exit::coded(Exit::Config, anyhow::anyhow!("{entry}: set {key}_file or {key}_credential"))
    })
}

impl Config {
    /// Every dump, in the order they run: (kind, name).
    pub fn dumps(&self) -> Vec<(DumpKind, &str)> {
        let pg = self.postgres.iter().map(|p| (DumpKind::Postgres, p.name.as_str()));
        let sq = self.sqlite.iter().map(|s| (DumpKind::Sqlite, s.name.as_str()));
        let ld = self.ldap.iter().map(|l| (DumpKind::Ldap, l.name.as_str()));
        pg.chain(sq).chain(ld).collect()
    }

    /// Where a dump lands in the staging dir (and so inside the snapshot).
    pub fn dump_path(&self, kind: DumpKind, name: &str) -> PathBuf {
        self.staging_dir.join(format!("{name}.{}", kind.extension()))
    }

    pub fn maintenance_scope(&self) -> Option<MaintenanceScope> {
        self.nextcloud.as_ref().map(|n| n.maintenance)
    }
}

/// Parse without touching the file system beyond reading the file.
pub fn parse(file: &Path, text: &str) -> anyhow::Result<Config> {
    toml::from_str(text).map_err(|e| {
        let (line, table) = match e.span() {
            Some(span) => locate(text, span.start),
            None => (0, String::new()),
        };
        let at = if line > 0 { format!(":{line}") } else { String::new() };
        let within = if table.is_empty() { String::new() } else { format!(" in {table}") };
        homey_kit::exit::coded(
            Exit::Config,
            anyhow::anyhow!("{}{at}{within}: {}; nothing ran", file.display(), e.message().trim()),
        )
    })
}

/// The 1-based line of a byte offset and the table header (`[repository]`, `[[postgres]] #2`) it is in.
fn locate(text: &str, offset: usize) -> (usize, String) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let mut table = String::new();
    let mut counts: std::collections::HashMap<String, usize> = Default::default();
    for l in before.lines() {
        let t = l.trim();
        if t.starts_with("[[") {
            let name = t.trim_start_matches("[[").split("]]").next().unwrap_or("").trim().to_owned();
            let n = counts.entry(name.clone()).or_default();
            *n += 1;
            table = format!("[[{name}]] #{n}");
        } else if t.starts_with('[') {
            table = t.split(']').next().unwrap_or(t).to_owned() + "]";
        }
    }
    (line, table)
}

/// Read, parse and validate; every problem is one line naming the file, the entry and the key.
pub fn load(file: &Path) -> anyhow::Result<Config> {
    load_for(file, Scope::Host, Reads::ALL).map(|(cfg, _)| cfg)
}

pub fn load_in(file: &Path, scope: Scope) -> anyhow::Result<(Config, Findings)> {
    load_for(file, scope, Reads::ALL)
}

/// [`load`] looking at as much of the host as `scope` says; the findings tell what was left unchecked.
pub fn load_for(file: &Path, scope: Scope, reads: Reads) -> anyhow::Result<(Config, Findings)> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| homey_kit::exit::coded(Exit::Config, anyhow::anyhow!("{}: {e}", file.display())))?;
    let cfg = parse(file, &text)?;
    let findings = validate_for(&cfg, &|k| std::env::var_os(k), scope, reads);
    let problems = &findings.problems;
    if let Some(first) = problems.first() {
        for p in &problems[1..] {
            homey_kit::error!("{}: {p}", file.display());
        }
        let more = if problems.len() > 1 { format!(" (and {} more above)", problems.len() - 1) } else { String::new() };
        homey_kit::fail!(Exit::Config, "{}: {first}{more}; nothing ran", file.display());
    }
    Ok((cfg, findings))
}

pub type Env<'a> = &'a dyn Fn(&str) -> Option<std::ffi::OsString>;

/// Everything that can be checked before the first side effect.
pub fn validate(cfg: &Config, env: Env) -> Vec<String> {
    validate_in(cfg, env, Scope::Host).problems
}

/// How much of the host a check looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Everything: the file, and on this host the paths, programs and secrets it names.
    Host,
    /// The file alone (syntax, types, values, references between sections), before the host's paths exist:
    /// for a config rendered for another machine, or checked before it is deployed.
    FileOnly,
}

/// What a check found, and what it left unchecked (one line per kind, for `check-config --file-only`).
#[derive(Debug, Default)]
pub struct Findings {
    pub problems: Vec<String>,
    pub unchecked: Vec<String>,
    host: bool,
    reads: Reads,
}

impl Default for Reads {
    fn default() -> Self {
        Reads::ALL
    }
}

impl Findings {
    /// Run `check` only when looking at the host; else note `what` as not checked.
    fn on_host(&mut self, what: impl Into<String>, check: impl FnOnce(&mut Vec<String>)) {
        if self.host {
            check(&mut self.problems);
        } else {
            let what = what.into();
            if !self.unchecked.contains(&what) {
                self.unchecked.push(what);
            }
        }
    }
}

pub fn validate_in(cfg: &Config, env: Env, scope: Scope) -> Findings {
    validate_for(cfg, env, scope, Reads::ALL)
}

/// [`validate_in`] reading only the secrets of `reads` (a command's own).
pub fn validate_for(cfg: &Config, env: Env, scope: Scope, reads: Reads) -> Findings {
    let mut f = Findings { host: scope == Scope::Host, reads, ..Findings::default() };
    for (key, dir) in [("state_dir", &cfg.state_dir), ("staging_dir", &cfg.staging_dir)] {
        if !dir.is_absolute() {
            f.problems.push(format!("{key}: {} is not an absolute path", dir.display()));
        }
    }
    if cfg.staging_dir == cfg.state_dir {
        f.problems.push("staging_dir: must differ from state_dir (it is emptied after every run)".into());
    }
    if cfg.repository.url.trim().is_empty() {
        f.problems.push("[repository] url: empty".into());
    }
    let r = &cfg.repository;
    secret(
        &mut f,
        env,
        "[repository]",
        "password",
        &r.password_file,
        &r.password_credential,
        Need::Required(Group::Repository),
    );
    if let Some(s) = secret(
        &mut f,
        env,
        "[repository]",
        "environment",
        &r.environment_file,
        &r.environment_credential,
        Need::Optional(Group::Repository),
    ) {
        if let Err(e) = parse_env_file(&s.1) {
            f.problems.push(format!("[repository] {}: {e:#}", s.0));
        }
    }
    if cfg.backup.paths.is_empty() {
        f.problems.push("[backup] paths: empty; name at least one directory to back up".into());
    }
    for path in &cfg.backup.paths {
        if !path.is_absolute() {
            f.problems.push(format!("[backup] paths: {} is not an absolute path", path.display()));
        } else {
            f.on_host("[backup] paths exist", |p| {
                if std::fs::symlink_metadata(path).is_err() {
                    p.push(format!("[backup] paths: {} does not exist", path.display()));
                }
            });
        }
    }
    if let Some(t) = &cfg.repository.stale_lock_after {
        if let Err(e) = homey_kit::units::parse_duration(t) {
            f.problems.push(format!("[repository] stale_lock_after: {t:?}: {e}"));
        }
    }
    if let Some(t) = &cfg.backup.timeout {
        if let Err(e) = homey_kit::units::parse_duration(t) {
            f.problems.push(format!("[backup] timeout: {t:?}: {e}"));
        }
    }
    for t in &cfg.backup.tags {
        if t.is_empty() || t.contains(',') {
            f.problems.push(format!("[backup] tags: {t:?} is not a valid restic tag (empty or contains a comma)"));
        }
    }
    let mut programs = vec![("[repository]", "restic")];
    if !cfg.postgres.is_empty() {
        programs.extend([("[[postgres]]", "pg_dump"), ("[[postgres]]", "pg_restore")]);
    }
    f.on_host("programs on PATH (restic, pg_dump, pg_restore, occ)", |p| {
        for (entry, prog) in programs {
            if find_program(prog, env).is_none() {
                p.push(format!("{entry}: the program {prog:?} is not on PATH"));
            }
        }
        if let Some(nc) = cfg.nextcloud.as_ref().filter(|nc| find_program(&nc.occ, env).is_none()) {
            p.push(format!("[nextcloud] occ: {:?} not found on PATH", nc.occ));
        }
    });
    let mut names = std::collections::BTreeSet::new();
    for (kind, name) in cfg.dumps() {
        let entry = format!("[[{}]] {name:?}", kind.section());
        if name.is_empty()
            || !name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            || name.starts_with('.')
        {
            f.problems.push(format!("{entry} name: use letters, digits, '-', '_' and '.' (it becomes a file name)"));
        }
        if !names.insert(name) {
            f.problems.push(format!("{entry} name: used twice; dump names must be unique"));
        }
    }
    for pg in &cfg.postgres {
        let entry = format!("[[postgres]] {:?}", pg.name);
        if pg.database.is_empty() {
            f.problems.push(format!("{entry} database: empty"));
        }
        secret(
            &mut f,
            env,
            &entry,
            "password",
            &pg.password_file,
            &pg.password_credential,
            Need::Optional(Group::Dumps),
        );
        if let Some(h) = pg.host.as_ref().filter(|h| h.starts_with('/')) {
            f.on_host("[[postgres]] socket directories exist", |p| {
                if !Path::new(h).is_dir() {
                    p.push(format!("{entry} host: socket directory {h} does not exist"));
                }
            });
        }
    }
    for sq in &cfg.sqlite {
        f.on_host("[[sqlite]] paths exist", |p| {
            if !sq.path.is_file() {
                p.push(format!("[[sqlite]] {:?} path: {} does not exist", sq.name, sq.path.display()));
            }
        });
    }
    for l in &cfg.ldap {
        let entry = format!("[[ldap]] {:?}", l.name);
        if !["ldap://", "ldaps://", "ldapi://"].iter().any(|s| l.url.starts_with(s)) {
            f.problems.push(format!("{entry} url: {:?} must start with ldap://, ldaps:// or ldapi://", l.url));
        }
        if l.base_dn.is_empty() {
            f.problems.push(format!("{entry} base_dn: empty"));
        }
        secret(
            &mut f,
            env,
            &entry,
            "bind_password",
            &l.bind_password_file,
            &l.bind_password_credential,
            Need::Required(Group::Dumps),
        );
    }
    if let Some(r) = &cfg.retention {
        let keeps = [r.keep_last, r.keep_hourly, r.keep_daily, r.keep_weekly, r.keep_monthly, r.keep_yearly];
        if keeps.iter().all(Option::is_none) && r.keep_within.is_none() {
            f.problems.push(
                "[retention]: no keep_* key; it would forget every snapshot. Set one, or drop [retention]".into(),
            );
        }
        if let Some(w) = r.keep_within.as_ref().filter(|w| !valid_restic_duration(w)) {
            f.problems.push(format!("[retention] keep_within: {w:?} is not a restic duration like 7d, 2y5m, 12h"));
        }
    }
    if let Some(s) = cfg.check.as_ref().and_then(|c| c.read_data_subset.as_ref()).filter(|s| !valid_subset(s)) {
        f.problems.push(format!("[check] read_data_subset: {s:?} is not n/t, x% or a size like 500M"));
    }
    if let Some(o) = &cfg.offload {
        if o.repository.trim().is_empty() {
            f.problems.push("[offload] repository: empty".into());
        }
        if o.repository == cfg.repository.url {
            f.problems.push("[offload] repository: is the same repository as [repository] url".into());
        }
        secret(
            &mut f,
            env,
            "[offload]",
            "password",
            &o.password_file,
            &o.password_credential,
            Need::Required(Group::Offload),
        );
    }
    let rp = &cfg.report;
    let set = [rp.kuma_push_url.is_some(), rp.kuma_push_url_file.is_some(), rp.kuma_push_url_credential.is_some()];
    if set.iter().filter(|s| **s).count() > 1 {
        f.problems.push(
            "[report] kuma_push_url, kuma_push_url_file, kuma_push_url_credential: set one of them, not several".into(),
        );
    } else if let Some(u) = &rp.kuma_push_url {
        if !(u.starts_with("http://") || u.starts_with("https://")) {
            f.problems.push("[report] kuma_push_url: must start with http:// or https://".into());
        }
    } else if let Some((key, s)) = secret(
        &mut f,
        env,
        "[report]",
        "kuma_push_url",
        &rp.kuma_push_url_file,
        &rp.kuma_push_url_credential,
        Need::Optional(Group::Report),
    ) {
        // The value is the secret: say what is wrong with it without showing it.
        let ok = s.expose_str().is_ok_and(|u| u.starts_with("http://") || u.starts_with("https://"));
        if !ok {
            f.problems.push(format!("[report] {key}: the URL it holds must start with http:// or https://"));
        }
    }
    if let Some(d) = &cfg.report.textfile_dir {
        f.on_host("[report] textfile_dir exists", |p| {
            if !d.is_dir() {
                p.push(format!("[report] textfile_dir: {} is not a directory", d.display()));
            }
        });
    }
    f
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Need {
    Required(Group),
    Optional(Group),
}

impl Need {
    fn group(self) -> Group {
        match self {
            Need::Required(g) | Need::Optional(g) => g,
        }
    }
}

/// Whose secrets: a command reads only some, so a unit loads only its own credentials (12.1:
/// backup-offload.service has none of the dumps').
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    Repository,
    Dumps,
    Offload,
    Report,
}

/// The secret groups a command reads; the others are checked as keys only (one of `*_file`/`*_credential`).
#[derive(Debug, Clone, Copy)]
pub struct Reads(pub &'static [Group]);

impl Reads {
    pub const ALL: Reads = Reads(&[Group::Repository, Group::Dumps, Group::Offload, Group::Report]);
    pub const RUN: Reads = Reads(&[Group::Repository, Group::Dumps, Group::Report]);
    pub const PRE: Reads = Reads(&[Group::Dumps]);
    pub const NONE: Reads = Reads(&[]);
    pub const OFFLOAD: Reads = Reads(&[Group::Repository, Group::Offload]);
    pub const RESTORE: Reads = Reads(&[Group::Repository, Group::Dumps, Group::Offload]);
}

/// Check one `KEY_file` / `KEY_credential` pair: exactly one (or none, when optional), a credential name
/// systemd accepts, and the secret readable. Returns the key that was used and the secret (wiped on drop).
fn secret(
    f: &mut Findings,
    env: Env,
    entry: &str,
    key: &str,
    file: &Option<PathBuf>,
    credential: &Option<String>,
    need: Need,
) -> Option<(String, Secret)> {
    if file.is_some() && credential.is_some() {
        f.problems.push(format!("{entry} {key}_file, {key}_credential: set one of them, not both"));
        return None;
    }
    let r = SecretRef::of(file, credential);
    let used = match &r {
        Some(SecretRef::File(_)) => format!("{key}_file"),
        Some(SecretRef::Credential(name)) => {
            if name.is_empty() || name.contains('/') || name == "." || name == ".." {
                f.problems
                    .push(format!("{entry} {key}_credential: {name:?} is not a credential name (no '/', not empty)"));
                return None;
            }
            format!("{key}_credential")
        }
        None => {
            if matches!(need, Need::Required(_)) {
                f.problems.push(format!("{entry}: set {key}_file or {key}_credential"));
            }
            return None;
        }
    };
    if !f.host {
        f.on_host("secrets readable (files and credentials)", |_| ());
        return None;
    }
    if !f.reads.0.contains(&need.group()) {
        // This command does not read it; its unit need not have it.
        return None;
    }
    // Reading it proves it exists, is a file, is not empty and not world-readable.
    match r.as_ref().map(|r| r.load(env)) {
        Some(Ok(s)) => Some((used, s)),
        Some(Err(e)) => {
            f.problems.push(format!("{entry} {used}: {e:#}"));
            None
        }
        None => None,
    }
}

/// `KEY=value` lines as in systemd's `EnvironmentFile=`: blank lines and `#` comments skipped, optional
/// `export `, optional surrounding quotes. Errors name the line, never the value.
pub fn parse_env_file(secret: &Secret) -> anyhow::Result<Vec<(String, Secret)>> {
    let text = secret.expose_str()?;
    let mut out = vec![];
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((k, v)) = line.split_once('=') else {
            anyhow::bail!("line {}: expected KEY=value", i + 1);
        };
        let k = k.trim();
        if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            anyhow::bail!("line {}: {k:?} is not a variable name", i + 1);
        }
        let v = v.trim();
        let v = v
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
            .unwrap_or(v);
        out.push((k.to_owned(), Secret::new(v)));
    }
    Ok(out)
}

pub fn find_program(name: &str, env: Env) -> Option<PathBuf> {
    if name.contains('/') {
        return Path::new(name).is_file().then(|| PathBuf::from(name));
    }
    let path = env("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(name)).find(|p| p.is_file())
}

fn valid_restic_duration(s: &str) -> bool {
    let re = regex::Regex::new(r"^(\d+[yMwdh])+$").expect("static regex");
    // restic also accepts m (months) in lower case in older versions; both are accepted here.
    re.is_match(s) || regex::Regex::new(r"^(\d+[ymwdh])+$").expect("static regex").is_match(s)
}

fn valid_subset(s: &str) -> bool {
    regex::Regex::new(r"^(\d+/\d+|\d+(\.\d+)?%|\d+(\.\d+)?[KMGT]?)$").expect("static regex").is_match(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    pub(crate) const EXAMPLE: &str = include_str!("../../../examples/backup.toml");

    #[test]
    fn the_example_parses() {
        let cfg = parse(Path::new("backup.toml"), EXAMPLE).unwrap();
        assert_eq!(cfg.postgres[0].database, "nextcloud");
        assert_eq!(cfg.maintenance_scope(), Some(MaintenanceScope::WholeBackup));
        assert_eq!(
            cfg.dumps(),
            [(DumpKind::Postgres, "nextcloud"), (DumpKind::Sqlite, "uptime-kuma"), (DumpKind::Ldap, "directory")]
        );
    }

    #[test]
    fn unknown_key_names_file_line_and_table() {
        let text = EXAMPLE.replace("keep_weekly = 4", "keep_weekley = 4");
        let err = parse(Path::new("/etc/b.toml"), &text).unwrap_err();
        let msg = format!("{err:#}");
        assert_eq!(Exit::of(&err), Exit::Config);
        assert!(msg.starts_with("/etc/b.toml:"), "{msg}");
        assert!(msg.contains("in [retention]") && msg.contains("keep_weekley"), "{msg}");
        assert!(!msg.contains('\n'), "{msg}");
    }

    #[test]
    fn second_array_entry_is_named() {
        let text = "state_dir = \"/s\"\nstaging_dir = \"/t\"\n[repository]\nurl = \"x\"\npassword_file = \"/p\"\n\
                    [backup]\npaths = []\n[[sqlite]]\nname = \"a\"\npath = \"/a\"\n[[sqlite]]\nname = \"b\"\npth = \"/b\"\n";
        let msg = format!("{:#}", parse(Path::new("c.toml"), text).unwrap_err());
        assert!(msg.contains("c.toml:13 in [[sqlite]] #2") && msg.contains("pth"), "{msg}");
    }

    fn sandbox() -> (tempfile::TempDir, Config) {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        let pw = root.join("pw");
        std::fs::write(&pw, "hunter2\n").unwrap();
        std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::create_dir(root.join("data")).unwrap();
        let text = format!(
            "state_dir = \"{r}/state\"\nstaging_dir = \"{r}/staging\"\n[repository]\nurl = \"{r}/repo\"\n\
             password_file = \"{r}/pw\"\n[backup]\npaths = [\"{r}/data\"]\n",
            r = root.display()
        );
        let cfg = parse(Path::new("c.toml"), &text).unwrap();
        (d, cfg)
    }

    #[test]
    fn a_valid_sandbox_has_no_problems() {
        let (_d, cfg) = sandbox();
        assert_eq!(validate(&cfg, &|k| std::env::var_os(k)), Vec::<String>::new());
    }

    #[test]
    fn missing_paths_and_open_secrets_are_named() {
        let (d, mut cfg) = sandbox();
        cfg.backup.paths.push(d.path().join("nope"));
        std::fs::set_permissions(d.path().join("pw"), std::fs::Permissions::from_mode(0o644)).unwrap();
        cfg.sqlite.push(Sqlite { name: "kuma".into(), path: d.path().join("kuma.db") });
        cfg.ldap.push(Ldap {
            name: "kuma".into(),
            url: "http://x".into(),
            base_dn: "dc=example,dc=com".into(),
            bind_dn: "cn=admin".into(),
            bind_password_file: Some(d.path().join("ldap-pw")),
            bind_password_credential: None,
        });
        let p = validate(&cfg, &|_| None);
        let all = p.join("\n");
        assert!(all.contains("[backup] paths:") && all.contains("nope does not exist"), "{all}");
        assert!(all.contains("[repository] password_file:") && all.contains("0644"), "{all}");
        assert!(all.contains("[[sqlite]] \"kuma\" path:"), "{all}");
        assert!(all.contains("[[ldap]] \"kuma\" name: used twice"), "{all}");
        assert!(all.contains("[[ldap]] \"kuma\" url:"), "{all}");
        assert!(all.contains("[[ldap]] \"kuma\" bind_password_file:"), "{all}");
        assert!(!all.contains("hunter2"), "{all}");
    }

    #[test]
    fn env_file_lines() {
        let s = Secret::new("# keys\nAWS_ACCESS_KEY_ID=abc\nexport AWS_SECRET_ACCESS_KEY=\"d=e\"\n\n");
        let kv = parse_env_file(&s).unwrap();
        assert_eq!(kv.len(), 2);
        assert_eq!(kv[1].0, "AWS_SECRET_ACCESS_KEY");
        assert_eq!(kv[1].1.expose(), b"d=e");
        let err = parse_env_file(&Secret::new("AWS_KEY hunter2")).unwrap_err();
        assert!(format!("{err}").contains("line 1") && !format!("{err}").contains("hunter2"));
    }

    #[test]
    fn retention_and_subset_formats() {
        assert!(valid_subset("5%") && valid_subset("1/10") && valid_subset("500M") && !valid_subset("five"));
        assert!(valid_restic_duration("7d") && valid_restic_duration("2y5m") && !valid_restic_duration("7 days"));
    }
}
