//! Atomic file writes with an explicit mode: a temporary file in the same directory, written, fsynced,
//! renamed over the target, and the directory fsynced. A reader (or a crash) sees the old file or the
//! new one, never half of either; a secret file is never, even briefly, readable with a wider mode.

use crate::exit::Exit;
use anyhow::Context;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Write `bytes` to `path` atomically with permission bits `mode` (e.g. 0o600 for secrets).
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> anyhow::Result<()> {
    let mut f = AtomicFile::create(path, mode)?;
    f.write_all(bytes).with_context(|| format!("writing {}", f.temp_path().display()))?;
    f.commit()
}

/// A file being written under a temporary name; it replaces the target only on [`commit`](Self::commit).
/// Dropped without a commit, the temporary file is removed and the target is untouched.
#[derive(Debug)]
pub struct AtomicFile {
    target: PathBuf,
    temp: PathBuf,
    file: Option<File>,
}

impl AtomicFile {
    pub fn create(path: &Path, mode: u32) -> anyhow::Result<AtomicFile> {
        let dir = parent(path);
        let name = path.file_name().with_context(|| format!("{}: not a file path", path.display()))?;
        check_parent(path)?;
        let mut n = 0u32;
        loop {
            let temp = dir.join(format!(".{}.tmp-{}-{n}", name.to_string_lossy(), std::process::id()));
            match OpenOptions::new().write(true).create_new(true).mode(mode).open(&temp) {
                Ok(file) => {
                    // The umask may have narrowed `mode`; the caller asked for exactly `mode`.
                    use std::os::unix::fs::PermissionsExt;
                    file.set_permissions(std::fs::Permissions::from_mode(mode))
                        .with_context(|| format!("chmod {}", temp.display()))?;
                    return Ok(AtomicFile { target: path.to_owned(), temp, file: Some(file) });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && n < 100 => n += 1,
                Err(e) => return Err(e).with_context(|| format!("creating {}", temp.display())),
            }
        }
    }

    /// Where the bytes go until commit; a child process may write here (e.g. `pg_dump -f`).
    pub fn temp_path(&self) -> &Path {
        &self.temp
    }

    pub fn target(&self) -> &Path {
        &self.target
    }

    pub fn file(&mut self) -> &mut File {
        self.file.as_mut().expect("file is open until commit")
    }

    /// fsync, rename over the target, fsync the directory.
    pub fn commit(mut self) -> anyhow::Result<()> {
        let file = self.file.take().expect("commit once");
        file.sync_all().with_context(|| format!("fsync {}", self.temp.display()))?;
        drop(file);
        std::fs::rename(&self.temp, &self.target)
            .with_context(|| format!("renaming {} to {}", self.temp.display(), self.target.display()))?;
        sync_dir(parent(&self.target))?;
        // Renamed: nothing left for Drop to clean up.
        self.temp = PathBuf::new();
        Ok(())
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file().write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file().flush()
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if !self.temp.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

/// Fail, naming the directory, when `path` cannot be written because its directory is missing (or is
/// not a directory). Tools call it before the work whose result goes there, so nothing claims success
/// first; [`AtomicFile::create`] calls it too.
pub fn check_parent(path: &Path) -> anyhow::Result<()> {
    let dir = parent(path);
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => {
            crate::fail!(Exit::Config, "cannot write {}: {} is not a directory", path.display(), dir.display())
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => crate::fail!(
            Exit::Config,
            "cannot write {}: the directory {} does not exist (create it, or choose another path)",
            path.display(),
            dir.display()
        ),
        Err(e) => Err(e).with_context(|| format!("cannot write {}: directory {}", path.display(), dir.display())),
    }
}

/// fsync a directory, so a rename or a new entry in it survives a power cut.
pub fn sync_dir(dir: &Path) -> anyhow::Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).with_context(|| format!("fsync directory {}", dir.display()))
}

fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Create a directory (and parents) with `mode` if it is missing; an existing one keeps its mode.
pub fn ensure_dir(dir: &Path, mode: u32) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(mode)
        .create(dir)
        .with_context(|| format!("creating directory {}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn writes_with_exact_mode() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("secret.toml");
        write_atomic(&p, b"a = 1\n", 0o600).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"a = 1\n");
        assert_eq!(std::fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o600);
        write_atomic(&p, b"a = 2\n", 0o640).unwrap();
        assert_eq!(std::fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o640);
    }

    #[test]
    fn crash_between_write_and_rename_leaves_the_old_file() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("state");
        write_atomic(&p, b"old", 0o644).unwrap();
        let mut f = AtomicFile::create(&p, 0o644).unwrap();
        f.write_all(b"new but never committed").unwrap();
        // A crash: the process dies before rename, so not even Drop runs.
        std::mem::forget(f);
        assert_eq!(std::fs::read(&p).unwrap(), b"old");
        // The next writer is not confused by the leftover temporary file.
        write_atomic(&p, b"newer", 0o644).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"newer");
    }

    #[test]
    fn a_missing_directory_is_named_and_nothing_is_written() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("homey-attic").join("server.toml");
        let err = write_atomic(&p, b"x", 0o600).unwrap_err();
        assert_eq!(crate::Exit::of(&err), Exit::Config);
        let msg = format!("{err:#}");
        assert!(
            msg.contains(&format!("the directory {} does not exist", d.path().join("homey-attic").display())),
            "{msg}"
        );
        assert!(!d.path().join("homey-attic").exists());
        let file = d.path().join("file");
        write_atomic(&file, b"", 0o600).unwrap();
        let err = check_parent(&file.join("x")).unwrap_err();
        assert!(format!("{err:#}").contains("is not a directory"), "{err:#}");
        check_parent(Path::new("relative-in-cwd")).unwrap();
    }

    #[test]
    fn dropped_without_commit_cleans_up() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("dump");
        let mut f = AtomicFile::create(&p, 0o600).unwrap();
        f.write_all(b"partial").unwrap();
        let temp = f.temp_path().to_owned();
        drop(f);
        assert!(!temp.exists());
        assert!(!p.exists());
    }
}
