//! The backup-hooks part of the demo: a real nightly run in the sandbox, with a local restic
//! repository instead of B2, a real SQLite database in WAL mode, and a small stand-in for
//! `nextcloud-occ` that keeps the maintenance state in a file.

use super::Ctx;
use anyhow::Context;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

pub fn run(ctx: &Ctx) -> anyhow::Result<()> {
    let d = &ctx.dir;
    for sub in ["data/nextcloud", "data/authelia", "secrets", "textfile", "bin", "usb"] {
        std::fs::create_dir_all(d.join(sub))?;
    }
    std::fs::write(d.join("data/nextcloud/notes.md"), "# shopping\n- coffee\n")?;
    std::fs::write(d.join("data/authelia/storage.key"), "demo-encryption-key\n")?;
    secret(&d.join("secrets/restic-password"), "demo-restic-password\n")?;
    secret(&d.join("secrets/offload-password"), "demo-offload-password\n")?;
    secret(&d.join("secrets/restic-env"), "AWS_ACCESS_KEY_ID=demo\nAWS_SECRET_ACCESS_KEY=demo-secret\n")?;
    occ_stand_in(d)?;
    let kuma = d.join("kuma.db");
    let sqlite = Command::new("sqlite3")
        .arg(&kuma)
        .arg(
            "PRAGMA journal_mode=WAL; CREATE TABLE monitor(id INTEGER PRIMARY KEY, name TEXT); \
             INSERT INTO monitor(name) VALUES ('cloud.example.com'), ('auth.example.com');",
        )
        .output();
    let have_sqlite = sqlite.is_ok_and(|o| o.status.success());
    let restic_init = Command::new("restic")
        .args(["init", "--repo"])
        .arg(d.join("repo"))
        .env("RESTIC_PASSWORD_FILE", d.join("secrets/restic-password"))
        .output()
        .context("restic (Debian package restic)")?;
    anyhow::ensure!(restic_init.status.success(), "restic init: {}", String::from_utf8_lossy(&restic_init.stderr));

    let r = d.display();
    let mut cfg = format!(
        "# The homelab's backup.toml with local stand-ins: a local repository instead of B2.\n\
         state_dir = \"{r}/state\"\nstaging_dir = \"{r}/state/staging\"\n\n\
         [repository]\nurl = \"{r}/repo\"\npassword_file = \"{r}/secrets/restic-password\"\n\
         environment_file = \"{r}/secrets/restic-env\"\ncache_dir = \"{r}/cache\"\n\n\
         [backup]\npaths = [\"{r}/data/nextcloud\", \"{r}/data/authelia\"]\nexclude = [\"{r}/data/nextcloud/media\"]\ntags = [\"nightly\"]\n\n\
         [nextcloud]\nocc = \"nextcloud-occ\"\nmaintenance = \"whole-backup\"\n\n\
         [retention]\nkeep_daily = 7\nkeep_weekly = 4\nkeep_monthly = 12\nprune = true\n\n\
         [check]\nread_data_subset = \"5%\"\n\n\
         [offload]\nrepository = \"{r}/usb/restic\"\npassword_file = \"{r}/secrets/offload-password\"\n\n\
         [report]\ntextfile_dir = \"{r}/textfile\"\n"
    );
    if have_sqlite {
        cfg += &format!("\n[[sqlite]]\nname = \"uptime-kuma\"\npath = \"{}\"\n", kuma.display());
    }
    let config = d.join("backup.toml");
    std::fs::write(&config, cfg)?;
    let path_env = format!("{}:{}", d.join("bin").display(), std::env::var("PATH").unwrap_or_default());
    let tool = |args: &[&str]| {
        let mut c = ctx.tool("backup-hooks");
        c.arg("--config").arg("backup.toml").args(args).env("PATH", &path_env);
        c
    };

    ctx.show(&mut tool(&["check-config"]))?;
    ctx.show(&mut tool(&["run", "--dry-run"]))?;
    let code = ctx.show(&mut tool(&["run"]))?;
    anyhow::ensure!(code == 0, "the demo run failed");
    ctx.show(&mut tool(&["status"]))?;
    ctx.show(Command::new("cat").arg(d.join("occ.log")))?;
    ctx.show(Command::new("cat").arg(d.join("textfile/backup-hooks.prom")))?;
    if have_sqlite {
        ctx.show(&mut tool(&["restore-db", "uptime-kuma", "--to", "restored"]))?;
        ctx.show(Command::new("sqlite3").arg(d.join("restored/uptime-kuma.sqlite")).arg("SELECT name FROM monitor"))?;
    }
    ctx.show(&mut tool(&["offload"]))?;
    // The backstop: safe at any time, idempotent.
    ctx.show(&mut tool(&["post"]))?;
    // A typo in the config: one line naming file, table and key; exit 78, nothing ran.
    let bad = std::fs::read_to_string(&config)?.replace("keep_weekly", "keep_weakly");
    std::fs::write(d.join("typo.toml"), bad)?;
    let mut c = ctx.tool("backup-hooks");
    c.args(["--config", "typo.toml", "run"]).env("PATH", &path_env);
    ctx.show(&mut c)?;
    Ok(())
}

fn secret(p: &Path, body: &str) -> anyhow::Result<()> {
    std::fs::write(p, body)?;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o600))?;
    Ok(())
}

/// `nextcloud-occ maintenance:mode [--on|--off]`, answering like the real one and logging each call.
fn occ_stand_in(d: &Path) -> anyhow::Result<()> {
    let p = d.join("bin/nextcloud-occ");
    std::fs::write(
        &p,
        format!(
            "#!/bin/sh\nd={}\necho \"$(date +%T.%N | cut -c1-12) nextcloud-occ $*\" >> \"$d/occ.log\"\ncase \"$*\" in\n\
             'maintenance:mode --on') echo enabled > \"$d/occ-state\"; echo 'Maintenance mode enabled';;\n\
             'maintenance:mode --off') echo disabled > \"$d/occ-state\"; echo 'Maintenance mode disabled';;\n\
             'maintenance:mode') echo \"Maintenance mode is currently $(cat \"$d/occ-state\" 2>/dev/null || echo disabled)\";;\n\
             esac\n",
            d.display()
        ),
    )?;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755))?;
    Ok(())
}
