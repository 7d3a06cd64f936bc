//! A TCP fault injector on loopback (std only): it sits between a client (restic) and a real server (the S3
//! server) and passes bytes through, delays them, stalls, refuses new connections, or cuts every connection once
//! a number of bytes went upstream — what a slow, hung or vanished remote looks like from the client's side.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Pass,
    /// Each chunk, either way, waits this long before it is passed on.
    Delay(Duration),
    /// Connections are accepted, nothing is passed on (a hung server).
    Stall,
    /// The port is closed: new connections are refused (a stopped server); open ones are cut.
    Refuse,
}

struct Shared {
    mode: Mutex<Mode>,
    changed: Condvar,
    /// Client → server bytes passed since the proxy started.
    upstream: AtomicU64,
    /// Once `upstream` reaches it: cut everything and refuse from then on.
    cut_at: AtomicU64,
    conns: Mutex<Vec<TcpStream>>,
    stop: AtomicBool,
}

pub struct Proxy {
    pub port: u16,
    shared: Arc<Shared>,
}

impl Proxy {
    /// Listen on a free loopback port and forward to `127.0.0.1:upstream_port`.
    pub fn start(upstream_port: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding loopback");
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared {
            mode: Mutex::new(Mode::Pass),
            changed: Condvar::new(),
            upstream: AtomicU64::new(0),
            cut_at: AtomicU64::new(u64::MAX),
            conns: Mutex::default(),
            stop: AtomicBool::new(false),
        });
        let s = shared.clone();
        std::thread::spawn(move || accept_loop(Some(listener), port, upstream_port, s));
        Proxy { port, shared }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn set(&self, mode: Mode) {
        self.shared.cut_at.store(u64::MAX, Ordering::SeqCst);
        *self.shared.mode.lock().unwrap() = mode;
        if mode == Mode::Refuse {
            self.cut_all();
        }
        self.shared.changed.notify_all();
    }

    pub fn mode(&self) -> Mode {
        *self.shared.mode.lock().unwrap()
    }

    /// After `bytes` more bytes went from client to server, cut every connection and refuse new ones.
    pub fn refuse_after(&self, bytes: u64) {
        let now = self.shared.upstream.load(Ordering::SeqCst);
        self.shared.cut_at.store(now + bytes, Ordering::SeqCst);
    }

    /// Bytes the client sent to the server so far.
    pub fn upstream_bytes(&self) -> u64 {
        self.shared.upstream.load(Ordering::SeqCst)
    }

    fn cut_all(&self) {
        cut_all(&self.shared);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.cut_all();
        self.shared.changed.notify_all();
    }
}

fn cut_all(shared: &Shared) {
    for c in shared.conns.lock().unwrap().drain(..) {
        let _ = c.shutdown(Shutdown::Both);
    }
}

fn accept_loop(mut listener: Option<TcpListener>, port: u16, upstream_port: u16, shared: Arc<Shared>) {
    while !shared.stop.load(Ordering::SeqCst) {
        let mode = *shared.mode.lock().unwrap();
        if mode == Mode::Refuse {
            // Closing the socket is what makes the kernel answer RST: "connection refused".
            listener = None;
            let guard = shared.mode.lock().unwrap();
            let _ = shared.changed.wait_timeout(guard, Duration::from_millis(100)).unwrap();
            continue;
        }
        let l = match &listener {
            Some(l) => l,
            None => match TcpListener::bind(("127.0.0.1", port)) {
                Ok(l) => listener.insert(l),
                Err(_) => {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                }
            },
        };
        l.set_nonblocking(true).unwrap();
        match l.accept() {
            Ok((client, _)) => {
                client.set_nonblocking(false).unwrap();
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream_port)) else {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                };
                {
                    let mut conns = shared.conns.lock().unwrap();
                    conns.push(client.try_clone().unwrap());
                    conns.push(server.try_clone().unwrap());
                }
                let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                let up = shared.clone();
                std::thread::spawn(move || pipe(client, server, up, true));
                let down = shared.clone();
                std::thread::spawn(move || pipe(s2, c2, down, false));
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => std::thread::sleep(Duration::from_millis(5)),
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
}

fn pipe(mut from: TcpStream, mut to: TcpStream, shared: Arc<Shared>, upstream: bool) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        loop {
            let mode = *shared.mode.lock().unwrap();
            match mode {
                Mode::Pass => break,
                Mode::Delay(d) => {
                    std::thread::sleep(d);
                    break;
                }
                Mode::Stall => {
                    let guard = shared.mode.lock().unwrap();
                    let _ = shared.changed.wait_timeout(guard, Duration::from_millis(100)).unwrap();
                    if shared.stop.load(Ordering::SeqCst) {
                        return;
                    }
                }
                Mode::Refuse => {
                    let _ = from.shutdown(Shutdown::Both);
                    let _ = to.shutdown(Shutdown::Both);
                    return;
                }
            }
        }
        let mut chunk = &buf[..n];
        if upstream {
            let before = shared.upstream.fetch_add(n as u64, Ordering::SeqCst);
            let cut_at = shared.cut_at.load(Ordering::SeqCst);
            if before + n as u64 >= cut_at {
                // Once: after this the proxy refuses until the test sets another mode.
                shared.cut_at.store(u64::MAX, Ordering::SeqCst);
                // Pass on only what fits below the limit, then the remote is gone.
                chunk = &chunk[..cut_at.saturating_sub(before) as usize];
                let _ = to.write_all(chunk);
                *shared.mode.lock().unwrap() = Mode::Refuse;
                shared.changed.notify_all();
                cut_all(&shared);
                return;
            }
        }
        if to.write_all(chunk).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn echo_server() -> u16 {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for mut c in l.incoming().flatten() {
                std::thread::spawn(move || {
                    let mut b = [0u8; 1024];
                    while let Ok(n) = c.read(&mut b) {
                        if n == 0 || c.write_all(&b[..n]).is_err() {
                            break;
                        }
                    }
                });
            }
        });
        port
    }

    fn roundtrip(port: u16, msg: &[u8]) -> std::io::Result<Vec<u8>> {
        let mut c = TcpStream::connect(("127.0.0.1", port))?;
        c.set_read_timeout(Some(Duration::from_secs(10)))?;
        c.write_all(msg)?;
        let mut got = vec![0u8; msg.len()];
        c.read_exact(&mut got)?;
        Ok(got)
    }

    #[test]
    fn passes_refuses_and_comes_back() {
        let p = Proxy::start(echo_server());
        assert_eq!(roundtrip(p.port, b"hello").unwrap(), b"hello");
        p.set(Mode::Refuse);
        // The listener is closed by the accept thread; wait for the kernel to say so (no time asserted).
        let refused = (0..200).any(|_| {
            std::thread::sleep(Duration::from_millis(10));
            TcpStream::connect(("127.0.0.1", p.port)).is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionRefused)
        });
        assert!(refused, "the proxy never refused");
        p.set(Mode::Pass);
        let back = (0..200).any(|_| {
            std::thread::sleep(Duration::from_millis(10));
            roundtrip(p.port, b"again").is_ok_and(|g| g == b"again")
        });
        assert!(back);
    }

    #[test]
    fn cuts_after_the_byte_budget() {
        let p = Proxy::start(echo_server());
        p.refuse_after(4);
        assert!(roundtrip(p.port, b"0123456789").is_err(), "10 bytes passed a 4-byte budget");
        assert_eq!(p.mode(), Mode::Refuse);
        assert!(p.upstream_bytes() >= 4);
    }
}
