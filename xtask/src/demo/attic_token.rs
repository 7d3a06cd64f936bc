//! The attic-token part of the demo.

use super::Ctx;

pub fn run(ctx: &Ctx) -> anyhow::Result<()> {
    ctx.show(ctx.tool("attic-token").arg("--version"))?;
    Ok(())
}
