//! The net-watchdog part of the demo: real checks on loopback (ICMP to 127.0.0.1, a TCP target the
//! demo listens on), a dead gateway (192.0.2.1, TEST-NET-1, never answers) escalating to a reboot
//! asked of a stand-in systemctl, the budget holding the next one back, and the status.

use super::Ctx;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

fn stand_in(dir: &Path, name: &str, body: &str) -> anyhow::Result<std::path::PathBuf> {
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{body}\n"))?;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755))?;
    Ok(p)
}

pub fn run(ctx: &Ctx) -> anyhow::Result<()> {
    let state = ctx.dir.join("state");
    let log = ctx.dir.join("systemctl.calls");
    // The stand-ins record what they were asked and answer like the real programs; nothing real is
    // restarted or rebooted.
    let systemctl = stand_in(&ctx.dir, "systemctl", &format!("echo \"systemctl $*\" >> '{}'", log.display()))?;
    let iw = stand_in(&ctx.dir, "iw", "[ \"$3\" = get ] && echo 'Power save: off'; exit 0")?;
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let tcp_target = listener.local_addr()?.to_string();

    let check = |extra: &[&str]| {
        let mut c = ctx.tool("net-watchdog");
        c.args(["check", "--interface", "lo", "--count", "2", "--timeout", "300ms", "--settle", "1s"]);
        c.arg("--state-dir").arg(&state).arg("--systemctl").arg(&systemctl).arg("--iw").arg(&iw);
        c.args(extra);
        c
    };
    println!("\n# healthy: the gateway (here 127.0.0.1 on lo) answers; a TCP target counts too");
    ctx.show(&mut check(&["--gateway", "127.0.0.1"]))?;
    ctx.show(&mut check(&["--gateway", "192.0.2.1", "--target", &tcp_target]))?;
    println!("\n# dead gateway, dry run: says what it would do, does nothing");
    ctx.show(&mut check(&["--gateway", "192.0.2.1", "--boot-grace", "0s", "--dry-run"]))?;
    println!("\n# dead gateway for real: restart, settle, probe again, reboot (asked of the stand-in systemctl)");
    ctx.show(&mut check(&["--gateway", "192.0.2.1", "--boot-grace", "0s", "--max-reboots", "1"]))?;
    println!("\n# dead again: the budget (1 per 24h) holds the reboot back");
    ctx.show(&mut check(&["--gateway", "192.0.2.1", "--boot-grace", "0s", "--max-reboots", "1"]))?;
    println!("\n# what the stand-in systemctl was asked:");
    for l in std::fs::read_to_string(&log).unwrap_or_default().lines() {
        println!("  {l}");
    }
    println!("\n# the record that survives the reboot");
    ctx.show(ctx.tool("net-watchdog").args(["status", "--max-reboots", "1"]).arg("--state-dir").arg(&state))?;
    println!("\n# the interface-up hook (stand-in iw)");
    ctx.show(ctx.tool("net-watchdog").args(["power-save", "--interface", "wlan0", "--off", "--iw"]).arg(&iw))?;
    drop(listener);
    Ok(())
}
