//! The image file: raw or zstd-compressed (told apart by content, not by name), its decompressed
//! length, and a check that it really is a disk image before anything is written.

use anyhow::Context;
use homey_kit::{Exit, ResultExt, fail};
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Raw,
    Zstd,
}

#[derive(Debug, Clone)]
pub struct Image {
    pub path: PathBuf,
    pub format: Format,
    /// Bytes after decompression: what lands on the card.
    pub len: u64,
    /// Bytes of the file itself.
    pub file_len: u64,
}

/// Recognise the usual compressors so the message says what the file is instead of "not an image".
fn other_compression(head: &[u8]) -> Option<&'static str> {
    match head {
        [0xFD, b'7', b'z', b'X', b'Z', 0, ..] => Some("xz"),
        [0x1F, 0x8B, ..] => Some("gzip"),
        [b'B', b'Z', b'h', ..] => Some("bzip2"),
        [b'P', b'K', 3, 4, ..] => Some("zip"),
        _ => None,
    }
}

impl Image {
    /// Look at the file: format, length, partition-table signature. Fails with [`Exit::BadInput`] and
    /// a line naming the file when it is not something sdimage can write.
    pub fn inspect(path: &Path) -> anyhow::Result<Image> {
        let shown = path.display();
        let mut f = File::open(path).with_context(|| format!("opening image {shown}")).exit_code(Exit::BadInput)?;
        let meta = f.metadata().with_context(|| format!("reading image {shown}"))?;
        if !meta.is_file() {
            fail!(Exit::BadInput, "image {shown} is not a regular file");
        }
        let mut head = [0u8; 18];
        let n = read_full(&mut f, &mut head).with_context(|| format!("reading image {shown}"))?;
        let head = &head[..n];
        let named_zst = path.extension().is_some_and(|e| e == "zst");
        let format = if head.starts_with(&ZSTD_MAGIC) {
            Format::Zstd
        } else if let Some(kind) = other_compression(head) {
            fail!(
                Exit::BadInput,
                "image {shown} is {kind}-compressed; sdimage writes raw .img and zstd .img.zst images \
                 (decompress it first)"
            );
        } else {
            Format::Raw
        };
        if named_zst && format == Format::Raw {
            homey_kit::warn!("image {shown} is named .zst but is not zstd-compressed; writing it as a raw image");
        }
        let len = match format {
            Format::Raw => meta.len(),
            Format::Zstd => match zstd::zstd_safe::get_frame_content_size(head) {
                Ok(Some(n)) => n,
                // Streamed compression leaves the size out of the header; count it once.
                _ => {
                    homey_kit::info!(
                        "image {shown}: size not recorded in the zstd header, decompressing once to count"
                    );
                    let mut r = open_zstd(path)?;
                    io::copy(&mut r, &mut io::sink())
                        .with_context(|| format!("image {shown}: corrupt or truncated zstd data"))
                        .exit_code(Exit::BadInput)?
                }
            },
        };
        let img = Image { path: path.to_owned(), format, len, file_len: meta.len() };
        img.check_partition_table()?;
        Ok(img)
    }

    /// A disk image starts with an MBR (or GPT's protective MBR): 0x55AA at byte 510. Anything else —
    /// a kernel, a tarball, the wrong file from the store — is refused before the card is touched.
    fn check_partition_table(&self) -> anyhow::Result<()> {
        let shown = self.path.display();
        if self.len < 512 {
            fail!(Exit::BadInput, "image {shown} is {} bytes: too short to be a disk image", self.len);
        }
        let mut first = [0u8; 512];
        let mut r = self.open()?;
        read_full(&mut r, &mut first)
            .with_context(|| format!("image {shown}: corrupt or truncated data"))
            .exit_code(Exit::BadInput)?;
        if first[510..512] != [0x55, 0xAA] {
            fail!(
                Exit::BadInput,
                "image {shown} does not start with a partition table (no 0x55AA signature at byte 510): \
                 not a disk image"
            );
        }
        Ok(())
    }

    /// The decompressed bytes, streamed.
    pub fn open(&self) -> anyhow::Result<Box<dyn Read + Send>> {
        match self.format {
            Format::Raw => {
                Ok(Box::new(File::open(&self.path).with_context(|| format!("opening image {}", self.path.display()))?))
            }
            Format::Zstd => Ok(Box::new(open_zstd(&self.path)?)),
        }
    }
}

fn open_zstd(path: &Path) -> anyhow::Result<impl Read + Send + use<>> {
    let f = File::open(path).with_context(|| format!("opening image {}", path.display()))?;
    let mut d = zstd::stream::read::Decoder::with_buffer(io::BufReader::with_capacity(1 << 20, f))
        .with_context(|| format!("starting zstd decoder for {}", path.display()))?;
    // Images compressed with --long need a larger window than the default limit (128 MiB); allow it
    // rather than failing at the first frame. The memory is only taken if the frame asks for it.
    d.window_log_max(31).with_context(|| format!("zstd decoder for {}", path.display()))?;
    Ok(d)
}

/// Read until `buf` is full or the stream ends; returns how much was read.
pub fn read_full(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn disk_image(len: usize) -> Vec<u8> {
        let mut v: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
        v[510] = 0x55;
        v[511] = 0xAA;
        v
    }

    #[test]
    fn format_by_content_not_name() {
        let d = tempfile::tempdir().unwrap();
        let raw = disk_image(100_000);
        // A zstd image named .img is still read as zstd.
        let p = d.path().join("x.img");
        std::fs::write(&p, zstd::encode_all(&raw[..], 3).unwrap()).unwrap();
        let img = Image::inspect(&p).unwrap();
        assert_eq!((img.format, img.len), (Format::Zstd, raw.len() as u64));
        let mut back = vec![];
        img.open().unwrap().read_to_end(&mut back).unwrap();
        assert_eq!(back, raw);
        // A raw image named .zst is written raw.
        let p = d.path().join("y.img.zst");
        std::fs::write(&p, &raw).unwrap();
        let img = Image::inspect(&p).unwrap();
        assert_eq!((img.format, img.len), (Format::Raw, raw.len() as u64));
    }

    #[test]
    fn streamed_zstd_without_size_is_counted() {
        let d = tempfile::tempdir().unwrap();
        let raw = disk_image(300_000);
        let mut enc = zstd::stream::write::Encoder::new(vec![], 1).unwrap();
        enc.include_contentsize(false).unwrap();
        io::Write::write_all(&mut enc, &raw).unwrap();
        let p = d.path().join("s.img.zst");
        std::fs::write(&p, enc.finish().unwrap()).unwrap();
        assert_eq!(Image::inspect(&p).unwrap().len, raw.len() as u64);
    }

    #[test]
    fn refuses_what_is_not_a_disk_image() {
        let d = tempfile::tempdir().unwrap();
        let cases: [(&str, Vec<u8>, &str); 4] = [
            ("a.img.xz", vec![0xFD, b'7', b'z', b'X', b'Z', 0, 1, 2], "xz-compressed"),
            ("b.img.gz", vec![0x1F, 0x8B, 8, 0], "gzip-compressed"),
            ("c.img", vec![0u8; 4096], "no 0x55AA signature"),
            ("d.img", vec![1, 2, 3], "too short"),
        ];
        for (name, bytes, want) in cases {
            let p = d.path().join(name);
            std::fs::write(&p, bytes).unwrap();
            let err = Image::inspect(&p).unwrap_err();
            let msg = format!("{err:#}");
            assert!(msg.contains(want) && msg.contains(name), "{msg}");
            assert_eq!(Exit::of(&err), Exit::BadInput);
        }
        let err = Image::inspect(&d.path().join("missing.img")).unwrap_err();
        assert_eq!(Exit::of(&err), Exit::BadInput);
    }
}
