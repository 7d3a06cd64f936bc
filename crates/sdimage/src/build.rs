//! `sdimage build`: the `nix build` command as data, and finding the image in its out path.

use anyhow::Context;
use homey_kit::process::{Cancel, Cmd, Runner, Stdout};
use homey_kit::{Exit, ResultExt, fail};
use std::path::{Path, PathBuf};

/// The oldest Nix that builds the image: flakes and `nix build --json` came with 2.4. (`--print-out-paths`
/// came later — Debian's nix 2.8 lacks it — so the out path is read from `--json`, which every version
/// since 2.4 prints the same way.)
pub const MIN_NIX: (u32, u32) = (2, 4);

/// `nix --version`: asked first, so a nix too old fails with one clear line before a long build.
pub fn nix_version_cmd() -> Cmd {
    Cmd::new("nix").arg("--version").stdout(Stdout::Capture).timeout(std::time::Duration::from_secs(30))
}

/// The version in `nix (Nix) 2.8.0`, `nix (Lix, like Nix) 2.91.1`, `nix (Determinate Nix 3.6.2) 2.29.0`:
/// the last word, which is Nix's own version.
pub fn parse_nix_version(stdout: &str) -> Option<(u32, u32, u32)> {
    let word = stdout.lines().next()?.split_whitespace().last()?;
    let mut parts = word.split(['.', '-', '+', 'p']).map(|p| p.parse::<u32>());
    let major = parts.next()?.ok()?;
    let minor = parts.next()?.ok()?;
    let patch = parts.next().and_then(Result::ok).unwrap_or(0);
    Some((major, minor, patch))
}

/// Refuse a nix older than [`MIN_NIX`] with 69, naming the minimum; a nix that is missing is 69 too.
pub fn check_nix(runner: &dyn Runner) -> anyhow::Result<()> {
    let cmd = nix_version_cmd();
    let out = match runner.run(&cmd) {
        Ok(o) => o,
        Err(e) if is_not_found(&e) => fail!(Exit::Unavailable, "{NO_NIX}"),
        Err(e) => return Err(e).exit_code(Exit::Unavailable),
    };
    let text = out.stdout_str();
    match parse_nix_version(&text) {
        Some((major, minor, patch)) if (major, minor) < MIN_NIX => fail!(
            Exit::Unavailable,
            "nix {major}.{minor}.{patch} is too old: `sdimage build` needs Nix {}.{} or newer (flakes, `nix build --json`)",
            MIN_NIX.0,
            MIN_NIX.1
        ),
        Some(v) => {
            homey_kit::debug!("nix {}.{}.{}", v.0, v.1, v.2);
            Ok(())
        }
        None => {
            homey_kit::warn!("`{cmd}` printed {:?}, not a version; trying the build anyway", text.trim());
            Ok(())
        }
    }
}

const NO_NIX: &str = "nix is not installed or not on PATH: `sdimage build` needs Nix (with flakes) to build the image";

fn is_not_found(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::NotFound))
}

/// The command that builds the SD image of `host` from the flake at `flake`.
pub fn nix_build(flake: &str, host: &str, out_link: &Path) -> Cmd {
    Cmd::new("nix")
        .args(["--extra-experimental-features", "nix-command flakes", "build"])
        .arg(format!("{flake}#nixosConfigurations.{host}.config.system.build.sdImage"))
        .arg("--json")
        .arg("--out-link")
        .arg(out_link)
        .stdout(Stdout::Capture)
        // A build of a whole NixOS image takes long: show nix's own progress as it comes. Its tail is
        // still kept, to explain a failure (e.g. no aarch64 builder) in our words.
        .tee_stderr(true)
}

/// The store path in what `nix build --json` printed: `[{"drvPath": …, "outputs": {"out": PATH}}]`.
pub fn out_path(stdout: &str) -> Option<PathBuf> {
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).ok()?;
    v.as_array()?.first()?.get("outputs")?.get("out")?.as_str().filter(|p| p.starts_with('/')).map(PathBuf::from)
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

/// Run the build and return the out path: from `--json`, else where the out link points (nix makes it
/// on every version).
pub fn run_build(runner: &dyn Runner, cmd: &Cmd, out_link: &Path, cancel: &Cancel) -> anyhow::Result<PathBuf> {
    let cmd = cmd.clone().cancel_on(cancel);
    let out = match runner.run(&cmd) {
        Ok(o) => o,
        Err(e) if is_not_found(&e) => fail!(Exit::Unavailable, "{NO_NIX}"),
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
    match out_path(&out.stdout_str()).or_else(|| std::fs::read_link(out_link).ok().filter(|p| p.is_absolute())) {
        Some(p) => Ok(p),
        None => fail!(Exit::Failed, "`{cmd}` printed no out path and left no out link at {}", out_link.display()),
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
             '.#nixosConfigurations.pi-main-bootstrap.config.system.build.sdImage' --json --out-link result"
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
        let err = run_build(&runner, &nix_build(".", "h", Path::new("r")), Path::new("r"), &Cancel::new()).unwrap_err();
        assert_eq!(Exit::of(&err), Exit::Unavailable);
        assert!(format!("{err}").contains("binfmt"), "{err}");
    }

    #[test]
    fn out_path_from_nix_build_json() {
        // As nix 2.8 prints it (newer ones add startTime/stopTime).
        let json = r#"[{"drvPath":"/nix/store/pc6s-x.drv","outputs":{"out":"/nix/store/dkp2-x"}}]"#;
        assert_eq!(out_path(&format!("{json}\n")), Some(PathBuf::from("/nix/store/dkp2-x")));
        assert_eq!(out_path("/nix/store/abc-img\n"), None);
        assert_eq!(out_path(""), None);
    }

    #[test]
    fn without_json_the_out_link_says_where_the_image_is() {
        let d = tempfile::tempdir().unwrap();
        let link = d.path().join("result");
        let runner = FakeRunner::new(|_| Ok(Output::ok("")));
        let cmd = nix_build(".", "h", &link);
        let err = run_build(&runner, &cmd, &link, &Cancel::new()).unwrap_err();
        assert!(format!("{err}").contains("left no out link"), "{err}");
        std::os::unix::fs::symlink("/nix/store/abc-sd-image", &link).unwrap();
        assert_eq!(run_build(&runner, &cmd, &link, &Cancel::new()).unwrap(), Path::new("/nix/store/abc-sd-image"));
    }

    #[test]
    fn nix_versions() {
        assert_eq!(parse_nix_version("nix (Nix) 2.8.0\n"), Some((2, 8, 0)));
        assert_eq!(parse_nix_version("nix (Nix) 2.24.10"), Some((2, 24, 10)));
        assert_eq!(parse_nix_version("nix (Lix, like Nix) 2.91.1"), Some((2, 91, 1)));
        assert_eq!(parse_nix_version("nix (Determinate Nix 3.6.2) 2.29.0"), Some((2, 29, 0)));
        assert_eq!(parse_nix_version("nix (Nix) 2.3pre20200101_abc"), Some((2, 3, 0)));
        assert_eq!(parse_nix_version("garbage"), None);
        let old = FakeRunner::new(|_| Ok(Output::ok("nix (Nix) 2.3.16\n")));
        let err = check_nix(&old).unwrap_err();
        assert_eq!(Exit::of(&err), Exit::Unavailable);
        assert!(format!("{err}").contains("nix 2.3.16 is too old") && format!("{err}").contains("Nix 2.4 or newer"));
        check_nix(&FakeRunner::new(|_| Ok(Output::ok("nix (Nix) 2.8.0\n")))).unwrap();
    }
}
