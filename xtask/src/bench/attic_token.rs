//! Figures for attic-token: whole-process mint with HS256 and with a 4096-bit RS256 key (issue 6), and
//! for reference inspect and render-config.

use super::Bench;
use std::process::Command;

fn ms(d: std::time::Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

pub fn run(b: &Bench) -> anyhow::Result<()> {
    let tool = b.bin("attic-token");
    let hs = b.dir.join("hs256.b64");
    let rs = b.dir.join("rs256-4096.b64");
    for (alg, out) in [("hs256", &hs), ("rs256", &rs)] {
        // rs256 defaults to 4096 bits, the size the figure names.
        let st = Command::new(&tool).args(["keygen", "--algorithm", alg, "--out"]).arg(out).status()?;
        anyhow::ensure!(st.success(), "keygen {alg} failed");
    }
    let mint = |secret: &std::path::Path| {
        let mut c = Command::new(&tool);
        c.args(["-q", "mint", "--sub", "ci-push", "--validity", "3 months", "--pull", "main", "--push", "main"])
            .args(["--pull", "team-*", "--create-cache", "team-*", "--secret-file"])
            .arg(secret);
        c
    };
    for (name, secret, limit) in [("HS256", &hs, "≤ 5 ms"), ("RS256 4096-bit", &rs, "≤ 30 ms")] {
        let out = mint(secret).output()?;
        anyhow::ensure!(out.status.success(), "mint {name}: {}", String::from_utf8_lossy(&out.stderr));
        let t = b.median_wall(30, || mint(secret))?;
        b.report(&format!("mint {name}, whole process (median of 30)"), ms(t), limit);
        let (code, rss) = b.peak_rss_kib(&mut mint(secret))?;
        anyhow::ensure!(code == 0, "mint {name} exited {code}");
        b.report(&format!("mint {name}, peak RSS"), format!("{rss} KiB"), "-");
    }

    let token = String::from_utf8(mint(&rs).output()?.stdout)?.trim().to_owned();
    let t = b.median_wall(30, || {
        let mut c = Command::new(&tool);
        c.args(["inspect", &token, "--secret-file"]).arg(&rs);
        c
    })?;
    b.report("inspect RS256 4096-bit with signature check, whole process", ms(t), "-");

    let template = crate::util::root().join("examples/attic-server.toml");
    let out = b.dir.join("attic-config.toml");
    let t = b.median_wall(30, || {
        let mut c = Command::new(&tool);
        c.args(["-q", "render-config", "--template"])
            .arg(&template)
            .arg("--out")
            .arg(&out)
            .arg("--secret-file")
            .arg(&rs);
        c
    })?;
    b.report("render-config (RS256 key), whole process", ms(t), "-");
    Ok(())
}
