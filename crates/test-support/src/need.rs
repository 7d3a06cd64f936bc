//! What a test needs from the machine beyond the Debian packages `cargo xtask test` installs: root for loop
//! devices and namespaces, a kernel that shows loop partitions, a program or two, the shared conformance data.
//!
//! One probe per need, used twice: `cargo xtask test` (which compiles this file into itself) asks them
//! before the run and leaves out, by name, the tests its table says need what is missing here; a test that
//! runs anyway (`cargo nextest run -p X`, `cargo test`) calls [`need`] first and fails loudly. Neither
//! way counts a test that checked nothing as passed. Std only, so xtask can include it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Something a test needs from the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Need {
    /// Loop devices over temp files (`losetup`): root and /dev/loop-control.
    LoopDevices,
    /// The kernel makes `loopNp1` for a partitioned loop device (`losetup --partscan`); some containers do not.
    LoopPartitions,
    /// A private mount namespace with a tmpfs in it (`unshare --mount`): root.
    MountNamespace,
    /// Network namespaces (`ip netns add`, veth pairs): root.
    NetNamespaces,
    /// `mkfs.ext4` (Debian package e2fsprogs).
    MkfsExt4,
    /// `script` (Debian package bsdutils), to give a child a terminal.
    Script,
    /// The shared conformance suite: `../shared` beside the repository, or `$HOMEY_SHARED`.
    SharedConformance,
    /// Root itself, e.g. to hand a file to another user (chown).
    Root,
}

impl Need {
    /// What it is, for "left out N tests that need …".
    pub fn what(self) -> &'static str {
        match self {
            Need::LoopDevices => "loop devices",
            Need::LoopPartitions => "partition devices of loop devices",
            Need::MountNamespace => "a tmpfs mounted in a private mount namespace",
            Need::NetNamespaces => "network namespaces",
            Need::MkfsExt4 => "mkfs.ext4",
            Need::Script => "`script` (a terminal for the child)",
            Need::SharedConformance => "the shared conformance suite",
            Need::Root => "root",
        }
    }

    /// `None` when the machine has it, else why not (one line).
    pub fn missing(self) -> Option<String> {
        match self {
            Need::LoopDevices => not_root()
                .or_else(|| (!Path::new("/dev/loop-control").exists()).then(|| "no /dev/loop-control".to_owned())),
            Need::LoopPartitions => Need::LoopDevices.missing().or_else(loop_partitions_missing),
            Need::MountNamespace => not_root().or_else(|| {
                let dir = std::env::temp_dir();
                let script = "mount -t tmpfs -o size=64k tmpfs \"$0\"";
                probe(
                    Command::new("unshare").args(["--mount", "--propagation", "private", "sh", "-c", script]).arg(&dir),
                )
            }),
            Need::NetNamespaces => {
                not_root().or_else(|| probe(Command::new("unshare").args(["--net", "ip", "link", "set", "lo", "up"])))
            }
            Need::MkfsExt4 => program("mkfs.ext4", "e2fsprogs"),
            Need::Script => program("script", "bsdutils"),
            Need::SharedConformance => shared_dir().err(),
            Need::Root => not_root(),
        }
    }
}

/// Fail the calling test, loudly, when the machine lacks one of `needs`.
///
/// `cargo xtask test` leaves such a test out by name before it runs (its table in xtask/src/test/needs.rs);
/// this is for a test run some other way, so that it fails instead of passing without checking anything.
#[track_caller]
pub fn need(needs: &[Need]) {
    let missing: Vec<String> =
        needs.iter().filter_map(|n| n.missing().map(|why| format!("{} ({why})", n.what()))).collect();
    assert!(
        missing.is_empty(),
        "this test needs {}; it cannot check what it names on this machine. `cargo xtask test` leaves it out here \
         and says so (ARCHITECTURE.md, \"Tests that need the machine\")",
        missing.join(", ")
    );
}

/// The shared specs and conformance data: `$HOMEY_SHARED` when set, else `shared/` beside the repository.
pub fn shared_dir() -> Result<PathBuf, String> {
    let (dir, named_by) = match std::env::var_os("HOMEY_SHARED") {
        Some(p) => (PathBuf::from(p), "$HOMEY_SHARED"),
        None => (workspace_root().join("../shared"), "beside the repository"),
    };
    if dir.join("conformance").is_dir() {
        Ok(dir)
    } else {
        Err(format!("no {} ({named_by}); set HOMEY_SHARED to a copy of shared/", dir.join("conformance").display()))
    }
}

/// The workspace's root: the nearest directory above this crate holding Cargo.lock.
fn workspace_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.ancestors().find(|d| d.join("Cargo.lock").is_file()).unwrap_or(here).to_owned()
}

fn not_root() -> Option<String> {
    unsafe extern "C" {
        fn geteuid() -> u32;
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    (unsafe { geteuid() } != 0).then(|| "not running as root".to_owned())
}

fn program(name: &str, package: &str) -> Option<String> {
    let on_path = std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()));
    (!on_path).then(|| format!("no {name} on PATH (Debian package {package})"))
}

/// Run a probe; `None` when it succeeded, else what it said.
fn probe(cmd: &mut Command) -> Option<String> {
    match cmd.stdin(Stdio::null()).output() {
        Ok(o) if o.status.success() => None,
        Ok(o) => Some(format!(
            "{} failed: {}",
            cmd.get_program().to_string_lossy(),
            String::from_utf8_lossy(&o.stderr).lines().next().unwrap_or("").trim()
        )),
        Err(e) => Some(format!("{}: {e}", cmd.get_program().to_string_lossy())),
    }
}

/// Make a loop device over a small card with one partition and see whether `loopNp1` appears.
fn loop_partitions_missing() -> Option<String> {
    let backing = std::env::temp_dir().join(format!("homey-need-partscan-{}.raw", std::process::id()));
    let mut card = vec![0u8; 1 << 20];
    // One Linux partition from sector 64 to the end, and the MBR signature.
    card[446 + 4] = 0x83;
    card[446 + 8..446 + 12].copy_from_slice(&64u32.to_le_bytes());
    card[446 + 12..446 + 16].copy_from_slice(&(2048u32 - 64).to_le_bytes());
    card[510] = 0x55;
    card[511] = 0xAA;
    if let Err(e) = std::fs::write(&backing, card) {
        return Some(format!("{}: {e}", backing.display()));
    }
    let out = Command::new("losetup").args(["--find", "--show", "--partscan"]).arg(&backing).output();
    let _ = std::fs::remove_file(&backing);
    let dev = match out {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim().to_owned(),
        Ok(o) => return Some(format!("losetup failed: {}", String::from_utf8_lossy(&o.stderr).trim())),
        Err(e) => return Some(format!("losetup: {e}")),
    };
    let part = PathBuf::from(format!("{dev}p1"));
    // udev (or devtmpfs) makes the node shortly after the ioctl returns.
    let seen = (0..50).any(|_| {
        let there = part.exists();
        if !there {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        there
    });
    let _ = Command::new("losetup").arg("-d").arg(&dev).status();
    (!seen).then(|| format!("the kernel made no {} for {dev}", part.display()))
}
