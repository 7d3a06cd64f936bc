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

#[test]
fn build_finds_the_image_and_prints_path_size_and_hash() {
    for products in [true, false] {
        let d = tempfile::tempdir().unwrap();
        let (out, img, bytes) = out_path(&d.path().join("store"), products);
        let fakes = Fakes::new(&d.path().join("fakes"));
        // nix reports progress on stderr while it builds; the person watching should see it.
        fakes.script("nix", &format!("stderr building '/nix/store/abc-sd-image.drv'...\nstdout {}\n", out.display()));
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
        assert_eq!(calls.len(), 1);
        let args = calls[0].args().join(" ");
        assert!(
            args.contains("build /etc/homelab#nixosConfigurations.pi-main-bootstrap.config.system.build.sdImage")
                && args.contains("--print-out-paths")
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
    fakes.script("nix", &format!("stdout {}\n", out.display()));
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
    fakes.script(
        "nix",
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
    fakes.script("nix", "exit 1\nstderr error: flake 'path:/nowhere' does not provide attribute\n");
    let r = run(bin().arg("build").env("PATH", fakes.path_env()));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("does not provide attribute"), "{}", r.stderr);

    let (out, _, _) = out_path(&d.path().join("store"), false);
    std::fs::write(out.join("sd-image/second.img"), disk_image(4096)).unwrap();
    fakes.script("nix", &format!("stdout {}\n", out.display()));
    let r = run(bin().arg("build").env("PATH", fakes.path_env()));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("more than one image"), "{}", r.stderr);
}
