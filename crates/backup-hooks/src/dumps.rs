//! Dumps into the staging directory. Each one is written under a temporary name, fsynced, checked and
//! only then renamed to its final name: a dump that exists under its final name is complete.

use crate::config::{Config, DumpKind, Env, Ldap, Postgres, Sqlite};
use crate::ldif;
use anyhow::Context;
use homey_kit::fs::AtomicFile;
use homey_kit::process::{Cancel, Cmd, Runner, Stdout};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const DUMP_TIMEOUT: Duration = Duration::from_secs(3 * 3600);

#[derive(Debug, Clone)]
pub struct Dumped {
    pub path: PathBuf,
    pub bytes: u64,
    pub detail: String,
}

/// pg_dump's command; its stdout streams straight into the temporary file (never through our memory).
pub fn pg_dump_cmd(pg: &Postgres, env: Env) -> anyhow::Result<Cmd> {
    let mut args: Vec<String> = vec!["--format=custom".into(), "--no-password".into()];
    args.extend(pg_conn_args(pg));
    args.push(format!("--dbname={}", pg.database));
    pg_cmd(pg, "pg_dump", args, env)
}

pub fn pg_conn_args(pg: &Postgres) -> Vec<String> {
    let mut args = vec![];
    if let Some(h) = &pg.host {
        args.push(format!("--host={h}"));
    }
    if let Some(p) = pg.port {
        args.push(format!("--port={p}"));
    }
    if let Some(u) = &pg.user {
        args.push(format!("--username={u}"));
    }
    args
}

/// A PostgreSQL client program, run as `run_as` if set, with the password (if any) in its environment.
pub fn pg_cmd(pg: &Postgres, program: &str, args: Vec<String>, env: Env) -> anyhow::Result<Cmd> {
    let mut c = match &pg.run_as {
        Some(user) => Cmd::new("runuser").args(["-u", user, "--", program]).args(args),
        None => Cmd::new(program).args(args),
    };
    if let Some(r) = pg.password() {
        let pw = r.load(env).with_context(|| format!("[[postgres]] {:?} password", pg.name))?;
        c = c.secret_env("PGPASSWORD", &pw);
    }
    Ok(c)
}

pub fn postgres(runner: &dyn Runner, cancel: &Cancel, env: Env, cfg: &Config, pg: &Postgres) -> anyhow::Result<Dumped> {
    let target = cfg.dump_path(DumpKind::Postgres, &pg.name);
    let file = AtomicFile::create(&target, 0o600)?;
    let cmd =
        pg_dump_cmd(pg, env)?.stdout(Stdout::File(file.temp_path().to_owned())).timeout(DUMP_TIMEOUT).cancel_on(cancel);
    runner.run_ok(&cmd).with_context(|| format!("pg_dump of database {:?}", pg.database))?;
    // pg_restore reads the whole table of contents: a truncated archive fails here.
    let check = Cmd::new("pg_restore").arg("--list").arg(file.temp_path()).stdout(Stdout::Null).cancel_on(cancel);
    runner.run_ok(&check).context("the dump does not read back (pg_restore --list)")?;
    let bytes = std::fs::metadata(file.temp_path())?.len();
    file.commit()?;
    Ok(Dumped { path: target, bytes, detail: "checked with pg_restore --list".into() })
}

/// A consistent copy of a live SQLite database (WAL or not) with `VACUUM INTO`: one read transaction,
/// so concurrent writers neither block it nor tear it, and it always finishes.
pub fn sqlite(cancel: &Cancel, cfg: &Config, sq: &Sqlite) -> anyhow::Result<Dumped> {
    use rusqlite::{Connection, OpenFlags};
    if cancel.is_cancelled() {
        anyhow::bail!("stopped before the copy started");
    }
    let target = cfg.dump_path(DumpKind::Sqlite, &sq.name);
    let file = AtomicFile::create(&target, 0o600)?;
    let src = Connection::open_with_flags(
        &sq.path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI,
    )
    .with_context(|| format!("opening {}", sq.path.display()))?;
    src.busy_timeout(Duration::from_secs(60))?;
    // A stop request interrupts a long copy instead of waiting for it (maintenance mode is on meanwhile).
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let (done, cancel, handle) = (done.clone(), cancel.clone(), src.get_interrupt_handle());
        std::thread::spawn(move || {
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                if cancel.is_cancelled() {
                    handle.interrupt();
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    // The temporary file exists and is empty, which VACUUM INTO accepts.
    let copied = src.execute("VACUUM INTO ?1", [file.temp_path().to_string_lossy()]);
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let _ = watcher.join();
    copied.with_context(|| format!("VACUUM INTO from {}", sq.path.display()))?;
    drop(src);
    let copy = Connection::open(file.temp_path())?;
    // A single self-contained file, whatever the source's journal mode.
    let _mode: String = copy.query_row("PRAGMA journal_mode=DELETE", [], |r| r.get(0))?;
    let verdict: String = copy.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
    drop(copy);
    if verdict != "ok" {
        anyhow::bail!("the copy of {} fails PRAGMA integrity_check: {verdict}", sq.path.display());
    }
    let bytes = std::fs::metadata(file.temp_path())?.len();
    file.commit()?;
    Ok(Dumped { path: target, bytes, detail: "VACUUM INTO, integrity_check ok".into() })
}

/// The whole tree under `base_dn` with operational attributes, paged, as LDIF.
pub fn ldap(cancel: &Cancel, env: Env, cfg: &Config, l: &Ldap) -> anyhow::Result<Dumped> {
    use ldap3::adapters::{Adapter, EntriesOnly, PagedResults};
    use ldap3::{LdapConn, LdapConnSettings, Scope, SearchEntry};
    if cancel.is_cancelled() {
        anyhow::bail!("stopped before the export started");
    }
    let pw = crate::config::required(&format!("[[ldap]] {:?}", l.name), "bind_password", l.bind_password())?
        .load(env)
        .with_context(|| format!("[[ldap]] {:?} bind password", l.name))?;
    let settings = LdapConnSettings::new().set_conn_timeout(Duration::from_secs(30));
    let mut conn = LdapConn::with_settings(settings, &l.url).with_context(|| format!("connecting to {}", l.url))?;
    conn.simple_bind(&l.bind_dn, pw.expose_str()?)
        .and_then(|r| r.success())
        .with_context(|| format!("binding to {} as {}", l.url, l.bind_dn))?;
    drop(pw);
    let adapters: Vec<Box<dyn Adapter<_, _>>> = vec![Box::new(EntriesOnly::new()), Box::new(PagedResults::new(500))];
    let mut stream = conn
        .streaming_search_with(adapters, &l.base_dn, Scope::Subtree, "(objectClass=*)", vec!["*", "+"])
        .with_context(|| format!("searching {}", l.base_dn))?;
    let mut entries = vec![];
    while let Some(raw) = stream.next().context("reading search results")? {
        let se = SearchEntry::construct(raw);
        let mut attrs: Vec<(String, Vec<Vec<u8>>)> =
            se.attrs.into_iter().map(|(k, vs)| (k, vs.into_iter().map(String::into_bytes).collect())).collect();
        attrs.extend(se.bin_attrs);
        let mut e = ldif::Entry { dn: se.dn, attrs };
        e.normalise();
        entries.push(e);
        if cancel.is_cancelled() {
            anyhow::bail!("stopped during the export");
        }
    }
    stream.result().success().with_context(|| format!("search of {}", l.base_dn))?;
    let _ = conn.unbind();
    if entries.is_empty() {
        anyhow::bail!("the search under {} returned no entries; refusing to save an empty export", l.base_dn);
    }
    ldif::order(&mut entries);
    let target = cfg.dump_path(DumpKind::Ldap, &l.name);
    let mut file = AtomicFile::create(&target, 0o600)?;
    {
        let mut w = BufWriter::new(&mut file);
        ldif::write_header(&mut w)?;
        for e in &entries {
            ldif::write_entry(&mut w, e)?;
        }
        w.flush()?;
    }
    let written = ldif::count_entries(&std::fs::read_to_string(file.temp_path())?);
    if written != entries.len() {
        anyhow::bail!("the LDIF has {written} entries, the directory returned {}", entries.len());
    }
    let bytes = std::fs::metadata(file.temp_path())?.len();
    file.commit()?;
    Ok(Dumped { path: target, bytes, detail: format!("{} entries", entries.len()) })
}

/// Remove what we put in the staging dir: our dump names and our temporary names, nothing else, so a
/// staging_dir pointed at the wrong place never loses anyone's files.
pub fn clean_staging(cfg: &Config) -> anyhow::Result<usize> {
    let dir = &cfg.staging_dir;
    let ours: Vec<String> = cfg.dumps().into_iter().map(|(k, n)| format!("{n}.{}", k.extension())).collect();
    let mut removed = 0;
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_ours = ours.iter().any(|o| name == *o || (name.starts_with(&format!(".{o}.tmp-"))))
            || ours.iter().any(|o| name == format!("{o}-journal"));
        if is_ours && entry.file_type()?.is_file() {
            std::fs::remove_file(entry.path()).with_context(|| format!("removing {}", entry.path().display()))?;
            removed += 1;
        }
    }
    Ok(removed)
}

pub fn ensure_staging(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    homey_kit::fs::ensure_dir(dir, 0o700)?;
    // An existing directory keeps its mode with ensure_dir; dumps hold every secret of the house.
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("chmod 0700 {}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use homey_kit::process::{FakeRunner, Output};

    #[test]
    fn pg_dump_never_gets_the_password_in_argv() {
        let d = tempfile::tempdir().unwrap();
        homey_kit::fs::write_atomic(&d.path().join("pg-password"), b"pg-s3cret", 0o600).unwrap();
        let pg = Postgres {
            name: "nc".into(),
            database: "nextcloud".into(),
            host: Some("/run/postgresql".into()),
            port: Some(5433),
            user: Some("nextcloud".into()),
            password_file: None,
            password_credential: Some("pg-password".into()),
            run_as: Some("postgres".into()),
        };
        let creds = d.path().as_os_str().to_owned();
        let c = pg_dump_cmd(&pg, &|k| (k == "CREDENTIALS_DIRECTORY").then(|| creds.clone())).unwrap();
        assert_eq!(
            c.argv().join(" "),
            "runuser -u postgres -- pg_dump --format=custom --no-password --host=/run/postgresql --port=5433 \
             --username=nextcloud --dbname=nextcloud"
        );
        assert_eq!(c.env_redacted(), [("PGPASSWORD".to_owned(), "<redacted>".to_owned())]);
    }

    fn cfg(dir: &Path) -> Config {
        crate::config::parse(
            Path::new("t.toml"),
            &format!(
                "state_dir = \"{d}/state\"\nstaging_dir = \"{d}\"\n[repository]\nurl = \"r\"\npassword_file = \"/p\"\n\
                 [backup]\npaths = [\"/\"]\n[[postgres]]\nname = \"nc\"\ndatabase = \"nc\"\n",
                d = dir.display()
            ),
        )
        .unwrap()
    }

    #[test]
    fn a_failed_pg_dump_leaves_nothing_under_the_final_name() {
        let d = tempfile::tempdir().unwrap();
        let c = cfg(d.path());
        let runner = FakeRunner::new(|cmd| {
            if let Stdout::File(p) = &cmd.stdout {
                std::fs::write(p, b"PGDMP partial").unwrap();
            }
            Ok(Output::failed(1, "pg_dump: error: could not write: No space left on device"))
        });
        let err = postgres(&runner, &Cancel::new(), &|_| None, &c, &c.postgres[0]).unwrap_err();
        assert!(format!("{err:#}").contains("No space left"), "{err:#}");
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 0, "temp file left behind");
    }

    #[test]
    fn a_dump_that_does_not_read_back_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let c = cfg(d.path());
        let runner = FakeRunner::new(|cmd| {
            if cmd.program_name() == "pg_restore" {
                return Ok(Output::failed(1, "pg_restore: error: could not read input file: end of file"));
            }
            Ok(Output::ok(""))
        });
        let err = postgres(&runner, &Cancel::new(), &|_| None, &c, &c.postgres[0]).unwrap_err();
        assert!(format!("{err:#}").contains("pg_restore --list"), "{err:#}");
        assert!(!c.dump_path(DumpKind::Postgres, "nc").exists());
        assert_eq!(runner.command_lines()[1].split(' ').take(2).collect::<Vec<_>>(), ["pg_restore", "--list"]);
    }

    #[test]
    fn cleaning_removes_only_our_files() {
        let d = tempfile::tempdir().unwrap();
        let c = cfg(d.path());
        std::fs::write(d.path().join("nc.pgdump"), b"x").unwrap();
        std::fs::write(d.path().join(".nc.pgdump.tmp-12-0"), b"x").unwrap();
        std::fs::write(d.path().join("someone-elses.txt"), b"x").unwrap();
        assert_eq!(clean_staging(&c).unwrap(), 2);
        assert!(d.path().join("someone-elses.txt").exists());
    }
}
