//! Moving bytes: the write pipeline (decompress → hash → write, each stage on its own thread so the
//! slowest one sets the pace) and the read-back. It works on any open [`File`]; the caller opens the
//! device with O_DIRECT|O_EXCL, unit tests pass regular files.
//!
//! Order of writes, so that an interrupted write never leaves a card that looks bootable:
//! 1. zero the first and the last MiB (MBR, GPT and its backup) and flush;
//! 2. write the image from its second chunk on, flushing now and then ([`SYNC_EVERY`]);
//! 3. flush, write the first chunk (with the partition table) last, flush.

use crate::image::read_full;
use crate::progress::Progress;
use homey_kit::process::Cancel;
use sha2::{Digest, Sha256};
use std::fmt;
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::ptr::NonNull;
use std::sync::mpsc::sync_channel;
use std::time::{Duration, Instant};

/// Bytes per write or read: large enough that syscalls and thread hand-offs do not matter, small enough
/// that a slow card (10 MB/s) finishes one within half a second, so Ctrl-C is quick.
pub const CHUNK: usize = 4 << 20;
/// Buffers in flight between the stages (plus one held back for the first chunk): 24 MiB.
const POOL: usize = 6;
/// O_DIRECT wants memory and offsets aligned to the logical block size; 4096 covers every disk.
const ALIGN: usize = 4096;
const HUGE: usize = 2 << 20;
/// Zeroed at both ends before writing: MBR and primary GPT at the start, backup GPT at the end.
pub const ERASE: u64 = 1 << 20;
/// How often the written data is flushed to the card: after this many bytes, but not more often than
/// [`SYNC_INTERVAL`]. With O_DIRECT the page cache holds nothing, so a flush only empties the card's
/// own cache; this bounds what a pulled card may lose unnoticed and keeps the final flush (and so
/// Ctrl-C) short, without stalling a fast disk's queue with a flush every few milliseconds.
pub const SYNC_EVERY: u64 = 64 << 20;
pub const SYNC_INTERVAL: Duration = Duration::from_secs(2);
pub const MIB: u64 = 1 << 20;

/// A buffer for O_DIRECT: its own anonymous mapping, so it is page-aligned and, when dropped, given
/// back to the system at once (malloc would keep freed 4 MiB blocks around and grow the peak RSS).
pub struct AlignedBuf {
    ptr: NonNull<u8>,
    cap: usize,
    /// Bytes of data in it.
    pub len: usize,
}

// SAFETY: the mapping is uniquely owned memory, like a Vec<u8>.
unsafe impl Send for AlignedBuf {}

impl AlignedBuf {
    pub fn new(cap: usize) -> AlignedBuf {
        // Map a huge page more than needed and keep the 2 MiB-aligned middle: then the kernel can back
        // the buffer with huge pages, and each O_DIRECT request pins 2 pages instead of 1024.
        let span = cap + HUGE;
        // SAFETY: a fresh private anonymous mapping; no existing memory is touched.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                span,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            panic!("out of memory mapping a {cap}-byte buffer: {}", std::io::Error::last_os_error());
        }
        let start = p as usize;
        let aligned = start.next_multiple_of(HUGE);
        // SAFETY: both ranges lie inside the mapping just made and are not used again.
        unsafe {
            if aligned > start {
                libc::munmap(p, aligned - start);
            }
            let end = aligned + cap;
            if start + span > end {
                libc::munmap(end as *mut libc::c_void, start + span - end);
            }
            libc::madvise(aligned as *mut libc::c_void, cap, libc::MADV_HUGEPAGE);
        }
        AlignedBuf { ptr: NonNull::new(aligned as *mut u8).expect("mmap never returns null"), cap, len: 0 }
    }
    pub fn all_mut(&mut self) -> &mut [u8] {
        // SAFETY: the mapping is valid for cap bytes (zero-filled by the kernel), uniquely borrowed.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.cap) }
    }
    pub fn all(&self) -> &[u8] {
        // SAFETY: as above, shared borrow.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.cap) }
    }
    pub fn data(&self) -> &[u8] {
        &self.all()[..self.len]
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        // SAFETY: mapped in `new` with this length and not used after this.
        unsafe {
            libc::munmap(self.ptr.as_ptr().cast(), self.cap);
        }
    }
}

/// The write or read was stopped by a signal (Ctrl-C, systemctl stop) or the cancel flag.
#[derive(Debug)]
pub struct Interrupted;

impl fmt::Display for Interrupted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("interrupted")
    }
}
impl std::error::Error for Interrupted {}

#[derive(Debug, Clone)]
pub struct Written {
    pub len: u64,
    pub sha256: [u8; 32],
    pub elapsed: Duration,
}

#[derive(Debug, Clone, Copy)]
pub struct Target {
    /// Bytes.
    pub size: u64,
    pub block: u64,
}

/// `len` rounded up to whole blocks (`block` 1 for a regular file: no padding).
fn padded(len: usize, block: u64) -> usize {
    let block = block.max(1) as usize;
    len.div_ceil(block) * block
}

/// Erase the partition tables at both ends of the target.
pub fn erase_tables(dev: &File, target: Target) -> anyhow::Result<()> {
    let zeros = AlignedBuf::new(ERASE as usize);
    let head = ERASE.min(target.size) as usize;
    dev.write_all_at(&zeros.all()[..head], 0).map_err(|e| anyhow::anyhow!("erasing the partition table: {e}"))?;
    if target.size >= 2 * ERASE {
        let tail_at = (target.size - ERASE) / ALIGN as u64 * ALIGN as u64;
        let tail_len = (target.size - tail_at) as usize;
        dev.write_all_at(&zeros.all()[..tail_len.min(ERASE as usize)], tail_at)
            .map_err(|e| anyhow::anyhow!("erasing the backup partition table at the end: {e}"))?;
    }
    dev.sync_data().map_err(|e| anyhow::anyhow!("flushing: {e}"))?;
    Ok(())
}

/// Write `src` (exactly `expected` bytes) to `dev`, hashing on the way. On any error or interruption the
/// first chunk has not been written, so the card holds no partition table.
pub fn write_image(
    src: Box<dyn Read + Send>,
    expected: u64,
    dev: &File,
    target: Target,
    cancel: &Cancel,
    bar: &Progress,
) -> anyhow::Result<Written> {
    let started = Instant::now();
    if crate::safety::padded_len(expected, target.block) > target.size {
        anyhow::bail!("the image ({expected} bytes) does not fit on the target ({} bytes)", target.size);
    }
    erase_tables(dev, target)?;

    let (free_tx, free_rx) = sync_channel::<AlignedBuf>(POOL);
    let (full_tx, full_rx) = sync_channel::<AlignedBuf>(POOL);
    let (hashed_tx, hashed_rx) = sync_channel::<AlignedBuf>(POOL);
    for _ in 0..POOL {
        free_tx.send(AlignedBuf::new(CHUNK)).expect("pool channel has room");
    }

    std::thread::scope(|s| {
        let reader = s.spawn(move || -> anyhow::Result<u64> {
            let mut src = src;
            let mut total = 0u64;
            while !cancel.is_cancelled() {
                let Ok(mut buf) = free_rx.recv() else { break };
                let n = read_full(&mut src, buf.all_mut())
                    .map_err(|e| anyhow::anyhow!("reading the image at byte {total}: {e}"))?;
                buf.len = n;
                total += n as u64;
                if total > expected {
                    anyhow::bail!("the image is longer than its {expected} bytes (it changed while being written?)");
                }
                if n == 0 || full_tx.send(buf).is_err() || n < CHUNK {
                    break;
                }
            }
            Ok(total)
        });
        let hasher = s.spawn(move || {
            let mut h = Sha256::new();
            for buf in full_rx {
                h.update(buf.data());
                if hashed_tx.send(buf).is_err() {
                    break;
                }
            }
            <[u8; 32]>::from(h.finalize())
        });

        // Flushes run beside the writes: the card's cache empties while the next chunks go out,
        // instead of the pipeline standing still for each flush.
        let (sync_tx, sync_rx) = sync_channel::<u64>(1);
        let syncer = s.spawn(move || -> anyhow::Result<()> {
            for at in sync_rx {
                dev.sync_data().map_err(|e| anyhow::anyhow!("flushing at byte {at}: {e}"))?;
            }
            Ok(())
        });

        let outcome = (|| -> anyhow::Result<(u64, Option<AlignedBuf>)> {
            let mut offset = 0u64;
            let mut first = None;
            let mut unsynced = 0u64;
            let mut last_sync = Instant::now();
            for mut buf in hashed_rx.iter() {
                if cancel.is_cancelled() {
                    return Err(Interrupted.into());
                }
                let len = buf.len;
                let plen = padded(len, target.block);
                // O_DIRECT writes whole blocks: the last one is padded with zeros.
                buf.all_mut()[len..plen].fill(0);
                if offset == 0 {
                    first = Some(buf);
                    offset += len as u64;
                    bar.inc(len as u64);
                    continue;
                }
                dev.write_all_at(&buf.all()[..plen], offset)
                    .map_err(|e| anyhow::anyhow!("writing at byte {offset}: {e}"))?;
                offset += len as u64;
                unsynced += plen as u64;
                bar.inc(len as u64);
                // A flush still running takes this one's place: both flush everything written.
                if unsynced >= SYNC_EVERY && last_sync.elapsed() >= SYNC_INTERVAL && sync_tx.try_send(offset).is_ok() {
                    unsynced = 0;
                    last_sync = Instant::now();
                }
                let _ = free_tx.send(buf);
            }
            Ok((offset, first))
        })();
        // Unblock the other stages whatever happened, then collect their results.
        drop(hashed_rx);
        drop(free_tx);
        drop(sync_tx);
        let synced = syncer.join().map_err(|_| anyhow::anyhow!("the flusher panicked"))?;
        let read = reader.join().map_err(|_| anyhow::anyhow!("the image reader panicked"))?;
        let sha256 = hasher.join().map_err(|_| anyhow::anyhow!("the hasher panicked"))?;
        let (offset, first) = outcome?;
        if cancel.is_cancelled() {
            return Err(Interrupted.into());
        }
        let read = read?;
        synced?;
        if read != expected || offset != expected {
            anyhow::bail!("the image ended after {read} of its {expected} bytes (truncated or corrupt)");
        }
        dev.sync_data().map_err(|e| anyhow::anyhow!("flushing: {e}"))?;
        if let Some(first) = first {
            dev.write_all_at(&first.all()[..padded(first.len, target.block)], 0)
                .map_err(|e| anyhow::anyhow!("writing the first chunk (partition table): {e}"))?;
            dev.sync_data().map_err(|e| anyhow::anyhow!("flushing: {e}"))?;
        }
        Ok(Written { len: expected, sha256, elapsed: started.elapsed() })
    })
}

/// Read the first `len` bytes of `dev` back and hash them; a reader thread keeps the next chunk coming
/// while this one is hashed.
pub fn read_back(dev: &File, len: u64, block: u64, cancel: &Cancel, bar: &Progress) -> anyhow::Result<[u8; 32]> {
    let (free_tx, free_rx) = sync_channel::<AlignedBuf>(POOL);
    let (full_tx, full_rx) = sync_channel::<AlignedBuf>(POOL);
    for _ in 0..POOL.min(4) {
        free_tx.send(AlignedBuf::new(CHUNK)).expect("pool channel has room");
    }
    std::thread::scope(|s| {
        let reader = s.spawn(move || -> anyhow::Result<()> {
            let mut offset = 0u64;
            while offset < len && !cancel.is_cancelled() {
                let Ok(mut buf) = free_rx.recv() else { break };
                let want = (len - offset).min(CHUNK as u64) as usize;
                dev.read_exact_at(&mut buf.all_mut()[..padded(want, block)], offset)
                    .map_err(|e| anyhow::anyhow!("reading the card back at byte {offset}: {e}"))?;
                buf.len = want;
                offset += want as u64;
                if full_tx.send(buf).is_err() {
                    break;
                }
            }
            Ok(())
        });
        let mut h = Sha256::new();
        let mut got = 0u64;
        for buf in full_rx.iter() {
            h.update(buf.data());
            got += buf.len as u64;
            bar.inc(buf.len as u64);
            let _ = free_tx.send(buf);
        }
        drop(free_tx);
        reader.join().map_err(|_| anyhow::anyhow!("the card reader thread panicked"))??;
        if cancel.is_cancelled() {
            return Err(Interrupted.into());
        }
        anyhow::ensure!(got == len, "read {got} of {len} bytes back");
        Ok(<[u8; 32]>::from(h.finalize()))
    })
}

/// Hash a stream of exactly `len` bytes (the image, for `verify`).
pub fn hash_stream(mut src: Box<dyn Read + Send>, len: u64, cancel: &Cancel) -> anyhow::Result<[u8; 32]> {
    let mut buf = vec![0u8; CHUNK];
    let mut h = Sha256::new();
    let mut total = 0u64;
    loop {
        if cancel.is_cancelled() {
            return Err(Interrupted.into());
        }
        let n = read_full(&mut src, &mut buf).map_err(|e| anyhow::anyhow!("reading the image at byte {total}: {e}"))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        total += n as u64;
    }
    anyhow::ensure!(total == len, "the image has {total} bytes, expected {len} (truncated or corrupt)");
    Ok(<[u8; 32]>::from(h.finalize()))
}

/// Where image and card differ, in MiB regions, and the image's hash on this second reading: if it
/// matches the hash taken while writing, the image read the same twice and the card is the suspect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// Half-open MiB ranges, coalesced.
    pub regions: Vec<(u64, u64)>,
    pub image_sha256: [u8; 32],
}

pub fn locate(
    mut src: Box<dyn Read + Send>,
    dev: &File,
    len: u64,
    block: u64,
    cancel: &Cancel,
) -> anyhow::Result<Difference> {
    let mut img = vec![0u8; CHUNK];
    let mut card = AlignedBuf::new(CHUNK);
    let mut h = Sha256::new();
    let mut regions: Vec<(u64, u64)> = vec![];
    let mut offset = 0u64;
    while offset < len {
        if cancel.is_cancelled() {
            return Err(Interrupted.into());
        }
        let want = (len - offset).min(CHUNK as u64) as usize;
        let n = read_full(&mut src, &mut img[..want])
            .map_err(|e| anyhow::anyhow!("reading the image at byte {offset}: {e}"))?;
        anyhow::ensure!(n == want, "the image ended at byte {} of {len}", offset + n as u64);
        h.update(&img[..n]);
        dev.read_exact_at(&mut card.all_mut()[..padded(want, block)], offset)
            .map_err(|e| anyhow::anyhow!("reading the card back at byte {offset}: {e}"))?;
        for (i, (a, b)) in img[..n].chunks(MIB as usize).zip(card.all()[..n].chunks(MIB as usize)).enumerate() {
            if a != b {
                let mib = offset / MIB + i as u64;
                match regions.last_mut() {
                    Some(r) if r.1 == mib => r.1 = mib + 1,
                    _ => regions.push((mib, mib + 1)),
                }
            }
        }
        offset += n as u64;
    }
    Ok(Difference { regions, image_sha256: <[u8; 32]>::from(h.finalize()) })
}

/// "MiB 12, 40–42 and 3 more regions".
pub fn describe_regions(regions: &[(u64, u64)]) -> String {
    const SHOWN: usize = 5;
    let mut parts: Vec<String> = regions
        .iter()
        .take(SHOWN)
        .map(|&(a, b)| if b == a + 1 { format!("{a}") } else { format!("{a}–{}", b - 1) })
        .collect();
    if regions.len() > SHOWN {
        parts.push(format!("and {} more regions", regions.len() - SHOWN));
    }
    format!("MiB {}", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn image(len: usize) -> Vec<u8> {
        let mut v: Vec<u8> = (0..len).map(|i| (i * 31 % 253) as u8 | 1).collect();
        v[510] = 0x55;
        v[511] = 0xAA;
        v
    }

    fn card(size: u64) -> (tempfile::TempDir, File) {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("card");
        // An old card: a recognisable pattern everywhere, including an old partition table.
        std::fs::write(&p, vec![0xEEu8; size as usize]).unwrap();
        let f = std::fs::OpenOptions::new().read(true).write(true).open(&p).unwrap();
        (d, f)
    }

    #[test]
    fn writes_hashes_and_reads_back() {
        let data = image(3 * CHUNK + 12345);
        let size = 16 * MIB;
        let (_d, dev) = card(size);
        let t = Target { size, block: 512 };
        let cancel = Cancel::new();
        let bar = Progress::hidden();
        let w = write_image(Box::new(Cursor::new(data.clone())), data.len() as u64, &dev, t, &cancel, &bar).unwrap();
        assert_eq!(w.sha256, <[u8; 32]>::from(Sha256::digest(&data)));
        let mut on_card = vec![0u8; size as usize];
        dev.read_exact_at(&mut on_card, 0).unwrap();
        assert_eq!(&on_card[..data.len()], &data[..]);
        // The old backup GPT at the end is gone; the padding of the last block is zero.
        assert!(on_card[(size - ERASE) as usize..].iter().all(|&b| b == 0));
        assert!(on_card[data.len()..padded(data.len(), 512)].iter().all(|&b| b == 0));
        assert_eq!(read_back(&dev, data.len() as u64, 512, &cancel, &bar).unwrap(), w.sha256);
    }

    #[test]
    fn corrupted_byte_is_found_in_its_mib_region() {
        let data = image(5 * MIB as usize);
        let (_d, dev) = card(8 * MIB);
        let t = Target { size: 8 * MIB, block: 512 };
        let (cancel, bar) = (Cancel::new(), Progress::hidden());
        let w = write_image(Box::new(Cursor::new(data.clone())), data.len() as u64, &dev, t, &cancel, &bar).unwrap();
        dev.write_all_at(&[0u8], 3 * MIB + 77).unwrap();
        let back = read_back(&dev, data.len() as u64, 512, &cancel, &bar).unwrap();
        assert_ne!(back, w.sha256);
        let diff = locate(Box::new(Cursor::new(data.clone())), &dev, data.len() as u64, 512, &cancel).unwrap();
        assert_eq!(diff.regions, [(3, 4)]);
        assert_eq!(diff.image_sha256, w.sha256);
        assert_eq!(describe_regions(&[(3, 4), (7, 10)]), "MiB 3, 7–9");
    }

    /// A source that raises the cancel flag (as Ctrl-C would) after some chunks.
    struct CancelAfter {
        inner: Cursor<Vec<u8>>,
        left: usize,
        cancel: Cancel,
    }
    impl Read for CancelAfter {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.left == 0 {
                self.cancel.cancel();
            }
            self.left = self.left.saturating_sub(1);
            self.inner.read(buf)
        }
    }

    #[test]
    fn interrupted_or_truncated_write_leaves_no_partition_table() {
        let data = image(6 * CHUNK);
        let size = 32 * MIB;
        let t = Target { size, block: 512 };
        let bar = Progress::hidden();

        let (_d, dev) = card(size);
        let cancel = Cancel::new();
        let src = CancelAfter { inner: Cursor::new(data.clone()), left: 3, cancel: cancel.clone() };
        let err = write_image(Box::new(src), data.len() as u64, &dev, t, &cancel, &bar).unwrap_err();
        assert!(err.downcast_ref::<Interrupted>().is_some(), "{err:#}");
        let mut head = vec![0u8; ERASE as usize];
        dev.read_exact_at(&mut head, 0).unwrap();
        assert!(head.iter().all(|&b| b == 0), "the first MiB must stay erased");

        let (_d, dev) = card(size);
        let short = data[..2 * CHUNK + 5].to_vec();
        let err =
            write_image(Box::new(Cursor::new(short)), data.len() as u64, &dev, t, &Cancel::new(), &bar).unwrap_err();
        assert!(format!("{err:#}").contains("ended after"), "{err:#}");
        dev.read_exact_at(&mut head, 0).unwrap();
        assert!(head.iter().all(|&b| b == 0));
    }

    #[test]
    fn an_image_larger_than_the_target_is_refused_before_erasing() {
        let (_d, dev) = card(2 * MIB);
        let t = Target { size: 2 * MIB, block: 512 };
        let err = write_image(Box::new(Cursor::new(vec![])), 3 * MIB, &dev, t, &Cancel::new(), &Progress::hidden())
            .unwrap_err();
        assert!(format!("{err}").contains("does not fit"));
        let mut head = [0u8; 16];
        dev.read_exact_at(&mut head, 0).unwrap();
        assert_eq!(head, [0xEE; 16]);
    }
}
