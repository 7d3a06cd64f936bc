//! `cargo xtask demo | test | bench [TOOL]` — the workspace's automation, in Rust so it runs wherever
//! cargo does. The justfile only gives these short names.

mod bench;
mod checks;
mod demo;
// The probes the tests themselves use (one copy); xtask asks them before the run, the tests' `need` is unused here.
#[allow(dead_code)]
#[path = "../../crates/test-support/src/need.rs"]
mod need;
mod readme;
mod s3server;
mod test;
mod util;

use std::process::ExitCode;

const USAGE: &str = "usage: cargo xtask <command>

commands:
  demo [TOOL]    build the tools and run each one's real job in a sandbox under target/demo
  test           install what the tests need (apt-get, as root) and run every test
  bench [TOOL]   build release binaries and measure the figures each issue names
  deps           only install what the tests need
  readme         only the README's console examples (after a quiet demo, in its sandboxes)
  checks         only the checks of rust-versions, .nix files and systemd units (run by test too)
  nixos-options  write docs/nixos-options.md from the NixOS module's options (checks compares it)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rest = args.get(1..).unwrap_or_default();
    let result = match args.first().map(String::as_str) {
        Some("demo") => demo::run(rest),
        Some("test") => test::run(rest),
        Some("bench") => bench::run(rest),
        Some("deps") => test::ensure_deps(),
        Some("checks") => checks::run(),
        Some("readme") => readme::run(rest),
        Some("nixos-options") => checks::write_options_reference(),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            Ok(())
        }
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
