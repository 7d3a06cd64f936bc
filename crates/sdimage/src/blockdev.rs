//! The few block-device ioctls sdimage needs, and opening a device the safe way.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

// From <linux/fs.h>: _IO(0x12, n) and _IOR(0x12, 114, size_t).
const BLKRRPART: libc::c_ulong = 0x125F;
const BLKSSZGET: libc::c_ulong = 0x1268;
const BLKGETSIZE64: libc::c_ulong = 0x8008_1272;

/// Open for writing with O_DIRECT (no page cache: what is written is on its way to the card, and
/// Ctrl-C does not wait for gigabytes of dirty pages) and O_EXCL (the kernel refuses while anything
/// is mounted from the disk or another program holds it exclusively).
pub fn open_for_write(path: &Path) -> io::Result<File> {
    std::fs::OpenOptions::new().read(true).write(true).custom_flags(libc::O_DIRECT | libc::O_EXCL).open(path)
}

pub fn open_for_read(path: &Path, direct: bool) -> io::Result<File> {
    std::fs::OpenOptions::new().read(true).custom_flags(if direct { libc::O_DIRECT } else { 0 }).open(path)
}

/// Bytes, as the kernel sees the device now (sysfs may be a recorded tree).
pub fn size(f: &File) -> io::Result<u64> {
    let mut n: u64 = 0;
    // SAFETY: BLKGETSIZE64 writes one u64 through the pointer.
    let r = unsafe { libc::ioctl(f.as_raw_fd(), BLKGETSIZE64 as _, &mut n as *mut u64) };
    if r < 0 { Err(io::Error::last_os_error()) } else { Ok(n) }
}

pub fn logical_block_size(f: &File) -> io::Result<u64> {
    let mut n: libc::c_int = 0;
    // SAFETY: BLKSSZGET writes one int through the pointer.
    let r = unsafe { libc::ioctl(f.as_raw_fd(), BLKSSZGET as _, &mut n as *mut libc::c_int) };
    if r < 0 { Err(io::Error::last_os_error()) } else { Ok(n as u64) }
}

/// Ask the kernel to read the new partition table, so the card's partitions appear without replugging.
pub fn reread_partitions(f: &File) -> io::Result<()> {
    // SAFETY: BLKRRPART takes no argument.
    let r = unsafe { libc::ioctl(f.as_raw_fd(), BLKRRPART as _, 0) };
    if r < 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
}
