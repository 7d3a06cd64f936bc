//! The kuma-sync part of the demo.

use super::Ctx;

pub fn run(ctx: &Ctx) -> anyhow::Result<()> {
    ctx.show(ctx.tool("kuma-sync").arg("--version"))?;
    Ok(())
}
