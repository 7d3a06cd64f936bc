//! The sdimage part of the demo: build (with a stand-in nix that lays out its output like the real
//! sdImage), list the disks, refuse a regular file, and — as root — write, verify and catch a corrupted
//! byte on a loop device over a file in the sandbox.

use super::Ctx;
use crate::util::{have, is_root};
use std::io::Write;
use std::os::unix::fs::{FileExt, PermissionsExt};
use std::process::Command;

const MIB: usize = 1 << 20;

pub fn run(ctx: &Ctx) -> anyhow::Result<()> {
    let dir = &ctx.dir;
    // What `nix build …sdImage` produces: <out>/sd-image/<name>.img.zst and nix-support/hydra-build-products.
    // Paths relative to the sandbox, where the tool runs, so the output stays readable.
    let out_rel =
        std::path::PathBuf::from("store/0a1b2c3d-nixos-image-sd-card-24.11.20241201.abcdef0-aarch64-linux.img");
    let out = dir.join(&out_rel);
    std::fs::create_dir_all(out.join("sd-image"))?;
    std::fs::create_dir_all(out.join("nix-support"))?;
    let mut raw: Vec<u8> = (0..24 * MIB).map(|i| ((i / 4096) as u8) ^ (i as u8).wrapping_mul(13)).collect();
    raw[510] = 0x55;
    raw[511] = 0xAA;
    let raw_path = dir.join("image.img");
    std::fs::write(&raw_path, &raw)?;
    let image = if have("zstd") {
        let img = out.join("sd-image/nixos-image-sd-card-24.11.20241201.abcdef0-aarch64-linux.img.zst");
        let st = Command::new("zstd").args(["-q", "-f"]).arg(&raw_path).arg("-o").arg(&img).status()?;
        anyhow::ensure!(st.success(), "zstd failed");
        img
    } else {
        let img = out.join("sd-image/nixos-image-sd-card-24.11.20241201.abcdef0-aarch64-linux.img");
        std::fs::copy(&raw_path, &img)?;
        img
    };
    std::fs::write(out.join("nix-support/hydra-build-products"), format!("file sd-image {}\n", image.display()))?;
    let image = image.strip_prefix(dir).unwrap_or(&image).to_owned();
    std::fs::remove_file(&raw_path)?;
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin)?;
    let nix = bin.join("nix");
    std::fs::write(
        &nix,
        format!(
            "#!/bin/sh\n# stand-in for Debian's nix 2.8: its version, then `nix build --json`'s answer (absolute out path)\n\
             if [ \"$1\" = --version ]; then echo 'nix (Nix) 2.8.0'; exit 0; fi\n\
             echo '[{{\"drvPath\":\"/nix/store/0a1b2c3d-nixos-image-sd-card.drv\",\"outputs\":{{\"out\":\"{}\"}}}}]'\n",
            out.display()
        ),
    )?;
    std::fs::set_permissions(&nix, std::fs::Permissions::from_mode(0o755))?;
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());

    println!("(a stand-in nix prints an out path laid out like the real sdImage's)");
    let code = ctx.show(ctx.tool("sdimage").args(["build", "--host", "pi-main-bootstrap"]).env("PATH", &path))?;
    anyhow::ensure!(code == 0, "sdimage build: exit {code}");
    let code = ctx.show(ctx.tool("sdimage").args(["list", "--all"]))?;
    anyhow::ensure!(code == 0, "sdimage list: exit {code}");

    // A regular file is never written, whatever flags are given.
    let file = "card.img";
    std::fs::write(dir.join(file), vec![0u8; 32 * MIB])?;
    let code = ctx.show(
        ctx.tool("sdimage").arg("write").arg(&image).arg("--device").arg(file).args(["--yes", "--allow-fixed"]),
    )?;
    anyhow::ensure!(code == 65, "sdimage write to a regular file: exit {code}, expected 65");

    if !is_root() || !have("losetup") {
        println!("\n(writing for real needs a block device: run the demo as root to use a loop device)");
        return Ok(());
    }
    let card = dir.join("card.raw");
    std::fs::File::create(&card)?.write_all(&vec![0xEEu8; 32 * MIB])?;
    let o = Command::new("losetup").args(["--find", "--show"]).arg(&card).output()?;
    anyhow::ensure!(o.status.success(), "losetup: {}", String::from_utf8_lossy(&o.stderr));
    let dev = String::from_utf8_lossy(&o.stdout).trim().to_owned();
    let result = (|| -> anyhow::Result<()> {
        println!("\n(a loop device over {} stands in for the SD card)", ctx.relative(&card.display().to_string()));
        let code = ctx.show(ctx.tool("sdimage").arg("write").arg(&image).args(["--device", &dev, "--yes"]))?;
        anyhow::ensure!(code == 65, "sdimage write to a fixed disk without --allow-fixed: exit {code}, expected 65");
        let code =
            ctx.show(ctx.tool("sdimage").arg("write").arg(&image).args(["--device", &dev, "--yes", "--allow-fixed"]))?;
        anyhow::ensure!(code == 0, "sdimage write: exit {code}");
        let code = ctx.show(ctx.tool("sdimage").arg("verify").arg(&image).args(["--device", &dev]))?;
        anyhow::ensure!(code == 0, "sdimage verify: exit {code}");
        println!("\n(one byte in MiB 17 of the card goes bad)");
        let f = std::fs::OpenOptions::new().write(true).open(&card)?;
        f.write_all_at(&[!raw[17 * MIB + 5]], (17 * MIB + 5) as u64)?;
        f.sync_all()?;
        let code = ctx.show(ctx.tool("sdimage").arg("verify").arg(&image).args(["--device", &dev]))?;
        anyhow::ensure!(code == 1, "sdimage verify of a corrupted card: exit {code}, expected 1");
        Ok(())
    })();
    let _ = Command::new("losetup").arg("-d").arg(&dev).status();
    result
}
