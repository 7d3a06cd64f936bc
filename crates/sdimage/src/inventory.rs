//! Which disks this machine has and what each one is doing, read from `/sys/class/block`,
//! `/proc/self/mountinfo` and `/proc/swaps` under a configurable root, so the safety rules run the same
//! on the live system and on trees recorded from other machines (tests/fixtures).

use anyhow::Context;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

/// A block device number, as in `/sys/class/block/*/dev` and mountinfo's third field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct DevNum {
    pub major: u32,
    pub minor: u32,
}

impl DevNum {
    pub fn parse(s: &str) -> Option<DevNum> {
        let (a, b) = s.trim().split_once(':')?;
        Some(DevNum { major: a.parse().ok()?, minor: b.parse().ok()? })
    }
}

impl fmt::Display for DevNum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.major, self.minor)
    }
}

/// How the disk is attached; decides whether it counts as removable media.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    Usb,
    Mmc,
    Nvme,
    Sata,
    Virtio,
    /// loop, zram, device-mapper: not hardware.
    Virtual,
    Unknown,
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = serde_json::to_value(self).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
        f.write_str(&s)
    }
}

/// Something on the disk that is in use right now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Use {
    /// The device that is mounted or swapped on: the disk, one of its partitions, or a device-mapper /
    /// md device stacked on it (`sdb2 → dm-0`).
    pub via: String,
    /// A mount point, or `[SWAP]`.
    pub target: String,
}

impl Use {
    pub fn is_swap(&self) -> bool {
        self.target == SWAP
    }

    /// Mount points whose disk must never be overwritten from a running system: the system itself and
    /// what it boots from. Pi Imager's list plus /nix, which holds everything on NixOS.
    pub fn is_system(&self) -> bool {
        if self.is_swap() {
            return true;
        }
        let t = self.target.as_str();
        t == "/"
            || ["/boot", "/nix", "/usr", "/var", "/home", "/efi"]
                .iter()
                .any(|p| t == *p || t.strip_prefix(p).is_some_and(|rest| rest.starts_with('/')))
    }
}

const SWAP: &str = "[SWAP]";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Partition {
    pub name: String,
    pub dev: DevNum,
    pub size: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Disk {
    pub name: String,
    pub dev: DevNum,
    /// Bytes.
    pub size: u64,
    pub model: Option<String>,
    pub serial: Option<String>,
    pub transport: Transport,
    /// sysfs's `removable` flag; built-in SD readers say 0, so see also [`Disk::is_removable_media`].
    pub removable: bool,
    pub read_only: bool,
    pub logical_block_size: u64,
    pub partitions: Vec<Partition>,
    pub uses: Vec<Use>,
}

impl Disk {
    pub fn path(&self) -> String {
        format!("/dev/{}", self.name)
    }

    /// USB and MMC count as removable whatever sysfs says (Pi Imager does the same: card readers
    /// built into laptops and the Pi's own slot report `removable=0`).
    pub fn is_removable_media(&self) -> bool {
        self.removable || matches!(self.transport, Transport::Usb | Transport::Mmc)
    }

    pub fn system_uses(&self) -> Vec<&Use> {
        self.uses.iter().filter(|u| u.is_system()).collect()
    }

    pub fn is_system(&self) -> bool {
        self.uses.iter().any(Use::is_system)
    }

    /// "Kingston DataTraveler 3.0, serial 0123, 28.9 GiB, usb": how a person recognises the card.
    pub fn describe(&self) -> String {
        format!(
            "{}, serial {}, {}, {}{}",
            self.model.as_deref().unwrap_or("unknown model"),
            self.serial.as_deref().unwrap_or("unknown"),
            homey_kit::units::format_bytes(self.size),
            self.transport,
            if self.is_removable_media() { ", removable" } else { ", fixed" }
        )
    }
}

/// Every whole disk with its partitions and what uses them.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Inventory {
    pub disks: Vec<Disk>,
}

/// What a device number turned out to be.
#[derive(Debug, PartialEq, Eq)]
pub enum Found<'a> {
    Disk(&'a Disk),
    Partition(&'a Disk, &'a Partition),
    Unknown,
}

impl Inventory {
    pub fn find(&self, dev: DevNum) -> Found<'_> {
        for d in &self.disks {
            if d.dev == dev {
                return Found::Disk(d);
            }
            if let Some(p) = d.partitions.iter().find(|p| p.dev == dev) {
                return Found::Partition(d, p);
            }
        }
        Found::Unknown
    }

    /// Read the machine (or recorded tree) under `root`: `root/sys/class/block`, `root/proc/self/mountinfo`,
    /// `root/proc/swaps`.
    pub fn read(root: &Path) -> anyhow::Result<Inventory> {
        let class = root.join("sys/class/block");
        let mountinfo_path = root.join("proc/self/mountinfo");
        let mountinfo = std::fs::read_to_string(&mountinfo_path)
            .with_context(|| format!("reading {}", mountinfo_path.display()))?;
        // No swap file means no swap (containers, recorded trees without swap).
        let swaps = std::fs::read_to_string(root.join("proc/swaps")).unwrap_or_default();
        let mounts = parse_mountinfo(&mountinfo);
        let swapped = parse_swaps(&swaps, root);

        let mut entries: Vec<(String, PathBuf)> = std::fs::read_dir(&class)
            .with_context(|| format!("reading {}", class.display()))?
            .filter_map(Result::ok)
            .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
            .collect();
        entries.sort();

        let mut disks = vec![];
        for (name, link) in &entries {
            // Partitions are picked up under their disk.
            if link.join("partition").exists() {
                continue;
            }
            let dir = std::fs::canonicalize(link).with_context(|| format!("resolving {}", link.display()))?;
            let Some(dev) = read_trim(&dir.join("dev")).and_then(|s| DevNum::parse(&s)) else {
                continue;
            };
            // Not targets: NVMe multipath paths (hidden, no /dev node), RAM disks (1) and optical drives (11).
            if read_trim(&dir.join("hidden")).as_deref() == Some("1") || matches!(dev.major, 1 | 11) {
                continue;
            }
            let sectors: u64 = read_trim(&dir.join("size")).and_then(|s| s.parse().ok()).unwrap_or(0);
            let mut partitions = vec![];
            if let Ok(rd) = std::fs::read_dir(&dir) {
                for e in rd.filter_map(Result::ok) {
                    let p = e.path();
                    if !p.join("partition").exists() {
                        continue;
                    }
                    let Some(pdev) = read_trim(&p.join("dev")).and_then(|s| DevNum::parse(&s)) else { continue };
                    let psize: u64 = read_trim(&p.join("size")).and_then(|s| s.parse().ok()).unwrap_or(0);
                    partitions.push(Partition {
                        name: e.file_name().to_string_lossy().into_owned(),
                        dev: pdev,
                        size: psize * 512,
                    });
                }
            }
            partitions.sort_by_key(|p| p.dev);

            let mut uses = vec![];
            let mut seen = BTreeSet::new();
            let mut members: Vec<(String, PathBuf, DevNum)> = vec![(name.clone(), dir.clone(), dev)];
            members.extend(partitions.iter().map(|p| (p.name.clone(), dir.join(&p.name), p.dev)));
            while let Some((mname, mdir, mdev)) = members.pop() {
                if !seen.insert(mname.clone()) {
                    continue;
                }
                for target in mounts.by_dev.get(&mdev).into_iter().flatten() {
                    uses.push(Use { via: mname.clone(), target: target.clone() });
                }
                for target in mounts.by_source.get(&mname).into_iter().flatten() {
                    if !uses.iter().any(|u| u.via == mname && &u.target == target) {
                        uses.push(Use { via: mname.clone(), target: target.clone() });
                    }
                }
                if swapped.contains(&mname) {
                    uses.push(Use { via: mname.clone(), target: SWAP.into() });
                }
                // Stacked devices (LUKS, LVM, RAID) mounted as / still live on this disk.
                for holder in list_dir(&mdir.join("holders")) {
                    let hdir = class.join(&holder);
                    if let Some(hdev) = read_trim(&hdir.join("dev")).and_then(|s| DevNum::parse(&s)) {
                        let hdir = std::fs::canonicalize(&hdir).unwrap_or(hdir);
                        members.push((holder, hdir, hdev));
                    }
                }
            }
            uses.sort_by(|a, b| (&a.via, &a.target).cmp(&(&b.via, &b.target)));

            let rel = dir.strip_prefix(root).unwrap_or(&dir).to_owned();
            disks.push(Disk {
                name: name.clone(),
                dev,
                size: sectors * 512,
                model: model(&dir),
                serial: serial(&dir, root),
                transport: transport(name, &rel),
                removable: read_trim(&dir.join("removable")).as_deref() == Some("1"),
                read_only: read_trim(&dir.join("ro")).as_deref() == Some("1"),
                logical_block_size: read_trim(&dir.join("queue/logical_block_size"))
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(512),
                partitions,
                uses,
            });
        }
        Ok(Inventory { disks })
    }
}

fn read_trim(p: &Path) -> Option<String> {
    std::fs::read_to_string(p).ok().map(|s| s.trim().to_owned())
}

fn list_dir(p: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(p)
        .map(|rd| rd.filter_map(Result::ok).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

fn model(dir: &Path) -> Option<String> {
    let model = non_empty(read_trim(&dir.join("device/model")))
        // SD/MMC cards name themselves in `name` (e.g. "SC32G").
        .or_else(|| non_empty(read_trim(&dir.join("device/name"))))?;
    let vendor = non_empty(read_trim(&dir.join("device/vendor")));
    Some(match vendor {
        // SATA disks behind libata all say "ATA"; it names nothing.
        Some(v) if v != "ATA" && !model.starts_with(&v) => format!("{v} {model}"),
        _ => model,
    })
}

fn serial(dir: &Path, root: &Path) -> Option<String> {
    for f in ["device/serial", "serial"] {
        if let Some(s) = non_empty(read_trim(&dir.join(f))) {
            return Some(s);
        }
    }
    // SCSI disks (SATA, many USB bridges) carry it in VPD page 0x80: a 4-byte header, then ASCII.
    let vpd = std::fs::read(dir.join("device/vpd_pg80")).ok().filter(|raw| raw.len() > 4);
    if let Some(s) = non_empty(vpd.map(|raw| String::from_utf8_lossy(&raw[4..]).trim_matches('\0').to_owned())) {
        return Some(s);
    }
    // A USB stick's serial lives on the USB device, a few levels up.
    let stop = root.join("sys/devices");
    for up in dir.ancestors().skip(1) {
        if up == stop || !up.starts_with(&stop) {
            break;
        }
        if up.join("idVendor").exists() {
            return non_empty(read_trim(&up.join("serial")));
        }
    }
    None
}

/// From where the device sits in /sys/devices, as lsblk's TRAN does through udev.
fn transport(name: &str, rel: &Path) -> Transport {
    let parts: Vec<String> = rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
    let has = |f: &dyn Fn(&str) -> bool| parts.iter().any(|p| f(p));
    if has(&|p| p.starts_with("usb")) {
        Transport::Usb
    } else if has(&|p| p == "mmc_host") || name.starts_with("mmcblk") {
        Transport::Mmc
    } else if has(&|p| p.starts_with("nvme")) {
        Transport::Nvme
    } else if has(&|p| p.starts_with("ata")) {
        Transport::Sata
    } else if has(&|p| p.starts_with("virtio")) {
        Transport::Virtio
    } else if has(&|p| p == "virtual") {
        Transport::Virtual
    } else {
        Transport::Unknown
    }
}

#[derive(Debug, Default)]
struct Mounts {
    by_dev: BTreeMap<DevNum, Vec<String>>,
    /// By the source's device name, for filesystems whose st_dev is anonymous (btrfs: `0:35`).
    by_source: BTreeMap<String, Vec<String>>,
}

fn parse_mountinfo(text: &str) -> Mounts {
    let mut m = Mounts::default();
    for line in text.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        if fields.len() < 5 {
            continue;
        }
        let target = unescape(fields[4]);
        if let Some(dev) = DevNum::parse(fields[2]) {
            m.by_dev.entry(dev).or_default().push(target.clone());
        }
        let Some(sep) = fields.iter().position(|f| *f == "-") else { continue };
        if let Some(name) = fields.get(sep + 2).and_then(|s| s.strip_prefix("/dev/")) {
            let name = name.rsplit('/').next().unwrap_or(name).to_owned();
            m.by_source.entry(name).or_default().push(target);
        }
    }
    m
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c)) {
            // Above \377 the value does not fit a byte: kept as written.
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 4], 8) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Device names with active swap. `/dev/mapper/x` is a symlink to `../dm-N`; on the live system it is
/// resolved, in a recorded tree its name is kept.
fn parse_swaps(text: &str, root: &Path) -> BTreeSet<String> {
    text.lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .filter(|f| f.starts_with("/dev/"))
        .map(|f| {
            let resolved = if root == Path::new("/") { std::fs::canonicalize(f).ok() } else { None };
            let p = resolved.unwrap_or_else(|| PathBuf::from(f));
            p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_fields_and_escapes() {
        let m = parse_mountinfo(
            "29 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw\n\
             40 29 8:17 / /media/me/My\\040Card rw,nosuid - vfat /dev/sdb1 rw\n\
             41 29 0:35 /@home /home rw - btrfs /dev/sda2 rw\n",
        );
        assert_eq!(m.by_dev[&DevNum { major: 8, minor: 17 }], ["/media/me/My Card"]);
        assert_eq!(m.by_source["sda2"], ["/home"]);
        assert_eq!(m.by_source["nvme0n1p2"], ["/"]);
    }

    #[test]
    fn system_mount_points() {
        let u = |t: &str| Use { via: "x".into(), target: t.into() };
        for t in ["/", "/boot", "/boot/efi", "/nix", "/nix/store", "[SWAP]", "/home"] {
            assert!(u(t).is_system(), "{t}");
        }
        for t in ["/media/card", "/mnt", "/bootstrap", "/run/media/x"] {
            assert!(!u(t).is_system(), "{t}");
        }
    }

    #[test]
    fn transport_from_device_path() {
        let t = |name: &str, p: &str| transport(name, Path::new(p));
        assert_eq!(t("sdb", "sys/devices/pci0000:00/0000:00:14.0/usb2/2-1/2-1:1.0/host6/block/sdb"), Transport::Usb);
        assert_eq!(
            t("mmcblk0", "sys/devices/platform/emmc2bus/fe340000.mmc/mmc_host/mmc0/block/mmcblk0"),
            Transport::Mmc
        );
        assert_eq!(t("nvme0n1", "sys/devices/pci0000:00/0000:00:1d.0/nvme/nvme0/nvme0n1"), Transport::Nvme);
        assert_eq!(
            t("sda", "sys/devices/pci0000:00/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0/block/sda"),
            Transport::Sata
        );
        assert_eq!(t("loop0", "sys/devices/virtual/block/loop0"), Transport::Virtual);
    }
}
