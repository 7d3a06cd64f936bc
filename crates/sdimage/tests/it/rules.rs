//! The safety rules on recorded trees: each refusal the issue names, and the disks that pass.

use crate::{bin, fixture, run};
use sdimage::inventory::{DevNum, Inventory, Transport};
use sdimage::safety::{Refusal, Rules, assess};

const GIB: u64 = 1 << 30;

fn inv(name: &str) -> Inventory {
    Inventory::read(&fixture(name)).unwrap()
}

fn dev(s: &str) -> DevNum {
    DevNum::parse(s).unwrap()
}

fn check(tree: &str, path: &str, d: &str, image: u64, allow_fixed: bool) -> Result<String, Vec<Refusal>> {
    let inv = inv(tree);
    assess(&inv, path, dev(d), image, Rules { allow_fixed }).map(|d| d.name.clone())
}

fn refusal_text(r: Result<String, Vec<Refusal>>) -> String {
    sdimage::safety::explain(&r.expect_err("should be refused"))
}

#[test]
fn laptop_tree_is_read_like_lsblk() {
    let inv = inv("laptop");
    let names: Vec<&str> = inv.disks.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["dm-0", "loop0", "mmcblk0", "nvme0n1", "sda", "sdb", "zram0"]);
    let d = |n: &str| inv.disks.iter().find(|d| d.name == n).unwrap();
    assert_eq!(d("sdb").transport, Transport::Usb);
    assert_eq!(d("sdb").model.as_deref(), Some("SanDisk Ultra"));
    assert_eq!(d("sdb").serial.as_deref(), Some("4C530001120527117165"));
    assert_eq!(d("sdb").size, 60063744 * 512);
    assert_eq!(d("mmcblk0").transport, Transport::Mmc);
    assert!(!d("mmcblk0").removable && d("mmcblk0").is_removable_media());
    assert_eq!(d("nvme0n1").transport, Transport::Nvme);
    // / is on dm-0 (LUKS), which sits on nvme0n1p2: the NVMe disk is the system disk.
    assert!(d("nvme0n1").is_system(), "{:?}", d("nvme0n1").uses);
    assert!(d("zram0").is_system(), "swap on zram");
    let mounted: Vec<String> = d("sda").uses.iter().map(|u| format!("{}={}", u.via, u.target)).collect();
    assert_eq!(mounted, ["sda1=/run/media/me/FIRMWARE", "sda2=/run/media/me/NIXOS SD"]);
}

#[test]
fn optical_drives_are_not_disks() {
    let names: Vec<String> = inv("desktop").disks.into_iter().map(|d| d.name).collect();
    assert_eq!(names, ["sda", "sdb", "sdc"]);
}

#[test]
fn the_system_disk_is_refused_on_every_machine() {
    let t = refusal_text(check("laptop", "/dev/nvme0n1", "259:0", GIB, true));
    assert!(t.contains("holds this system") && t.contains("dm-0 on /") && t.contains("nvme0n1p1 on /boot"), "{t}");
    // The Pi booted from its SD card: the card in the slot is the system.
    let t = refusal_text(check("pi", "/dev/mmcblk0", "179:0", GIB, true));
    assert!(t.contains("mmcblk0p2 on /nix/store") && t.contains("mmcblk0p1 on /boot/firmware"), "{t}");
    // btrfs: / has an anonymous device number; the source names sda2. Swap is on sda3.
    let t = refusal_text(check("desktop", "/dev/sda", "8:0", GIB, true));
    assert!(t.contains("sda2 on /") && t.contains("sda3 on [SWAP]"), "{t}");
    let t = refusal_text(check("laptop", "/dev/zram0", "252:0", 1 << 20, true));
    assert!(t.contains("zram0 on [SWAP]"), "{t}");
}

#[test]
fn a_partition_is_refused_naming_the_disk() {
    let r = check("laptop", "/dev/sdb1", "8:17", GIB, false).unwrap_err();
    assert_eq!(r, [Refusal::Partition { path: "/dev/sdb1".into(), partition: "sdb1".into(), disk: "sdb".into() }]);
    assert!(r[0].to_string().contains("--device /dev/sdb"));
}

#[test]
fn a_disk_with_mounted_partitions_is_refused() {
    let t = refusal_text(check("laptop", "/dev/sda", "8:0", GIB, false));
    assert!(t.contains("/dev/sda has mounted partitions") && t.contains("sda2 on /run/media/me/NIXOS SD"), "{t}");
    assert!(!t.contains("holds this system"), "a mounted card is not a system disk: {t}");
    let t = refusal_text(check("desktop", "/dev/sdb", "8:16", GIB, true));
    assert!(t.contains("sdb1 on /srv/data"), "{t}");
}

#[test]
fn a_disk_smaller_than_the_image_is_refused() {
    // The Pi's 1.9 GiB stick and a 2 GiB image.
    let t = refusal_text(check("pi", "/dev/sdb", "8:16", 2 * GIB, false));
    assert!(t.contains("/dev/sdb is too small") && t.contains("2002780160 bytes"), "{t}");
    assert_eq!(check("pi", "/dev/sdb", "8:16", GIB, false), Ok("sdb".into()));
}

#[test]
fn a_read_only_card_is_refused() {
    let t = refusal_text(check("laptop", "/dev/mmcblk0", "179:0", GIB, false));
    assert!(t.contains("read-only"), "{t}");
    assert!(!t.contains("fixed"), "the built-in SD slot says removable=0 but is removable media: {t}");
}

#[test]
fn fixed_disks_need_allow_fixed() {
    let t = refusal_text(check("desktop", "/dev/sdc", "8:32", GIB, false));
    assert!(t.contains("fixed sata disk") && t.contains("--allow-fixed"), "{t}");
    assert_eq!(check("desktop", "/dev/sdc", "8:32", GIB, true), Ok("sdc".into()));
    // A USB SSD says removable=0 but is USB: allowed without the flag.
    assert_eq!(check("pi", "/dev/sda", "8:0", 4 * GIB, false), Ok("sda".into()));
}

#[test]
fn every_reason_is_named_at_once() {
    let r = check("laptop", "/dev/nvme0n1", "259:0", 2000 * GIB, false).unwrap_err();
    let kinds: Vec<&str> = r
        .iter()
        .map(|r| match r {
            Refusal::System { .. } => "system",
            Refusal::Fixed { .. } => "fixed",
            Refusal::TooSmall { .. } => "small",
            _ => "other",
        })
        .collect();
    assert_eq!(kinds, ["system", "fixed", "small"]);
}

#[test]
fn empty_reader_and_unknown_devices() {
    let t = refusal_text(check("laptop", "/dev/loop0", "7:0", 1 << 20, true));
    assert!(t.contains("size 0"), "{t}");
    let t = refusal_text(check("laptop", "/dev/sdz", "8:240", 1 << 20, true));
    assert!(t.contains("not listed in /sys/class/block"), "{t}");
}

#[test]
fn list_hides_system_disks_unless_all() {
    let out = run(bin().args(["list", "--sys-root"]).arg(fixture("laptop")));
    assert_eq!(out.code, 0, "{}", out.stderr);
    insta::assert_snapshot!("list_laptop", out.stdout);
    let all = run(bin().args(["list", "--all", "--sys-root"]).arg(fixture("laptop")));
    insta::assert_snapshot!("list_laptop_all", all.stdout);
    let json = run(bin().args(["list", "--json", "--sys-root"]).arg(fixture("pi")));
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let names: Vec<&str> = v.as_array().unwrap().iter().map(|d| d["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["sda", "sdb"], "the Pi's own SD card is hidden");
    assert_eq!(v[0]["transport"], "usb");
    assert_eq!(v[0]["removable_media"], true);
}

#[test]
fn write_never_uses_a_recorded_tree() {
    // A real image and a "card" that is a file in a temp dir: if a regression let the write through,
    // it would overwrite this file (and the test would see it), never a disk of the host.
    let d = tempfile::tempdir().unwrap();
    let image = d.path().join("x.img");
    std::fs::write(&image, crate::disk_image(1 << 20)).unwrap();
    let card = d.path().join("card");
    std::fs::write(&card, vec![0u8; 2 << 20]).unwrap();
    let out = run(bin()
        .arg("write")
        .arg(&image)
        .arg("--device")
        .arg(&card)
        .args(["--yes", "--sys-root"])
        .arg(fixture("laptop")));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("only for `list`"), "{}", out.stderr);
    assert!(std::fs::read(&card).unwrap().iter().all(|b| *b == 0), "the card was written");
}
