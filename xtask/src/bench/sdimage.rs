//! Figures for sdimage (issue 8), on a loop device over a file in target/bench/sdimage (needs root):
//! - write + hash of a 1 GiB .img.zst, against `zstd -dc IMG | dd of=TARGET bs=4M oflag=direct conv=fsync`
//!   in the same run: ratio ≥ 1.0;
//! - verify read-back against `openssl dgst -sha256` of the same device: ≥ 0.8;
//! - peak RSS of a whole write + verify: ≤ 64 MiB.

use super::Bench;
use crate::util::{have, is_root};
use anyhow::Context;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const GIB: usize = 1 << 30;
const MIB: usize = 1 << 20;
const RUNS: usize = 5;

/// A loop device, detached on drop.
struct Loop(PathBuf);

impl Drop for Loop {
    fn drop(&mut self) {
        let _ = Command::new("losetup").arg("-d").arg(&self.0).status();
    }
}

/// 1 GiB shaped like a NixOS SD image for the compressor: an MBR, then a mix of incompressible
/// (binaries, already-compressed files) and repetitive (text, tables) data, so zstd -3 gives ~2.5x.
fn make_image(dir: &Path) -> anyhow::Result<PathBuf> {
    let zst = dir.join("bench-1g.img.zst");
    if zst.exists() {
        return Ok(zst);
    }
    let raw = dir.join("bench-1g.img");
    // Small buffers only: a child's peak RSS as wait4 reports it starts from this process's peak (exec
    // keeps the high-water mark of the memory it replaces), so a big buffer here would inflate it.
    let mut urandom = std::fs::File::open("/dev/urandom")?;
    let text: Vec<u8> = (0..MIB)
        .map(|i| b"nixos-system-pi-main-bootstrap /nix/store/ lib share etc "[i % 57] ^ ((i / 4096) as u8 & 3))
        .collect();
    let mut out = std::io::BufWriter::new(std::fs::File::create(&raw)?);
    let mut chunk = vec![0u8; MIB];
    let n = 384 * 1024;
    for i in 0..GIB / MIB {
        urandom.read_exact(&mut chunk[..n])?;
        chunk[n..].copy_from_slice(&text[..MIB - n]);
        if i == 0 {
            chunk[510] = 0x55;
            chunk[511] = 0xAA;
        }
        out.write_all(&chunk)?;
    }
    out.flush()?;
    drop(out);
    let st = Command::new("zstd").args(["-q", "-3", "-T0", "-f", "--rm"]).arg(&raw).arg("-o").arg(&zst).status()?;
    anyhow::ensure!(st.success(), "zstd failed");
    Ok(zst)
}

fn cpus() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

pub fn run(b: &Bench) -> anyhow::Result<()> {
    if !is_root() || !have("losetup") || !have("zstd") || !have("openssl") {
        println!("skipped: the sdimage figures need root (a loop device as the card), losetup, zstd and openssl");
        return Ok(());
    }
    let img = make_image(&b.dir)?;
    println!("image {} ({} MiB compressed, 1 GiB on the card)", img.display(), img.metadata()?.len() >> 20);
    // The write races the machine's other work for CPU (hashing costs CPU that dd does not spend):
    // say how busy the machine was.
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "load average before: {} on {} CPUs",
        load.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
        cpus()
    );
    // Two stand-ins for the card: a loop device writing into the page cache (the writer's CPU cost is
    // all that counts: hashing competes with the copying) and one with direct I/O to this machine's disk
    // (a real device's latency, as with a card or a USB SSD).
    for (what, direct) in [("loop device, buffered (CPU-bound)", false), ("loop device, direct I/O (disk-bound)", true)]
    {
        println!("\n--- target: {what}");
        target(b, &img, direct)?;
    }
    Ok(())
}

fn target(b: &Bench, img: &Path, direct: bool) -> anyhow::Result<()> {
    let backing = b.dir.join("card.raw");
    // The card is exactly the image's size, so `openssl dgst` of the device hashes the same bytes.
    std::fs::File::create(&backing)?.set_len(GIB as u64)?;
    let out = Command::new("losetup")
        .args(["--find", "--show", if direct { "--direct-io=on" } else { "--direct-io=off" }])
        .arg(&backing)
        .output()?;
    anyhow::ensure!(out.status.success(), "losetup: {}", String::from_utf8_lossy(&out.stderr));
    let dev = Loop(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
    let d = dev.0.display().to_string();
    let sdimage = b.bin("sdimage");

    // Alternate the two so both see the same machine load.
    let mut t_dd = vec![];
    let mut t_ours = vec![];
    for _ in 0..RUNS {
        let t = b.median_wall(1, || {
            let mut c = Command::new("sh");
            c.arg("-c")
                .arg(format!("zstd -dc '{}' | dd of='{d}' bs=4M oflag=direct conv=fsync status=none", img.display()));
            c
        })?;
        t_dd.push(t);
        let t = b.median_wall(1, || {
            let mut c = Command::new(&sdimage);
            c.arg("write").arg(img).args(["--device", &d, "--yes", "--allow-fixed", "--no-verify", "-q"]);
            c
        })?;
        t_ours.push(t);
    }
    t_dd.sort();
    t_ours.sort();
    let (dd, ours) = (t_dd[RUNS / 2], t_ours[RUNS / 2]);
    let mbs = |t: Duration| GIB as f64 / secs(t) / 1e6;
    println!("zstd -dc | dd oflag=direct: {:.2} s ({:.0} MB/s)", secs(dd), mbs(dd));
    println!("sdimage write --no-verify:  {:.2} s ({:.0} MB/s), hashing too", secs(ours), mbs(ours));
    b.report(
        "write+hash 1 GiB .img.zst vs zstd|dd (ratio, higher is better)",
        format!("{:.2}", secs(dd) / secs(ours)),
        "≥ 1.0",
    );

    // Read-back: the verify phase as sdimage times it, against openssl hashing the same device.
    let openssl = b.median_wall(RUNS, || {
        let mut c = Command::new("openssl");
        c.args(["dgst", "-sha256", &d]);
        c
    })?;
    let mut verify = vec![];
    for _ in 0..RUNS {
        let out = Command::new(&sdimage)
            .arg("write")
            .arg(img)
            .args(["--device", &d, "--yes", "--allow-fixed", "--json", "-q"])
            .output()?;
        anyhow::ensure!(out.status.success(), "sdimage write: {}", String::from_utf8_lossy(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).context("sdimage --json output")?;
        verify.push(v["verify"]["mb_per_s"].as_f64().context("verify.mb_per_s")?);
    }
    verify.sort_by(f64::total_cmp);
    let ours_v = verify[RUNS / 2];
    println!("openssl dgst -sha256 {d}: {:.2} s ({:.0} MB/s)", secs(openssl), mbs(openssl));
    println!("sdimage verify phase:      {ours_v:.0} MB/s");
    b.report("verify read-back vs openssl dgst -sha256 (ratio)", format!("{:.2}", ours_v / mbs(openssl)), "≥ 0.8");
    let whole = b.median_wall(RUNS, || {
        let mut c = Command::new(&sdimage);
        c.arg("verify").arg(img).args(["--device", &d, "-q"]);
        c
    })?;
    println!(
        "sdimage verify (whole process, decompresses the image alongside): {:.2} s ({:.0} MB/s)",
        secs(whole),
        mbs(whole)
    );

    if direct {
        return Ok(());
    }
    let (code, kib) = b.peak_rss_kib(Command::new(&sdimage).arg("write").arg(img).args([
        "--device",
        &d,
        "--yes",
        "--allow-fixed",
        "-q",
    ]))?;
    anyhow::ensure!(code == 0, "sdimage write exited {code}");
    b.report("peak RSS of write + verify", format!("{:.1} MiB", kib as f64 / 1024.0), "≤ 64 MiB");
    drop(dev);
    let _ = std::fs::remove_file(&backing);
    Ok(())
}
