//! A small Socket.IO v5 / Engine.IO v4 client over a synchronous WebSocket: connect, emit with an
//! acknowledgement and a deadline, answer heartbeats, queue the events the server pushes.
//!
//! The Rust socket.io crate pulls in an async runtime and two HTTP stacks; Uptime Kuma needs a few
//! hundred lines of this.

use homey_kit::process::Cancel;
use serde_json::Value;
use std::collections::VecDeque;
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};
use tungstenite::{Message, WebSocket};

/// Where the server is: `http://host:port` as the operator writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
}

impl Endpoint {
    /// Accepts `http://host[:port][/]` (and `ws://`). TLS is not spoken: the tool runs next to the
    /// container and talks to its loopback port.
    pub fn parse(url: &str) -> Result<Endpoint, String> {
        let rest = if let Some(r) = url.strip_prefix("http://").or_else(|| url.strip_prefix("ws://")) {
            r
        } else if url.starts_with("https://") || url.starts_with("wss://") {
            return Err(format!(
                "{url}: kuma-sync does not speak TLS; point it at Uptime Kuma's own port (e.g. http://127.0.0.1:3001)"
            ));
        } else {
            return Err(format!("{url}: expected a URL such as http://127.0.0.1:3001"));
        };
        let authority = rest.split('/').next().unwrap_or("");
        if rest.trim_end_matches('/') != authority {
            return Err(format!("{url}: Uptime Kuma is served at the root; drop the path"));
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || authority.starts_with('[') => {
                (h.to_owned(), p.parse::<u16>().map_err(|_| format!("{url}: bad port {p:?}"))?)
            }
            _ => (authority.to_owned(), 80),
        };
        if host.is_empty() {
            return Err(format!("{url}: no host"));
        }
        Ok(Endpoint { host: host.trim_start_matches('[').trim_end_matches(']').to_owned(), port })
    }

    fn ws_url(&self) -> String {
        let host = if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        format!("ws://{host}:{}/socket.io/?EIO=4&transport=websocket", self.port)
    }
}

#[derive(Debug)]
pub enum SockError {
    /// Nothing listens, or the handshake failed: the server may still be starting.
    Connect(String),
    /// No acknowledgement (or expected event) in time: what did not come, and within how long.
    Timeout(String),
    /// The server closed the connection, or it broke.
    Closed(String),
    /// The server said something that is not Socket.IO as we know it.
    Protocol(String),
    /// We were asked to stop (SIGTERM, SIGINT).
    Stopped,
}

impl std::fmt::Display for SockError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SockError::Connect(m) => write!(f, "cannot connect: {m}"),
            SockError::Timeout(m) => f.write_str(m),
            SockError::Closed(m) => write!(f, "the connection was lost: {m}"),
            SockError::Protocol(m) => write!(f, "unexpected answer from the server: {m}"),
            SockError::Stopped => f.write_str("stopped by a signal"),
        }
    }
}

impl std::error::Error for SockError {}

#[derive(Debug, Clone)]
pub struct Event {
    pub name: String,
    pub args: Vec<Value>,
}

enum Packet {
    Ack(u64, Value),
    Event(Event),
    Other,
}

pub struct Socket {
    ws: WebSocket<TcpStream>,
    next_id: u64,
    queue: VecDeque<Event>,
    /// Events dropped unread (by a prefix check, without parsing): 1.23 pushes the whole monitor list
    /// after every write, which would cost time and memory to parse and keep.
    ignored: Vec<String>,
    stop: Option<Cancel>,
}

fn closed(e: tungstenite::Error) -> SockError {
    SockError::Closed(e.to_string())
}

impl Socket {
    /// Connect; a raised `stop` interrupts any wait.
    pub fn connect(ep: &Endpoint, timeout: Duration, stop: Option<&Cancel>) -> Result<Socket, SockError> {
        let deadline = Instant::now() + timeout;
        let addrs: Vec<_> = (ep.host.as_str(), ep.port)
            .to_socket_addrs()
            .map_err(|e| SockError::Connect(format!("resolving {}: {e}", ep.host)))?
            .collect();
        let mut last = format!("{} resolves to no address", ep.host);
        let mut stream = None;
        for a in addrs {
            match TcpStream::connect_timeout(&a, timeout) {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => last = format!("{a}: {e}"),
            }
        }
        let stream = stream.ok_or(SockError::Connect(last))?;
        let _ = stream.set_nodelay(true);
        stream.set_read_timeout(Some(timeout)).map_err(|e| SockError::Connect(e.to_string()))?;
        stream.set_write_timeout(Some(timeout)).map_err(|e| SockError::Connect(e.to_string()))?;
        let (ws, _) = tungstenite::client(ep.ws_url(), stream)
            .map_err(|e| SockError::Connect(format!("WebSocket handshake: {e}")))?;
        let mut s = Socket { ws, next_id: 0, queue: VecDeque::new(), ignored: vec![], stop: stop.cloned() };
        let open = s
            .read_text(deadline)?
            .ok_or_else(|| SockError::Timeout(format!("no Engine.IO handshake within {}", seconds(timeout))))?;
        if !open.starts_with('0') {
            return Err(SockError::Protocol(format!("expected an Engine.IO open packet, got {:.80}", open)));
        }
        s.send("40".into())?;
        loop {
            let text = s
                .read_text(deadline)?
                .ok_or_else(|| SockError::Timeout(format!("no Socket.IO connect within {}", seconds(timeout))))?;
            if text.starts_with("40") {
                return Ok(s);
            }
            if let Some(err) = text.strip_prefix("44") {
                return Err(SockError::Protocol(format!("connection refused by the server: {err:.200}")));
            }
            if text == "2" {
                s.send("3".into())?;
            }
        }
    }

    /// Drop these events unread until told otherwise.
    pub fn ignore(&mut self, events: &[&str]) {
        self.ignored = events.iter().map(|e| format!("42[\"{e}\"")).collect();
    }

    fn send(&mut self, text: String) -> Result<(), SockError> {
        self.ws.send(Message::text(text)).map_err(closed)
    }

    /// One text frame, or `None` when the deadline passed first.
    fn read_text(&mut self, deadline: Instant) -> Result<Option<String>, SockError> {
        loop {
            if self.stop.as_ref().is_some_and(Cancel::is_cancelled) {
                return Err(SockError::Stopped);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            self.ws
                .get_mut()
                .set_read_timeout(Some(left.max(Duration::from_millis(1))))
                .map_err(|e| SockError::Closed(e.to_string()))?;
            match self.ws.read() {
                Ok(Message::Text(t)) => return Ok(Some(t.as_str().to_owned())),
                Ok(Message::Close(_)) => return Err(SockError::Closed("the server closed the connection".into())),
                Ok(_) => continue,
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut | std::io::ErrorKind::Interrupted
                    ) =>
                {
                    continue;
                }
                Err(e) => return Err(closed(e)),
            }
        }
    }

    fn pump(&mut self, deadline: Instant) -> Result<Option<Packet>, SockError> {
        let Some(text) = self.read_text(deadline)? else { return Ok(None) };
        if text == "2" {
            self.send("3".into())?;
            return Ok(Some(Packet::Other));
        }
        if text == "1" || text.starts_with("41") {
            return Err(SockError::Closed("the server ended the session".into()));
        }
        if let Some(rest) = text.strip_prefix("43") {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            let id: u64 =
                rest[..digits].parse().map_err(|_| SockError::Protocol(format!("ack without id: {text:.80}")))?;
            let args: Value = serde_json::from_str(&rest[digits..])
                .map_err(|e| SockError::Protocol(format!("ack {id} is not JSON: {e}")))?;
            let first = match args {
                Value::Array(mut a) if !a.is_empty() => a.swap_remove(0),
                _ => Value::Null,
            };
            return Ok(Some(Packet::Ack(id, first)));
        }
        if let Some(rest) = text.strip_prefix("42") {
            if self.ignored.iter().any(|p| text.starts_with(p.as_str())) {
                return Ok(Some(Packet::Other));
            }
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if let Ok(Value::Array(mut a)) = serde_json::from_str::<Value>(&rest[digits..]) {
                if let Some(Value::String(name)) = (!a.is_empty()).then(|| a.remove(0)) {
                    return Ok(Some(Packet::Event(Event { name, args: a })));
                }
            }
            return Err(SockError::Protocol(format!("malformed event: {text:.80}")));
        }
        Ok(Some(Packet::Other))
    }

    /// Emit `event` and wait for its acknowledgement; events that arrive meanwhile are queued.
    pub fn call(&mut self, event: &str, args: &[Value], timeout: Duration) -> Result<Value, SockError> {
        let id = self.next_id;
        self.next_id += 1;
        let mut frame = vec![Value::from(event)];
        frame.extend_from_slice(args);
        self.send(format!("42{id}{}", Value::Array(frame)))?;
        let deadline = Instant::now() + timeout;
        loop {
            match self.pump(deadline)? {
                None => return Err(SockError::Timeout(format!("no answer to {event:?} within {}", seconds(timeout)))),
                Some(Packet::Ack(a, v)) if a == id => return Ok(v),
                Some(Packet::Event(e)) => self.queue.push_back(e),
                Some(_) => {}
            }
        }
    }

    /// The first queued or arriving event named `name`.
    pub fn wait_for(&mut self, name: &str, timeout: Duration) -> Result<Event, SockError> {
        if let Some(i) = self.queue.iter().position(|e| e.name == name) {
            return Ok(self.queue.remove(i).expect("index from position"));
        }
        let deadline = Instant::now() + timeout;
        loop {
            match self.pump(deadline)? {
                None => {
                    return Err(SockError::Timeout(format!("no {name:?} event within {}", seconds(timeout))));
                }
                Some(Packet::Event(e)) if e.name == name => return Ok(e),
                Some(Packet::Event(e)) => self.queue.push_back(e),
                Some(_) => {}
            }
        }
    }

    /// Remove and return every queued event named `name`.
    pub fn take(&mut self, name: &str) -> Vec<Event> {
        let (taken, kept): (Vec<Event>, Vec<Event>) = self.queue.drain(..).partition(|e| e.name == name);
        self.queue = kept.into();
        taken
    }

    pub fn clear(&mut self) {
        self.queue.clear();
    }

    pub fn close(mut self) {
        let _ = self.ws.close(None);
        let _ = self.ws.flush();
    }
}

/// A wait as the operator reads it: `30s`, `1.5s`, `20s` (not `19.999999911s`, what is left of `--wait`).
pub fn seconds(d: Duration) -> String {
    let tenths = (d.as_millis() + 50) / 100;
    if tenths % 10 == 0 { format!("{}s", tenths / 10) } else { format!("{}.{}s", tenths / 10, tenths % 10) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_read_as_given() {
        assert_eq!(seconds(Duration::from_secs(30)), "30s");
        assert_eq!(seconds(Duration::from_nanos(19_999_999_911)), "20s");
        assert_eq!(seconds(Duration::from_millis(1500)), "1.5s");
        let e =
            SockError::Timeout(format!("no answer to {:?} within {}", "needSetup", seconds(Duration::from_secs(30))));
        assert_eq!(e.to_string(), r#"no answer to "needSetup" within 30s"#);
    }

    #[test]
    fn endpoints() {
        let ep = |u: &str| Endpoint::parse(u);
        assert_eq!(ep("http://127.0.0.1:3001").unwrap(), Endpoint { host: "127.0.0.1".into(), port: 3001 });
        assert_eq!(ep("http://kuma/").unwrap(), Endpoint { host: "kuma".into(), port: 80 });
        assert_eq!(ep("http://[::1]:3001").unwrap(), Endpoint { host: "::1".into(), port: 3001 });
        assert_eq!(ep("http://[::1]:3001").unwrap().ws_url(), "ws://[::1]:3001/socket.io/?EIO=4&transport=websocket");
        assert!(ep("https://status.example.com").unwrap_err().contains("TLS"));
        assert!(ep("http://h:x").unwrap_err().contains("bad port"));
        assert!(ep("http://h:3001/status").unwrap_err().contains("path"));
        assert!(ep("127.0.0.1:3001").is_err());
    }
}
