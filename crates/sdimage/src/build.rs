//! `sdimage build`: the `nix build` command as data, and finding the image in its out path.

use anyhow::Context;
use homey_kit::process::{Cancel, Cmd, Runner, Stdout};
use homey_kit::{Exit, ResultExt, fail};
use std::path::{Path, PathBuf};

/// The command that builds the SD image of `host` from the flake at `flake`.
pub fn nix_build(flake: &str, host: &str, out_link: &Path) -> Cmd {
    Cmd::new("nix")
        .args(["--extra-experimental-features", "nix-command flakes", "build"])
        .arg(format!("{flake}#nixosConfigurations.{host}.config.system.build.sdImage"))
        .arg("--print-out-paths")
        .arg("--out-link")
        .arg(out_link)
        .stdout(Stdout::Capture)
        // A build of a whole NixOS image takes long: show nix's own progress as it comes. Its tail is
        // still kept, to explain a failure (e.g. no aarch64 builder) in our words.
        .tee_stderr(true)
}

/// The store path nix printed (the last line that is an absolute path).
pub fn out_path(stdout: &str) -> Option<PathBuf> {
    stdout.lines().map(str::trim).rev().find(|l| l.starts_with('/')).map(PathBuf::from)
}

/// nix's words when a derivation needs a system this machine cannot build for: (needed, this machine).
/// Nix before 2.19: "a 'aarch64-linux' with features {} is required to build '…drv', but I am a
/// 'x86_64-linux' with features {…}"; later: "Required system: 'aarch64-linux' …" and "Current system:
/// 'x86_64-linux' …", possibly coloured.
pub fn wrong_system(stderr: &str) -> Option<(String, String)> {
    let plain = regex::Regex::new(r"\x1b\[[0-9;]*m").expect("valid regex").replace_all(stderr, "");
    let old =
        regex::Regex::new(r"a '([^']+)' with features \{[^}]*\} is required to build '[^']*', but I am a '([^']+)'")
            .expect("valid regex");
    if let Some(c) = old.captures(&plain) {
        return Some((c[1].to_owned(), c[2].to_owned()));
    }
    let need = regex::Regex::new(r"Required system: '([^']+)'").expect("valid regex").captures(&plain)?;
    let have = regex::Regex::new(r"Current system: '([^']+)'").expect("valid regex").captures(&plain)?;
    Some((need[1].to_owned(), have[1].to_owned()))
}

/// The image in a built sdImage: `nix-support/hydra-build-products` names it (`file sd-image PATH`);
/// older or unusual builds are found by globbing `sd-image/*.img*`.
pub fn find_image(out: &Path) -> anyhow::Result<PathBuf> {
    let products = out.join("nix-support/hydra-build-products");
    if let Ok(text) = std::fs::read_to_string(&products) {
        for line in text.lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            if let ["file", "sd-image", path, ..] = words[..] {
                let p = PathBuf::from(path);
                if p.is_file() {
                    return Ok(p);
                }
                homey_kit::warn!("{} names {path}, which does not exist; looking in sd-image/", products.display());
            }
        }
    }
    let dir = out.join("sd-image");
    let mut found: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("{}: the build output has no sd-image/ directory", out.display()))
        .exit_code(Exit::Failed)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().contains(".img")) && p.is_file())
        .collect();
    found.sort();
    match found.len() {
        0 => fail!(Exit::Failed, "{}: no *.img or *.img.zst image in the build output", dir.display()),
        1 => Ok(found.remove(0)),
        _ => fail!(
            Exit::Failed,
            "{}: more than one image ({}); cannot tell which to use",
            dir.display(),
            found.iter().filter_map(|p| p.file_name()).map(|n| n.to_string_lossy()).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// Run the build and return the out path.
pub fn run_build(runner: &dyn Runner, cmd: &Cmd, cancel: &Cancel) -> anyhow::Result<PathBuf> {
    let cmd = cmd.clone().cancel_on(cancel);
    let out = match runner.run(&cmd) {
        Ok(o) => o,
        Err(e)
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::NotFound)
            }) =>
        {
            fail!(
                Exit::Unavailable,
                "nix is not installed or not on PATH: `sdimage build` needs Nix (with flakes) to build the image"
            )
        }
        Err(e) => return Err(e).exit_code(Exit::Unavailable),
    };
    if out.status.cancelled {
        fail!(Exit::Failed, "the build was stopped");
    }
    if !out.status.success() {
        if let Some((need, have)) = wrong_system(&out.stderr_tail) {
            fail!(
                Exit::Unavailable,
                "this machine ({have}) cannot build for {need}: on a NixOS builder set \
                 boot.binfmt.emulatedSystems = [ \"{need}\" ], or configure a remote {need} builder \
                 (nix.buildMachines), or build on the Pi itself"
            );
        }
        let tail: Vec<&str> = out.stderr_tail.trim().lines().collect();
        let tail = tail[tail.len().saturating_sub(5)..].join(" | ");
        fail!(Exit::Failed, "`{cmd}` {}: {tail}", out.status);
    }
    match out_path(&out.stdout_str()) {
        Some(p) => Ok(p),
        None => fail!(Exit::Failed, "`{cmd}` printed no out path"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use homey_kit::process::{FakeRunner, Output};

    #[test]
    fn the_command() {
        let cmd = nix_build(".", "pi-main-bootstrap", Path::new("result"));
        assert_eq!(
            cmd.to_string(),
            "nix --extra-experimental-features 'nix-command flakes' build \
             '.#nixosConfigurations.pi-main-bootstrap.config.system.build.sdImage' --print-out-paths --out-link result"
        );
    }

    #[test]
    fn recognises_the_missing_aarch64_builder() {
        let stderr = "error: a 'aarch64-linux' with features {} is required to build \
                      '/nix/store/abc-nixos-sd-image.drv', but I am a 'x86_64-linux' with features {benchmark, kvm}";
        assert_eq!(wrong_system(stderr), Some(("aarch64-linux".into(), "x86_64-linux".into())));
        let newer = "error: Cannot build '/nix/store/abc-nixos-sd-image.drv'.\n       Reason: \x1b[31;1mrequired system \
                     or feature not available\x1b[0m\n       Required system: '\x1b[35;1maarch64-linux\x1b[0m' with \
                     features {}\n       Current system: '\x1b[35;1mx86_64-linux\x1b[0m' with features {kvm}";
        assert_eq!(wrong_system(newer), Some(("aarch64-linux".into(), "x86_64-linux".into())));
        assert_eq!(wrong_system("error: flake 'path:/x' does not provide attribute"), None);
        let runner = FakeRunner::new(move |_| Ok(Output::failed(1, stderr)));
        let err = run_build(&runner, &nix_build(".", "h", Path::new("r")), &Cancel::new()).unwrap_err();
        assert_eq!(Exit::of(&err), Exit::Unavailable);
        assert!(format!("{err}").contains("binfmt"), "{err}");
    }

    #[test]
    fn out_path_is_the_last_path_line() {
        assert_eq!(out_path("warning: x\n/nix/store/abc-img\n\n"), Some(PathBuf::from("/nix/store/abc-img")));
        assert_eq!(out_path(""), None);
    }
}
