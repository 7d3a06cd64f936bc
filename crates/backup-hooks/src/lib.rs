//! backup-hooks: the nightly restic backup with Nextcloud maintenance mode and database/directory dumps.
//!
//! The config is validated before anything runs; `plan` turns it into the commands of a run; `job`
//! executes them with maintenance mode turned off on every way out.

pub mod config;
pub mod dumps;
pub mod job;
pub mod ldif;
pub mod nextcloud;
pub mod plan;
pub mod report;
pub mod restic;

use homey_kit::Exit;
use homey_kit::cli::Verbosity;
use homey_kit::clock::SystemClock;
use homey_kit::manual::Page;
use homey_kit::process::{Cancel, SystemRunner};
use std::path::PathBuf;

#[derive(Debug, clap::Parser)]
#[command(
    name = "backup-hooks",
    version,
    about = "The nightly restic backup with Nextcloud maintenance mode and database/directory dumps."
)]
pub struct Cli {
    #[command(flatten)]
    pub verbosity: Verbosity,
    /// The config file (the unit's path by default, so a command typed over SSH reads what the timer reads).
    #[arg(long, short, global = true, env = "BACKUP_HOOKS_CONFIG", default_value = config::DEFAULT_CONFIG)]
    pub config: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// The whole nightly job: dumps, restic backup, retention, check, report (ExecStart).
    Run {
        /// Print the plan (every command, secrets redacted) and change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Maintenance mode on and the dumps into staging (for services.restic's backupPrepareCommand).
    Pre,
    /// Maintenance mode off (confirmed) and staging emptied; idempotent, safe at any time (ExecStopPost).
    Post,
    /// `restic copy` every snapshot into the [offload] repository (created when missing).
    Offload,
    /// The last run: outcome, snapshot, bytes added, each step, the maintenance window.
    Status {
        /// Print the last run's record as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Pull a dump back out of restic into DIR; for PostgreSQL optionally restore it into a new database.
    RestoreDb {
        /// The dump's `name` in the config.
        name: String,
        /// The restic snapshot to take it from (an ID, or `latest`).
        #[arg(long, default_value = "latest")]
        snapshot: String,
        /// Where the dump file goes.
        #[arg(long)]
        to: PathBuf,
        /// PostgreSQL: create this (new) database and pg_restore the dump into it.
        #[arg(long, value_name = "SCRATCH")]
        into_database: Option<String>,
        /// Read from the [offload] repository (the local copy) instead of [repository].
        #[arg(long)]
        from_offload: bool,
    },
    /// Validate the config (keys, files, secret file modes) and exit.
    CheckConfig {
        /// Check the file alone — syntax, types, values, references between sections — not the paths,
        /// programs and secrets it names on this host (a config rendered before they exist); says what it
        /// left unchecked.
        #[arg(long)]
        file_only: bool,
    },
}

/// Each command's exit codes and examples, under its `--help` and in its man page.
pub const MANUAL: &[Page] = &[
    Page {
        command: "run",
        exits: &[
            (Exit::Ok, "snapshot saved, maintenance off, retention and check done (a dry run: the plan printed)"),
            (
                Exit::Failed,
                "failed: the repository unreachable or missing, a dump, restic, check, or maintenance mode could not be turned off; status, metrics and Kuma say so",
            ),
            (Exit::Warnings, "snapshot saved, but restic could not read some files, or retention failed"),
            (Exit::Unavailable, "restic is not installed or does not answer `restic version`"),
            (Exit::TryAgain, "another backup-hooks run, pre, post or offload holds the lock"),
            (
                Exit::Config,
                "the config is wrong, a secret is missing, or the server refused the password or the keys; nothing ran",
            ),
        ],
        examples: &[
            ("What tonight's run would do, every command with secrets redacted", "backup-hooks run --dry-run"),
            ("The nightly job, as the timer starts it", "backup-hooks run"),
            ("With another config", "backup-hooks --config /etc/backup-hooks/test.toml run --dry-run"),
        ],
    },
    Page {
        command: "pre",
        exits: &[
            (Exit::Ok, "maintenance mode on and every dump in the staging dir"),
            (Exit::Failed, "a dump failed; maintenance mode was turned off again"),
            (Exit::TryAgain, "another run holds the lock"),
            (Exit::Config, "the config is wrong; nothing ran"),
        ],
        examples: &[
            ("As services.restic's backupPrepareCommand", "backup-hooks pre"),
            ("Dumps only, verbosely", "backup-hooks -v pre"),
        ],
    },
    Page {
        command: "post",
        exits: &[
            (Exit::Ok, "maintenance mode off (read back) and the staging dir emptied"),
            (Exit::Failed, "maintenance mode could not be turned off: Nextcloud is still in maintenance mode"),
            (Exit::TryAgain, "a run holds the lock (it turns maintenance off itself)"),
            (Exit::Config, "the config is wrong; nothing ran"),
        ],
        examples: &[
            ("After a crash: maintenance off and staging emptied, safe at any time", "backup-hooks post"),
            ("As the unit's ExecStopPost backstop", "backup-hooks --config /etc/backup-hooks/backup.toml post"),
        ],
    },
    Page {
        command: "offload",
        exits: &[
            (Exit::Ok, "every snapshot copied to the [offload] repository (created if it was missing)"),
            (Exit::Failed, "restic copy failed, or the offload repository is locked or unreadable"),
            (Exit::Unavailable, "restic is not installed"),
            (Exit::TryAgain, "a run holds the lock"),
            (Exit::Config, "no [offload] section, or its password is missing; nothing ran"),
        ],
        examples: &[
            ("Copy to the USB disk", "backup-hooks offload"),
            ("The same, saying each step", "backup-hooks -v offload"),
        ],
    },
    Page {
        command: "status",
        exits: &[
            (Exit::Ok, "the last run succeeded, or none is recorded yet"),
            (Exit::Failed, "the last run failed"),
            (Exit::Warnings, "the last run saved a snapshot with warnings"),
            (Exit::Config, "the config file cannot be read"),
        ],
        examples: &[
            ("The last run for people", "backup-hooks status"),
            ("For a script or a login banner", "backup-hooks status --json"),
        ],
    },
    Page {
        command: "restore-db",
        exits: &[
            (Exit::Ok, "the dump is in DIR and reads back (and is restored into the scratch database)"),
            (Exit::Failed, "restic dump, the read-back check, createdb or pg_restore failed"),
            (Exit::Usage, "no dump of that name, or --into-database names the live database"),
            (Exit::Unavailable, "restic is not installed"),
            (Exit::Config, "the config is wrong; nothing ran"),
        ],
        examples: &[
            (
                "The restore drill into a scratch database",
                "backup-hooks restore-db nextcloud --to /root/drill --into-database drill",
            ),
            (
                "Uptime Kuma's SQLite from a given snapshot",
                "backup-hooks restore-db uptime-kuma --snapshot 4f1c2a9e --to /root/drill",
            ),
            ("From the USB copy while B2 is down", "backup-hooks restore-db nextcloud --from-offload --to /root/drill"),
        ],
    },
    Page {
        command: "check-config",
        exits: &[
            (Exit::Ok, "the config is valid (with --file-only: as a file; what was not checked is listed)"),
            (Exit::Config, "one line per problem, naming the file, the entry and the key"),
        ],
        examples: &[
            ("Everything, on the host that runs the backup", "backup-hooks check-config"),
            (
                "A config rendered before the host's paths exist",
                "backup-hooks --config result/backup.toml check-config --file-only",
            ),
        ],
    },
];

pub fn run(cli: Cli) -> anyhow::Result<Exit> {
    let env = |k: &str| std::env::var_os(k);
    // Before anything that could be interrupted: SIGTERM/SIGINT raise the flag instead of killing us
    // with maintenance mode on.
    let cancel = Cancel::on_signals();
    let runner = SystemRunner;
    let clock = SystemClock;
    let ctx = job::Ctx { runner: &runner, clock: &clock, cancel, env: &env };

    if let Command::Status { json } = &cli.command {
        return status(&cli, *json);
    }
    if let Command::CheckConfig { file_only: true } = &cli.command {
        let (cfg, findings) = config::load_in(&cli.config, config::Scope::FileOnly)?;
        homey_kit::outln!(
            "{}: ok as a file ({}, {}, repository {})",
            cli.config.display(),
            homey_kit::units::count(cfg.dumps().len(), "dump", "dumps"),
            homey_kit::units::count(cfg.backup.paths.len(), "path", "paths"),
            cfg.repository.url
        )?;
        if !findings.unchecked.is_empty() {
            homey_kit::outln!("not checked (they are this host's): {}", findings.unchecked.join("; "))?;
        }
        return Ok(Exit::Ok);
    }
    if let Command::Run { dry_run: true } = &cli.command {
        return dry_run(&cli, &ctx);
    }
    // Each command checks only the secrets it reads: its unit loads only those credentials.
    let reads = match &cli.command {
        Command::Run { .. } => config::Reads::RUN,
        Command::Pre => config::Reads::PRE,
        Command::Offload => config::Reads::OFFLOAD,
        Command::RestoreDb { .. } => config::Reads::RESTORE,
        // status reads only the state dir: by hand it must work without any secret.
        Command::Post | Command::Status { .. } => config::Reads::NONE,
        Command::CheckConfig { .. } => config::Reads::ALL,
    };
    let (cfg, _) = config::load_for(&cli.config, config::Scope::Host, reads)?;
    match &cli.command {
        Command::CheckConfig { .. } => {
            homey_kit::outln!(
                "{}: ok ({}, {}, repository {})",
                cli.config.display(),
                homey_kit::units::count(cfg.dumps().len(), "dump", "dumps"),
                homey_kit::units::count(cfg.backup.paths.len(), "path", "paths"),
                cfg.repository.url
            )?;
            Ok(Exit::Ok)
        }
        Command::Run { dry_run: true } => unreachable!("handled above"),
        Command::Run { dry_run: false } => {
            let state = homey_kit::state::StateDir::open(&cfg.state_dir)?;
            let _lock = state.lock(job::LOCK, "backup-hooks run")?;
            let version = job::restic_version(&ctx)?;
            let status = job::run(&cfg, &ctx, version);
            match status.outcome {
                report::Outcome::Success => {
                    homey_kit::notice!("backup done: {}", status.message);
                    Ok(Exit::Ok)
                }
                report::Outcome::Warning => {
                    homey_kit::warn!("backup done with warnings: {}", status.message);
                    Ok(Exit::Warnings)
                }
                report::Outcome::Failed if status.config_fault => {
                    homey_kit::fail!(Exit::Config, "backup FAILED: {}", status.message)
                }
                report::Outcome::Failed => homey_kit::fail!(Exit::Failed, "backup FAILED: {}", status.message),
            }
        }
        Command::Pre => {
            let state = homey_kit::state::StateDir::open(&cfg.state_dir)?;
            let _lock = state.lock(job::LOCK, "backup-hooks pre")?;
            job::pre(&cfg, &ctx)
        }
        Command::Post => {
            let state = homey_kit::state::StateDir::open(&cfg.state_dir)?;
            let _lock = state.lock(job::LOCK, "backup-hooks post")?;
            job::post(&cfg, &ctx)
        }
        Command::Offload => {
            let state = homey_kit::state::StateDir::open(&cfg.state_dir)?;
            let _lock = state.lock(job::LOCK, "backup-hooks offload")?;
            let version = job::restic_version(&ctx)?;
            job::offload(&cfg, &ctx, version)
        }
        Command::RestoreDb { name, snapshot, to, into_database, from_offload } => {
            let version = job::restic_version(&ctx)?;
            let r = job::Restore {
                name: name.clone(),
                snapshot: snapshot.clone(),
                to: to.clone(),
                into_database: into_database.clone(),
                from_offload: *from_offload,
            };
            job::restore_db(&cfg, &ctx, version, &r)
        }
        Command::Status { .. } => unreachable!("handled above"),
    }
}

/// `run --dry-run` needs only the file: the host's paths, programs and secrets may not exist yet (a config
/// checked before it is deployed). What this host lacks is said after the plan, as the real run would say it.
fn dry_run(cli: &Cli, ctx: &job::Ctx) -> anyhow::Result<Exit> {
    let (cfg, _) = config::load_in(&cli.config, config::Scope::FileOnly)?;
    let version = match job::restic_version(ctx) {
        Ok(v) => v,
        Err(e) => {
            homey_kit::warn!("{e:#}; planning for restic 0.14.0, the oldest this tool supports");
            restic::Version(0, 14, 0)
        }
    };
    let repo = match job::source_repo(&cfg, ctx) {
        Ok(r) => r,
        Err(e) => {
            homey_kit::warn!("{e:#}; the plan shows the secret as <redacted> all the same");
            restic::Repo {
                url: cfg.repository.url.clone(),
                password: homey_kit::secret::Secret::new(""),
                env: vec![],
                cache_dir: cfg.repository.cache_dir.clone(),
            }
        }
    };
    let restic = job::restic_for(&cfg, repo, version, None);
    homey_kit::out!("{}", plan::Plan::build(&cfg, &restic).render(&cfg, ctx.env))?;
    homey_kit::outln!("(dry run with restic {version}: nothing was changed)")?;
    for p in config::validate(&cfg, ctx.env) {
        homey_kit::warn!("{}: on this host the run would stop here: {p}", cli.config.display());
    }
    Ok(Exit::Ok)
}

/// `status` reads only the state dir, so it works even when the rest of the config no longer validates.
fn status(cli: &Cli, json: bool) -> anyhow::Result<Exit> {
    let text = std::fs::read_to_string(&cli.config)
        .map_err(|e| homey_kit::exit::coded(Exit::Config, anyhow::anyhow!("{}: {e}", cli.config.display())))?;
    let cfg = config::parse(&cli.config, &text)?;
    match report::Status::load(&cfg.state_dir)? {
        None => {
            if json {
                homey_kit::outln!("null")?;
            } else {
                homey_kit::outln!("no run recorded yet in {}", cfg.state_dir.display())?;
            }
            Ok(Exit::Ok)
        }
        Some(s) => {
            if json {
                homey_kit::outln!("{}", serde_json::to_string_pretty(&s)?)?;
            } else {
                homey_kit::out!("{}", s.render())?;
            }
            Ok(s.outcome.exit())
        }
    }
}
