//! The authelia-rules part of the demo.

use super::Ctx;

pub fn run(ctx: &Ctx) -> anyhow::Result<()> {
    ctx.show(ctx.tool("authelia-rules").arg("--version"))?;
    Ok(())
}
