//! `sdimage build` with a fake nix that prints an out path laid out like the real sdImage's.

use crate::{bin, disk_image, run};
use sha2::Digest;
use std::path::{Path, PathBuf};
use test_support::Fakes;

/// `<store>/<hash>-nixos-image-sd-card-…` with `sd-image/<name>.img.zst` and, optionally,
/// `nix-support/hydra-build-products`, as sd-image.nix lays it out.
fn out_path(store: &Path, products: bool) -> (PathBuf, PathBuf, Vec<u8>) {
    let out =
        store.join("9x1qk3rq8m2y5b6w0f3zqh2l1v8c4d7a-nixos-image-sd-card-24.11.20241201.abcdef0-aarch64-linux.img");
    std::fs::create_dir_all(out.join("sd-image")).unwrap();
    std::fs::create_dir_all(out.join("nix-support")).unwrap();
    let img = out.join("sd-image/nixos-image-sd-card-24.11.20241201.abcdef0-aarch64-linux.img.zst");
    let bytes = zstd::encode_all(&disk_image(3 << 20)[..], 3).unwrap();
    std::fs::write(&img, &bytes).unwrap();
    std::fs::write(out.join("nix-support/system"), "aarch64-linux\n").unwrap();
    if products {
        std::fs::write(out.join("nix-support/hydra-build-products"), format!("file sd-image {}\n", img.display()))
            .unwrap();
    }
    (out, img, bytes)
}

/// A nix that says its version, then answers a build as `script` says.
fn nix(fakes: &Fakes, version: &str, script: &str) {
    fakes.script("nix", &format!("when --version\nstdout nix (Nix) {version}\n---\n{script}"));
}

/// What `nix build --json` prints for one out path.
fn json(out: &Path) -> String {
    format!(r#"stdout [{{"drvPath":"/nix/store/abc-sd-image.drv","outputs":{{"out":"{}"}}}}]"#, out.display())
}

#[test]
fn build_finds_the_image_and_prints_path_size_and_hash() {
    for products in [true, false] {
        let d = tempfile::tempdir().unwrap();
        let (out, img, bytes) = out_path(&d.path().join("store"), products);
        let fakes = Fakes::new(&d.path().join("fakes"));
        // nix reports progress on stderr while it builds; the person watching should see it.
        // Debian's nix 2.8, which has no --print-out-paths: the out path comes from --json.
        nix(&fakes, "2.8.0", &format!("stderr building '/nix/store/abc-sd-image.drv'...\n{}\n", json(&out)));
        let r = run(bin()
            .args(["build", "--flake", "/etc/homelab", "--host", "pi-main-bootstrap", "--out-link"])
            .arg(d.path().join("result"))
            .env("PATH", fakes.path_env()));
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(r.stdout.contains(&format!("image:  {}", img.display())), "{}", r.stdout);
        assert!(r.stdout.contains(&format!("({} bytes;", bytes.len())), "{}", r.stdout);
        assert!(r.stdout.contains(&hex::encode(sha2::Sha256::digest(&bytes))), "{}", r.stdout);
        assert!(r.stderr.contains("building '/nix/store/abc-sd-image.drv'..."), "{}", r.stderr);
        let calls = fakes.calls_of("nix");
        assert_eq!(calls.len(), 2, "the version first, then the build");
        assert_eq!(calls[0].args(), ["--version"]);
        let args = calls[1].args().join(" ");
        assert!(
            args.contains("build /etc/homelab#nixosConfigurations.pi-main-bootstrap.config.system.build.sdImage")
                && args.contains("--json")
                && !args.contains("--print-out-paths")
                && args.contains(&format!("--out-link {}", d.path().join("result").display())),
            "{args}"
        );
    }
}

#[test]
fn build_json() {
    let d = tempfile::tempdir().unwrap();
    let (out, img, bytes) = out_path(&d.path().join("store"), true);
    let fakes = Fakes::new(&d.path().join("fakes"));
    nix(&fakes, "2.24.10", &json(&out));
    let r = run(bin().args(["build", "--json"]).env("PATH", fakes.path_env()).current_dir(d.path()));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["image"], img.display().to_string());
    assert_eq!(v["format"], "zstd");
    assert_eq!(v["size"], bytes.len());
    assert_eq!(v["image_size"], 3 << 20);
}

#[test]
fn build_without_an_aarch64_builder_says_what_to_do() {
    let d = tempfile::tempdir().unwrap();
    let fakes = Fakes::new(d.path());
    nix(
        &fakes,
        "2.8.0",
        "exit 1\nstderr error: a 'aarch64-linux' with features {} is required to build \
         '/nix/store/3y6ab-nixos-image-sd-card.drv', but I am a 'x86_64-linux' with features {benchmark, big-parallel, kvm, nixos-test}\n",
    );
    let r = run(bin().arg("build").env("PATH", fakes.path_env()));
    assert_eq!(r.code, 69, "{}", r.stderr);
    assert!(r.stderr.contains("cannot build for aarch64-linux") && r.stderr.contains("binfmt"), "{}", r.stderr);
    assert!(r.stderr.contains("remote aarch64-linux builder"), "{}", r.stderr);
}

#[test]
fn build_without_nix() {
    let d = tempfile::tempdir().unwrap();
    let r = run(bin().arg("build").env("PATH", d.path()));
    assert_eq!(r.code, 69, "{}", r.stderr);
    assert!(r.stderr.contains("nix is not installed"), "{}", r.stderr);
}

#[test]
fn build_failure_and_ambiguous_output() {
    let d = tempfile::tempdir().unwrap();
    let fakes = Fakes::new(&d.path().join("fakes"));
    nix(&fakes, "2.8.0", "exit 1\nstderr error: flake 'path:/nowhere' does not provide attribute\n");
    let r = run(bin().arg("build").env("PATH", fakes.path_env()));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("does not provide attribute"), "{}", r.stderr);

    let (out, _, _) = out_path(&d.path().join("store"), false);
    std::fs::write(out.join("sd-image/second.img"), disk_image(4096)).unwrap();
    nix(&fakes, "2.8.0", &json(&out));
    let r = run(bin().arg("build").env("PATH", fakes.path_env()));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("more than one image"), "{}", r.stderr);
}

#[test]
fn a_nix_too_old_is_refused_before_building_naming_the_minimum() {
    let d = tempfile::tempdir().unwrap();
    let fakes = Fakes::new(d.path());
    nix(&fakes, "2.3.16", "stdout should never be asked to build\n");
    let r = run(bin().arg("build").env("PATH", fakes.path_env()));
    assert_eq!(r.code, 69, "{}", r.stderr);
    assert!(r.stderr.contains("nix 2.3.16 is too old") && r.stderr.contains("Nix 2.4 or newer"), "{}", r.stderr);
    assert_eq!(fakes.calls_of("nix").len(), 1, "only --version was asked");
}

#[test]
fn an_out_link_in_a_missing_directory_is_refused_before_building() {
    let d = tempfile::tempdir().unwrap();
    let fakes = Fakes::new(&d.path().join("fakes"));
    nix(&fakes, "2.8.0", "stdout never\n");
    let r = run(bin().args(["build", "--out-link"]).arg(d.path().join("no/such/result")).env("PATH", fakes.path_env()));
    assert_eq!(r.code, 78, "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!("the directory {} does not exist", d.path().join("no/such").display())),
        "{}",
        r.stderr
    );
    assert!(fakes.calls_of("nix").iter().all(|c| c.args() == ["--version"]), "no build");
}
