//! Run by hand over SSH, as the unit would be: no $STATE_DIRECTORY, state in /var/lib/net-watchdog;
//! and a reader that closes the pipe early.

use crate::bin;
use crate::lab::{IFACE, Lab, code, stderr};
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::Path;
use std::process::Stdio;

const UNIT_STATE: &str = "/var/lib/net-watchdog";

/// A pipe whose reader is already gone, as `| head` leaves it once head has read enough.
fn closed_pipe() -> Stdio {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills two fds this process then owns; the read end is closed at once.
    unsafe {
        assert_eq!(libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC), 0);
        libc::close(fds[0]);
        Stdio::from(OwnedFd::from_raw_fd(fds[1]))
    }
}

#[test]
fn status_by_hand_reads_the_units_state_directory_and_creates_nothing() {
    let existed = Path::new(UNIT_STATE).exists();
    let out = bin().arg("status").env_remove("STATE_DIRECTORY").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains(&format!("state: {UNIT_STATE}/state.json")), "{text}");
    assert_eq!(Path::new(UNIT_STATE).exists(), existed, "status created {UNIT_STATE}");
}

#[test]
fn a_dry_run_by_hand_needs_no_state_directory_and_creates_nothing() {
    let lab = Lab::new();
    let existed = Path::new(UNIT_STATE).exists();
    let systemctl = lab.fakes.bin_dir().join("systemctl");
    lab.gateway_gone();
    let out = lab
        .in_pi(&[])
        .args(["check", "--dry-run", "--interface", IFACE, "--count", "1", "--timeout", "200ms", "--boot-grace", "0s"])
        .arg("--systemctl")
        .arg(&systemctl)
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(code(&out), 1, "dead, would reboot: {err}");
    assert!(err.contains("dry run: showing the repair") && !err.contains("repairing"), "{err}");
    assert!(err.contains("dry run: would reboot"), "{err}");
    assert!(err.contains("no answer to 1 echo request (200ms each)"), "{err}");
    assert!(lab.fakes.calls().is_empty(), "a dry run runs nothing: {:?}", lab.fakes.calls());
    assert_eq!(Path::new(UNIT_STATE).exists(), existed, "the dry run created {UNIT_STATE}");
}

#[test]
fn a_closed_stdout_ends_quietly() {
    let d = tempfile::tempdir().unwrap();
    let out = bin()
        .args(["status", "--json", "--state-dir"])
        .arg(d.path())
        .stdout(closed_pipe())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.is_empty(), "{err}");
}
