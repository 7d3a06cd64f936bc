//! Figures for net-watchdog: a healthy check, whole process (target: 20 ms plus one round trip; peak
//! RSS 8 MiB). The gateway is 127.0.0.1 on lo, so the round trip is a few microseconds and the time is
//! the tool's own. As root the ICMP goes through a raw socket unless ping_group_range allows a ping
//! socket; a TCP target on loopback is measured too.

use super::Bench;
use std::process::Command;

pub fn run(b: &Bench) -> anyhow::Result<()> {
    let state = b.dir.join("state");
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let tcp = listener.local_addr()?.to_string();
    let check = |extra: &[&str]| {
        let mut c = Command::new(b.bin("net-watchdog"));
        c.args(["check", "--interface", "lo", "--gateway", "127.0.0.1", "--state-dir"]).arg(&state).args(extra);
        c
    };
    let first = check(&[]).output()?;
    anyhow::ensure!(
        first.status.code() == Some(0),
        "the healthy check did not come out healthy: {}",
        String::from_utf8_lossy(&first.stderr)
    );
    let t = b.median_wall(21, || check(&[]))?;
    b.report(
        "healthy check (ICMP to the gateway), whole process",
        format!("{:.2} ms", t.as_secs_f64() * 1e3),
        "≤ 20 ms + 1 RTT",
    );
    let t = b.median_wall(21, || check(&["--gateway", "192.0.2.1", "--target", &tcp]))?;
    b.report(
        "healthy check (TCP target answers, gateway silent), whole process",
        format!("{:.2} ms", t.as_secs_f64() * 1e3),
        "≤ 20 ms + 1 RTT",
    );
    let (code, kib) = b.peak_rss_kib(&mut check(&[]))?;
    anyhow::ensure!(code == 0, "healthy check exited {code}");
    b.report("healthy check, peak RSS", format!("{:.1} MiB", kib as f64 / 1024.0), "≤ 8 MiB");
    drop(listener);
    Ok(())
}
