//! The state directory, the hash gate and the run lock.
//!
//! systemd hands a unit its state directory in `$STATE_DIRECTORY` (`StateDirectory=`); by hand, the
//! `--state-dir` flag names it, and without either it is `/var/lib/<tool>` — what `StateDirectory=<tool>`
//! gives the unit — so a run over SSH sees the unit's state. The hash gate lets a oneshot skip work whose input has not changed since the last run
//! that *fully* succeeded: the digest is stored only after success, so a failed or interrupted run is
//! simply tried again next time.

use crate::exit::{Exit, ResultExt};
use anyhow::Context;
use sha2::{Digest, Sha256};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// A state directory, and — when this process is root and the directory belongs to another user (the
/// unit's `DynamicUser=`/`User=`) — that user, so files a run by hand creates there stay the unit's.
#[derive(Debug, Clone)]
pub struct StateDir {
    dir: PathBuf,
    owner: Option<Owner>,
}

/// The uid and gid files in a state directory are handed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    pub uid: u32,
    pub gid: u32,
}

/// Whose files a run should leave: none to hand over unless we are root and the directory is another's.
pub fn owner_to_adopt(euid: u32, dir_uid: u32, dir_gid: u32) -> Option<Owner> {
    (euid == 0 && dir_uid != 0).then_some(Owner { uid: dir_uid, gid: dir_gid })
}

/// Where `StateDirectory=<tool>` puts a unit's state.
pub const STATE_ROOT: &str = "/var/lib";

impl StateDir {
    /// The state directory, created (0700) if missing: for commands that write state.
    /// `--state-dir` wins; else `$STATE_DIRECTORY` (its first entry; systemd separates several with
    /// ':'); else `/var/lib/<tool>`.
    pub fn resolve(tool: &str, flag: Option<&Path>) -> anyhow::Result<StateDir> {
        Self::resolve_with(tool, flag, std::env::var_os("STATE_DIRECTORY"))
    }

    pub fn resolve_with(tool: &str, flag: Option<&Path>, env: Option<std::ffi::OsString>) -> anyhow::Result<StateDir> {
        let dir = Self::locate_with(tool, flag, env);
        crate::fs::ensure_dir(&dir, 0o700)
            .with_context(|| {
                format!("state directory {}: pass --state-dir, or run as the unit does (root)", dir.display())
            })
            .exit_code(Exit::Config)?;
        Ok(StateDir::at(dir))
    }

    /// A state directory a config file names (no flag to point at), created (0700) if missing.
    pub fn open(dir: &Path) -> anyhow::Result<StateDir> {
        crate::fs::ensure_dir(dir, 0o700)
            .with_context(|| format!("state directory {}", dir.display()))
            .exit_code(Exit::Config)?;
        Ok(StateDir::at(dir.to_owned()))
    }

    fn at(dir: PathBuf) -> StateDir {
        use std::os::unix::fs::MetadataExt;
        // SAFETY: geteuid has no preconditions.
        let euid = unsafe { libc::geteuid() };
        let owner = std::fs::metadata(&dir).ok().and_then(|m| owner_to_adopt(euid, m.uid(), m.gid()));
        StateDir { dir, owner }
    }

    /// Hand a file this run created in the directory to the directory's owner (see [`StateDir`]): a
    /// `kuma-sync sync` run as root over SSH must not leave a lock the unit's dynamic user cannot open.
    pub fn adopt(&self, path: &Path) -> anyhow::Result<()> {
        match self.owner {
            Some(o) => std::os::unix::fs::chown(path, Some(o.uid), Some(o.gid))
                .with_context(|| format!("handing {} to uid {} (the state directory's owner)", path.display(), o.uid)),
            None => Ok(()),
        }
    }

    pub fn owner(&self) -> Option<Owner> {
        self.owner
    }

    /// Where the state directory is, without creating it: for commands that only read (status, plan,
    /// a dry run). It may not exist yet.
    pub fn locate(tool: &str, flag: Option<&Path>) -> PathBuf {
        Self::locate_with(tool, flag, std::env::var_os("STATE_DIRECTORY"))
    }

    pub fn locate_with(tool: &str, flag: Option<&Path>, env: Option<std::ffi::OsString>) -> PathBuf {
        match (flag, env) {
            (Some(f), _) => f.to_owned(),
            (None, Some(e)) if !e.is_empty() => {
                PathBuf::from(e.to_string_lossy().split(':').next().unwrap_or_default())
            }
            _ => Path::new(STATE_ROOT).join(tool),
        }
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    pub fn gate(&self, name: &str) -> HashGate {
        HashGate { path: self.join(&format!("{name}.hash")), owner: self.owner }
    }

    /// Take the exclusive run lock `name.lock`; if another process holds it, fail with `TryAgain`
    /// and say who holds it.
    pub fn lock(&self, name: &str, holder: &str) -> anyhow::Result<Lock> {
        let lock = Lock::acquire(&self.join(&format!("{name}.lock")), holder)?;
        self.adopt(lock.path())?;
        Ok(lock)
    }
}

/// A SHA-256 over several parts, each length-prefixed so ("ab","c") and ("a","bc") differ.
pub fn digest(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    hex::encode(h.finalize())
}

#[derive(Debug, Clone)]
pub struct HashGate {
    path: PathBuf,
    owner: Option<Owner>,
}

impl HashGate {
    pub fn at(path: PathBuf) -> Self {
        HashGate { path, owner: None }
    }

    pub fn stored(&self) -> Option<String> {
        std::fs::read_to_string(&self.path).ok().map(|s| s.trim().to_owned())
    }

    /// True when `digest` is what the last fully successful run stored.
    pub fn unchanged(&self, digest: &str) -> bool {
        self.stored().as_deref() == Some(digest)
    }

    /// Store `digest`; call only after the job fully succeeded.
    pub fn store(&self, digest: &str) -> anyhow::Result<()> {
        crate::fs::write_atomic(&self.path, format!("{digest}\n").as_bytes(), 0o600)?;
        if let Some(o) = self.owner {
            std::os::unix::fs::chown(&self.path, Some(o.uid), Some(o.gid))
                .with_context(|| format!("handing {} to uid {}", self.path.display(), o.uid))?;
        }
        Ok(())
    }

    /// Run `job` unless the input is unchanged (and not `force`d); store the digest only when the job
    /// returns `Ok(true)` ("fully succeeded"). Returns `None` when skipped.
    pub fn run<T>(
        &self,
        digest: &str,
        force: bool,
        job: impl FnOnce() -> anyhow::Result<(T, bool)>,
    ) -> anyhow::Result<Option<T>> {
        if !force && self.unchanged(digest) {
            return Ok(None);
        }
        let (out, success) = job()?;
        if success {
            self.store(digest)?;
        }
        Ok(Some(out))
    }
}

/// An exclusive `flock` on a file that also names its holder; released when dropped or when the
/// process dies, so a crashed run never leaves a stale lock.
#[derive(Debug)]
pub struct Lock {
    file: File,
    path: PathBuf,
}

impl Lock {
    pub fn acquire(path: &Path, holder: &str) -> anyhow::Result<Lock> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .with_context(|| format!("opening lock {}", path.display()))
            .exit_code(Exit::Config)?;
        // SAFETY: flock on an fd we own.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let mut who = String::new();
            let _ = file.read_to_string(&mut who);
            let who = who.trim();
            crate::fail!(
                Exit::TryAgain,
                "another run holds the lock {}: {}",
                path.display(),
                if who.is_empty() { "unknown holder" } else { who }
            );
        }
        file.set_len(0)?;
        file.rewind()?;
        write!(file, "{holder} (pid {})", std::process::id())?;
        file.flush()?;
        Ok(Lock { file, path: path.to_owned() })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = self.file.set_len(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gate_is_not_stored_after_a_failure() {
        let d = tempfile::tempdir().unwrap();
        let gate = StateDir::resolve_with("kuma-sync", Some(d.path()), None).unwrap().gate("kuma");
        let dg = digest(&[b"monitors", b"url"]);
        let failed: anyhow::Result<Option<()>> = gate.run(&dg, false, || anyhow::bail!("server gone"));
        assert!(failed.is_err());
        assert_eq!(gate.stored(), None);
        assert_eq!(gate.run(&dg, false, || Ok(((), false))).unwrap(), Some(()));
        assert_eq!(gate.stored(), None, "partial success must not store");
        assert_eq!(gate.run(&dg, false, || Ok(((), true))).unwrap(), Some(()));
        assert!(gate.unchanged(&dg));
        assert_eq!(gate.run(&dg, false, || -> anyhow::Result<((), bool)> { panic!("skipped") }).unwrap(), None);
        assert_eq!(gate.run(&dg, true, || Ok(((), true))).unwrap(), Some(()));
    }

    #[test]
    fn digest_parts_are_delimited() {
        assert_ne!(digest(&[b"ab", b"c"]), digest(&[b"a", b"bc"]));
    }

    #[test]
    fn state_directory_from_flag_systemd_or_var_lib() {
        let d = tempfile::tempdir().unwrap();
        let a = d.path().join("a");
        let env = format!("{}:/var/lib/other", a.display());
        assert_eq!(StateDir::resolve_with("net-watchdog", None, Some(env.clone().into())).unwrap().path(), a);
        assert!(a.is_dir());
        let flag = d.path().join("flag");
        assert_eq!(StateDir::locate_with("net-watchdog", Some(&flag), Some(env.into())), flag);
        // By hand: where StateDirectory=net-watchdog puts it; locating creates nothing.
        assert_eq!(StateDir::locate_with("net-watchdog", None, None), Path::new("/var/lib/net-watchdog"));
        assert_eq!(StateDir::locate_with("net-watchdog", None, Some("".into())), Path::new("/var/lib/net-watchdog"));
        assert!(!flag.exists());
    }

    #[test]
    fn a_state_directory_that_cannot_be_made_names_the_flag() {
        let d = tempfile::tempdir().unwrap();
        let file = d.path().join("file");
        std::fs::write(&file, "").unwrap();
        let err = StateDir::resolve_with("kuma-sync", Some(&file.join("sub")), None).unwrap_err();
        assert_eq!(Exit::of(&err), Exit::Config);
        let msg = format!("{err:#}");
        assert!(msg.contains("--state-dir") && msg.contains(&file.display().to_string()), "{msg}");
        // From a config file there is no flag to name.
        let err = StateDir::open(&file.join("sub")).unwrap_err();
        assert_eq!(Exit::of(&err), Exit::Config);
        assert!(!format!("{err:#}").contains("--state-dir"), "{err:#}");
        assert!(StateDir::open(&d.path().join("new")).unwrap().path().is_dir());
    }

    #[test]
    fn only_root_hands_files_to_another_owner() {
        assert_eq!(owner_to_adopt(0, 61234, 61234), Some(Owner { uid: 61234, gid: 61234 }));
        assert_eq!(owner_to_adopt(0, 0, 0), None, "root's own directory");
        assert_eq!(owner_to_adopt(1000, 61234, 61234), None, "not root: cannot, and need not");
    }

    #[test]
    fn second_lock_is_refused_naming_the_holder() {
        let d = tempfile::tempdir().unwrap();
        let s = StateDir::resolve_with("kuma-sync", Some(d.path()), None).unwrap();
        let held = s.lock("backup", "backup-hooks run").unwrap();
        let err = s.lock("backup", "other").unwrap_err();
        assert_eq!(Exit::of(&err), Exit::TryAgain);
        assert!(format!("{err}").contains("backup-hooks run"), "{err}");
        drop(held);
        s.lock("backup", "again").unwrap();
    }
}
