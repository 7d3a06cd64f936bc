//! The stand-in has the real server's traps (so the tests above prove kuma-sync avoids them), checked
//! here through kuma-sync's own Socket.IO client.

use crate::{PASSWORD, USER};
use kuma_sync::socketio::{Endpoint, SockError, Socket};
use serde_json::{Value, json};
use std::time::Duration;
use test_support::kuma::Kuma;

const T: Duration = Duration::from_secs(5);

/// Connected and past 2.x's first-message window (its handlers are in place once `info` came).
fn connect(kuma: &Kuma) -> Socket {
    let mut s = Socket::connect(&Endpoint::parse(&kuma.url()).unwrap(), T, None).unwrap();
    s.wait_for("info", T).unwrap();
    s
}

fn login(kuma: &Kuma) -> Socket {
    let mut s = connect(kuma);
    let answer = s.call("login", &[json!({"username": USER, "password": PASSWORD, "token": ""})], T).unwrap();
    assert_eq!(answer["ok"], true, "{answer}");
    s
}

fn valid() -> Value {
    json!({"name": "A", "type": "http", "url": "https://a.example.com", "interval": 60, "maxretries": 0,
           "accepted_statuscodes": ["200-299"], "notificationIDList": {}})
}

#[test]
fn the_1_23_stand_in_refuses_conditions_and_unknown_columns() {
    let kuma = Kuma::v1().user(USER, PASSWORD).start();
    let mut s = login(&kuma);
    let mut m = valid();
    m["conditions"] = json!([]);
    let a = s.call("add", &[m], T).unwrap();
    assert_eq!(a["msg"], "SQLITE_ERROR: table monitor has no column named conditions");
    let mut m = valid();
    m["pathName"] = json!("A");
    assert_eq!(s.call("add", &[m], T).unwrap()["msg"], "SQLITE_ERROR: table monitor has no column named path_name");
    assert_eq!(s.call("add", &[valid()], T).unwrap()["ok"], true);
}

#[test]
fn the_2x_stand_in_requires_conditions_and_status_codes() {
    let kuma = Kuma::v2().user(USER, PASSWORD).start();
    let mut s = login(&kuma);
    assert!(s.call("add", &[valid()], T).unwrap()["msg"].as_str().unwrap().contains("monitor.conditions"));
    let mut m = valid();
    m["conditions"] = json!([]);
    m.as_object_mut().unwrap().remove("accepted_statuscodes");
    assert_eq!(s.call("add", &[m], T).unwrap()["ok"], false);
    let mut m = valid();
    m["conditions"] = json!([]);
    m["maxretries"] = Value::Null;
    assert!(s.call("add", &[m], T).unwrap()["msg"].as_str().unwrap().contains("NOT NULL"));
}

#[test]
fn an_unknown_notification_fails_after_the_row_is_created_and_an_id_stores_nothing() {
    let kuma = Kuma::v1().user(USER, PASSWORD).start();
    let mut s = login(&kuma);
    let mut m = valid();
    m["notificationIDList"] = json!({"7": true});
    let a = s.call("add", &[m], T).unwrap();
    assert_eq!(a["ok"], false);
    assert!(a.get("monitorID").is_none());
    assert_eq!(kuma.monitors().len(), 1, "the row was created anyway");
    let mut m = valid();
    m["id"] = json!(42);
    let a = s.call("add", &[m], T).unwrap();
    assert_eq!((a["ok"].as_bool(), a["monitorID"].as_i64()), (Some(true), Some(42)));
    assert_eq!(kuma.monitors().len(), 1, "nothing stored");
    // Omitted columns get the database defaults, not the web UI's.
    let mut m = valid();
    m["notificationIDList"] = json!({});
    s.call("add", &[m], T).unwrap();
    let stored = &kuma.monitors()[1];
    assert_eq!((stored["retryInterval"].as_i64(), stored["timeout"].as_i64()), (Some(0), Some(0)));
    assert_eq!(stored["expiryNotification"], true);
}

#[test]
fn writes_need_a_login_and_1_23_acks_login_before_the_lists() {
    let kuma = Kuma::v1().user(USER, PASSWORD).start();
    let mut s = Socket::connect(&Endpoint::parse(&kuma.url()).unwrap(), T, None).unwrap();
    assert_eq!(s.call("add", &[valid()], T).unwrap()["msg"], "You are not logged in.");
    s.call("login", &[json!({"username": USER, "password": PASSWORD})], T).unwrap();
    // The ack came first: the list has not been queued yet, it arrives afterwards.
    assert!(s.take("monitorList").is_empty());
    s.wait_for("monitorList", T).unwrap();

    let kuma2 = Kuma::v2().user(USER, PASSWORD).start();
    let mut s = connect(&kuma2);
    s.call("login", &[json!({"username": USER, "password": PASSWORD})], T).unwrap();
    assert_eq!(s.take("monitorList").len(), 1, "2.x pushes the list before the ack");
}

#[test]
fn a_client_that_ignores_heartbeats_is_dropped_and_an_unanswered_ack_times_out() {
    // Pings every 10 ms, a generous timeout: the stand-in says when it has had 5 answers.
    let kuma = Kuma::v2()
        .user(USER, PASSWORD)
        .heartbeat(Duration::from_millis(10), Duration::from_secs(30))
        .announce_pongs(5)
        .start();
    let mut s = connect(&kuma);
    // The client answers pings while it waits for something else.
    let e = s.wait_for("pongs", T).unwrap();
    assert_eq!(e.args[0], 5);
    assert_eq!(kuma.dropped_for_heartbeat(), 0);

    // A silent server: the acknowledgement does not come, the call says so.
    let silent = Kuma::v2().user(USER, PASSWORD).silent_connections(1).start();
    let mut s = connect(&silent);
    match s.call("needSetup", &[], Duration::from_millis(300)) {
        Err(SockError::Timeout(m)) => assert_eq!(m, r#"no answer to "needSetup" within 0.3s"#),
        other => panic!("expected a timeout, got {other:?}"),
    }

    // A client that does not read cannot answer: the server drops it once its ping goes unanswered.
    let strict =
        Kuma::v2().user(USER, PASSWORD).heartbeat(Duration::from_millis(10), Duration::from_millis(50)).start();
    let mut s = connect(&strict);
    while strict.dropped_for_heartbeat() == 0 {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(matches!(s.call("needSetup", &[], T), Err(SockError::Closed(_))));
}

#[test]
fn the_login_rate_limit_and_origin_check() {
    let kuma = Kuma::v1().user(USER, PASSWORD).login_limit(2).start();
    let ep = Endpoint::parse(&kuma.url()).unwrap();
    let mut s = Socket::connect(&ep, T, None).unwrap();
    for _ in 0..2 {
        assert_eq!(s.call("login", &[json!({"username": USER, "password": "wrong"})], T).unwrap()["ok"], false);
    }
    let a = s.call("login", &[json!({"username": USER, "password": PASSWORD})], T).unwrap();
    assert_eq!(a["msg"], "Too frequently, try again later.");

    use tungstenite::client::IntoClientRequest;
    let mut req = format!("ws://{}/socket.io/?EIO=4&transport=websocket", kuma.addr()).into_client_request().unwrap();
    req.headers_mut().insert("Origin", "http://evil.example.com".parse().unwrap());
    assert!(tungstenite::connect(req).is_err());
    let eio3 = format!("ws://{}/socket.io/?EIO=3&transport=websocket", kuma.addr());
    assert!(tungstenite::connect(eio3).is_err());
}

#[test]
fn the_2x_stand_in_drops_an_event_sent_before_its_first_info() {
    let kuma = Kuma::v2().user(USER, PASSWORD).first_message_window(Duration::from_secs(5)).start();
    let mut s = Socket::connect(&Endpoint::parse(&kuma.url()).unwrap(), T, None).unwrap();
    // Emitted at once, as a client that does not wait for `info` would: never answered.
    match s.call("needSetup", &[], Duration::from_millis(300)) {
        Err(SockError::Timeout(m)) => assert_eq!(m, r#"no answer to "needSetup" within 0.3s"#),
        other => panic!("expected a timeout, got {other:?}"),
    }
    s.wait_for("info", T).unwrap();
    assert_eq!(s.call("needSetup", &[], T).unwrap(), Value::Bool(false));
    assert_eq!(kuma.dropped_before_info(), ["needSetup"]);
    // 1.23 has no such window.
    let v1 = Kuma::v1().user(USER, PASSWORD).start();
    let mut s = Socket::connect(&Endpoint::parse(&v1.url()).unwrap(), T, None).unwrap();
    assert_eq!(s.call("needSetup", &[], T).unwrap(), Value::Bool(false));
}
