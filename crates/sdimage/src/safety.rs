//! The rules that decide whether a device may be overwritten. Pure: they look at an [`Inventory`] and
//! a device number, so every rule is tested on trees recorded from other machines.

use crate::inventory::{DevNum, Disk, Found, Inventory};
use homey_kit::units::format_bytes;
use std::fmt;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;

/// One reason not to write. Every variant names the device and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    Missing { path: String },
    NotBlock { path: String, kind: &'static str },
    Unknown { path: String, dev: DevNum },
    Partition { path: String, partition: String, disk: String },
    NoMedium { disk: String },
    System { disk: String, uses: Vec<String> },
    Mounted { disk: String, uses: Vec<String> },
    ReadOnly { disk: String },
    Fixed { disk: String, transport: String },
    TooSmall { disk: String, size: u64, need: u64 },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Missing { path } if !path.contains('/') => {
                write!(f, "{path} does not exist (did you mean /dev/{path}? see `sdimage list`)")
            }
            Refusal::Missing { path } => {
                write!(f, "{path} does not exist (no card inserted, or a typo? see `sdimage list`)")
            }
            Refusal::NotBlock { path, kind } => write!(f, "{path} is {kind}, not a block device"),
            Refusal::Unknown { path, dev } => {
                write!(f, "{path} (device {dev}) is not listed in /sys/class/block; cannot check what it is")
            }
            Refusal::Partition { path, partition, disk } => {
                write!(f, "{path} is partition {partition} of /dev/{disk}; give the whole disk (--device /dev/{disk})")
            }
            Refusal::NoMedium { disk } => write!(f, "/dev/{disk} has size 0: no card in the reader?"),
            Refusal::System { disk, uses } => {
                write!(f, "/dev/{disk} holds this system ({}); refusing to overwrite it", uses.join(", "))
            }
            Refusal::Mounted { disk, uses } => {
                write!(f, "/dev/{disk} has mounted partitions ({}); unmount them first", uses.join(", "))
            }
            Refusal::ReadOnly { disk } => {
                write!(f, "/dev/{disk} is read-only (the card's lock switch?)")
            }
            Refusal::Fixed { disk, transport } => write!(
                f,
                "/dev/{disk} is a fixed {transport} disk, not a USB or SD card; pass --allow-fixed if you mean it"
            ),
            Refusal::TooSmall { disk, size, need } => write!(
                f,
                "/dev/{disk} is too small: {} ({size} bytes) for an image of {} ({need} bytes)",
                format_bytes(*size),
                format_bytes(*need)
            ),
        }
    }
}

/// Every refusal, joined into the one line the operator reads.
pub fn explain(refusals: &[Refusal]) -> String {
    refusals.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Rules {
    pub allow_fixed: bool,
}

/// `path` (as the person typed it) resolved to device `dev`: may an image of `image_len` bytes be
/// written to it? All reasons against are returned, not just the first.
pub fn assess<'a>(
    inv: &'a Inventory,
    path: &str,
    dev: DevNum,
    image_len: u64,
    rules: Rules,
) -> Result<&'a Disk, Vec<Refusal>> {
    let disk = match inv.find(dev) {
        Found::Disk(d) => d,
        Found::Partition(d, p) => {
            return Err(vec![Refusal::Partition {
                path: path.to_owned(),
                partition: p.name.clone(),
                disk: d.name.clone(),
            }]);
        }
        Found::Unknown => return Err(vec![Refusal::Unknown { path: path.to_owned(), dev }]),
    };
    let mut why = vec![];
    let name = disk.name.clone();
    let fmt_use = |u: &crate::inventory::Use| format!("{} on {}", u.via, u.target);
    if disk.size == 0 {
        why.push(Refusal::NoMedium { disk: name.clone() });
    }
    let system: Vec<String> = disk.system_uses().into_iter().map(fmt_use).collect();
    if !system.is_empty() {
        why.push(Refusal::System { disk: name.clone(), uses: system });
    }
    let other: Vec<String> = disk.uses.iter().filter(|u| !u.is_system()).map(fmt_use).collect();
    if !other.is_empty() {
        why.push(Refusal::Mounted { disk: name.clone(), uses: other });
    }
    if disk.read_only {
        why.push(Refusal::ReadOnly { disk: name.clone() });
    }
    if !disk.is_removable_media() && !rules.allow_fixed {
        why.push(Refusal::Fixed { disk: name.clone(), transport: disk.transport.to_string() });
    }
    let need = padded_len(image_len, disk.logical_block_size);
    if disk.size != 0 && disk.size < need {
        why.push(Refusal::TooSmall { disk: name, size: disk.size, need });
    }
    if why.is_empty() { Ok(disk) } else { Err(why) }
}

/// The image's length rounded up to whole logical blocks: what O_DIRECT writes.
pub fn padded_len(len: u64, block: u64) -> u64 {
    let block = block.max(512);
    len.div_ceil(block) * block
}

/// What the path the person gave is, without creating anything (bmaptool once made a regular file under
/// /dev when the card was missing; this only ever stats).
pub fn resolve(path: &Path) -> Result<DevNum, Refusal> {
    let shown = path.display().to_string();
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Refusal::Missing { path: shown }),
        Err(_) => return Err(Refusal::NotBlock { path: shown, kind: "unreadable" }),
    };
    let ft = meta.file_type();
    if !ft.is_block_device() {
        let kind = if ft.is_file() {
            "a regular file"
        } else if ft.is_dir() {
            "a directory"
        } else if ft.is_char_device() {
            "a character device"
        } else {
            "not a device"
        };
        return Err(Refusal::NotBlock { path: shown, kind });
    }
    use std::os::unix::fs::MetadataExt;
    let rdev = meta.rdev();
    Ok(DevNum { major: libc::major(rdev), minor: libc::minor(rdev) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_to_blocks() {
        assert_eq!(padded_len(1, 512), 512);
        assert_eq!(padded_len(4096, 4096), 4096);
        assert_eq!(padded_len(4097, 4096), 8192);
        assert_eq!(padded_len(0, 512), 0);
    }

    #[test]
    fn resolve_never_creates_and_names_the_kind() {
        let d = tempfile::tempdir().unwrap();
        let missing = d.path().join("sdz");
        assert!(matches!(resolve(&missing), Err(Refusal::Missing { .. })));
        let hint = Refusal::Missing { path: "sdb".into() }.to_string();
        assert!(hint.contains("did you mean /dev/sdb?"), "{hint}");
        assert!(!missing.exists());
        std::fs::write(&missing, b"x").unwrap();
        assert!(matches!(resolve(&missing), Err(Refusal::NotBlock { kind: "a regular file", .. })));
        assert!(matches!(resolve(Path::new("/dev/null")), Err(Refusal::NotBlock { kind: "a character device", .. })));
    }
}
