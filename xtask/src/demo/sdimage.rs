//! The sdimage part of the demo.

use super::Ctx;

pub fn run(ctx: &Ctx) -> anyhow::Result<()> {
    ctx.show(ctx.tool("sdimage").arg("--version"))?;
    Ok(())
}
