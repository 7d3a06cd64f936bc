//! Real block devices: loop devices over temp files, created and removed by each test (root only).
//! A test here that needs one says so first (`need`); `cargo xtask test` leaves it out, by name, where the
//! machine cannot make them (xtask/src/test/needs.rs).

use crate::{bin, disk_image, run};
use sha2::Digest;
use std::io::{Read, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use test_support::{Need, need};

const MIB: usize = 1 << 20;

/// A loop device over a file in a temp dir, detached on drop.
struct Loop {
    dev: PathBuf,
    backing: PathBuf,
    _dir: tempfile::TempDir,
}

impl Loop {
    /// A loop device over a card of `size` bytes holding an old pattern; fails the test when none can be made.
    fn new(size: usize, extra: &[&str]) -> Loop {
        need(&[Need::LoopDevices]);
        let dir = tempfile::tempdir().unwrap();
        let backing = dir.path().join("card.raw");
        // An old card: a pattern everywhere, including where the partition tables live.
        std::fs::write(&backing, vec![0xEEu8; size]).unwrap();
        Loop::attach(dir, backing, extra)
    }

    fn attach(dir: tempfile::TempDir, backing: PathBuf, extra: &[&str]) -> Loop {
        let o = Command::new("losetup").args(["--find", "--show"]).args(extra).arg(&backing).output().unwrap();
        assert!(o.status.success(), "losetup: {}", String::from_utf8_lossy(&o.stderr));
        Loop { dev: PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()), backing, _dir: dir }
    }
    fn name(&self) -> String {
        self.dev.file_name().unwrap().to_string_lossy().into_owned()
    }
    fn contents(&self) -> Vec<u8> {
        std::fs::read(&self.backing).unwrap()
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        let _ = Command::new("losetup").arg("-d").arg(&self.dev).status();
    }
}

fn zst(dir: &Path, name: &str, raw: &[u8]) -> PathBuf {
    let p = dir.join(name);
    // As the zstd CLI compresses a file: the header records the size.
    std::fs::write(&p, zstd::bulk::compress(raw, 3).unwrap()).unwrap();
    p
}

fn write_cmd(image: &Path, dev: &Path) -> Command {
    let mut c = bin();
    c.arg("write").arg(image).arg("--device").arg(dev);
    c
}

#[test]
fn writes_a_zst_image_for_real_and_verify_catches_a_corrupted_byte() {
    let lo = Loop::new(24 * MIB, &[]);
    let d = tempfile::tempdir().unwrap();
    let raw = disk_image(9 * MIB + 1234);
    let img = zst(d.path(), "nixos-image-sd-card.img.zst", &raw);

    let out = run(write_cmd(&img, &lo.dev).args(["--yes", "--allow-fixed", "--json"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["sha256"], hex::encode(sha2::Sha256::digest(&raw)));
    assert_eq!(v["bytes"], raw.len());
    assert_eq!(v["verified"], true);
    assert!(v["write"]["mb_per_s"].as_f64().unwrap() > 0.0);
    // Not a terminal: no bar's control characters (progress lines come only after a few seconds).
    assert!(!out.stderr.contains('\r') && !out.stderr.contains('\x1b'), "{}", out.stderr);

    let card = lo.contents();
    assert_eq!(&card[..raw.len()], &raw[..], "the card holds the image");
    assert!(card[card.len() - MIB..].iter().all(|&b| b == 0), "the old backup GPT at the end is erased");

    let ok = run(bin().arg("verify").arg(&img).arg("--device").arg(&lo.dev));
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert!(ok.stdout.contains("matches"), "{}", ok.stdout);

    // One byte in the sixth MiB goes bad on the card.
    let f = std::fs::OpenOptions::new().write(true).open(&lo.backing).unwrap();
    f.write_all_at(&[raw[5 * MIB + 3] ^ 0xFF], (5 * MIB + 3) as u64).unwrap();
    f.sync_all().unwrap();
    let bad = run(bin().arg("verify").arg(&img).arg("--device").arg(&lo.dev));
    assert_eq!(bad.code, 1, "{}", bad.stderr);
    assert!(bad.stderr.contains("MiB 5;") && bad.stderr.contains("the card"), "{}", bad.stderr);
    assert!(bad.stderr.contains("not the image"), "{}", bad.stderr);
}

#[test]
fn raw_image_without_verify_and_the_summary() {
    let lo = Loop::new(8 * MIB, &[]);
    let d = tempfile::tempdir().unwrap();
    let raw = disk_image(3 * MIB);
    let img = d.path().join("plain.img");
    std::fs::write(&img, &raw).unwrap();
    let out = run(write_cmd(&img, &lo.dev).args(["--yes", "--allow-fixed", "--no-verify"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("NOT verified") && out.stdout.contains("3145728 bytes"), "{}", out.stdout);
    assert_eq!(&lo.contents()[..raw.len()], &raw[..]);
}

#[test]
fn refusals_on_real_devices_write_nothing() {
    let lo = Loop::new(4 * MIB, &[]);
    let d = tempfile::tempdir().unwrap();
    let img = zst(d.path(), "img.zst", &disk_image(6 * MIB));
    let before = lo.contents();

    // A loop device is a fixed disk: only with --allow-fixed.
    let out = run(write_cmd(&img, &lo.dev).arg("--yes"));
    assert_eq!(out.code, 65, "{}", out.stderr);
    assert!(out.stderr.contains("fixed virtual disk") && out.stderr.contains("--allow-fixed"), "{}", out.stderr);
    // 6 MiB do not fit on 4 MiB.
    let out = run(write_cmd(&img, &lo.dev).args(["--yes", "--allow-fixed"]));
    assert_eq!(out.code, 65, "{}", out.stderr);
    assert!(out.stderr.contains("too small"), "{}", out.stderr);
    assert_eq!(lo.contents(), before);

    let ro = Loop::new(8 * MIB, &["--read-only"]);
    let out = run(write_cmd(&img, &ro.dev).args(["--yes", "--allow-fixed"]));
    assert_eq!(out.code, 65, "{}", out.stderr);
    assert!(out.stderr.contains("read-only"), "{}", out.stderr);
}

#[test]
fn not_a_block_device_and_never_creating_one() {
    let d = tempfile::tempdir().unwrap();
    let img = zst(d.path(), "img.zst", &disk_image(MIB));
    let missing = d.path().join("sdz");
    let out = run(write_cmd(&img, &missing).args(["--yes", "--allow-fixed"]));
    assert_eq!(out.code, 65, "{}", out.stderr);
    assert!(out.stderr.contains("does not exist"), "{}", out.stderr);
    assert!(!missing.exists(), "no file was created in place of the device");

    let file = d.path().join("card.img");
    std::fs::write(&file, vec![1u8; 4 * MIB]).unwrap();
    let out = run(write_cmd(&img, &file).args(["--yes", "--allow-fixed"]));
    assert_eq!(out.code, 65, "{}", out.stderr);
    assert!(out.stderr.contains("is a regular file, not a block device"), "{}", out.stderr);
    assert_eq!(std::fs::read(&file).unwrap(), vec![1u8; 4 * MIB]);

    let out = run(write_cmd(&img, Path::new("/dev/null")).args(["--yes", "--allow-fixed"]));
    assert_eq!(out.code, 65);
    assert!(out.stderr.contains("character device"), "{}", out.stderr);
}

#[test]
fn a_partition_is_refused() {
    // A card with one partition: the kernel shows it as loopNp1.
    let mut mbr = [0u8; 512];
    mbr[446 + 4] = 0x83;
    mbr[446 + 8..446 + 12].copy_from_slice(&2048u32.to_le_bytes());
    mbr[446 + 12..446 + 16].copy_from_slice(&8192u32.to_le_bytes());
    mbr[510] = 0x55;
    mbr[511] = 0xAA;
    need(&[Need::LoopDevices, Need::LoopPartitions]);
    let lo = Loop::new_over(&mbr);
    let part = PathBuf::from(format!("{}p1", lo.dev.display()));
    for _ in 0..50 {
        if part.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(part.exists(), "the kernel made no partition device for {}", lo.dev.display());
    let d = tempfile::tempdir().unwrap();
    let img = zst(d.path(), "img.zst", &disk_image(MIB));
    let out = run(write_cmd(&img, &part).args(["--yes", "--allow-fixed"]));
    assert_eq!(out.code, 65, "{}", out.stderr);
    assert!(out.stderr.contains(&format!("is partition {}p1 of {}", lo.name(), lo.dev.display())), "{}", out.stderr);
}

impl Loop {
    /// A loop device with partition scanning over a card whose first sector is `mbr`.
    fn new_over(mbr: &[u8]) -> Loop {
        let dir = tempfile::tempdir().unwrap();
        let backing = dir.path().join("card.raw");
        let mut data = vec![0u8; 8 * MIB];
        data[..mbr.len()].copy_from_slice(mbr);
        std::fs::write(&backing, data).unwrap();
        Loop::attach(dir, backing, &["--partscan"])
    }
}

#[test]
fn a_device_held_by_another_program_is_busy() {
    let lo = Loop::new(8 * MIB, &[]);
    let d = tempfile::tempdir().unwrap();
    let img = zst(d.path(), "img.zst", &disk_image(MIB));
    // O_EXCL: what a mount (or another writer) holds.
    let _held = std::fs::OpenOptions::new().read(true).custom_flags(libc::O_EXCL).open(&lo.dev).unwrap();
    let out = run(write_cmd(&img, &lo.dev).args(["--yes", "--allow-fixed"]));
    assert_eq!(out.code, 75, "{}", out.stderr);
    assert!(out.stderr.contains("busy") && out.stderr.contains("nothing was written"), "{}", out.stderr);
    assert!(lo.contents().iter().all(|&b| b == 0xEE));
}

#[test]
fn confirmation_wants_the_device_name() {
    let lo = Loop::new(8 * MIB, &[]);
    let d = tempfile::tempdir().unwrap();
    let raw = disk_image(2 * MIB);
    let img = zst(d.path(), "img.zst", &raw);
    let answer = |text: &str| {
        let mut c = write_cmd(&img, &lo.dev);
        c.arg("--allow-fixed").stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
        let o = child.wait_with_output().unwrap();
        (o.status.code().unwrap(), String::from_utf8_lossy(&o.stderr).into_owned())
    };
    let (code, err) = answer("y\n");
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("About to ERASE") && err.contains("not confirmed"), "{err}");
    assert!(lo.contents().iter().all(|&b| b == 0xEE), "nothing written");
    let (code, err) = answer(&format!("{}\n", lo.name()));
    assert_eq!(code, 0, "{err}");
    assert_eq!(&lo.contents()[..raw.len()], &raw[..]);
}

#[test]
fn a_truncated_image_leaves_a_card_that_does_not_boot() {
    let lo = Loop::new(24 * MIB, &[]);
    let d = tempfile::tempdir().unwrap();
    let raw = disk_image(16 * MIB);
    // Streamed (no size in the header) and cut: found while counting, before anything is written.
    let streamed = zstd::encode_all(&raw[..], 1).unwrap();
    let img = d.path().join("cut-streamed.img.zst");
    std::fs::write(&img, &streamed[..streamed.len() * 2 / 3]).unwrap();
    let out = run(write_cmd(&img, &lo.dev).args(["--yes", "--allow-fixed"]));
    assert_eq!(out.code, 65, "{}", out.stderr);
    assert!(out.stderr.contains("corrupt or truncated"), "{}", out.stderr);
    assert!(lo.contents().iter().all(|&b| b == 0xEE), "nothing written");
    // The header promises 16 MiB, the stream ends in the middle: found while writing.
    let full = zstd::bulk::compress(&raw, 1).unwrap();
    let img = d.path().join("cut.img.zst");
    std::fs::write(&img, &full[..full.len() * 2 / 3]).unwrap();
    let out = run(write_cmd(&img, &lo.dev).args(["--yes", "--allow-fixed"]));
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("NOT bootable"), "{}", out.stderr);
    let mut head = vec![0u8; MIB];
    std::fs::File::open(&lo.backing).unwrap().read_exact(&mut head).unwrap();
    assert!(head.iter().all(|&b| b == 0), "no partition table on the card");
}

#[test]
fn a_mounted_disk_is_refused() {
    need(&[Need::LoopDevices, Need::MkfsExt4, Need::MountNamespace]);
    let lo = Loop::new(8 * MIB, &[]);
    let mkfs = Command::new("mkfs.ext4").args(["-q", "-F"]).arg(&lo.dev).output().unwrap();
    assert!(mkfs.status.success(), "mkfs.ext4: {}", String::from_utf8_lossy(&mkfs.stderr));
    let d = tempfile::tempdir().unwrap();
    let img = zst(d.path(), "img.zst", &disk_image(MIB));
    let mnt = d.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    // Mounted in a private mount namespace that lives only as long as this shell: the host's mount
    // table never sees it.
    let script = format!(
        "mount '{dev}' '{mnt}' && exec '{bin}' write '{img}' --device '{dev}' --yes --allow-fixed",
        dev = lo.dev.display(),
        mnt = mnt.display(),
        bin = env!("CARGO_BIN_EXE_sdimage"),
        img = img.display()
    );
    let out = run(Command::new("unshare").args(["--mount", "--propagation", "private", "sh", "-c", &script]));
    assert_eq!(out.code, 65, "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "{} has mounted partitions ({} on {})",
            lo.dev.display(),
            lo.name(),
            mnt.display()
        )),
        "{}",
        out.stderr
    );
}

#[test]
fn ctrl_c_stops_the_write_and_says_the_card_does_not_boot() {
    use std::io::BufRead;
    // 512 MiB on the card (a repeated MiB, so it compresses to almost nothing): even at memory speed the
    // write takes far longer than the signal needs to arrive.
    const LEN: usize = 512 * MIB;
    need(&[Need::LoopDevices]);
    let dir = tempfile::tempdir().unwrap();
    let backing = dir.path().join("card.raw");
    std::fs::File::create(&backing).unwrap().set_len((LEN + 8 * MIB) as u64).unwrap();
    let lo = Loop::attach(dir, backing, &[]);
    let pattern = disk_image(MIB);
    let img = lo._dir.path().join("big.img.zst");
    let mut enc = zstd::stream::write::Encoder::new(std::fs::File::create(&img).unwrap(), 1).unwrap();
    enc.set_pledged_src_size(Some(LEN as u64)).unwrap();
    enc.include_contentsize(true).unwrap();
    for _ in 0..LEN / MIB {
        enc.write_all(&pattern).unwrap();
    }
    enc.finish().unwrap();

    let mut child = write_cmd(&img, &lo.dev)
        .args(["--yes", "--allow-fixed"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        if stderr.read_line(&mut line).unwrap() == 0 {
            break;
        }
        seen.push_str(&line);
        if line.starts_with("writing ") {
            // SAFETY: signalling our own child.
            unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
            break;
        }
    }
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    seen.push_str(&rest);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(1), "{seen}");
    assert!(seen.contains("stopped while writing") && seen.contains("NOT bootable"), "{seen}");
    let mut head = vec![0u8; MIB];
    let f = std::fs::File::open(&lo.backing).unwrap();
    f.read_exact_at(&mut head, 0).unwrap();
    assert!(head.iter().all(|&b| b == 0), "no partition table on the card");
    let mut last = vec![0u8; MIB];
    f.read_exact_at(&mut last, (LEN - MIB) as u64).unwrap();
    assert_ne!(last, pattern, "the write stopped before the end");
}

#[test]
fn verify_compares_an_image_file_too() {
    // Read-only, so no block device needed: a copy of the image, odd length and all.
    let d = tempfile::tempdir().unwrap();
    let raw = disk_image(3 * MIB + 777);
    let img = zst(d.path(), "img.zst", &raw);
    let copy = d.path().join("copy.img");
    std::fs::write(&copy, &raw).unwrap();
    let ok = run(bin().arg("verify").arg(&img).arg("--device").arg(&copy).arg("--json"));
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    let v: serde_json::Value = serde_json::from_str(&ok.stdout).unwrap();
    assert_eq!(v["sha256"], hex::encode(sha2::Sha256::digest(&raw)));
    let mut bad = raw.clone();
    bad[2 * MIB + 9] ^= 1;
    bad[3 * MIB + 700] ^= 1;
    std::fs::write(&copy, &bad).unwrap();
    let out = run(bin().arg("verify").arg(&img).arg("--device").arg(&copy));
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("differs from the image in MiB 2–3;"), "{}", out.stderr);
}

#[test]
fn a_terminal_gets_a_progress_bar_with_rate_and_eta() {
    need(&[Need::LoopDevices, Need::Script]);
    let lo = Loop::new(24 * MIB, &[]);
    let d = tempfile::tempdir().unwrap();
    let img = zst(d.path(), "img.zst", &disk_image(16 * MIB));
    let cmd = format!(
        "'{}' write '{}' --device '{}' --yes --allow-fixed",
        env!("CARGO_BIN_EXE_sdimage"),
        img.display(),
        lo.dev.display()
    );
    let out = run(Command::new("script").args(["-qec", &cmd, "/dev/null"]));
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("write   [") && out.stdout.contains("ETA"), "{}", out.stdout);
    assert!(out.stdout.contains("wrote 16.0 MiB"), "{}", out.stdout);
}
