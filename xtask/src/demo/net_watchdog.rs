//! The net-watchdog part of the demo.

use super::Ctx;

pub fn run(ctx: &Ctx) -> anyhow::Result<()> {
    ctx.show(ctx.tool("net-watchdog").arg("--version"))?;
    Ok(())
}
