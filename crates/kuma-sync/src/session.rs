//! A logged-in session with Uptime Kuma: connect (retrying while the server starts), set up the first
//! admin when asked, log in, read the server's state, and write one event at a time.

use crate::plan::Server;
use crate::socketio::{Endpoint, SockError, Socket};
use homey_kit::Exit;
use homey_kit::clock::Clock;
use homey_kit::process::Cancel;
use homey_kit::secret::Secret;
use serde_json::{Value, json};
use std::time::Duration;

/// Events the server pushes that a sync never reads once the state is known.
const NOISE: &[&str] = &[
    "monitorList",
    "updateMonitorIntoList",
    "deleteMonitorFromList",
    "heartbeatList",
    "importantHeartbeatList",
    "heartbeat",
    "avgPing",
    "uptime",
    "certInfo",
    "info",
    "maintenanceList",
    "proxyList",
    "dockerHostList",
    "apiKeyList",
    "remoteBrowserList",
    "statusPageList",
    "notificationList",
];

pub struct Options<'a> {
    pub url: &'a str,
    pub username: &'a str,
    pub password: &'a Secret,
    pub setup: bool,
    pub wait: Duration,
    pub ack_timeout: Duration,
    /// Raised by SIGTERM/SIGINT: stop waiting and writing.
    pub stop: Option<&'a Cancel>,
}

pub struct Session {
    sock: Socket,
    /// Uptime Kuma's URL, for its HTTP API.
    base_url: String,
    ack_timeout: Duration,
    /// Write events sent (acknowledged or not).
    pub writes: usize,
}

fn coded(exit: Exit, msg: String) -> anyhow::Error {
    homey_kit::exit::coded(exit, anyhow::anyhow!(msg))
}

/// The server's words: 2.x sends i18n keys instead of English.
pub fn server_message(answer: &Value) -> String {
    let msg = answer.get("msg").and_then(Value::as_str).unwrap_or("no reason given");
    if answer.get("msgi18n").and_then(Value::as_bool) == Some(true) {
        let english = match msg {
            "authIncorrectCreds" => "incorrect username or password",
            "authInvalidToken" => "invalid 2FA token",
            "authUserInactiveOrDeleted" => "the user is inactive or deleted",
            _ => "",
        };
        if !english.is_empty() {
            return format!("{english} ({msg})");
        }
    }
    msg.to_owned()
}

impl Session {
    /// Connect, retrying with backoff until `wait` has passed: after a (re)start the port opens
    /// before the server answers events, so a first acknowledgement that times out is retried too.
    pub fn open(opts: &Options<'_>, clock: &dyn Clock) -> anyhow::Result<Session> {
        let ep = Endpoint::parse(opts.url).map_err(|m| coded(Exit::Config, m))?;
        let started = clock.now();
        let mut backoff = Duration::from_millis(200);
        let mut attempts = 0u32;
        let (mut sock, need_setup) = loop {
            attempts += 1;
            let elapsed = clock.now().duration_since(started).unwrap_or_default();
            let left = opts.wait.saturating_sub(elapsed).max(Duration::from_secs(1));
            let step = opts.ack_timeout.min(left);
            let attempt = Socket::connect(&ep, step, opts.stop).and_then(|mut s| {
                // Heartbeat history arrives after login on a real server, per monitor: never read, never kept.
                s.ignore(&["heartbeatList", "importantHeartbeatList", "heartbeat", "avgPing", "uptime", "certInfo"]);
                // 2.0.2 attaches its handlers only after it has sent `info`: anything emitted before is lost.
                s.wait_for("info", step)?;
                let need = s.call("needSetup", &[], step)?;
                Ok((s, need))
            });
            match attempt {
                Ok((s, need)) => break (s, need == Value::Bool(true)),
                Err(SockError::Stopped) => {
                    return Err(coded(
                        Exit::TryAgain,
                        "stopped by a signal while waiting for Uptime Kuma; nothing was written".into(),
                    ));
                }
                Err(e) => {
                    let elapsed = clock.now().duration_since(started).unwrap_or_default();
                    if elapsed + backoff >= opts.wait {
                        return Err(coded(
                            Exit::Unavailable,
                            format!(
                                "Uptime Kuma at {} is not answering after {attempts} attempts in {}s (--wait): {e}",
                                opts.url,
                                elapsed.as_secs()
                            ),
                        ));
                    }
                    homey_kit::info!(
                        "Uptime Kuma at {} not ready yet ({e}); retrying in {:.1}s",
                        opts.url,
                        backoff.as_secs_f64()
                    );
                    clock.sleep(backoff);
                    if opts.stop.is_some_and(Cancel::is_cancelled) {
                        return Err(coded(
                            Exit::TryAgain,
                            "stopped by a signal while waiting for Uptime Kuma; nothing was written".into(),
                        ));
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        };
        let lost = |e: SockError| coded(Exit::TryAgain, format!("while logging in to {}: {e}", opts.url));
        let password = opts.password.expose_str().map_err(|e| coded(Exit::Config, format!("the password: {e}")))?;
        if need_setup {
            if !opts.setup {
                return Err(coded(
                    Exit::Config,
                    format!(
                        "Uptime Kuma at {} has no admin account yet; run `kuma-sync sync --setup` once to create {:?} from the given password",
                        opts.url, opts.username
                    ),
                ));
            }
            let answer =
                sock.call("setup", &[json!(opts.username), json!(password)], opts.ack_timeout).map_err(lost)?;
            if answer.get("ok") != Some(&Value::Bool(true)) {
                return Err(coded(
                    Exit::Config,
                    format!("--setup: the server refused to create the admin: {}", server_message(&answer)),
                ));
            }
            homey_kit::notice!("created the admin account {:?} on a fresh Uptime Kuma (--setup)", opts.username);
        }
        let answer = sock
            .call("login", &[json!({"username": opts.username, "password": password, "token": ""})], opts.ack_timeout)
            .map_err(lost)?;
        if answer.get("tokenRequired").and_then(Value::as_bool) == Some(true) {
            return Err(coded(
                Exit::Config,
                format!(
                    "the account {:?} has two-factor authentication on; kuma-sync logs in without a person: use an account without 2FA",
                    opts.username
                ),
            ));
        }
        if answer.get("ok") != Some(&Value::Bool(true)) {
            let msg = server_message(&answer);
            if msg.contains("Too frequently") {
                return Err(coded(
                    Exit::TryAgain,
                    format!(
                        "Uptime Kuma rate-limits logins (20 a minute) and refused this one: {msg}; try again in a minute"
                    ),
                ));
            }
            return Err(coded(Exit::Config, format!("login to {} as {:?} refused: {msg}", opts.url, opts.username)));
        }
        Ok(Session { sock, base_url: opts.url.to_owned(), ack_timeout: opts.ack_timeout, writes: 0 })
    }

    /// The server's version, monitors, notifications and tags, as they are now.
    pub fn read_server(&mut self) -> anyhow::Result<Server> {
        let t = self.ack_timeout;
        let lost = |e: SockError| coded(Exit::TryAgain, format!("reading the server's state: {e}"));
        // 2.x sends `info` with the version before the login ack, 1.23 after it.
        let version = loop {
            let info = self.sock.wait_for("info", t).map_err(lost)?;
            if let Some(v) = info.args.first().and_then(|i| i.get("version")).and_then(Value::as_str) {
                break v.to_owned();
            }
        };
        // Only login and getMonitorList send the full list, in an order that differs by version: ask
        // for it and take the newest full list that arrived by the answer.
        self.sock.take("monitorList");
        let ack = self.sock.call("getMonitorList", &[], t).map_err(lost)?;
        if ack.get("ok") == Some(&Value::Bool(false)) {
            anyhow::bail!("getMonitorList refused: {}", server_message(&ack));
        }
        let monitors = match self.sock.take("monitorList").pop() {
            Some(e) => e,
            None => self.sock.wait_for("monitorList", t).map_err(lost)?,
        };
        let notifications = self.sock.wait_for("notificationList", t).map_err(lost)?;
        let docker_hosts = self.sock.wait_for("dockerHostList", t).map_err(lost)?;
        let status_pages = self.sock.wait_for("statusPageList", t).map_err(lost)?;
        let maintenance = self.sock.wait_for("maintenanceList", t).map_err(lost)?;
        let tags = self.sock.call("getTags", &[], t).map_err(lost)?;
        if tags.get("ok") != Some(&Value::Bool(true)) {
            anyhow::bail!("getTags refused: {}", server_message(&tags));
        }
        self.sock.clear();
        self.sock.ignore(NOISE);
        let first = |e: &crate::socketio::Event| e.args.first().cloned().unwrap_or(Value::Null);
        let mut server = Server::from_lists(
            &version,
            &first(&monitors),
            &first(&notifications),
            tags.get("tags").unwrap_or(&Value::Null),
        )?;
        server.docker_hosts = crate::docker_hosts::from_list(&first(&docker_hosts));
        server.status_pages = crate::status_pages::from_list(&first(&status_pages));
        server.maintenance = crate::maintenance::from_list(&first(&maintenance));
        Ok(server)
    }

    /// A status page's groups, from its public API (the socket API has no way to read them).
    pub fn status_page_groups(&self, slug: &str) -> anyhow::Result<Vec<(i64, String, Vec<i64>)>> {
        let url = format!("{}/api/status-page/{slug}", self.base_url.trim_end_matches('/'));
        let agent: ureq::Agent = ureq::Agent::config_builder().timeout_global(Some(self.ack_timeout)).build().into();
        let body = agent
            .get(&url)
            .call()
            .and_then(|r| r.into_body().read_to_string())
            .map_err(|e| coded(Exit::TryAgain, format!("reading status page {slug:?} ({url}): {e}")))?;
        let data: Value = serde_json::from_str(&body)
            .map_err(|e| coded(Exit::TryAgain, format!("status page {slug:?} ({url}): not JSON: {e}")))?;
        Ok(crate::status_pages::groups_from(&data))
    }

    /// The monitors a maintenance window affects.
    pub fn maintenance_monitors(&mut self, id: i64) -> anyhow::Result<std::collections::BTreeSet<i64>> {
        self.maintenance_links(id, "getMonitorMaintenance", "monitors", "")
    }

    /// The status pages (ids) a maintenance window is shown on. The answer names pages by id and title
    /// only, so slugs come from `statusPageList`.
    pub fn maintenance_status_pages(&mut self, id: i64) -> anyhow::Result<std::collections::BTreeSet<i64>> {
        self.maintenance_links(id, "getMaintenanceStatusPage", "statusPages", "'s status pages")
    }

    /// The ids in `answer[key]`, a list of objects, that `event` gives for maintenance window `id`.
    fn maintenance_links(
        &mut self,
        id: i64,
        event: &str,
        key: &str,
        what: &str,
    ) -> anyhow::Result<std::collections::BTreeSet<i64>> {
        let answer = self
            .read(event, &[json!(id)])
            .map_err(|e| coded(Exit::TryAgain, format!("reading maintenance #{id}{what}: {e}")))?;
        if answer.get("ok") != Some(&Value::Bool(true)) {
            anyhow::bail!("{event} #{id} refused: {}", server_message(&answer));
        }
        Ok(answer
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|m| m.get("id").and_then(Value::as_i64))
            .collect())
    }

    /// A read (getMonitor): `Err` only when the connection failed.
    pub fn read(&mut self, event: &str, args: &[Value]) -> Result<Value, SockError> {
        let r = self.sock.call(event, args, self.ack_timeout);
        self.sock.clear();
        // Event names and outcomes only: payloads may carry push tokens.
        match &r {
            Ok(a) if a.get("ok") == Some(&Value::Bool(false)) => {
                homey_kit::debug!("{event}: refused: {}", server_message(a))
            }
            Ok(_) => homey_kit::debug!("{event}: ok"),
            Err(e) => homey_kit::debug!("{event}: {e}"),
        }
        r
    }

    /// A write: `Ok(answer)` whether the server accepted it or not; `Err` when the connection failed.
    pub fn write(&mut self, event: &str, args: &[Value]) -> Result<Value, SockError> {
        self.writes += 1;
        self.read(event, args)
    }

    pub fn close(self) {
        self.sock.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use homey_kit::clock::FakeClock;

    #[test]
    fn a_server_that_never_answers_is_retried_with_backoff_until_wait_then_unavailable() {
        // A port nothing listens on: every attempt is refused at once; only the fake clock moves.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let url = format!("http://127.0.0.1:{port}");
        let password = Secret::new("pw");
        let opts = Options {
            url: &url,
            username: "admin",
            password: &password,
            setup: false,
            wait: Duration::from_secs(10),
            ack_timeout: Duration::from_secs(1),
            stop: None,
        };
        let clock = FakeClock::at_unix(1_000);
        let err = Session::open(&opts, &clock).err().expect("nothing listens");
        assert_eq!(Exit::of(&err), Exit::Unavailable);
        assert!(format!("{err}").contains("is not answering after 6 attempts in 6s (--wait)"), "{err}");
        let ms: Vec<u128> = clock.sleeps().iter().map(Duration::as_millis).collect();
        assert_eq!(ms, [200, 400, 800, 1600, 3200]);
    }

    #[test]
    fn i18n_messages_are_made_readable() {
        let m = server_message(&json!({"ok": false, "msg": "authIncorrectCreds", "msgi18n": true}));
        assert_eq!(m, "incorrect username or password (authIncorrectCreds)");
        assert_eq!(
            server_message(&json!({"ok": false, "msg": "Incorrect username or password."})),
            "Incorrect username or password."
        );
        assert_eq!(server_message(&json!({"ok": false})), "no reason given");
    }
}
