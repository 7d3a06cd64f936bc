//! A stand-in Uptime Kuma: Engine.IO v4 / Socket.IO v5 over a real WebSocket on loopback, behaving like
//! 1.23.x or 2.x as /work/shared/specs/uptime-kuma.md describes — the traps included: unknown-column
//! errors, `conditions` (required by 2.x, refused by 1.23), `accepted_statuscodes` required, explicit
//! nulls on NOT NULL columns, database defaults that differ from the web UI, the notification
//! foreign-key failure after the row was created, `add` with an `id` that stores nothing, login-ack vs
//! `monitorList` ordering, heartbeats (a client that does not answer is dropped), the login rate
//! limit, duplicate names, i18n error keys on 2.x, a server that accepts connections but answers no
//! event until its database is "ready", and a socket dropped in the middle of a sync.
//!
//! Every event it receives is recorded so tests can assert what a client sent.

// tungstenite's error type is large; this is test code on loopback, not a hot path.
#![allow(clippy::result_large_err)]

use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, VecDeque};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tungstenite::Message;
use tungstenite::handshake::server::{ErrorResponse, Request, Response};

/// Which server generation to imitate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// 1.23.x: acks `login` before it pushes the lists; sends the whole list after every write; no
    /// `conditions` column; English error texts; push tokens up to 20 characters.
    V1,
    /// 2.x: pushes the lists before the login ack; partial list updates; `conditions` required;
    /// i18n error keys; push tokens up to 32 characters; drops an event sent before its first `info`.
    V2,
}

impl Flavor {
    pub fn version(self) -> &'static str {
        match self {
            Flavor::V1 => "1.23.16",
            // The 2.0.2 tag reports 2.0.1.
            Flavor::V2 => "2.0.1",
        }
    }
}

/// The events that change something on the server.
pub const WRITE_EVENTS: &[&str] = &[
    "add",
    "editMonitor",
    "deleteMonitor",
    "pauseMonitor",
    "resumeMonitor",
    "addTag",
    "addMonitorTag",
    "editMonitorTag",
    "deleteMonitorTag",
    "setup",
    "addNotification",
    "deleteNotification",
    "addDockerHost",
    "deleteDockerHost",
    "addStatusPage",
    "saveStatusPage",
    "deleteStatusPage",
    "addMaintenance",
    "editMaintenance",
    "deleteMaintenance",
    "addMonitorMaintenance",
    "addMaintenanceStatusPage",
];

/// One event a client sent.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub connection: usize,
    pub name: String,
    pub args: Vec<Value>,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub flavor: Flavor,
    pub ping_interval: Duration,
    pub ping_timeout: Duration,
    /// Login attempts allowed per minute (the real server: 20).
    pub login_limit: usize,
    /// Answer no socket.io event for this long after start (the database is "not ready").
    pub silent_for: Duration,
    /// Answer no socket.io event on the first this many connections (a server whose database is not
    /// ready yet, in terms of what a client does rather than of time).
    pub silent_connections: usize,
    /// After this many heartbeat answers on one connection, emit `pongs` (a test waits for it instead
    /// of for a stretch of time).
    pub announce_pongs: Option<usize>,
    /// Close the socket, once, when this many write events have been handled.
    pub drop_after_writes: Option<usize>,
    /// With `drop_after_writes`: stay gone afterwards (refuse every connection) until [`Kuma::revive`].
    pub die: bool,
    dead: bool,
    /// Drop the socket again every this many writes (a flaky network).
    pub drop_every: Option<usize>,
    /// Refuse (close) this many connections right after the WebSocket handshake.
    pub refuse_connections: usize,
    /// `add`/`editMonitor` of a monitor (or `addTag` of a tag) with this name fails with this message (a
    /// server-side rejection the client cannot foresee).
    pub reject: Option<(String, String)>,
    /// 2.0.2 attaches its handlers only after `await sendInfo(…)` in its connection handler: an event a
    /// client emits before `info` arrives is dropped without an ack. The stand-in waits up to this long
    /// after the namespace connect for such an event (dropping the first one that comes) before it sends
    /// `info`; zero (1.23) has no such window.
    pub first_message_window: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            flavor: Flavor::V2,
            ping_interval: Duration::from_millis(25_000),
            ping_timeout: Duration::from_millis(20_000),
            login_limit: 20,
            silent_for: Duration::ZERO,
            silent_connections: 0,
            announce_pongs: None,
            drop_after_writes: None,
            die: false,
            dead: false,
            drop_every: None,
            refuse_connections: 0,
            reject: None,
            first_message_window: Duration::ZERO,
        }
    }
}

#[derive(Debug, Clone)]
struct User {
    name: String,
    password: String,
    totp: bool,
}

#[derive(Debug, Default)]
struct State {
    user: Option<User>,
    monitors: BTreeMap<i64, Map<String, Value>>,
    next_monitor: i64,
    tags: Vec<(i64, String, String)>,
    monitor_tags: Vec<(i64, i64, String)>,
    /// id, name, is_default, config (the JSON text the server keeps: the whole object a client saved).
    notifications: Vec<(i64, String, bool, String)>,
    /// id, name, docker_type, docker_daemon.
    docker_hosts: Vec<(i64, String, String, String)>,
    status_pages: Vec<Page>,
    next_group: i64,
    /// Maintenance windows as `toJSON` shows them, and their monitors.
    maintenance: BTreeMap<i64, (Map<String, Value>, Vec<i64>)>,
    /// The table `maintenance_status_page`: (maintenance id, status page id) rows in insert order.
    maintenance_pages: Vec<(i64, i64)>,
    monitor_notifications: Vec<(i64, i64)>,
    login_attempts: VecDeque<Instant>,
    log: Vec<Recorded>,
    writes: usize,
    connections: usize,
    pongs: usize,
    dropped_for_heartbeat: usize,
    /// Events that arrived before `info` (2.0.2's race) and were dropped unanswered.
    dropped_before_info: Vec<String>,
}

/// A status page's groups as a test reads them: name, monitor ids.
pub type PageGroups = Vec<(String, Vec<i64>)>;

/// A status page: its row as `toJSON` shows it, and its groups (id, name, monitor ids).
#[derive(Debug, Clone)]
struct Page {
    id: i64,
    config: Map<String, Value>,
    groups: Vec<(i64, String, Vec<i64>)>,
}

pub struct Kuma {
    addr: SocketAddr,
    flavor: Flavor,
    state: Arc<Mutex<State>>,
    config: Arc<Mutex<Config>>,
}

/// Builds a stand-in; [`Builder::start`] binds and serves on a background thread.
pub struct Builder {
    config: Config,
    state: State,
}

impl Kuma {
    pub fn v1() -> Builder {
        Builder::new(Flavor::V1)
    }
    pub fn v2() -> Builder {
        Builder::new(Flavor::V2)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL a client is given (`http://127.0.0.1:PORT`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every monitor as `getMonitor` would show it.
    pub fn monitors(&self) -> Vec<Value> {
        let st = self.state.lock().unwrap();
        st.monitors.keys().map(|id| monitor_json(&st, *id, self.flavor)).collect()
    }

    pub fn monitor_named(&self, name: &str) -> Vec<Value> {
        self.monitors().into_iter().filter(|m| m["name"] == name).collect()
    }

    /// Every event received, in order.
    pub fn events(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().log.clone()
    }

    /// The write events received (including rejected ones), in order.
    pub fn writes(&self) -> Vec<Recorded> {
        self.events().into_iter().filter(|e| WRITE_EVENTS.contains(&e.name.as_str())).collect()
    }

    pub fn tags(&self) -> Vec<(i64, String)> {
        self.state.lock().unwrap().tags.iter().map(|(id, n, _)| (*id, n.clone())).collect()
    }

    pub fn connections(&self) -> usize {
        self.state.lock().unwrap().connections
    }

    /// Heartbeat answers (`3`) received.
    pub fn pongs(&self) -> usize {
        self.state.lock().unwrap().pongs
    }

    pub fn dropped_for_heartbeat(&self) -> usize {
        self.state.lock().unwrap().dropped_for_heartbeat
    }

    /// The events dropped because they came before the server's first `info` (2.0.2's race).
    pub fn dropped_before_info(&self) -> Vec<String> {
        self.state.lock().unwrap().dropped_before_info.clone()
    }

    /// A server that died ([`Builder::die_after_writes`]) or drops connections accepts and keeps them again.
    pub fn revive(&self) {
        let mut c = self.config.lock().unwrap();
        c.dead = false;
        c.drop_after_writes = None;
        c.drop_every = None;
    }

    /// Every notification as the server keeps it: id, name, is_default and the parsed `config`.
    pub fn notifications(&self) -> Vec<(i64, String, bool, Value)> {
        let st = self.state.lock().unwrap();
        st.notifications
            .iter()
            .map(|(id, n, d, c)| (*id, n.clone(), *d, serde_json::from_str(c).unwrap_or(Value::Null)))
            .collect()
    }

    /// Save a notification directly (as if someone made it in the web UI), returning its id.
    pub fn insert_notification(&self, config: Value) -> i64 {
        save_notification(&mut self.state.lock().unwrap(), config, Value::Null).expect("a notification object")
    }

    /// Every status page: its settings as `statusPageList` shows them, and its groups (name, monitor ids).
    pub fn status_pages(&self) -> Vec<(Value, PageGroups)> {
        let st = self.state.lock().unwrap();
        st.status_pages
            .iter()
            .map(|p| (Value::Object(p.config.clone()), p.groups.iter().map(|g| (g.1.clone(), g.2.clone())).collect()))
            .collect()
    }

    /// Every maintenance window as `maintenanceList` shows it, with its monitors' ids.
    pub fn maintenance(&self) -> Vec<(Value, Vec<i64>)> {
        let st = self.state.lock().unwrap();
        st.maintenance.values().map(|(m, ids)| (Value::Object(m.clone()), ids.clone())).collect()
    }

    /// The slugs of the status pages a maintenance window (by title) is shown on, in the order stored.
    pub fn maintenance_status_pages(&self, title: &str) -> Vec<String> {
        let st = self.state.lock().unwrap();
        let ids: Vec<i64> = st.maintenance.iter().filter(|(_, w)| w.0["title"] == title).map(|(id, _)| *id).collect();
        st.maintenance_pages
            .iter()
            .filter(|(m, _)| ids.contains(m))
            .filter_map(|(_, p)| st.status_pages.iter().find(|x| x.id == *p))
            .map(|p| p.config["slug"].as_str().unwrap_or("").to_owned())
            .collect()
    }

    /// Show a maintenance window (by title) on status pages (by slug) directly, as the web UI's
    /// "Status pages" selection does.
    pub fn set_maintenance_status_pages(&self, title: &str, slugs: &[&str]) {
        let mut st = self.state.lock().unwrap();
        let id = *st.maintenance.iter().find(|(_, w)| w.0["title"] == title).expect("the window").0;
        let pages: Vec<i64> = slugs
            .iter()
            .map(|s| st.status_pages.iter().find(|p| p.config["slug"] == *s).expect("the page").id)
            .collect();
        st.maintenance_pages.retain(|r| r.0 != id);
        st.maintenance_pages.extend(pages.into_iter().map(|p| (id, p)));
    }

    /// Every docker host: id, name, type, daemon.
    pub fn docker_hosts(&self) -> Vec<(i64, String, String, String)> {
        self.state.lock().unwrap().docker_hosts.clone()
    }

    /// Save a docker host directly (as if someone made it in the web UI), returning its id.
    pub fn insert_docker_host(&self, name: &str, kind: &str, daemon: &str) -> i64 {
        let mut st = self.state.lock().unwrap();
        let id = st.docker_hosts.iter().map(|r| r.0).max().unwrap_or(0) + 1;
        st.docker_hosts.push((id, name.into(), kind.into(), daemon.into()));
        id
    }

    /// The notification ids a monitor has.
    pub fn monitor_notifications(&self, monitor: i64) -> Vec<i64> {
        let st = self.state.lock().unwrap();
        st.monitor_notifications.iter().filter(|r| r.0 == monitor).map(|r| r.1).collect()
    }

    /// Insert a monitor directly (as if someone clicked it in the web UI), returning its id.
    pub fn insert_monitor(&self, monitor: Value) -> i64 {
        let mut st = self.state.lock().unwrap();
        insert_row(&mut st, monitor)
    }

    /// Tag a monitor directly, creating the tag when it does not exist.
    pub fn tag_monitor(&self, monitor_id: i64, tag: &str, value: &str) {
        let mut st = self.state.lock().unwrap();
        let tag_id = match st.tags.iter().find(|t| t.1 == tag) {
            Some(t) => t.0,
            None => {
                let id = st.tags.len() as i64 + 1;
                st.tags.push((id, tag.to_owned(), "#808080".into()));
                id
            }
        };
        st.monitor_tags.push((tag_id, monitor_id, value.to_owned()));
    }
}

impl Builder {
    fn new(flavor: Flavor) -> Builder {
        let state = State { next_monitor: 1, ..State::default() };
        let first_message_window = match flavor {
            Flavor::V1 => Duration::ZERO,
            Flavor::V2 => Duration::from_millis(50),
        };
        Builder { config: Config { flavor, first_message_window, ..Config::default() }, state }
    }

    pub fn user(mut self, name: &str, password: &str) -> Builder {
        self.state.user = Some(User { name: name.into(), password: password.into(), totp: false });
        self
    }

    /// The user has 2FA on: a login without a TOTP code answers `tokenRequired`.
    pub fn totp(mut self) -> Builder {
        if let Some(u) = &mut self.state.user {
            u.totp = true;
        }
        self
    }

    pub fn notification(mut self, name: &str, is_default: bool) -> Builder {
        let id = self.state.notifications.len() as i64 + 1;
        let config = json!({"name": name, "type": "ntfy", "isDefault": is_default}).to_string();
        self.state.notifications.push((id, name.into(), is_default, config));
        self
    }

    pub fn heartbeat(mut self, interval: Duration, timeout: Duration) -> Builder {
        self.config.ping_interval = interval;
        self.config.ping_timeout = timeout;
        self
    }

    pub fn login_limit(mut self, n: usize) -> Builder {
        self.config.login_limit = n;
        self
    }

    /// How long a 2.x stand-in leaves between the namespace connect and `info` (a first event sent
    /// meanwhile is dropped, as 2.0.2 drops it).
    pub fn first_message_window(mut self, d: Duration) -> Builder {
        self.config.first_message_window = d;
        self
    }

    /// Answer nothing on the first `n` connections (each client attempt's acknowledgement times out).
    pub fn silent_connections(mut self, n: usize) -> Builder {
        self.config.silent_connections = n;
        self
    }

    /// Emit `pongs` on a connection once it has answered `n` heartbeats.
    pub fn announce_pongs(mut self, n: usize) -> Builder {
        self.config.announce_pongs = Some(n);
        self
    }

    pub fn silent_for(mut self, d: Duration) -> Builder {
        self.config.silent_for = d;
        self
    }

    pub fn drop_after_writes(mut self, n: usize) -> Builder {
        self.config.drop_after_writes = Some(n);
        self
    }

    /// Drop the socket every `n` writes, again and again.
    pub fn drop_every_writes(mut self, n: usize) -> Builder {
        self.config.drop_after_writes = Some(n);
        self.config.drop_every = Some(n);
        self
    }

    /// Drop the socket after `n` writes and refuse every connection afterwards (the server is gone).
    pub fn die_after_writes(mut self, n: usize) -> Builder {
        self.config.drop_after_writes = Some(n);
        self.config.die = true;
        self
    }

    pub fn refuse_connections(mut self, n: usize) -> Builder {
        self.config.refuse_connections = n;
        self
    }

    pub fn reject_monitor(mut self, name: &str, msg: &str) -> Builder {
        self.config.reject = Some((name.into(), msg.into()));
        self
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn start(self) -> Kuma {
        self.start_on("127.0.0.1:0".parse().unwrap())
    }

    /// Serve on `addr` (a test may pick the port first and start the server later: "down, then up").
    pub fn start_on(self, addr: SocketAddr) -> Kuma {
        let listener = TcpListener::bind(addr).expect("binding the stand-in Kuma");
        let addr = listener.local_addr().unwrap();
        let flavor = self.config.flavor;
        let state = Arc::new(Mutex::new(self.state));
        let config = Arc::new(Mutex::new(self.config));
        let cfg = config.clone();
        let started = Instant::now();
        let st = state.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let (st, config) = (st.clone(), config.clone());
                std::thread::spawn(move || {
                    let _ = serve(conn, &st, &config, started);
                });
            }
        });
        Kuma { addr, flavor, state, config: cfg }
    }
}

fn check_request(req: &Request, resp: Response) -> Result<Response, ErrorResponse> {
    let refuse = |status: u16, why: &str| {
        let mut r = ErrorResponse::new(Some(why.to_owned()));
        *r.status_mut() = tungstenite::http::StatusCode::from_u16(status).unwrap();
        Err(r)
    };
    let uri = req.uri();
    let query = uri.query().unwrap_or("");
    if uri.path() != "/socket.io/" || !query.split('&').any(|p| p == "transport=websocket") {
        return refuse(400, "Transport unknown");
    }
    if !query.split('&').any(|p| p == "EIO=4") {
        return refuse(400, "Unsupported protocol version");
    }
    if let Some(origin) = req.headers().get("origin") {
        let host = req.headers().get("host").and_then(|h| h.to_str().ok()).unwrap_or("");
        let origin_host = origin.to_str().unwrap_or("").split("://").nth(1).unwrap_or("");
        if origin_host != host {
            return refuse(403, "Origin host does not match Host");
        }
    }
    Ok(resp)
}

struct Conn {
    ws: tungstenite::WebSocket<TcpStream>,
    logged_in: bool,
}

impl Conn {
    fn send(&mut self, text: String) -> tungstenite::Result<()> {
        self.ws.send(Message::text(text))
    }
    fn emit(&mut self, event: &str, args: &[Value]) -> tungstenite::Result<()> {
        let mut arr = vec![Value::from(event)];
        arr.extend_from_slice(args);
        self.send(format!("42{}", Value::Array(arr)))
    }
    fn ack(&mut self, id: Option<u64>, value: Value) -> tungstenite::Result<()> {
        match id {
            Some(id) => self.send(format!("43{id}{}", json!([value]))),
            None => Ok(()),
        }
    }
}

fn serve(
    stream: TcpStream,
    state: &Mutex<State>,
    config: &Mutex<Config>,
    started: Instant,
) -> Result<(), Box<dyn std::error::Error>> {
    stream.set_nodelay(true)?;
    // The same port answers the status page API over plain HTTP.
    let mut head = [0u8; 24];
    let n = stream.peek(&mut head)?;
    if head[..n].starts_with(b"GET /api/") {
        return Ok(serve_http(stream, state)?);
    }
    let ws = tungstenite::accept_hdr(stream, check_request)?;
    let cfg = config.lock().unwrap().clone();
    let id = {
        let mut st = state.lock().unwrap();
        st.connections += 1;
        st.connections
    };
    let mut c = Conn { ws, logged_in: false };
    let mut pongs = 0;
    let silent = id <= cfg.silent_connections;
    {
        let mut cfgm = config.lock().unwrap();
        if cfgm.refuse_connections > 0 || cfgm.dead {
            cfgm.refuse_connections = cfgm.refuse_connections.saturating_sub(1);
            drop(cfgm);
            c.ws.get_mut().shutdown(std::net::Shutdown::Both)?;
            return Ok(());
        }
    }
    c.send(format!(
        "0{}",
        json!({"sid": format!("sid{id}"), "upgrades": [], "pingInterval": cfg.ping_interval.as_millis() as u64,
               "pingTimeout": cfg.ping_timeout.as_millis() as u64, "maxPayload": 1_000_000})
    ))?;
    let mut next_ping = Instant::now() + cfg.ping_interval;
    let mut awaiting_pong: Option<Instant> = None;
    loop {
        let now = Instant::now();
        if awaiting_pong.is_some_and(|deadline| now >= deadline) {
            state.lock().unwrap().dropped_for_heartbeat += 1;
            c.ws.get_mut().shutdown(std::net::Shutdown::Both)?;
            return Ok(());
        }
        if awaiting_pong.is_none() && now >= next_ping {
            c.send("2".into())?;
            awaiting_pong = Some(now + cfg.ping_timeout);
            next_ping = now + cfg.ping_interval;
        }
        c.ws.get_mut().set_read_timeout(Some(Duration::from_millis(20)))?;
        let msg = match c.ws.read() {
            Ok(m) => m,
            Err(tungstenite::Error::Io(e))
                if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) =>
            {
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        let text = match msg {
            Message::Text(t) => t.to_string(),
            Message::Close(_) => return Ok(()),
            _ => continue,
        };
        if text == "3" {
            awaiting_pong = None;
            state.lock().unwrap().pongs += 1;
            pongs += 1;
            if cfg.announce_pongs == Some(pongs) {
                c.emit("pongs", &[json!(pongs)])?;
            }
            continue;
        }
        if text == "40" || text.starts_with("40{") {
            c.send(format!("40{}", json!({"sid": format!("s{id}")})))?;
            if !cfg.first_message_window.is_zero() {
                if let Some(event) = first_event_within(&mut c, cfg.first_message_window)? {
                    state.lock().unwrap().dropped_before_info.push(event);
                }
            }
            let needs_setup = state.lock().unwrap().user.is_none();
            c.emit("info", &[json!({"primaryBaseURL": null, "serverTimezone": "UTC", "isContainer": true})])?;
            if needs_setup {
                c.emit("setup", &[])?;
            }
            continue;
        }
        let Some(rest) = text.strip_prefix("42") else { continue };
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let ack_id: Option<u64> = rest[..digits].parse().ok();
        let Ok(Value::Array(mut arr)) = serde_json::from_str::<Value>(&rest[digits..]) else { continue };
        if arr.is_empty() {
            continue;
        }
        let name = arr.remove(0).as_str().unwrap_or("").to_owned();
        {
            let mut st = state.lock().unwrap();
            st.log.push(Recorded { connection: id, name: name.clone(), args: arr.clone() });
        }
        if silent || started.elapsed() < cfg.silent_for {
            continue;
        }
        if WRITE_EVENTS.contains(&name.as_str()) {
            let mut cfgm = config.lock().unwrap();
            let writes = state.lock().unwrap().writes;
            if cfgm.drop_after_writes.is_some_and(|n| writes >= n) {
                cfgm.drop_after_writes = cfgm.drop_every.map(|k| writes + k);
                cfgm.dead = cfgm.die;
                drop(cfgm);
                c.ws.get_mut().shutdown(std::net::Shutdown::Both)?;
                return Ok(());
            }
            state.lock().unwrap().writes += 1;
        }
        if let Some((reject, msg)) = &cfg.reject {
            if (name == "add" || name == "editMonitor" || name == "addTag" || name == "addNotification")
                && arr.first().and_then(|m| m.get("name")).and_then(Value::as_str) == Some(reject)
                && c.logged_in
            {
                c.ack(ack_id, json!({"ok": false, "msg": msg}))?;
                continue;
            }
        }
        handle(&mut c, state, cfg.flavor, cfg.login_limit, &name, arr, ack_id)?;
    }
}

/// The first event (`42…`) a client sends within `window`, read and thrown away; heartbeat answers
/// are let through unseen.
fn first_event_within(c: &mut Conn, window: Duration) -> tungstenite::Result<Option<String>> {
    let deadline = Instant::now() + window;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(None);
        }
        c.ws.get_mut().set_read_timeout(Some(left))?;
        match c.ws.read() {
            Ok(Message::Text(t)) if t.starts_with("42") => {
                let rest = t.trim_start_matches(|ch: char| ch.is_ascii_digit());
                let name = serde_json::from_str::<Value>(rest)
                    .ok()
                    .and_then(|v| v.get(0).and_then(Value::as_str).map(str::to_owned))
                    .unwrap_or_default();
                return Ok(Some(name));
            }
            Ok(_) => continue,
            Err(tungstenite::Error::Io(e))
                if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) =>
            {
                return Ok(None);
            }
            Err(e) => return Err(e),
        }
    }
}

fn not_logged_in() -> Value {
    json!({"ok": false, "msg": "You are not logged in."})
}

fn handle(
    c: &mut Conn,
    state: &Mutex<State>,
    flavor: Flavor,
    login_limit: usize,
    name: &str,
    args: Vec<Value>,
    ack: Option<u64>,
) -> tungstenite::Result<()> {
    let arg = |i: usize| args.get(i).cloned().unwrap_or(Value::Null);
    match name {
        "needSetup" => {
            let need = state.lock().unwrap().user.is_none();
            c.ack(ack, Value::Bool(need))
        }
        "setup" => {
            let (user, pass) = (arg(0).as_str().unwrap_or("").to_owned(), arg(1).as_str().unwrap_or("").to_owned());
            let mut st = state.lock().unwrap();
            let answer = if st.user.is_some() {
                json!({"ok": false, "msg": "Uptime Kuma has been initialized. If you want to run setup again, please delete the database."})
            } else if pass.len() < 6 {
                json!({"ok": false, "msg": "Password is too weak. It should contain alphabetic and numeric characters. It must be at least 6 characters in length."})
            } else {
                st.user = Some(User { name: user, password: pass, totp: false });
                json!({"ok": true, "msg": "Added Successfully."})
            };
            drop(st);
            c.ack(ack, answer)
        }
        "login" => {
            let data = arg(0);
            let answer = {
                let mut st = state.lock().unwrap();
                let now = Instant::now();
                while st.login_attempts.front().is_some_and(|t| now.duration_since(*t) > Duration::from_secs(60)) {
                    st.login_attempts.pop_front();
                }
                if st.login_attempts.len() >= login_limit {
                    json!({"ok": false, "msg": "Too frequently, try again later."})
                } else {
                    st.login_attempts.push_back(now);
                    let ok = st.user.as_ref().is_some_and(|u| {
                        data["username"].as_str() == Some(&u.name) && data["password"].as_str() == Some(&u.password)
                    });
                    let totp = st.user.as_ref().is_some_and(|u| u.totp);
                    if !ok {
                        match flavor {
                            Flavor::V1 => json!({"ok": false, "msg": "Incorrect username or password."}),
                            Flavor::V2 => json!({"ok": false, "msg": "authIncorrectCreds", "msgi18n": true}),
                        }
                    } else if totp && data["token"].as_str().unwrap_or("").is_empty() {
                        json!({"tokenRequired": true})
                    } else if totp {
                        match flavor {
                            Flavor::V1 => json!({"ok": false, "msg": "Invalid Token!"}),
                            Flavor::V2 => json!({"ok": false, "msg": "authInvalidToken", "msgi18n": true}),
                        }
                    } else {
                        json!({"ok": true, "token": "eyJhbGciOiJIUzI1NiJ9.stand-in.jwt"})
                    }
                }
            };
            if answer["ok"] != true {
                return c.ack(ack, answer);
            }
            c.logged_in = true;
            match flavor {
                Flavor::V1 => {
                    c.ack(ack, answer)?;
                    after_login(c, state, flavor)
                }
                Flavor::V2 => {
                    after_login(c, state, flavor)?;
                    c.ack(ack, answer)
                }
            }
        }
        _ if !c.logged_in => c.ack(ack, not_logged_in()),
        "getMonitorList" => {
            send_monitor_list(c, state, flavor)?;
            c.ack(ack, json!({"ok": true}))
        }
        "getMonitor" => {
            let id = arg(0).as_i64().unwrap_or(-1);
            let st = state.lock().unwrap();
            let answer = if st.monitors.contains_key(&id) {
                json!({"ok": true, "monitor": monitor_json(&st, id, flavor)})
            } else {
                json!({"ok": false, "msg": "Cannot read properties of null (reading 'toJSON')"})
            };
            drop(st);
            c.ack(ack, answer)
        }
        "add" => {
            let answer = add(&mut state.lock().unwrap(), flavor, arg(0));
            if answer["ok"] == true && flavor == Flavor::V1 {
                send_monitor_list(c, state, flavor)?;
            } else if let Some(id) = answer["monitorID"].as_i64() {
                let m = monitor_json(&state.lock().unwrap(), id, flavor);
                c.emit("updateMonitorIntoList", &[json!({ id.to_string(): m })])?;
            }
            c.ack(ack, answer)
        }
        "editMonitor" => {
            let answer = edit(&mut state.lock().unwrap(), flavor, arg(0));
            if answer["ok"] == true {
                if flavor == Flavor::V1 {
                    send_monitor_list(c, state, flavor)?;
                } else {
                    let id = answer["monitorID"].as_i64().unwrap_or(0);
                    let m = monitor_json(&state.lock().unwrap(), id, flavor);
                    c.emit("updateMonitorIntoList", &[json!({ id.to_string(): m })])?;
                }
            }
            c.ack(ack, answer)
        }
        "deleteMonitor" => {
            let id = arg(0).as_i64().unwrap_or(-1);
            {
                let mut st = state.lock().unwrap();
                st.monitors.remove(&id);
                st.monitor_tags.retain(|t| t.1 != id);
                st.monitor_notifications.retain(|n| n.0 != id);
                for m in st.monitors.values_mut() {
                    if m.get("parent").and_then(Value::as_i64) == Some(id) {
                        m.insert("parent".into(), Value::Null);
                    }
                }
            }
            if flavor == Flavor::V2 {
                c.emit("deleteMonitorFromList", &[json!(id)])?;
            } else {
                send_monitor_list(c, state, flavor)?;
            }
            c.ack(ack, json!({"ok": true, "msg": "Deleted Successfully."}))
        }
        "pauseMonitor" | "resumeMonitor" => {
            let id = arg(0).as_i64().unwrap_or(-1);
            let active = name == "resumeMonitor";
            let mut st = state.lock().unwrap();
            let answer = match st.monitors.get_mut(&id) {
                Some(m) => {
                    m.insert("active".into(), Value::Bool(active));
                    json!({"ok": true, "msg": if active { "Resumed Successfully." } else { "Paused Successfully." }})
                }
                None => json!({"ok": false, "msg": "Monitor not found"}),
            };
            drop(st);
            c.ack(ack, answer)
        }
        "addNotification" => {
            let result = save_notification(&mut state.lock().unwrap(), arg(0), arg(1));
            match result {
                Ok(id) => {
                    send_notification_list(c, state)?;
                    let msg = if flavor == Flavor::V1 {
                        json!({"ok": true, "msg": "Saved", "id": id})
                    } else {
                        json!({"ok": true, "msg": "Saved.", "msgi18n": true, "id": id})
                    };
                    c.ack(ack, msg)
                }
                Err(msg) => c.ack(ack, json!({"ok": false, "msg": msg})),
            }
        }
        "deleteNotification" => {
            let id = arg(0).as_i64().unwrap_or(-1);
            let found = {
                let mut st = state.lock().unwrap();
                let found = st.notifications.iter().any(|r| r.0 == id);
                st.notifications.retain(|r| r.0 != id);
                // The database's foreign key cascades to the monitors' links.
                st.monitor_notifications.retain(|r| r.1 != id);
                found
            };
            if !found {
                return c.ack(ack, json!({"ok": false, "msg": "Cannot read properties of null (reading 'trash')"}));
            }
            send_notification_list(c, state)?;
            let msg = if flavor == Flavor::V1 {
                json!({"ok": true, "msg": "Deleted"})
            } else {
                json!({"ok": true, "msg": "successDeleted", "msgi18n": true})
            };
            c.ack(ack, msg)
        }
        "addDockerHost" => {
            let (h, id) = (arg(0), arg(1));
            let saved = {
                let mut st = state.lock().unwrap();
                let row = |id: i64| {
                    (
                        id,
                        h["name"].as_str().unwrap_or("").to_owned(),
                        h["dockerType"].as_str().unwrap_or("").to_owned(),
                        h["dockerDaemon"].as_str().unwrap_or("").to_owned(),
                    )
                };
                match id.as_i64() {
                    Some(id) => match st.docker_hosts.iter_mut().find(|r| r.0 == id) {
                        Some(r) => {
                            *r = row(id);
                            Ok(id)
                        }
                        None => Err("docker host not found"),
                    },
                    None => {
                        let id = st.docker_hosts.iter().map(|r| r.0).max().unwrap_or(0) + 1;
                        st.docker_hosts.push(row(id));
                        Ok(id)
                    }
                }
            };
            match saved {
                Ok(id) => {
                    send_docker_host_list(c, state)?;
                    let msg = if flavor == Flavor::V1 {
                        json!({"ok": true, "msg": "Saved", "id": id})
                    } else {
                        json!({"ok": true, "msg": "Saved.", "msgi18n": true, "id": id})
                    };
                    c.ack(ack, msg)
                }
                Err(msg) => c.ack(ack, json!({"ok": false, "msg": msg})),
            }
        }
        "deleteDockerHost" => {
            let id = arg(0).as_i64().unwrap_or(-1);
            let found = {
                let mut st = state.lock().unwrap();
                let found = st.docker_hosts.iter().any(|r| r.0 == id);
                st.docker_hosts.retain(|r| r.0 != id);
                // As DockerHost.delete: its monitors lose their docker host.
                for m in st.monitors.values_mut() {
                    if m.get("docker_host").and_then(Value::as_i64) == Some(id) {
                        m.insert("docker_host".into(), Value::Null);
                    }
                }
                found
            };
            if !found {
                return c.ack(ack, json!({"ok": false, "msg": "docker host not found"}));
            }
            send_docker_host_list(c, state)?;
            c.ack(ack, json!({"ok": true, "msg": if flavor == Flavor::V1 { "Deleted" } else { "successDeleted" }}))
        }
        "addStatusPage" => {
            let (title, slug) =
                (arg(0).as_str().unwrap_or("").trim().to_owned(), arg(1).as_str().unwrap_or("").trim().to_lowercase());
            let mut st = state.lock().unwrap();
            let answer = if title.is_empty() || slug.is_empty() {
                json!({"ok": false, "msg": "Please input all fields"})
            } else if !slug_ok(&slug) {
                json!({"ok": false, "msg": "Invalid Slug"})
            } else if st.status_pages.iter().any(|p| p.config["slug"] == slug.as_str()) {
                json!({"ok": false, "msg": "SQLITE_CONSTRAINT: UNIQUE constraint failed: status_page.slug"})
            } else {
                let id = st.status_pages.iter().map(|p| p.id).max().unwrap_or(0) + 1;
                let mut config = json!({"id": id, "slug": slug, "title": title, "description": null, "icon": "/icon.svg",
                    "theme": "auto", "published": true, "showTags": false, "domainNameList": [], "customCSS": "body {\n  \n}\n",
                    "footerText": null, "showPoweredBy": true, "googleAnalyticsId": null, "showCertificateExpiry": false});
                if flavor == Flavor::V2 {
                    config["autoRefreshInterval"] = json!(300);
                }
                st.status_pages.push(Page { id, config: config.as_object().unwrap().clone(), groups: vec![] });
                if flavor == Flavor::V1 {
                    json!({"ok": true, "msg": "OK!", "slug": slug})
                } else {
                    json!({"ok": true, "msg": "successAdded", "msgi18n": true, "slug": slug})
                }
            };
            drop(st);
            c.ack(ack, answer)
        }
        "saveStatusPage" => {
            let answer = save_status_page(&mut state.lock().unwrap(), &arg(0), arg(1), &arg(2), &arg(3));
            c.ack(ack, answer)
        }
        "deleteStatusPage" => {
            let slug = arg(0);
            let mut st = state.lock().unwrap();
            let before = st.status_pages.len();
            let gone: Vec<i64> = st.status_pages.iter().filter(|p| p.config["slug"] == slug).map(|p| p.id).collect();
            st.status_pages.retain(|p| p.config["slug"] != slug);
            // ON DELETE CASCADE: the page leaves every window that was shown on it.
            st.maintenance_pages.retain(|r| !gone.contains(&r.1));
            let answer = if st.status_pages.len() < before {
                json!({"ok": true})
            } else {
                json!({"ok": false, "msg": "Status Page is not found"})
            };
            drop(st);
            c.ack(ack, answer)
        }
        "addMaintenance" | "editMaintenance" => {
            let m = arg(0);
            let answer = {
                let mut st = state.lock().unwrap();
                let id = match (name, m["id"].as_i64()) {
                    ("addMaintenance", _) => Some(st.maintenance.keys().max().copied().unwrap_or(0) + 1),
                    (_, Some(id)) if st.maintenance.contains_key(&id) => Some(id),
                    _ => None,
                };
                match id.map(|id| (id, store_maintenance(flavor, id, &m))) {
                    None => json!({"ok": false, "msg": "Cannot read properties of undefined (reading 'user_id')"}),
                    Some((_, Err(msg))) => json!({"ok": false, "msg": msg}),
                    Some((id, Ok(row))) => {
                        let monitors = st.maintenance.get(&id).map(|w| w.1.clone()).unwrap_or_default();
                        st.maintenance.insert(id, (row, monitors));
                        json!({"ok": true, "msg": "Saved.", "maintenanceID": id})
                    }
                }
            };
            if answer["ok"] == true {
                send_maintenance_list(c, state)?;
            }
            c.ack(ack, answer)
        }
        "addMonitorMaintenance" => {
            let id = arg(0).as_i64().unwrap_or(-1);
            let ids: Vec<i64> =
                arg(1).as_array().into_iter().flatten().filter_map(|m| m.get("id").and_then(Value::as_i64)).collect();
            let mut st = state.lock().unwrap();
            let answer = if !ids.iter().all(|m| st.monitors.contains_key(m)) {
                json!({"ok": false, "msg": "SQLITE_CONSTRAINT: FOREIGN KEY constraint failed"})
            } else if let Some(w) = st.maintenance.get_mut(&id) {
                w.1 = ids;
                json!({"ok": true, "msg": "Added Successfully."})
            } else {
                json!({"ok": false, "msg": "SQLITE_CONSTRAINT: FOREIGN KEY constraint failed"})
            };
            drop(st);
            c.ack(ack, answer)
        }
        "getMonitorMaintenance" => {
            let id = arg(0).as_i64().unwrap_or(-1);
            let st = state.lock().unwrap();
            let monitors: Vec<Value> =
                st.maintenance.get(&id).map(|w| w.1.iter().map(|m| json!({"id": m})).collect()).unwrap_or_default();
            drop(st);
            c.ack(ack, json!({"ok": true, "monitors": monitors}))
        }
        "getMaintenanceStatusPage" => {
            // As its SQL join: id and title only, in the order the rows were stored; none for an unknown id.
            let id = arg(0).as_i64().unwrap_or(-1);
            let st = state.lock().unwrap();
            let pages: Vec<Value> = st
                .maintenance_pages
                .iter()
                .filter(|r| r.0 == id)
                .filter_map(|r| st.status_pages.iter().find(|p| p.id == r.1))
                .map(|p| json!({"id": p.id, "title": p.config["title"]}))
                .collect();
            drop(st);
            c.ack(ack, json!({"ok": true, "statusPages": pages}))
        }
        "addMaintenanceStatusPage" => {
            // As the real handler: delete the window's rows, then insert one per page, no transaction, so a
            // bad id fails part-way with the rows before it stored.
            let id = arg(0).as_i64().unwrap_or(-1);
            let wanted: Vec<Option<i64>> =
                arg(1).as_array().into_iter().flatten().map(|p| p.get("id").and_then(Value::as_i64)).collect();
            let mut st = state.lock().unwrap();
            st.maintenance_pages.retain(|r| r.0 != id);
            let mut answer = json!({"ok": true, "msg": "Added Successfully."});
            for page in wanted {
                match page {
                    Some(p) if st.maintenance.contains_key(&id) && st.status_pages.iter().any(|x| x.id == p) => {
                        st.maintenance_pages.push((id, p));
                    }
                    Some(_) => {
                        answer = json!({"ok": false, "msg": "SQLITE_CONSTRAINT: FOREIGN KEY constraint failed"});
                        break;
                    }
                    None => {
                        answer = json!({"ok": false, "msg": "SQLITE_CONSTRAINT: NOT NULL constraint failed: maintenance_status_page.status_page_id"});
                        break;
                    }
                }
            }
            if !arg(1).is_array() {
                answer = json!({"ok": false, "msg": "statusPages is not iterable"});
            }
            drop(st);
            c.ack(ack, answer)
        }
        "getStatusPage" => {
            let slug = arg(0);
            let st = state.lock().unwrap();
            let answer = match st.status_pages.iter().find(|p| p.config["slug"] == slug) {
                Some(p) => json!({"ok": true, "config": p.config}),
                None => json!({"ok": false, "msg": "No slug?"}),
            };
            drop(st);
            c.ack(ack, answer)
        }
        "deleteMaintenance" => {
            let id = arg(0).as_i64().unwrap_or(-1);
            {
                let mut st = state.lock().unwrap();
                st.maintenance.remove(&id);
                st.maintenance_pages.retain(|r| r.0 != id);
            }
            c.ack(ack, json!({"ok": true, "msg": "Deleted Successfully."}))?;
            send_maintenance_list(c, state)
        }
        "getTags" => {
            let st = state.lock().unwrap();
            let tags: Vec<Value> =
                st.tags.iter().map(|(id, n, color)| json!({"id": id, "name": n, "color": color})).collect();
            drop(st);
            c.ack(ack, json!({"ok": true, "tags": tags}))
        }
        "addTag" => {
            let t = arg(0);
            let mut st = state.lock().unwrap();
            let id = st.tags.iter().map(|t| t.0).max().unwrap_or(0) + 1;
            let (n, color) =
                (t["name"].as_str().unwrap_or("").to_owned(), t["color"].as_str().unwrap_or("").to_owned());
            st.tags.push((id, n.clone(), color.clone()));
            drop(st);
            c.ack(ack, json!({"ok": true, "tag": {"id": id, "name": n, "color": color}}))
        }
        "addMonitorTag" | "deleteMonitorTag" | "editMonitorTag" => {
            let (tag, monitor) = (arg(0).as_i64().unwrap_or(-1), arg(1).as_i64().unwrap_or(-1));
            let value = match arg(2) {
                Value::String(s) => s,
                Value::Null => String::new(),
                v => v.to_string(),
            };
            let mut st = state.lock().unwrap();
            let answer = if !st.tags.iter().any(|t| t.0 == tag) || !st.monitors.contains_key(&monitor) {
                json!({"ok": false, "msg": "FOREIGN KEY constraint failed"})
            } else {
                match name {
                    "addMonitorTag" => st.monitor_tags.push((tag, monitor, value)),
                    "deleteMonitorTag" => st.monitor_tags.retain(|t| !(t.0 == tag && t.1 == monitor && t.2 == value)),
                    _ => {
                        for t in st.monitor_tags.iter_mut().filter(|t| t.0 == tag && t.1 == monitor) {
                            t.2 = value.clone();
                        }
                    }
                }
                json!({"ok": true, "msg": "Added Successfully."})
            };
            drop(st);
            c.ack(ack, answer)
        }
        _ => c.ack(ack, json!({"ok": false, "msg": format!("unknown event {name}")})),
    }
}

fn after_login(c: &mut Conn, state: &Mutex<State>, flavor: Flavor) -> tungstenite::Result<()> {
    c.emit(
        "info",
        &[json!({"version": flavor.version(), "latestVersion": flavor.version(), "primaryBaseURL": null,
                  "serverTimezone": "UTC", "isContainer": true})],
    )?;
    send_monitor_list(c, state, flavor)?;
    send_notification_list(c, state)?;
    send_docker_host_list(c, state)?;
    let pages: Map<String, Value> = state
        .lock()
        .unwrap()
        .status_pages
        .iter()
        .map(|p| (p.id.to_string(), Value::Object(p.config.clone())))
        .collect();
    c.emit("statusPageList", &[Value::Object(pages)])?;
    send_maintenance_list(c, state)
}

fn send_maintenance_list(c: &mut Conn, state: &Mutex<State>) -> tungstenite::Result<()> {
    let list: Map<String, Value> = state
        .lock()
        .unwrap()
        .maintenance
        .iter()
        .map(|(id, (m, _))| (id.to_string(), Value::Object(m.clone())))
        .collect();
    c.emit("maintenanceList", &[Value::Object(list)])
}

/// As Maintenance.jsonToBean + toJSON: the fields the server keeps, per strategy; a bad cron refused.
fn store_maintenance(flavor: Flavor, id: i64, m: &Value) -> Result<Map<String, Value>, String> {
    let strategy = m["strategy"].as_str().unwrap_or("").to_owned();
    let range = m["dateRange"].as_array().ok_or("Cannot read properties of undefined (reading '0')")?;
    for d in range.iter().filter_map(Value::as_str) {
        if flavor == Flavor::V2 && d.len() < 10 {
            return Err("Invalid start date".into());
        }
    }
    if strategy == "cron" && m["cron"].as_str().is_none_or(|c| c.split_whitespace().count() != 5) {
        return Err("Invalid cron".into());
    }
    let recurring = strategy.starts_with("recurring-");
    let mut out = json!({
        "id": id, "title": m["title"], "description": m["description"], "strategy": strategy,
        "intervalDay": m["intervalDay"], "active": m["active"].as_bool().unwrap_or(false),
        "dateRange": range.iter().filter(|d| !d.is_null()).cloned().collect::<Vec<_>>(),
        "timeRange": if recurring { m["timeRange"].clone() } else { json!([null, null]) },
        "weekdays": if recurring { m["weekdays"].clone() } else { json!([]) },
        "daysOfMonth": if recurring { m["daysOfMonth"].clone() } else { json!([]) },
        "cron": if strategy == "cron" { m["cron"].clone() } else { Value::Null },
        "durationMinutes": if strategy == "cron" { m["durationMinutes"].clone() } else { json!(0) },
        "timezoneOption": m["timezoneOption"], "timeslotList": [], "status": "scheduled",
    });
    if out["dateRange"].as_array().is_some_and(Vec::is_empty) {
        out["dateRange"] = json!([null]);
    }
    Ok(out.as_object().unwrap().clone())
}

/// GET /api/status-page/SLUG as the status page router answers it.
fn status_page_data(state: &Mutex<State>, slug: &str) -> Option<Value> {
    let st = state.lock().unwrap();
    let page = st.status_pages.iter().find(|p| p.config["slug"] == slug)?;
    let groups: Vec<Value> = page
        .groups
        .iter()
        .enumerate()
        .map(|(i, (id, name, monitors))| {
            let list: Vec<Value> = monitors
                .iter()
                .filter_map(|m| {
                    st.monitors.get(m).map(|row| json!({"id": m, "name": row["name"], "type": row["type"]}))
                })
                .collect();
            json!({"id": id, "name": name, "weight": i + 1, "monitorList": list})
        })
        .collect();
    Some(json!({"config": page.config, "incident": null, "publicGroupList": groups, "maintenanceList": []}))
}

/// Answer one plain HTTP request (the status page API) on a connection that is not a WebSocket.
fn serve_http(mut stream: TcpStream, state: &Mutex<State>) -> std::io::Result<()> {
    use std::io::{BufRead, BufReader, Write};
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request = String::new();
    reader.read_line(&mut request)?;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header == "\r\n" {
            break;
        }
    }
    let path = request.split_whitespace().nth(1).unwrap_or("");
    let found = path.strip_prefix("/api/status-page/").and_then(|slug| status_page_data(state, slug));
    let (status, body) = match found {
        Some(v) => ("200 OK", v.to_string()),
        None => ("404 Not Found", json!({"ok": false, "msg": "Status Page Not Found"}).to_string()),
    };
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    stream.flush()
}

/// As checkSlug.
fn slug_ok(slug: &str) -> bool {
    !slug.is_empty() && slug.split('-').all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// As the server's sendDockerHostList: each row's toJSON.
fn send_docker_host_list(c: &mut Conn, state: &Mutex<State>) -> tungstenite::Result<()> {
    let list: Vec<Value> = state
        .lock()
        .unwrap()
        .docker_hosts
        .iter()
        .map(|(id, n, t, d)| json!({"id": id, "userID": 1, "dockerDaemon": d, "dockerType": t, "name": n}))
        .collect();
    c.emit("dockerHostList", &[Value::Array(list)])
}

/// As the server's sendNotificationList: the row exported, `config` the stored JSON text.
fn send_notification_list(c: &mut Conn, state: &Mutex<State>) -> tungstenite::Result<()> {
    let list: Vec<Value> = state
        .lock()
        .unwrap()
        .notifications
        .iter()
        .map(|(id, n, d, config)| {
            json!({"id": id, "name": n, "active": true, "isDefault": d, "userId": 1, "config": config})
        })
        .collect();
    c.emit("notificationList", &[Value::Array(list)])
}

/// As Notification.save: the whole object becomes `config`; `applyExisting` adds it to every monitor
/// that does not have it yet.
fn save_notification(st: &mut State, notification: Value, id: Value) -> Result<i64, String> {
    let Value::Object(n) = notification else { return Err("Cannot read properties of null (reading 'name')".into()) };
    let name = n.get("name").and_then(Value::as_str).unwrap_or("").to_owned();
    let is_default = n.get("isDefault").and_then(Value::as_bool).unwrap_or(false);
    let config = Value::Object(n.clone()).to_string();
    let id = match id.as_i64() {
        Some(id) => {
            let Some(row) = st.notifications.iter_mut().find(|r| r.0 == id) else {
                return Err("notification not found".into());
            };
            *row = (id, name, is_default, config);
            id
        }
        None => {
            let id = st.notifications.iter().map(|r| r.0).max().unwrap_or(0) + 1;
            st.notifications.push((id, name, is_default, config));
            id
        }
    };
    if n.get("applyExisting").and_then(Value::as_bool) == Some(true) {
        let monitors: Vec<i64> = st.monitors.keys().copied().collect();
        for m in monitors {
            if !st.monitor_notifications.contains(&(m, id)) {
                st.monitor_notifications.push((m, id));
            }
        }
    }
    Ok(id)
}

fn send_monitor_list(c: &mut Conn, state: &Mutex<State>, flavor: Flavor) -> tungstenite::Result<()> {
    let list = {
        let st = state.lock().unwrap();
        let mut obj = Map::new();
        for id in st.monitors.keys() {
            obj.insert(id.to_string(), monitor_json(&st, *id, flavor));
        }
        Value::Object(obj)
    };
    c.emit("monitorList", &[list])
}

/// The database columns an `add`/`editMonitor` payload may name (camelCase as the server's JSON has it).
fn columns(flavor: Flavor) -> Vec<&'static str> {
    let mut cols = vec![
        "name",
        "description",
        "type",
        "url",
        "method",
        "hostname",
        "port",
        "maxretries",
        "weight",
        "active",
        "timeout",
        "interval",
        "retryInterval",
        "resendInterval",
        "keyword",
        "invertKeyword",
        "expiryNotification",
        "ignoreTls",
        "upsideDown",
        "packetSize",
        "maxredirects",
        "accepted_statuscodes",
        "dns_resolve_type",
        "dns_resolve_server",
        "dns_last_result",
        "docker_container",
        "docker_host",
        "proxyId",
        "pushToken",
        "jsonPath",
        "expectedValue",
        "httpBodyEncoding",
        "headers",
        "body",
        "basic_auth_user",
        "basic_auth_pass",
        "authMethod",
        "parent",
        "mqttTopic",
        "mqttUsername",
        "mqttPassword",
        "databaseConnectionString",
        "grpcUrl",
    ];
    if flavor == Flavor::V2 {
        cols.extend(["conditions", "jsonPathOperator", "cacheBust", "snmpVersion", "ipFamily"]);
    }
    cols
}

const NOT_NULL: &[&str] =
    &["name", "type", "interval", "maxretries", "method", "maxredirects", "accepted_statuscodes", "active", "weight"];

fn snake(key: &str) -> String {
    let mut s = String::new();
    for ch in key.chars() {
        if ch.is_ascii_uppercase() {
            s.push('_');
            s.push(ch.to_ascii_lowercase());
        } else {
            s.push(ch);
        }
    }
    s
}

/// The checks the real server's `add` and `editMonitor` make before and while storing.
fn check_payload(flavor: Flavor, m: &Map<String, Value>, adding: bool) -> Result<(), String> {
    let cols = columns(flavor);
    for key in m.keys() {
        if key == "notificationIDList" || (key == "id" && !adding) {
            continue;
        }
        if !cols.contains(&key.as_str()) {
            return Err(format!("SQLITE_ERROR: table monitor has no column named {}", snake(key)));
        }
    }
    for key in NOT_NULL {
        if m.get(*key).is_some_and(Value::is_null) {
            return Err(format!("SQLITE_CONSTRAINT: NOT NULL constraint failed: monitor.{}", snake(key)));
        }
    }
    if flavor == Flavor::V2 && !m.get("conditions").is_some_and(Value::is_array) {
        return Err("SQLITE_CONSTRAINT: NOT NULL constraint failed: monitor.conditions".into());
    }
    if !m.get("accepted_statuscodes").is_some_and(Value::is_array) {
        return Err("Cannot read properties of undefined (reading 'every')".into());
    }
    if let Some(i) = m.get("interval").and_then(Value::as_f64) {
        if i < 20.0 {
            return Err("Interval cannot be less than 20 seconds".into());
        }
        if i > 2_073_600.0 {
            return Err("Interval cannot be more than 24 days".into());
        }
    }
    let max_token = if flavor == Flavor::V1 { 20 } else { 32 };
    if m.get("pushToken").and_then(Value::as_str).is_some_and(|t| t.len() > max_token) {
        return Err(format!("SQLITE_ERROR: value too long for monitor.push_token (max {max_token})"));
    }
    Ok(())
}

/// As saveStatusPage: the row's settings from `config`, the logo from `img`, then the groups in order
/// (a group with an id must be one of this page's), groups not in the list deleted.
fn save_status_page(st: &mut State, slug: &Value, config: Value, img: &Value, groups: &Value) -> Value {
    let Some(i) = st.status_pages.iter().position(|p| p.config["slug"] == *slug) else {
        return json!({"ok": false, "msg": "No slug?"});
    };
    let new_slug = config["slug"].as_str().unwrap_or("").to_owned();
    if !slug_ok(&new_slug) {
        return json!({"ok": false, "msg": "Invalid Slug"});
    }
    if !config["domainNameList"].is_array() {
        return json!({"ok": false, "msg": "Invalid array"});
    }
    let mut next_group = st.next_group;
    let page = &mut st.status_pages[i];
    let row = &mut page.config;
    row.insert("slug".into(), json!(new_slug));
    for (key, from) in [
        ("title", "title"),
        ("description", "description"),
        ("theme", "theme"),
        ("showTags", "showTags"),
        ("footerText", "footerText"),
        ("customCSS", "customCSS"),
        ("showPoweredBy", "showPoweredBy"),
        ("showCertificateExpiry", "showCertificateExpiry"),
        ("googleAnalyticsId", "googleAnalyticsId"),
        ("domainNameList", "domainNameList"),
    ] {
        row.insert(key.into(), config.get(from).cloned().unwrap_or(Value::Null));
    }
    row.insert("icon".into(), img.clone());
    let mut kept = vec![];
    for g in groups.as_array().into_iter().flatten() {
        let id = match g.get("id").and_then(Value::as_i64) {
            Some(id) if page.groups.iter().any(|x| x.0 == id) => id,
            Some(_) => return json!({"ok": false, "msg": "Cannot set properties of null (setting 'status_page_id')"}),
            None => {
                next_group += 1;
                next_group
            }
        };
        let monitors: Vec<i64> = g["monitorList"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m.get("id").and_then(Value::as_i64))
            .collect();
        kept.push((id, g["name"].as_str().unwrap_or("").to_owned(), monitors));
    }
    page.groups = kept.clone();
    st.next_group = next_group;
    let list: Vec<Value> = kept.iter().map(|(id, name, _)| json!({"id": id, "name": name})).collect();
    json!({"ok": true, "publicGroupList": list})
}

/// `docker_host` references a docker host row (SQLite's foreign key).
fn check_docker_host(st: &State, m: &Map<String, Value>) -> Result<(), String> {
    match m.get("docker_host").and_then(Value::as_i64) {
        Some(id) if !st.docker_hosts.iter().any(|h| h.0 == id) => {
            Err("SQLITE_CONSTRAINT: FOREIGN KEY constraint failed".into())
        }
        _ => Ok(()),
    }
}

/// What omitted columns become: the database defaults, which differ from the web UI's.
fn db_defaults() -> Map<String, Value> {
    let d = json!({
        "description": null, "url": null, "method": "GET", "hostname": null, "port": null, "maxretries": 0,
        "weight": 2000, "active": true, "timeout": 0, "retryInterval": 0, "resendInterval": 0, "keyword": null,
        "invertKeyword": false, "expiryNotification": true, "ignoreTls": false, "upsideDown": false,
        "packetSize": 56, "maxredirects": 10, "dns_resolve_type": "A", "dns_resolve_server": "1.1.1.1",
        "pushToken": null, "jsonPath": null, "expectedValue": null, "httpBodyEncoding": null, "parent": null,
    });
    d.as_object().unwrap().clone()
}

fn insert_row(st: &mut State, m: Value) -> i64 {
    let mut row = db_defaults();
    if let Value::Object(o) = m {
        for (k, v) in o {
            if k != "notificationIDList" && k != "id" {
                row.insert(k, v);
            }
        }
    }
    row.entry("accepted_statuscodes").or_insert(json!(["200-299"]));
    row.entry("type").or_insert(json!("http"));
    row.entry("interval").or_insert(json!(60));
    let id = st.next_monitor;
    st.next_monitor += 1;
    st.monitors.insert(id, row);
    id
}

fn notification_ids(list: &Value) -> Vec<i64> {
    match list {
        Value::Object(o) => {
            o.iter().filter(|(_, v)| v.as_bool() == Some(true)).filter_map(|(k, _)| k.parse().ok()).collect()
        }
        // An array is iterated by index, as `for … in` does in JavaScript: the ids are 0, 1, …
        Value::Array(a) => (0..a.len() as i64).collect(),
        _ => vec![],
    }
}

fn set_notifications(st: &mut State, id: i64, list: &Value) -> Result<(), String> {
    st.monitor_notifications.retain(|n| n.0 != id);
    for n in notification_ids(list) {
        if !st.notifications.iter().any(|x| x.0 == n) {
            return Err("SQLITE_CONSTRAINT: FOREIGN KEY constraint failed".into());
        }
        st.monitor_notifications.push((id, n));
    }
    Ok(())
}

fn add(st: &mut State, flavor: Flavor, monitor: Value) -> Value {
    let Value::Object(m) = monitor else { return json!({"ok": false, "msg": "monitor is not an object"}) };
    if let Some(id) = m.get("id") {
        // The real server imports the id into the bean, which turns the insert into an update of nothing.
        return json!({"ok": true, "msg": "Added Successfully.", "monitorID": id});
    }
    if let Err(msg) = check_payload(flavor, &m, true).and_then(|_| check_docker_host(st, &m)) {
        return json!({"ok": false, "msg": msg});
    }
    let list = m.get("notificationIDList").cloned().unwrap_or(json!({}));
    let id = insert_row(st, Value::Object(m));
    // The row is stored before the notifications: a bad id fails the ack with the monitor created.
    if let Err(msg) = set_notifications(st, id, &list) {
        return json!({"ok": false, "msg": msg});
    }
    json!({"ok": true, "msg": "Added Successfully.", "monitorID": id})
}

fn edit(st: &mut State, flavor: Flavor, monitor: Value) -> Value {
    let Value::Object(m) = monitor else { return json!({"ok": false, "msg": "monitor is not an object"}) };
    let Some(id) = m.get("id").and_then(Value::as_i64) else {
        return json!({"ok": false, "msg": "Cannot read properties of null (reading 'user_id')"});
    };
    if !st.monitors.contains_key(&id) {
        return json!({"ok": false, "msg": "Cannot read properties of null (reading 'user_id')"});
    }
    if let Err(msg) = check_payload(flavor, &m, false).and_then(|_| check_docker_host(st, &m)) {
        return json!({"ok": false, "msg": msg});
    }
    let row = st.monitors.get_mut(&id).unwrap();
    for (k, v) in &m {
        // editMonitor does not change `active`: pausing is its own event.
        if k != "id" && k != "notificationIDList" && k != "active" {
            row.insert(k.clone(), v.clone());
        }
    }
    if let Some(list) = m.get("notificationIDList") {
        if let Err(msg) = set_notifications(st, id, list) {
            return json!({"ok": false, "msg": msg});
        }
    }
    json!({"ok": true, "msg": "Saved.", "monitorID": id})
}

/// A monitor as the server's `toJSON` shows it, with the keys a client must not send back.
fn monitor_json(st: &State, id: i64, flavor: Flavor) -> Value {
    let row = &st.monitors[&id];
    let mut m = row.clone();
    m.insert("id".into(), json!(id));
    let notif: Map<String, Value> =
        st.monitor_notifications.iter().filter(|n| n.0 == id).map(|n| (n.1.to_string(), Value::Bool(true))).collect();
    m.insert("notificationIDList".into(), Value::Object(notif));
    let tags: Vec<Value> = st
        .monitor_tags
        .iter()
        .filter(|t| t.1 == id)
        .map(|(tag, mon, value)| {
            let (name, color) =
                st.tags.iter().find(|t| t.0 == *tag).map(|t| (t.1.clone(), t.2.clone())).unwrap_or_default();
            json!({"tag_id": tag, "monitor_id": mon, "value": value, "name": name, "color": color})
        })
        .collect();
    m.insert("tags".into(), Value::Array(tags));
    let mut path = vec![];
    let mut cur = Some(id);
    while let Some(c) = cur {
        let Some(r) = st.monitors.get(&c) else { break };
        path.insert(0, r["name"].clone());
        cur = r.get("parent").and_then(Value::as_i64);
        if path.len() > 32 {
            break;
        }
    }
    let path_name: Vec<String> = path.iter().map(|p| p.as_str().unwrap_or("").to_owned()).collect();
    m.insert("pathName".into(), json!(path_name.join(" / ")));
    let children: Vec<i64> = st
        .monitors
        .iter()
        .filter(|(_, r)| r.get("parent").and_then(Value::as_i64) == Some(id))
        .map(|(i, _)| *i)
        .collect();
    m.insert("childrenIDs".into(), json!(children));
    m.insert("forceInactive".into(), json!(false));
    m.insert("maintenance".into(), json!(false));
    m.insert("includeSensitiveData".into(), json!(true));
    if flavor == Flavor::V2 {
        m.insert("path".into(), json!(path));
        m.entry("conditions").or_insert(json!([]));
    }
    Value::Object(m)
}
