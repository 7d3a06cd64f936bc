//! The run as data: which commands, in which order, under which guarantees. `run --dry-run` prints it;
//! the executor in `job` walks it.

use crate::config::{Config, DumpKind, Env, MaintenanceScope};
use crate::dumps;
use crate::nextcloud::Occ;
use crate::restic::Restic;
use homey_kit::process::Cmd;

#[derive(Debug, Clone)]
pub struct Plan {
    /// Read the repository's config first: a missing repository or a wrong password stops the run
    /// before maintenance mode is touched. Only when there is something to protect (maintenance mode,
    /// dumps): it costs a key derivation (~0.7 s), and otherwise `restic backup` fails just the same.
    pub preflight: Option<Cmd>,
    /// `[repository] init_if_missing`: `restic init` when the preflight finds no repository.
    pub init: Option<Cmd>,
    /// The repository's locks, read before the run: a killed run's lock is reported, and cleared when stale.
    pub locks: Cmd,
    pub maintenance: Option<(Occ, MaintenanceScope)>,
    pub dumps: Vec<(DumpKind, String)>,
    pub backup: Cmd,
    pub forget: Option<Cmd>,
    pub check: Option<Cmd>,
}

impl Plan {
    pub fn build(cfg: &Config, restic: &Restic) -> Plan {
        Plan {
            preflight: (cfg.nextcloud.is_some() || !cfg.dumps().is_empty() || cfg.repository.init_if_missing)
                .then(|| restic.cat_config()),
            init: cfg.repository.init_if_missing.then(|| restic.init()),
            locks: restic.list_locks(),
            maintenance: cfg.nextcloud.as_ref().map(|n| (Occ { program: n.occ.clone() }, n.maintenance)),
            dumps: cfg.dumps().into_iter().map(|(k, n)| (k, n.to_owned())).collect(),
            backup: restic.backup(&cfg.backup, &cfg.staging_dir),
            forget: cfg.retention.as_ref().map(|r| restic.forget(r, &cfg.backup.tags)),
            check: cfg.check.as_ref().map(|c| restic.check(c)),
        }
    }

    /// The plan for people: numbered steps with the exact commands (secrets show as `<redacted>`).
    pub fn render(&self, cfg: &Config, vars: Env) -> String {
        let mut lines: Vec<String> = vec![];
        let env = |c: &Cmd| {
            let e: Vec<String> = c.env_redacted().iter().map(|(k, v)| format!("{k}={v}")).collect();
            if e.is_empty() { String::new() } else { format!("\n      env: {}", e.join(" ")) }
        };
        lines.push(format!("take the lock {}", cfg.state_dir.join("backup.lock").display()));
        if cfg.report.has_kuma() {
            lines.push("tell Uptime Kuma: up, \"start\"".into());
        }
        if let Some(p) = &self.preflight {
            lines.push(format!("check the repository: {p}{}", env(p)));
        }
        if let Some(i) = &self.init {
            lines.push(format!("only if the server says it does not exist: create it: {i}"));
        }
        lines.push(format!(
            "read the locks: {}; restic cat lock ID for each; restic unlock only if every stale one is this \
             host's and older than stale_lock_after {}",
            self.locks,
            cfg.repository.stale_lock_after().1
        ));
        lines.push(format!("empty our files from {} (0700)", cfg.staging_dir.display()));
        if let Some((occ, _)) = &self.maintenance {
            lines.push(format!("maintenance on: {}", occ.on_cmd()));
        }
        for (kind, name) in &self.dumps {
            let target = cfg.dump_path(*kind, name);
            let how = match kind {
                DumpKind::Postgres => {
                    let pg = cfg.postgres.iter().find(|p| &p.name == name).expect("planned from config");
                    match dumps::pg_dump_cmd(pg, vars) {
                        Ok(c) => format!("{c} > temp; pg_restore --list temp"),
                        Err(e) => format!("(cannot build pg_dump: {e:#})"),
                    }
                }
                DumpKind::Sqlite => {
                    let sq = cfg.sqlite.iter().find(|s| &s.name == name).expect("planned from config");
                    format!("VACUUM INTO temp from {}; PRAGMA integrity_check", sq.path.display())
                }
                DumpKind::Ldap => {
                    let l = cfg.ldap.iter().find(|s| &s.name == name).expect("planned from config");
                    format!("search {} under {:?} as {:?}, attributes * +, paged; LDIF", l.url, l.base_dn, l.bind_dn)
                }
            };
            lines.push(format!("dump {name} → {}: {how}; fsync; rename", target.display()));
        }
        let off = |lines: &mut Vec<String>, occ: &Occ| {
            lines.push(format!(
                "maintenance off (always, also after a failure or SIGTERM): {}; read back with {}; retried",
                occ.off_cmd(),
                occ.state_cmd()
            ))
        };
        if let Some((occ, MaintenanceScope::DumpsOnly)) = &self.maintenance {
            off(&mut lines, occ);
        }
        lines.push(format!("back up: {}{}", self.backup, env(&self.backup)));
        if let Some((occ, MaintenanceScope::WholeBackup)) = &self.maintenance {
            off(&mut lines, occ);
        }
        lines.push(format!("empty our files from {}", cfg.staging_dir.display()));
        if let Some(f) = &self.forget {
            lines.push(format!("retention (only after a saved snapshot): {f}"));
        }
        if let Some(c) = &self.check {
            lines.push(format!("check (only after a saved snapshot): {c}"));
        }
        let mut report = vec![format!("{}", cfg.state_dir.join(crate::report::STATUS_FILE).display())];
        if let Some(d) = &cfg.report.textfile_dir {
            report.push(d.join("backup-hooks.prom").display().to_string());
        }
        if cfg.report.has_kuma() {
            report.push("Uptime Kuma up/down".into());
        }
        lines.push(format!("report: {}", report.join(", ")));
        lines.iter().enumerate().map(|(i, l)| format!("{:>2}. {l}\n", i + 1)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::restic::{Repo, Version};
    use std::path::Path;

    fn restic(v: Version) -> Restic {
        Restic {
            program: "restic".into(),
            repo: Repo {
                url: "s3:https://s3.eu-central-003.backblazeb2.com/example-com-backup".into(),
                password: homey_kit::secret::Secret::new("hunter2"),
                env: vec![("AWS_ACCESS_KEY_ID".into(), homey_kit::secret::Secret::new("AKIA"))],
                cache_dir: None,
            },
            version: v,
            cancel: None,
            timeout: crate::restic::BACKUP_TIMEOUT,
        }
    }

    #[test]
    fn example_plan_on_restic_0_14() {
        let cfg =
            crate::config::parse(Path::new("backup.toml"), include_str!("../../../examples/backup.toml")).unwrap();
        let plan = Plan::build(&cfg, &restic(Version(0, 14, 0)));
        let text = plan.render(&cfg, &|_| None);
        assert!(!text.contains("AKIA") && !text.contains("hunter2"));
        insta::assert_snapshot!(text);
    }

    #[test]
    fn dumps_only_turns_maintenance_off_before_the_upload() {
        let text = include_str!("../../../examples/backup.toml").replace("\"whole-backup\"", "\"dumps-only\"");
        let cfg = crate::config::parse(Path::new("backup.toml"), &text).unwrap();
        let rendered = Plan::build(&cfg, &restic(Version(0, 18, 0))).render(&cfg, &|_| None);
        let off = rendered.find("maintenance off").unwrap();
        let up = rendered.find("back up:").unwrap();
        assert!(off < up, "{rendered}");
        assert!(rendered.contains("--retry-lock 10m"));
    }
}
