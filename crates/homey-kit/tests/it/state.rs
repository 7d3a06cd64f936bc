//! A run by hand as root in a state directory that belongs to the unit's (dynamic) user.

use homey_kit::state::StateDir;
use std::os::unix::fs::{MetadataExt, PermissionsExt};

#[test]
fn a_run_as_root_leaves_its_files_to_the_state_directorys_owner() {
    // SAFETY: geteuid has no preconditions.
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "this test needs root (to hand files to another user); it cannot check what it names on this machine. \
         `cargo xtask test` leaves it out here and says so (ARCHITECTURE.md, \"Tests that need the machine\")"
    );
    let d = tempfile::tempdir().unwrap();
    // As systemd leaves StateDirectory=kuma-sync for DynamicUser=yes: the unit's uid, 0700.
    let dir = d.path().join("kuma-sync");
    std::fs::create_dir(&dir).unwrap();
    std::os::unix::fs::chown(&dir, Some(61234), Some(61234)).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();

    let state = StateDir::resolve_with("kuma-sync", Some(&dir), None).unwrap();
    let lock = state.lock("kuma-sync", "kuma-sync sync").unwrap();
    let meta = std::fs::metadata(lock.path()).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (61234, 61234), "the unit must be able to open its lock again");
    drop(lock);
    state.gate("kuma-sync").store("abc").unwrap();
    let meta = std::fs::metadata(dir.join("kuma-sync.hash")).unwrap();
    assert_eq!((meta.uid(), meta.mode() & 0o777), (61234, 0o600));

    // Root's own directory (a root unit, net-watchdog's): nothing is handed over.
    let own = d.path().join("net-watchdog");
    let state = StateDir::resolve_with("net-watchdog", Some(&own), None).unwrap();
    let lock = state.lock("check", "net-watchdog check").unwrap();
    assert_eq!(std::fs::metadata(lock.path()).unwrap().uid(), 0);
}
