//! sdimage: build the bootstrap SD image and write it to a card safely, verified.
//!
//! The pure parts — which disks exist and what uses them ([`inventory`]), whether one may be
//! overwritten ([`safety`]), the `nix build` command ([`build`]) — are tested on recorded trees and
//! fakes; [`engine`] moves the bytes; this file is the thin layer that asks, opens and prints.

pub mod blockdev;
pub mod build;
pub mod engine;
pub mod image;
pub mod inventory;
pub mod progress;
pub mod safety;

use anyhow::Context;
use homey_kit::manual::Page;
use homey_kit::process::{Cancel, SystemRunner};
use homey_kit::units::format_bytes;
use homey_kit::{Exit, ResultExt, fail};
use inventory::{Disk, Inventory};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Debug, clap::Parser)]
#[command(name = "sdimage", version, about = "Build the bootstrap SD image and write it to a card safely, verified.")]
pub struct Cli {
    #[command(flatten)]
    pub verbosity: homey_kit::cli::Verbosity,
    /// Read /sys and /proc under this directory instead of / (`list` on recorded trees, for tests).
    #[arg(long, global = true, hide = true, default_value = "/")]
    pub sys_root: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

/// Each subcommand's exit codes and examples, shown under its `--help` and in its man page.
pub const MANUAL: &[Page] = &[
    Page {
        command: "build",
        exits: &[
            (Exit::Ok, "built: the image's path, size and SHA-256 are printed"),
            (Exit::Failed, "the build failed, was stopped, or left no single image in its output"),
            (
                Exit::Unavailable,
                "nix is missing or older than 2.4, or this machine cannot build for aarch64-linux (the message says \
                 how to get a builder)",
            ),
            (Exit::Config, "the --out-link's directory does not exist; nothing was built"),
        ],
        examples: &[
            ("Build the bootstrap image from the flake in this directory", "sdimage build"),
            ("Another flake and host", "sdimage build --flake /etc/homelab --host pi-main-bootstrap"),
            ("Path, sizes and hash as JSON", "sdimage build --json | jq -r .image"),
        ],
    },
    Page {
        command: "list",
        exits: &[
            (Exit::Ok, "listed (also when no card is found: a notice says so)"),
            (Exit::Failed, "/sys could not be read"),
        ],
        examples: &[
            ("The cards and removable disks an image could go to", "sdimage list"),
            ("Every disk, system disks marked SYSTEM", "sdimage list --all"),
            ("As JSON", "sdimage list --json | jq -r '.[].path'"),
        ],
    },
    Page {
        command: "write",
        exits: &[
            (Exit::Ok, "written and read back identical (or written, with --no-verify)"),
            (
                Exit::Failed,
                "not confirmed; or writing or verifying failed or was stopped (the message says whether the card \
                 is bootable)",
            ),
            (
                Exit::BadInput,
                "refused before writing: a system or mounted disk, a partition, too small, read-only, no card, not \
                 an image",
            ),
            (Exit::TryAgain, "the device is busy, or changed while being checked; nothing was written"),
        ],
        examples: &[
            (
                "Write and verify, typing the device's name to confirm",
                "sdimage write result/sd-image/nixos.img.zst --device /dev/sdb",
            ),
            ("From a script, as JSON", "sdimage write nixos.img --device /dev/mmcblk0 --yes --json"),
        ],
    },
    Page {
        command: "verify",
        exits: &[
            (Exit::Ok, "the card holds the image"),
            (Exit::Failed, "the card differs (the message says where and which is suspect), or cannot be read"),
            (Exit::BadInput, "the image is not valid, or the device is neither a block device nor a file"),
        ],
        examples: &[
            ("Check a card written earlier", "sdimage verify result/sd-image/nixos.img.zst --device /dev/sdb"),
            ("As JSON", "sdimage verify nixos.img --device /dev/sdb --json"),
        ],
    },
];

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Build the SD image with nix and print its path, size and SHA-256.
    Build(BuildArgs),
    /// List the disks an image could be written to (system disks only with --all).
    List(ListArgs),
    /// Write an image (.img or .img.zst) to a card, then read it back and verify it.
    Write(WriteArgs),
    /// Only read the card back and compare it with the image.
    Verify(VerifyArgs),
}

#[derive(Debug, clap::Args)]
pub struct BuildArgs {
    /// The flake with the NixOS configurations.
    #[arg(long, default_value = ".")]
    pub flake: String,
    /// The NixOS configuration whose sdImage to build.
    #[arg(long, default_value = "pi-main-bootstrap")]
    pub host: String,
    /// Where nix puts the result symlink (a GC root).
    #[arg(long, default_value = "result")]
    pub out_link: PathBuf,
    /// Print the image's path, sizes and SHA-256 as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Also show system disks (marked SYSTEM); empty devices (unused loop devices, a reader without a card)
    /// are never shown.
    #[arg(long)]
    pub all: bool,
    /// Print the disks as a JSON array on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct WriteArgs {
    /// The image: .img, .img.zst or .zst (recognised by content).
    pub image: PathBuf,
    /// The whole disk to overwrite, e.g. /dev/sdb or /dev/mmcblk0.
    #[arg(long)]
    pub device: PathBuf,
    /// Do not ask; for scripts.
    #[arg(long)]
    pub yes: bool,
    /// Skip reading the card back.
    #[arg(long)]
    pub no_verify: bool,
    /// Allow a fixed disk that is neither USB nor MMC (an internal SATA/NVMe disk, a loop device).
    #[arg(long)]
    pub allow_fixed: bool,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The image the card should hold: .img, .img.zst or .zst.
    pub image: PathBuf,
    /// The disk to read back (a block device, or a file holding a disk's bytes).
    #[arg(long)]
    pub device: PathBuf,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

pub fn run(cli: Cli) -> anyhow::Result<Exit> {
    match cli.command {
        Command::Build(a) => cmd_build(&a),
        Command::List(a) => cmd_list(&cli.sys_root, &a),
        Command::Write(a) => cmd_write(&cli.sys_root, &a),
        Command::Verify(a) => cmd_verify(&a),
    }
}

fn hex(h: &[u8; 32]) -> String {
    hex::encode(h)
}

fn mb_per_s(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / d.as_secs_f64().max(1e-9) / 1e6
}

fn sha256_file(path: &Path) -> anyhow::Result<[u8; 32]> {
    let f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    engine::hash_stream(Box::new(f), std::fs::metadata(path)?.len(), &Cancel::new())
        .with_context(|| format!("hashing {}", path.display()))
}

fn cmd_build(a: &BuildArgs) -> anyhow::Result<Exit> {
    build::check_nix(&SystemRunner)?;
    homey_kit::fs::check_parent(&a.out_link)?;
    let cmd = build::nix_build(&a.flake, &a.host, &a.out_link);
    homey_kit::info!("building the SD image of {} from {} (this can take a while): {cmd}", a.host, a.flake);
    let out = build::run_build(&SystemRunner, &cmd, &a.out_link, &Cancel::on_signals())?;
    let image_path = build::find_image(&out)?;
    let img = image::Image::inspect(&image_path)?;
    let sha = sha256_file(&image_path)?;
    if a.json {
        let v = serde_json::json!({
            "out_path": out, "image": image_path, "format": img.format, "size": img.file_len,
            "image_size": img.len, "sha256": hex(&sha),
        });
        homey_kit::outln!("{v}")?;
    } else {
        homey_kit::outln!("image:  {}", image_path.display())?;
        homey_kit::outln!(
            "size:   {} ({} bytes; {} on the card)",
            format_bytes(img.file_len),
            img.file_len,
            format_bytes(img.len)
        )?;
        homey_kit::outln!("sha256: {}", hex(&sha))?;
    }
    Ok(Exit::Ok)
}

fn cmd_list(root: &Path, a: &ListArgs) -> anyhow::Result<Exit> {
    let inv = Inventory::read(root)?;
    // An empty device (an unused loop device, a reader with no card) cannot be written to: never listed.
    let shown: Vec<&Disk> = inv.disks.iter().filter(|d| d.size > 0 && (a.all || !d.is_system())).collect();
    if a.json {
        let v: Vec<serde_json::Value> = shown
            .iter()
            .map(|d| {
                let mut v = serde_json::to_value(d).expect("disk serialises");
                v["path"] = d.path().into();
                v["system"] = d.is_system().into();
                v["removable_media"] = d.is_removable_media().into();
                v
            })
            .collect();
        homey_kit::outln!("{}", serde_json::Value::Array(v))?;
        return Ok(Exit::Ok);
    }
    if shown.is_empty() {
        homey_kit::notice!("no card or removable disk found (insert one; `sdimage list --all` shows every disk)");
        return Ok(Exit::Ok);
    }
    homey_kit::out!("{}", render_list(&shown))?;
    Ok(Exit::Ok)
}

/// The table `list` prints.
pub fn render_list(disks: &[&Disk]) -> String {
    let mut rows = vec![[
        "DEVICE".to_owned(),
        "SIZE".into(),
        "TRAN".into(),
        "REMOVABLE".into(),
        "MODEL".into(),
        "SERIAL".into(),
        "MOUNTED".into(),
    ]];
    for d in disks {
        let mut used: Vec<String> = d.uses.iter().map(|u| format!("{} on {}", u.via, u.target)).collect();
        if d.is_system() {
            used.insert(0, "SYSTEM:".into());
        }
        let mut removable = if d.is_removable_media() { "yes" } else { "no (fixed)" }.to_owned();
        if d.read_only {
            removable.push_str(", read-only");
        }
        rows.push([
            d.path(),
            format_bytes(d.size),
            d.transport.to_string(),
            removable,
            d.model.clone().unwrap_or_else(|| "-".into()),
            d.serial.clone().unwrap_or_else(|| "-".into()),
            if used.is_empty() { "-".into() } else { used.join(" ") },
        ]);
    }
    let widths: Vec<usize> = (0..7).map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for r in rows {
        let line: Vec<String> = r.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// The person types the device's name; anything else (or end of input) stops here with nothing written.
fn confirm(disk: &Disk, path: &Path, img: &image::Image) -> anyhow::Result<()> {
    let mut err = std::io::stderr().lock();
    writeln!(
        err,
        "About to ERASE {} ({}) and write {} ({} on the card).",
        path.display(),
        disk.describe(),
        img.path.display(),
        format_bytes(img.len)
    )?;
    write!(err, "Type the device name ({}) to continue: ", disk.name)?;
    err.flush()?;
    drop(err);
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    let answer = answer.trim();
    if answer != disk.name && answer != disk.path() {
        fail!(Exit::Failed, "not confirmed (typed {answer:?}, not {:?}); nothing was written", disk.name);
    }
    Ok(())
}

#[derive(Debug, serde::Serialize)]
struct Phase {
    bytes: u64,
    seconds: f64,
    mb_per_s: f64,
}

impl Phase {
    fn new(bytes: u64, d: Duration) -> Phase {
        Phase { bytes, seconds: d.as_secs_f64(), mb_per_s: mb_per_s(bytes, d) }
    }
}

const NOT_BOOTABLE: &str = "the card is NOT bootable (its partition table was erased first and is written last); \
                            write it again";

fn cmd_write(root: &Path, a: &WriteArgs) -> anyhow::Result<Exit> {
    // The safety rules must see the live system the device belongs to, never a recorded tree.
    if root != Path::new("/") {
        fail!(Exit::Usage, "--sys-root is only for `list`; `write` always checks the running system");
    }
    let img = image::Image::inspect(&a.image)?;
    let inv = Inventory::read(root)?;
    let dev = safety::resolve(&a.device).map_err(|r| homey_kit::exit::coded(Exit::BadInput, anyhow::anyhow!("{r}")))?;
    let shown = a.device.display().to_string();
    let disk =
        safety::assess(&inv, &shown, dev, img.len, safety::Rules { allow_fixed: a.allow_fixed }).map_err(|why| {
            homey_kit::exit::coded(Exit::BadInput, anyhow::anyhow!("refusing to write: {}", safety::explain(&why)))
        })?;
    if !a.yes {
        confirm(disk, &a.device, &img)?;
    }

    let file = blockdev::open_for_write(&a.device).map_err(|e| open_error(&e, &shown))?;
    // The path could have changed between the check and the open (a card swapped, a symlink moved).
    {
        use std::os::unix::fs::MetadataExt;
        let rdev = file.metadata()?.rdev();
        if (libc::major(rdev), libc::minor(rdev)) != (dev.major, dev.minor) {
            fail!(Exit::TryAgain, "{shown} changed while being checked; nothing was written");
        }
    }
    let size = blockdev::size(&file).unwrap_or(disk.size);
    let block = blockdev::logical_block_size(&file).unwrap_or(disk.logical_block_size).max(512);
    if safety::padded_len(img.len, block) > size {
        fail!(Exit::BadInput, "refusing to write: {shown} holds {size} bytes, the image needs {}", img.len);
    }
    let target = engine::Target { size, block };
    let cancel = Cancel::on_signals();

    homey_kit::info!("writing {} to {shown} ({})", img.path.display(), disk.describe());
    let pb = progress::Progress::new("write", img.len);
    let written = engine::write_image(img.open()?, img.len, &file, target, &cancel, &pb);
    pb.finish();
    let written = match written {
        Ok(w) => w,
        Err(e) if e.downcast_ref::<engine::Interrupted>().is_some() => {
            fail!(Exit::Failed, "stopped while writing {shown}: {NOT_BOOTABLE}")
        }
        Err(e) => {
            return Err(e.context(format!("writing {shown} failed; {NOT_BOOTABLE}"))).exit_code(Exit::Failed);
        }
    };
    let write_phase = Phase::new(written.len, written.elapsed);

    let verify_phase = if a.no_verify {
        None
    } else {
        let started = Instant::now();
        let pb = progress::Progress::new("verify", img.len);
        let back = engine::read_back(&file, img.len, block, &cancel, &pb);
        pb.finish();
        let back = match back {
            Ok(b) => b,
            Err(e) if e.downcast_ref::<engine::Interrupted>().is_some() => {
                fail!(Exit::Failed, "stopped while verifying {shown}: the image was written but not verified")
            }
            Err(e) => return Err(e.context(format!("verifying {shown}"))).exit_code(Exit::Failed),
        };
        if back != written.sha256 {
            return Err(mismatch(&img, &file, block, &written.sha256, &shown, &cancel)).exit_code(Exit::Failed);
        }
        Some(Phase::new(img.len, started.elapsed()))
    };
    drop(file);
    // Without O_EXCL now, so the kernel may rescan; a loop device without partition scanning says EINVAL.
    match blockdev::open_for_read(&a.device, false).and_then(|f| blockdev::reread_partitions(&f)) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            homey_kit::debug!("{shown} does not rescan partitions: {e}")
        }
        Err(e) => homey_kit::warn!("could not re-read the partition table of {shown} ({e}); replug the card"),
    }
    print_summary(&shown, &written, &write_phase, verify_phase.as_ref(), a.json)?;
    Ok(Exit::Ok)
}

/// Why the device would not open, in the operator's terms; nothing has been written at this point.
pub fn open_error(e: &std::io::Error, shown: &str) -> anyhow::Error {
    let (exit, why) = match e.raw_os_error() {
        Some(libc::EBUSY) => (Exit::TryAgain, "is busy: mounted, or held by another program".to_owned()),
        Some(libc::EACCES | libc::EPERM) => {
            (Exit::Failed, "cannot be opened for writing: permission denied (writing a disk needs root)".to_owned())
        }
        Some(libc::EROFS) => (Exit::BadInput, "is read-only (the card's lock switch?)".to_owned()),
        Some(libc::ENOMEDIUM | libc::ENXIO) => (Exit::BadInput, "has no medium: no card in the reader?".to_owned()),
        _ => (Exit::Failed, format!("cannot be opened for writing: {e}")),
    };
    homey_kit::exit::coded(exit, anyhow::anyhow!("{shown} {why}; nothing was written"))
}

fn print_summary(
    shown: &str,
    w: &engine::Written,
    write: &Phase,
    verify: Option<&Phase>,
    json: bool,
) -> std::io::Result<()> {
    if json {
        let v = serde_json::json!({
            "device": shown, "bytes": w.len, "sha256": hex(&w.sha256), "write": write,
            "verify": verify, "verified": verify.is_some(),
        });
        return homey_kit::outln!("{v}");
    }
    let mut line = format!(
        "wrote {} ({} bytes) to {shown} in {:.2} s ({:.0} MB/s)",
        format_bytes(w.len),
        w.len,
        write.seconds,
        write.mb_per_s
    );
    match verify {
        Some(v) => line.push_str(&format!("; verified in {:.2} s ({:.0} MB/s)", v.seconds, v.mb_per_s)),
        None => line.push_str("; NOT verified (--no-verify)"),
    }
    homey_kit::outln!("{line}")?;
    homey_kit::outln!("sha256 {}", hex(&w.sha256))
}

/// The card read back differently: find where, and tell card from image by reading the image again.
fn mismatch(
    img: &image::Image,
    dev: &std::fs::File,
    block: u64,
    written: &[u8; 32],
    shown: &str,
    cancel: &Cancel,
) -> anyhow::Error {
    homey_kit::warn!("{shown} does not hold what the image holds; locating the difference");
    let diff = match img.open().and_then(|src| engine::locate(src, dev, img.len, block, cancel)) {
        Ok(d) => d,
        Err(e) => return e.context(format!("verification of {shown} FAILED (read-back hash differs)")),
    };
    if &diff.image_sha256 != written {
        return anyhow::anyhow!(
            "verification of {shown} FAILED, and the image read differently this time than while writing: \
             suspect the image file or the disk it is on (or this machine's memory), not the card"
        );
    }
    if diff.regions.is_empty() {
        return anyhow::anyhow!(
            "verification of {shown} FAILED: the card returned different data on two reads; the card or \
             its reader is unreliable"
        );
    }
    anyhow::anyhow!(
        "verification of {shown} FAILED: the card differs from the image in {}; the image read the same \
         twice, so the card (or its reader), not the image, is suspect: try another card",
        engine::describe_regions(&diff.regions)
    )
}

fn cmd_verify(a: &VerifyArgs) -> anyhow::Result<Exit> {
    let img = image::Image::inspect(&a.image)?;
    let shown = a.device.display().to_string();
    let meta = std::fs::metadata(&a.device).with_context(|| shown.clone()).exit_code(Exit::BadInput)?;
    use std::os::unix::fs::FileTypeExt;
    let is_block = meta.file_type().is_block_device();
    if !is_block && !meta.is_file() {
        fail!(Exit::BadInput, "{shown} is neither a block device nor a file");
    }
    let file = blockdev::open_for_read(&a.device, is_block)
        .with_context(|| format!("opening {shown}"))
        .exit_code(Exit::Failed)?;
    let size = if is_block { blockdev::size(&file)? } else { meta.len() };
    let block = if is_block { blockdev::logical_block_size(&file).unwrap_or(512).max(512) } else { 1 };
    if img.len > size {
        fail!(Exit::Failed, "{shown} ({size} bytes) is smaller than the image ({} bytes): it cannot hold it", img.len);
    }
    let cancel = Cancel::on_signals();
    let started = Instant::now();
    let pb = progress::Progress::new("verify", img.len);
    // Image and card are read and hashed side by side: each on its own core.
    let (image_hash, card_hash) = std::thread::scope(|s| {
        let src = img.open();
        let c2 = cancel.clone();
        let len = img.len;
        let t = s.spawn(move || engine::hash_stream(src?, len, &c2));
        let card = engine::read_back(&file, img.len, block, &cancel, &pb);
        (t.join().unwrap_or_else(|_| Err(anyhow::anyhow!("image hasher panicked"))), card)
    });
    pb.finish();
    let image_hash =
        image_hash.with_context(|| format!("reading image {}", img.path.display())).exit_code(Exit::BadInput)?;
    let card_hash = card_hash.with_context(|| format!("reading {shown}")).exit_code(Exit::Failed)?;
    let phase = Phase::new(img.len, started.elapsed());
    if image_hash != card_hash {
        return Err(mismatch(&img, &file, block, &image_hash, &shown, &cancel)).exit_code(Exit::Failed);
    }
    if a.json {
        homey_kit::outln!(
            "{}",
            serde_json::json!({"device": shown, "bytes": img.len, "sha256": hex(&card_hash), "verify": phase, "verified": true})
        )?;
    } else {
        homey_kit::outln!(
            "{shown} matches {} ({} bytes) — verified in {:.2} s ({:.0} MB/s)",
            img.path.display(),
            img.len,
            phase.seconds,
            phase.mb_per_s
        )?;
        homey_kit::outln!("sha256 {}", hex(&card_hash))?;
    }
    Ok(Exit::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_errors_say_what_to_do() {
        let e = |n| open_error(&std::io::Error::from_raw_os_error(n), "/dev/sdb");
        assert_eq!(Exit::of(&e(libc::EBUSY)), Exit::TryAgain);
        assert!(e(libc::EACCES).to_string().contains("needs root"));
        assert_eq!(Exit::of(&e(libc::EROFS)), Exit::BadInput);
        assert!(e(libc::ENOMEDIUM).to_string().contains("no card"));
        assert!(e(libc::EIO).to_string().ends_with("nothing was written"));
    }
}
