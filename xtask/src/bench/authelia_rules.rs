//! Figures for authelia-rules: render + lint of 1,000 rules ≤ 100 ms, explain against 1,000 rules ≤ 10 ms,
//! both as whole processes (what a Nix build or a person at a shell waits for).

use super::Bench;
use serde_json::{Map, Value, json};
use std::process::Command;

/// 1,000 rules shaped like the homelab's (250 services × a DAV bypass, an admin two_factor + deny pair,
/// a one_factor rule), as a Nix attrset in an order that is not the evaluation order.
fn rules() -> Value {
    let mut rules = Map::new();
    for k in (0..250).rev() {
        let d = format!("svc{k}.example.com");
        rules.insert(format!("svc{k}-dav"), json!({"priority": 0, "domain": d, "policy": "bypass", "resources": [format!("^/remote\\.php/dav/{k}([/?].*)?$")]}));
        rules.insert(format!("svc{k}-admin"), json!({"priority": 20 + k % 30, "domain": d, "policy": "two_factor", "subject": "group:admins", "resources": [format!("^/{k}/admin([/?].*)?$")]}));
        rules.insert(format!("svc{k}-admin-deny"), json!({"priority": 20 + k % 30, "domain": d, "policy": "deny", "resources": [format!("^/{k}/admin([/?].*)?$")]}));
        rules.insert(format!("svc{k}-open"), json!({"priority": 50 + k % 15, "domain": d, "policy": "one_factor", "subject": [["group:users"], ["user:guest"]]}));
    }
    json!({"default_policy": "deny", "networks": [{"name": "lan", "networks": ["192.168.1.0/24"]}], "rules": rules})
}

pub fn run(b: &Bench) -> anyhow::Result<()> {
    let file = b.dir.join("rules-1000.json");
    std::fs::write(&file, serde_json::to_vec(&rules())?)?;
    let out_file = b.dir.join("access_control.yml");
    let tool = || Command::new(b.bin("authelia-rules"));

    let check = tool().arg("render").arg(&file).arg("-o").arg(&out_file).output()?;
    anyhow::ensure!(check.status.success(), "render failed: {}", String::from_utf8_lossy(&check.stderr));
    let lint = tool().arg("lint").arg(&file).output()?;
    anyhow::ensure!(lint.status.code() == Some(0), "lint is not clean: {}", String::from_utf8_lossy(&lint.stderr));

    let t = b.median_wall(21, || {
        let mut c = tool();
        c.arg("render").arg(&file).arg("-o").arg(&out_file);
        c
    })?;
    b.report(
        "render (with its lint) of 1,000 rules, whole process",
        format!("{:.1} ms", t.as_secs_f64() * 1e3),
        "≤ 100 ms",
    );
    let t = b.median_wall(21, || {
        let mut c = tool();
        c.arg("lint").arg(&file);
        c
    })?;
    b.report("lint of 1,000 rules, whole process", format!("{:.1} ms", t.as_secs_f64() * 1e3), "≤ 100 ms");
    // The last service: every rule before it is evaluated.
    let t = b.median_wall(21, || {
        let mut c = tool();
        c.arg("explain").arg(&file).args([
            "--url",
            "https://svc249.example.com/249/admin/x",
            "--username",
            "bob",
            "--groups",
            "users",
            "--json",
        ]);
        c
    })?;
    b.report("explain against 1,000 rules, whole process", format!("{:.2} ms", t.as_secs_f64() * 1e3), "≤ 10 ms");
    // The check-policy table evaluates every criterion of every rule, so it compiles every regex.
    let t = b.median_wall(11, || {
        let mut c = tool();
        c.arg("explain").arg(&file).args([
            "--url",
            "https://svc249.example.com/249/admin/x",
            "--username",
            "bob",
            "--groups",
            "users",
        ]);
        c
    })?;
    b.report(
        "explain with the per-rule table, 1,000 rules, whole process",
        format!("{:.2} ms", t.as_secs_f64() * 1e3),
        "-",
    );
    let (_, rss) = b.peak_rss_kib(tool().arg("render").arg(&file).arg("-o").arg(&out_file))?;
    b.report("render of 1,000 rules, peak RSS", format!("{rss} KiB"), "-");
    Ok(())
}
