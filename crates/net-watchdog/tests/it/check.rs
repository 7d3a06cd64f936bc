//! `check` against real ICMP and TCP in network namespaces.

use crate::lab::{GW, IFACE, Lab, code, ip, stderr};
use std::os::unix::fs::PermissionsExt;

#[test]
fn gateway_up_is_healthy_and_nothing_is_done() {
    let lab = Lab::new();
    let out = lab.check(&["--json", "-v"]).output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ending"], "healthy");
    let probe = &report["rounds"][0]["probes"][0];
    assert_eq!(
        (probe["role"].as_str(), probe["target"].as_str()),
        (Some("gateway"), Some(GW)),
        "found via /proc/net/route"
    );
    assert_eq!(probe["outcome"], "answered");
    assert!(probe["rtt_ms"].as_f64().is_some());
    assert!(stderr(&out).contains(&format!("probe gateway {GW} (icmp via {IFACE}): answered")), "{}", stderr(&out));
    assert!(lab.fakes.calls().is_empty(), "no systemctl, no iw");
}

#[test]
fn gateway_gone_restart_then_reboot_asked_of_systemctl() {
    let lab = Lab::new();
    lab.gateway_gone();
    let out = lab.check(&["--boot-grace", "0s"]).output().unwrap();
    let err = stderr(&out);
    assert_eq!(code(&out), 1, "{err}");
    assert_eq!(lab.systemctl_calls(), ["restart wpa_supplicant.service", "reboot"]);
    assert!(lab.fakes.calls_of("iw").is_empty(), "a veth is not wireless: power save left alone");
    assert!(err.contains("rebooting") && err.contains(&format!("gateway {GW}: no answer to 2 echo requests")), "{err}");
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(lab.state_dir().join("state.json")).unwrap()).unwrap();
    let reason = state["reboots"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("after restarting wpa_supplicant.service"), "{reason}");
}

#[test]
fn gateway_back_after_the_restart_means_no_reboot() {
    let lab = Lab::new();
    lab.gateway_gone();
    let heals = lab.systemctl_that_heals();
    let heals = heals.to_str().unwrap();
    let out = lab.check(&["--boot-grace", "0s", "--timeout", "1s", "--systemctl", heals]).output().unwrap();
    let err = stderr(&out);
    assert_eq!(code(&out), 3, "recovered is worth a look: {err}");
    assert_eq!(lab.systemctl_calls(), ["restart wpa_supplicant.service"]);
    assert!(err.contains(&format!("after restart: probe gateway {GW} (icmp via {IFACE}): answered")), "{err}");
}

#[test]
fn tcp_target_answering_while_icmp_is_dropped_is_healthy() {
    let lab = Lab::new();
    lab.gateway_drops_icmp();
    let _listener = lab.listen_in_gw(8443);
    let out = lab.check(&["--target", &format!("{GW}:8443"), "--json"]).output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let probes = report["rounds"][0]["probes"].as_array().unwrap();
    assert_eq!(probes[1]["kind"], "tcp");
    assert_eq!(probes[1]["outcome"], "answered");
    assert_ne!(probes[0]["outcome"], "answered", "ICMP really is dropped: {probes:?}");
    assert!(lab.fakes.calls().is_empty());

    // The same gateway without the TCP target is dead: the ICMP drop is real.
    let out = lab.check(&["--dry-run"]).output().unwrap();
    assert_eq!(code(&out), 1, "{}", stderr(&out));
}

#[test]
fn reboot_budget_holds_across_runs() {
    let lab = Lab::new();
    lab.gateway_gone();
    let budget = ["--boot-grace", "0s", "--max-reboots", "2", "--reboot-window", "1h"];
    let codes: Vec<i32> = (0..3).map(|_| code(&lab.check(&budget).output().unwrap())).collect();
    assert_eq!(codes, [1, 1, 75]);
    assert_eq!(lab.systemctl_calls().iter().filter(|c| *c == "reboot").count(), 2);
    let third = lab.check(&budget).output().unwrap();
    assert!(stderr(&third).contains("reboot budget spent: 2 reboots in the last 1h (max 2)"), "{}", stderr(&third));

    let status = lab
        .in_pi(&[])
        .args(["status", "--json", "--max-reboots", "2", "--reboot-window", "1h"])
        .arg("--state-dir")
        .arg(lab.state_dir())
        .output()
        .unwrap();
    assert_eq!(code(&status), 0, "{}", stderr(&status));
    let v: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(v["budget"]["used"], 2);
    assert_eq!(v["budget"]["left"], 0);
    let kinds: Vec<&str> = v["events"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["reboot", "reboot", "held-back"], "repeated held-back runs fold into one event");

    // A wider budget allows the next one.
    let out = lab.check(&["--boot-grace", "0s", "--max-reboots", "3"]).output().unwrap();
    assert_eq!(code(&out), 1, "{}", stderr(&out));
}

#[test]
fn boot_grace_holds_the_reboot_back() {
    let lab = Lab::new();
    lab.gateway_gone();
    let out = lab.check(&["--boot-grace", "365d"]).output().unwrap();
    let err = stderr(&out);
    assert_eq!(code(&out), 75, "{err}");
    assert!(err.contains("not rebooting: uptime") && err.contains("within the boot grace of 365d"), "{err}");
    assert_eq!(lab.systemctl_calls(), ["restart wpa_supplicant.service"], "no reboot during the grace");
}

#[test]
fn dry_run_takes_no_action_and_writes_nothing() {
    let lab = Lab::new();
    lab.gateway_gone();
    let out = lab.check(&["--boot-grace", "0s", "--dry-run"]).output().unwrap();
    let err = stderr(&out);
    assert_eq!(code(&out), 1, "ends as the real run would: {err}");
    assert!(err.contains("dry run: would restart wpa_supplicant.service"), "{err}");
    assert!(err.contains("dry run: would reboot"), "{err}");
    assert!(lab.fakes.calls().is_empty());
    assert!(!lab.state_dir().exists(), "not even the state directory is created");
}

#[test]
fn probe_broken_paths_take_no_action() {
    let lab = Lab::new();
    // No such interface.
    let out = lab.check(&["--interface", "nosuch0", "--boot-grace", "0s"]).output().unwrap();
    assert_eq!(code(&out), 69, "{}", stderr(&out));
    assert!(stderr(&out).contains("no interface nosuch0"), "{}", stderr(&out));

    // No default route through the interface (a fixed gateway does not need one to be probed).
    ip(&["-n", &lab.pi, "route", "del", "default"]);
    let out = lab.check(&["--boot-grace", "0s"]).output().unwrap();
    assert_eq!(code(&out), 69, "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("no default route via {IFACE} (no default route at all)")),
        "{}",
        stderr(&out)
    );
    let fixed = lab.check(&["--gateway", GW]).output().unwrap();
    assert_eq!(code(&fixed), 0, "{}", stderr(&fixed));

    // No ICMP socket: an unprivileged user outside ping_group_range (the kernel default "1 0").
    let own = lab.dir.path().join("nobody-state");
    std::fs::create_dir(&own).unwrap();
    std::os::unix::fs::chown(&own, Some(65534), Some(65534)).unwrap();
    std::fs::set_permissions(lab.dir.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
    let nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"];
    let mut c = lab.in_pi(&nobody);
    c.args(["check", "--interface", IFACE, "--gateway", GW, "--count", "1", "--boot-grace", "0s"]);
    c.arg("--state-dir").arg(&own).arg("--systemctl").arg(lab.fakes.bin_dir().join("systemctl"));
    let out = c.output().unwrap();
    let err = stderr(&out);
    assert_eq!(code(&out), 69, "{err}");
    assert!(err.contains("cannot open an ICMP socket") && err.contains("ping_group_range"), "{err}");
    assert!(lab.fakes.calls().is_empty(), "no action on any broken probe");

    // The same user inside ping_group_range gets a ping socket and a real answer.
    lab.sysctl(&lab.pi, "net/ipv4/ping_group_range", "0 2147483647");
    let out = c.arg("-v").output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stderr(&out).contains("Ping socket"), "{}", stderr(&out));
}

#[test]
fn damaged_state_is_bad_input_and_nothing_is_done() {
    let lab = Lab::new();
    lab.gateway_gone();
    std::fs::create_dir_all(lab.state_dir()).unwrap();
    let file = lab.state_dir().join("state.json");
    std::fs::write(&file, r#"{"version": 1, "reboots": [{"at": "yesterday", "reason": "x"}]}"#).unwrap();
    let before = std::fs::read(&file).unwrap();
    let out = lab.check(&["--boot-grace", "0s"]).output().unwrap();
    let err = stderr(&out);
    assert_eq!(code(&out), 65, "{err}");
    assert!(err.contains(&format!("{}: reboots[0].at: expected seconds since 1970", file.display())), "{err}");
    assert!(lab.fakes.calls().is_empty());
    assert_eq!(std::fs::read(&file).unwrap(), before);
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o644);
}

#[test]
fn sigterm_while_settling_stops_without_a_reboot() {
    let lab = Lab::new();
    lab.gateway_gone();
    let mut child =
        lab.check(&["--boot-grace", "0s", "--settle", "10m"]).stderr(std::process::Stdio::piped()).spawn().unwrap();
    // Wait for the restart to have happened: then it is settling.
    while lab.systemctl_calls().is_empty() {
        if let Some(st) = child.try_wait().unwrap() {
            panic!("ended ({st}) before restarting: {}", stderr(&child.wait_with_output().unwrap()));
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // SAFETY: signalling our own child (ip netns exec execs the tool in place).
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    assert_eq!(code(&out), 75, "{err}");
    assert!(err.contains("stopped by a signal while waiting to probe again; no reboot asked for"), "{err}");
    assert_eq!(lab.systemctl_calls(), ["restart wpa_supplicant.service"]);
}

#[test]
fn a_second_check_while_one_runs_does_nothing() {
    use std::os::fd::AsRawFd;
    let lab = Lab::new();
    lab.gateway_gone();
    std::fs::create_dir_all(lab.state_dir()).unwrap();
    let held = std::fs::File::create(lab.state_dir().join("check.lock")).unwrap();
    // SAFETY: flock on a file we own; released when it is dropped.
    assert_eq!(unsafe { libc::flock(held.as_raw_fd(), libc::LOCK_EX) }, 0);
    let out = lab.check(&["--boot-grace", "0s"]).output().unwrap();
    assert_eq!(code(&out), 75, "{}", stderr(&out));
    assert!(stderr(&out).contains("another run holds the lock"), "{}", stderr(&out));
    assert!(lab.fakes.calls().is_empty());
}

#[test]
fn a_wireless_interface_gets_power_save_off_before_the_restart() {
    let lab = Lab::new();
    lab.gateway_gone();
    lab.fakes.script("iw", "when set power_save off\nset ps=off\n---\nwhen get power_save\nstdout Power save: {ps}\n");
    lab.fakes.set_state("ps", "on");
    // sysfs marks a WiFi interface with a `wireless` directory; `ip netns exec` gives the tool a private
    // mount namespace, so a tmpfs with that directory over the veth's sysfs node stays inside it.
    let bin = env!("CARGO_BIN_EXE_net-watchdog");
    let script = format!(
        "mount -t tmpfs none /sys/class/net/{IFACE} && mkdir /sys/class/net/{IFACE}/wireless && exec '{bin}' \"$@\""
    );
    let mut c = std::process::Command::new("ip");
    c.args(["netns", "exec", &lab.pi, "sh", "-c", &script, "sh"]);
    c.args([
        "check",
        "--interface",
        IFACE,
        "--count",
        "1",
        "--timeout",
        "300ms",
        "--settle",
        "0s",
        "--boot-grace",
        "0s",
    ]);
    c.arg("--state-dir").arg(lab.state_dir()).arg("--systemctl").arg(lab.fakes.bin_dir().join("systemctl"));
    let out = c.env("PATH", lab.fakes.path_env()).output().unwrap();
    let err = stderr(&out);
    assert_eq!(code(&out), 1, "{err}");
    let calls: Vec<String> = lab.fakes.calls().iter().map(|c| c.line()).collect();
    assert_eq!(
        calls,
        [
            format!("iw dev {IFACE} set power_save off"),
            format!("iw dev {IFACE} get power_save"),
            "systemctl restart wpa_supplicant.service".to_owned(),
            "systemctl reboot".to_owned(),
        ]
    );
    assert!(err.contains(&format!("switch power save off on {IFACE}")) && err.contains(": done"), "{err}");
}
