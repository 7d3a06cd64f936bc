//! ICMP echo and TCP connect probes, bound to one interface.
//!
//! A socket that cannot be opened or bound is "probe broken", never "network down": a watchdog that
//! cannot measure must not act. Send errors that describe the network (unreachable, down, no
//! buffers) are "no answer".

use crate::args::Target;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Answered {
        rtt: Duration,
        note: Option<String>,
    },
    NoAnswer(String),
    Broken(String),
    /// Another target answered first; this one's result was not waited for.
    NotAwaited,
}

/// How hard to try each target.
#[derive(Debug, Clone, Copy)]
pub struct Effort {
    pub count: u32,
    pub timeout: Duration,
}

fn errno() -> io::Error {
    io::Error::last_os_error()
}

fn socket(domain: i32, ty: i32, proto: i32) -> io::Result<OwnedFd> {
    // SAFETY: plain syscall; the fd is owned from here on.
    let fd = unsafe { libc::socket(domain, ty | libc::SOCK_CLOEXEC, proto) };
    if fd < 0 { Err(errno()) } else { Ok(unsafe { OwnedFd::from_raw_fd(fd) }) }
}

fn bind_to_device(fd: &OwnedFd, iface: &str) -> io::Result<()> {
    // SAFETY: the option value is the name's bytes with their length.
    let r = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_BINDTODEVICE,
            iface.as_ptr().cast(),
            iface.len() as libc::socklen_t,
        )
    };
    if r != 0 { Err(errno()) } else { Ok(()) }
}

/// Wait until `fd` is ready for `events` or `deadline` passes (or `stop` is raised). Ok(true) when ready.
fn wait(fd: &OwnedFd, events: i16, deadline: Instant, stop: &AtomicBool) -> io::Result<bool> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || stop.load(Ordering::Relaxed) {
            return Ok(false);
        }
        // Short slices so a raised stop flag is seen promptly.
        let ms = left.as_millis().clamp(1, 100) as i32;
        let mut p = libc::pollfd { fd: fd.as_raw_fd(), events, revents: 0 };
        // SAFETY: one valid pollfd.
        match unsafe { libc::poll(&mut p, 1, ms) } {
            n if n > 0 => return Ok(true),
            0 => continue,
            _ => {
                let e = errno();
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
        }
    }
}

fn sockaddr_in(a: Ipv4Addr, port: u16) -> libc::sockaddr_in {
    // SAFETY: all-zero is a valid sockaddr_in.
    let mut sa: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    sa.sin_family = libc::AF_INET as libc::sa_family_t;
    sa.sin_port = port.to_be();
    sa.sin_addr.s_addr = u32::from_ne_bytes(a.octets());
    sa
}

/// Errors that say something about the network, not about our socket.
fn network_errno(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(
            libc::ENETUNREACH
                | libc::EHOSTUNREACH
                | libc::ENETDOWN
                | libc::EHOSTDOWN
                | libc::ENOBUFS
                | libc::EAGAIN
                | libc::ETIMEDOUT
                | libc::ECONNRESET
                | libc::ECONNABORTED
                | libc::ENONET
                | libc::EADDRNOTAVAIL
        )
    )
}

/// RFC 1071 checksum.
fn checksum(data: &[u8]) -> u16 {
    let mut sum = 0u32;
    for c in data.chunks(2) {
        sum += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IcmpSocket {
    /// SOCK_DGRAM: the kernel picks the id and hands us only our replies, without the IP header.
    Ping,
    /// SOCK_RAW: every ICMP packet, IP header included; we match id, sequence, source and payload.
    Raw,
}

fn open_icmp(iface: &str) -> Result<(OwnedFd, IcmpSocket), String> {
    let (fd, kind) = match socket(libc::AF_INET, libc::SOCK_DGRAM, libc::IPPROTO_ICMP) {
        Ok(fd) => (fd, IcmpSocket::Ping),
        Err(ping_err) => match socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_ICMP) {
            Ok(fd) => (fd, IcmpSocket::Raw),
            Err(raw_err) => {
                let range = std::fs::read_to_string("/proc/sys/net/ipv4/ping_group_range").unwrap_or_default();
                return Err(format!(
                    "cannot open an ICMP socket: ping socket: {ping_err} (net.ipv4.ping_group_range is {:?}; \
                     our group must be inside it); raw socket: {raw_err} (needs CAP_NET_RAW)",
                    range.trim().replace('\t', " ")
                ));
            }
        },
    };
    bind_to_device(&fd, iface).map_err(|e| format!("cannot bind the ICMP socket to {iface}: {e}"))?;
    Ok((fd, kind))
}

static NEXT_ID: AtomicU16 = AtomicU16::new(0);

/// Echo requests to `dst` until one is answered or `effort.count` went unanswered.
pub fn icmp(iface: &str, dst: Ipv4Addr, effort: Effort, stop: &AtomicBool) -> Outcome {
    let (fd, kind) = match open_icmp(iface) {
        Ok(x) => x,
        Err(e) => return Outcome::Broken(e),
    };
    homey_kit::debug!("icmp {dst} via {iface}: {kind:?} socket");
    let id = (std::process::id() as u16) ^ NEXT_ID.fetch_add(0x9e37, Ordering::Relaxed);
    let nonce =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos() as u64;
    let dst_sa = sockaddr_in(dst, 0);
    let mut last_send_error = None;
    for seq in 1..=effort.count as u16 {
        if stop.load(Ordering::Relaxed) {
            return Outcome::NotAwaited;
        }
        let mut pkt = [0u8; 24];
        pkt[0] = 8; // echo request
        pkt[4..6].copy_from_slice(&id.to_be_bytes());
        pkt[6..8].copy_from_slice(&seq.to_be_bytes());
        pkt[8..16].copy_from_slice(&nonce.to_be_bytes());
        pkt[16..24].copy_from_slice(b"homey-nw");
        let sum = checksum(&pkt);
        pkt[2..4].copy_from_slice(&sum.to_be_bytes());
        let sent = Instant::now();
        // SAFETY: a valid buffer and sockaddr_in of the given lengths.
        let r = unsafe {
            libc::sendto(
                fd.as_raw_fd(),
                pkt.as_ptr().cast(),
                pkt.len(),
                0,
                (&dst_sa as *const libc::sockaddr_in).cast(),
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            )
        };
        let deadline = sent + effort.timeout;
        if r < 0 {
            let e = errno();
            if !network_errno(&e) {
                return Outcome::Broken(format!("sending an echo request: {e}"));
            }
            last_send_error = Some(e.to_string());
            // Keep the pace of one probe per timeout even when the send fails at once.
            while Instant::now() < deadline && !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(10).min(deadline.saturating_duration_since(Instant::now())));
            }
            continue;
        }
        loop {
            match wait(&fd, libc::POLLIN, deadline, stop) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => return Outcome::Broken(format!("waiting for a reply: {e}")),
            }
            let mut buf = [0u8; 1500];
            // SAFETY: all-zero is a valid sockaddr_in; the lengths match the buffers.
            let mut from: libc::sockaddr_in = unsafe { std::mem::zeroed() };
            let mut from_len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            let n = unsafe {
                libc::recvfrom(
                    fd.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    libc::MSG_DONTWAIT,
                    (&mut from as *mut libc::sockaddr_in).cast(),
                    &mut from_len,
                )
            };
            if n < 0 {
                let e = errno();
                if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::Interrupted || network_errno(&e)
                {
                    continue;
                }
                return Outcome::Broken(format!("receiving a reply: {e}"));
            }
            let got = &buf[..n as usize];
            let src = Ipv4Addr::from(from.sin_addr.s_addr.to_ne_bytes());
            let icmp = match kind {
                IcmpSocket::Ping => got,
                IcmpSocket::Raw => {
                    let ihl = usize::from(got.first().copied().unwrap_or(0) & 0x0f) * 4;
                    got.get(ihl..).unwrap_or_default()
                }
            };
            let ours = icmp.len() >= 24
                && icmp[0] == 0 // echo reply
                && src == dst
                && icmp[6..8] == seq.to_be_bytes()
                && icmp[8..16] == nonce.to_be_bytes()
                && (kind == IcmpSocket::Ping || icmp[4..6] == id.to_be_bytes());
            if ours {
                return Outcome::Answered { rtt: sent.elapsed(), note: None };
            }
        }
    }
    if stop.load(Ordering::Relaxed) {
        return Outcome::NotAwaited;
    }
    let each = crate::args::human(effort.timeout);
    let requests = homey_kit::units::count(effort.count as usize, "echo request", "echo requests");
    match last_send_error {
        Some(e) => Outcome::NoAnswer(format!("no answer to {requests} ({each} each; last send: {e})")),
        None => Outcome::NoAnswer(format!("no answer to {requests} ({each} each)")),
    }
}

/// TCP connects to `dst`. A refused connection counts as an answer: the host's RST crossed the network.
pub fn tcp(iface: &str, dst: SocketAddr, effort: Effort, stop: &AtomicBool) -> Outcome {
    let mut last = String::new();
    for _ in 0..effort.count {
        if stop.load(Ordering::Relaxed) {
            return Outcome::NotAwaited;
        }
        let started = Instant::now();
        let deadline = started + effort.timeout;
        let domain = if dst.is_ipv4() { libc::AF_INET } else { libc::AF_INET6 };
        let fd = match socket(domain, libc::SOCK_STREAM | libc::SOCK_NONBLOCK, 0) {
            Ok(fd) => fd,
            Err(e) => return Outcome::Broken(format!("cannot open a TCP socket: {e}")),
        };
        if let Err(e) = bind_to_device(&fd, iface) {
            return Outcome::Broken(format!("cannot bind the TCP socket to {iface}: {e}"));
        }
        let r = match dst {
            SocketAddr::V4(v4) => {
                let sa = sockaddr_in(*v4.ip(), v4.port());
                // SAFETY: a valid sockaddr_in of its size.
                unsafe {
                    libc::connect(
                        fd.as_raw_fd(),
                        (&sa as *const libc::sockaddr_in).cast(),
                        std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
                    )
                }
            }
            SocketAddr::V6(v6) => {
                // SAFETY: all-zero is a valid sockaddr_in6.
                let mut sa: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
                sa.sin6_family = libc::AF_INET6 as libc::sa_family_t;
                sa.sin6_port = v6.port().to_be();
                sa.sin6_addr.s6_addr = v6.ip().octets();
                sa.sin6_scope_id = v6.scope_id();
                // SAFETY: a valid sockaddr_in6 of its size.
                unsafe {
                    libc::connect(
                        fd.as_raw_fd(),
                        (&sa as *const libc::sockaddr_in6).cast(),
                        std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
                    )
                }
            }
        };
        let result = if r == 0 {
            Ok(())
        } else {
            let e = errno();
            if e.raw_os_error() != Some(libc::EINPROGRESS) {
                Err(e)
            } else {
                match wait(&fd, libc::POLLOUT, deadline, stop) {
                    Ok(true) => {
                        let mut err: libc::c_int = 0;
                        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
                        // SAFETY: an int-sized option buffer.
                        unsafe {
                            libc::getsockopt(
                                fd.as_raw_fd(),
                                libc::SOL_SOCKET,
                                libc::SO_ERROR,
                                (&mut err as *mut libc::c_int).cast(),
                                &mut len,
                            )
                        };
                        if err == 0 { Ok(()) } else { Err(io::Error::from_raw_os_error(err)) }
                    }
                    Ok(false) if stop.load(Ordering::Relaxed) => return Outcome::NotAwaited,
                    Ok(false) => Err(io::Error::from_raw_os_error(libc::ETIMEDOUT)),
                    Err(e) => return Outcome::Broken(format!("waiting for the connection: {e}")),
                }
            }
        };
        match result {
            Ok(()) => return Outcome::Answered { rtt: started.elapsed(), note: Some("connected".into()) },
            Err(e) if e.raw_os_error() == Some(libc::ECONNREFUSED) => {
                return Outcome::Answered {
                    rtt: started.elapsed(),
                    note: Some("connection refused: the host is reachable".into()),
                };
            }
            Err(e) if matches!(e.raw_os_error(), Some(libc::EPERM | libc::EACCES)) => {
                return Outcome::Broken(format!("connect refused locally (a firewall rule?): {e}"));
            }
            Err(e) => {
                last = e.to_string();
                // A fast failure (unreachable) still waits out its slot so attempts keep their pace.
                while Instant::now() < deadline && !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(
                        Duration::from_millis(10).min(deadline.saturating_duration_since(Instant::now())),
                    );
                }
            }
        }
    }
    if stop.load(Ordering::Relaxed) {
        return Outcome::NotAwaited;
    }
    Outcome::NoAnswer(format!(
        "no connection in {} ({} each; last: {last})",
        homey_kit::units::count(effort.count as usize, "attempt", "attempts"),
        crate::args::human(effort.timeout)
    ))
}

/// Probe every target at once, each on its own thread; return as soon as one answers (the rest are
/// `NotAwaited`) or when all have a verdict. Results are in the order of `targets`.
pub fn all(iface: &str, targets: &[Target], effort: Effort) -> Vec<Outcome> {
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = std::sync::mpsc::channel();
    for (i, t) in targets.iter().copied().enumerate() {
        let (tx, stop, iface) = (tx.clone(), stop.clone(), iface.to_owned());
        // Detached: when one target answers we return at once; the others see `stop` and end.
        std::thread::spawn(move || {
            let out = match t {
                Target::Icmp(a) => icmp(&iface, a, effort, &stop),
                Target::Tcp(sa) => tcp(&iface, sa, effort, &stop),
            };
            let _ = tx.send((i, out));
        });
    }
    drop(tx);
    let mut results = vec![Outcome::NotAwaited; targets.len()];
    for (i, out) in rx {
        let answered = matches!(out, Outcome::Answered { .. });
        results[i] = out;
        if answered {
            stop.store(true, Ordering::Relaxed);
            break;
        }
    }
    results
}

/// `if_nametoindex`: does the interface exist in our network namespace?
pub fn interface_exists(iface: &str) -> bool {
    let Ok(name) = std::ffi::CString::new(iface) else { return false };
    // SAFETY: a NUL-terminated name.
    unsafe { libc::if_nametoindex(name.as_ptr()) != 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_of_a_known_echo_request() {
        // type 8, code 0, id 1, seq 1, no payload: 0x0800 + 0x0001 + 0x0001 = 0x0802, inverted 0xf7fd
        let mut pkt = [8u8, 0, 0, 0, 0, 1, 0, 1];
        let sum = checksum(&pkt);
        assert_eq!(sum, 0xf7fd);
        pkt[2..4].copy_from_slice(&sum.to_be_bytes());
        assert_eq!(checksum(&pkt), 0, "a packet with its checksum sums to zero");
        assert_eq!(checksum(&[0xff]), !0xff00);
    }

    #[test]
    fn tcp_on_loopback_connected_and_refused_both_answer() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let effort = Effort { count: 1, timeout: Duration::from_secs(5) };
        let stop = AtomicBool::new(false);
        let up = tcp("lo", SocketAddr::from(([127, 0, 0, 1], port)), effort, &stop);
        assert!(matches!(&up, Outcome::Answered { note: Some(n), .. } if n == "connected"), "{up:?}");
        drop(l);
        let refused = tcp("lo", SocketAddr::from(([127, 0, 0, 1], port)), effort, &stop);
        assert!(matches!(&refused, Outcome::Answered { note: Some(n), .. } if n.contains("refused")), "{refused:?}");
    }

    #[test]
    fn binding_to_a_missing_interface_is_broken_not_down() {
        let effort = Effort { count: 1, timeout: Duration::from_millis(50) };
        let out = tcp("nw-no-such0", SocketAddr::from(([127, 0, 0, 1], 9)), effort, &AtomicBool::new(false));
        assert!(matches!(&out, Outcome::Broken(m) if m.contains("nw-no-such0")), "{out:?}");
        assert!(!interface_exists("nw-no-such0"));
        assert!(interface_exists("lo"));
    }
}
