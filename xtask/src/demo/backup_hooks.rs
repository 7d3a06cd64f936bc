//! The backup-hooks part of the demo.

use super::Ctx;

pub fn run(ctx: &Ctx) -> anyhow::Result<()> {
    ctx.show(ctx.tool("backup-hooks").arg("--version"))?;
    Ok(())
}
