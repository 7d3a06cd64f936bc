//! Figures for attic-token.

use super::Bench;

pub fn run(b: &Bench) -> anyhow::Result<()> {
    let t = b.median_wall(5, || {
        let mut c = std::process::Command::new(b.bin("attic-token"));
        c.arg("--version");
        c
    })?;
    b.report("--version, whole process", format!("{:.2} ms", t.as_secs_f64() * 1e3), "-");
    Ok(())
}
