//! A two-namespace lab: "pi" (the watched host, interface `wl0`) and "gw" (its gateway, `gw0`,
//! 10.77.0.1), joined by a veth pair. Each test gets its own pair of namespaces, so tests run in
//! parallel and never touch the host's network.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use test_support::Fakes;

pub const GW: &str = "10.77.0.1";
pub const PI: &str = "10.77.0.2";
pub const IFACE: &str = "wl0";

static N: AtomicU32 = AtomicU32::new(0);

pub fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("running ip (iproute2)");
    assert!(out.status.success(), "ip {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
}

pub struct Lab {
    pub pi: String,
    pub gw: String,
    pub dir: tempfile::TempDir,
    pub fakes: Fakes,
}

impl Lab {
    pub fn new() -> Lab {
        // Left out by `cargo xtask test` where this fails (xtask/src/test/needs.rs).
        test_support::need(&[test_support::Need::NetNamespaces]);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let base = format!("nwd{}-{n}", std::process::id());
        let lab = Lab {
            pi: format!("{base}-pi"),
            gw: format!("{base}-gw"),
            dir: tempfile::tempdir().unwrap(),
            fakes: Fakes::new(&tempfile::tempdir().unwrap().keep()),
        };
        ip(&["netns", "add", &lab.pi]);
        ip(&["netns", "add", &lab.gw]);
        ip(&["-n", &lab.pi, "link", "add", IFACE, "type", "veth", "peer", "name", "gw0", "netns", &lab.gw]);
        for (ns, dev, addr) in [(&lab.pi, IFACE, PI), (&lab.gw, "gw0", GW)] {
            ip(&["-n", ns, "addr", "add", &format!("{addr}/24"), "dev", dev]);
            ip(&["-n", ns, "link", "set", dev, "up"]);
            ip(&["-n", ns, "link", "set", "lo", "up"]);
        }
        ip(&["-n", &lab.pi, "route", "add", "default", "via", GW, "dev", IFACE]);
        lab.fakes.install("systemctl");
        lab.fakes.install("iw");
        lab
    }

    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// The gateway host vanishes: its address is gone, ARP goes unanswered.
    pub fn gateway_gone(&self) {
        ip(&["-n", &self.gw, "addr", "del", &format!("{GW}/24"), "dev", "gw0"]);
    }

    /// The gateway answers TCP but drops every ICMP echo, as some ISP routers do.
    pub fn gateway_drops_icmp(&self) {
        self.sysctl(&self.gw.clone(), "net/ipv4/icmp_echo_ignore_all", "1");
    }

    pub fn sysctl(&self, ns: &str, key: &str, value: &str) {
        let out = Command::new("ip")
            .args(["netns", "exec", ns, "sh", "-c", &format!("echo '{value}' > /proc/sys/{key}")])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }

    /// A `systemctl` that records its call through the fake and, on `restart`, brings the gateway
    /// back — as a real wpa_supplicant restart does when it cures a wedged link.
    pub fn systemctl_that_heals(&self) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let p = self.dir.path().join("systemctl-heals");
        let script = format!(
            // The pi's neighbour entry for the gateway failed while it was gone; a real restart
            // brings the link down and up, which flushes it — without that the next probe would
            // wait for the kernel's own retry and the test would depend on how busy the machine is.
            "#!/bin/sh\n'{}' \"$@\"\nrc=$?\nif [ \"$1\" = restart ]; then ip -n '{}' addr add {GW}/24 dev gw0; ip -n '{}' neigh flush dev {IFACE}; fi\nexit $rc\n",
            self.fakes.bin_dir().join("systemctl").display(),
            self.gw,
            self.pi
        );
        std::fs::write(&p, script).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    /// `net-watchdog check` inside the pi namespace with the fakes and quick probes.
    pub fn check(&self, extra: &[&str]) -> Command {
        let mut c = self.in_pi(&[]);
        c.arg("check");
        let systemctl = self.fakes.bin_dir().join("systemctl");
        let state = self.state_dir();
        let defaults = [
            ("--interface", IFACE),
            ("--count", "2"),
            ("--timeout", "300ms"),
            ("--settle", "0s"),
            ("--state-dir", state.to_str().unwrap()),
            ("--systemctl", systemctl.to_str().unwrap()),
        ];
        // A flag the test gives replaces the lab's default (clap refuses a flag twice).
        for (flag, value) in defaults.iter().filter(|(f, _)| !extra.contains(f)) {
            c.args([flag, value]);
        }
        c.args(extra);
        c
    }

    /// The binary inside the pi namespace; `wrap` goes between `ip netns exec NS` and the binary.
    pub fn in_pi(&self, wrap: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.pi]).args(wrap).arg(env!("CARGO_BIN_EXE_net-watchdog"));
        c.env("PATH", self.fakes.path_env()).env_remove("JOURNAL_STREAM").env_remove("STATE_DIRECTORY");
        c
    }

    /// A TCP listener inside the gateway's namespace (the socket stays in the namespace it was made in).
    pub fn listen_in_gw(&self, port: u16) -> std::net::TcpListener {
        let ns = Path::new("/run/netns").join(&self.gw);
        std::thread::spawn(move || {
            use std::os::fd::AsRawFd;
            let f = std::fs::File::open(&ns).unwrap();
            // SAFETY: setns on a namespace fd; it changes only this short-lived thread's namespace.
            assert_eq!(unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) }, 0, "setns");
            std::net::TcpListener::bind((GW, port)).unwrap()
        })
        .join()
        .unwrap()
    }

    pub fn systemctl_calls(&self) -> Vec<String> {
        self.fakes.calls_of("systemctl").iter().map(|c| c.args().join(" ")).collect()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for ns in [&self.pi, &self.gw] {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
    }
}

pub fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}
