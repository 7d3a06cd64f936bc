//! Status pages: slug, title, texts, groups of monitors by name, monitors naming their page; marked as
//! ours in their custom CSS, adopted by slug, pruned; compared with what the server keeps (groups read
//! from the page's API); on 1.23 and 2.x.

use crate::{Env, PASSWORD, USER};
use serde_json::json;
use test_support::kuma::{Flavor, Kuma};

const FILE: &str = r#"{
  "status_pages": [
    {"slug": "home", "title": "Home lab", "description": "Everything at home", "footer_text": "Run by homey",
     "show_tags": true, "groups": [{"name": "Infrastructure", "monitors": ["Router", "DNS"]}]}
  ],
  "monitors": [
    {"name": "Router", "type": "ping", "hostname": "192.168.1.1"},
    {"name": "DNS", "type": "dns", "hostname": "example.com"},
    {"name": "Cloud", "url": "https://cloud.example.com", "status_pages": ["home"]},
    {"name": "Hidden", "url": "https://hidden.example.com"}
  ]
}"#;

fn groups(env: &Env, slug: &str) -> Vec<(String, Vec<String>)> {
    let pages = env.kuma.status_pages();
    let (_, groups) = pages.iter().find(|(c, _)| c["slug"] == slug).expect("the page").clone();
    let name =
        |id: i64| env.kuma.monitors().into_iter().find(|m| m["id"] == id).unwrap()["name"].as_str().unwrap().to_owned();
    groups.into_iter().map(|(g, ids)| (g, ids.into_iter().map(name).collect())).collect()
}

fn status_pages(flavor: Flavor) {
    let b = match flavor {
        Flavor::V1 => Kuma::v1(),
        Flavor::V2 => Kuma::v2(),
    };
    let env = Env::new(b.user(USER, PASSWORD));
    env.monitors(FILE);
    let run = env.sync(&[]);
    run.expect(0);
    assert!(run.stdout.contains("+ create status page home\n"), "{}", run.stdout);
    let pages = env.kuma.status_pages();
    assert_eq!(pages.len(), 1);
    let config = &pages[0].0;
    assert_eq!((config["title"].as_str(), config["footerText"].as_str()), (Some("Home lab"), Some("Run by homey")));
    assert_eq!(config["showTags"], true);
    assert!(config["customCSS"].as_str().unwrap().contains("managed-by: kuma-sync"));
    // The declared group, with the monitor that names the page added to it.
    assert_eq!(
        groups(&env, "home"),
        [("Infrastructure".to_owned(), vec!["Router".into(), "DNS".into(), "Cloud".into()])]
    );

    let writes = env.writes();
    let forced = env.sync(&["--force"]);
    forced.expect(0);
    assert_eq!(forced.stdout, "= 5 unchanged\n");
    std::fs::remove_dir_all(env.path("state")).unwrap();
    env.sync(&[]).expect(0);
    assert_eq!(env.writes(), writes, "nothing written twice after a lost state directory");
    assert_eq!(env.kuma.status_pages().len(), 1);

    // A new title and a second group: one save.
    env.monitors(&FILE.replace("Home lab", "Homelab").replace(
        r#"[{"name": "Infrastructure", "monitors": ["Router", "DNS"]}]"#,
        r#"[{"name": "Infrastructure", "monitors": ["Router"]}, {"name": "Names", "monitors": ["DNS"]}]"#,
    ));
    let run = env.sync(&[]);
    run.expect(0);
    assert!(
        run.stdout.contains(r#"~ update status page home: title "Home lab" → "Homelab", groups"#),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(
            "groups [Infrastructure: [Router, DNS, Cloud]] → [Infrastructure: [Router, Cloud]; Names: [DNS]]"
        ),
        "{}",
        run.stdout
    );
    assert_eq!(env.kuma.writes().iter().filter(|w| w.name == "saveStatusPage").count(), 2);
    assert_eq!(
        groups(&env, "home"),
        [
            ("Infrastructure".to_owned(), vec!["Router".into(), "Cloud".into()]),
            ("Names".to_owned(), vec!["DNS".into()])
        ]
    );
    env.assert_forced_sync_writes_nothing();

    // Dropped from the file: ours, so deleted.
    env.monitors(r#"[{"name": "Router", "type": "ping", "hostname": "192.168.1.1"}]"#);
    let run = env.sync(&[]);
    run.expect(0);
    assert!(run.stdout.contains("- delete status page home\n"), "{}", run.stdout);
    assert!(env.kuma.status_pages().is_empty());
}

#[test]
fn status_pages_converge_2x() {
    status_pages(Flavor::V2);
}

#[test]
fn status_pages_converge_1_23() {
    status_pages(Flavor::V1);
}

#[test]
fn a_page_made_by_hand_is_adopted_by_slug_its_groups_fixed_and_a_foreign_page_left_alone() {
    let env = Env::new(Kuma::v2().user(USER, PASSWORD));
    env.monitors(r#"[{"name": "A", "url": "https://a.example.com"}, {"name": "B", "url": "https://b.example.com"}]"#);
    env.sync(&[]).expect(0);
    // Someone makes two pages in the web UI, one with the declared slug showing B.
    let run_raw = |event: &str, args: serde_json::Value| {
        use kuma_sync::socketio::{Endpoint, Socket};
        let t = std::time::Duration::from_secs(5);
        let mut s = Socket::connect(&Endpoint::parse(&env.kuma.url()).unwrap(), t, None).unwrap();
        s.wait_for("info", t).unwrap();
        s.call("login", &[json!({"username": USER, "password": PASSWORD, "token": ""})], t).unwrap();
        let args: Vec<serde_json::Value> = args.as_array().unwrap().clone();
        assert_eq!(s.call(event, &args, t).unwrap()["ok"], true);
    };
    run_raw("addStatusPage", json!(["Ours", "ours"]));
    run_raw("addStatusPage", json!(["Theirs", "theirs"]));
    let b = env.monitor("B")["id"].as_i64().unwrap();
    let cfg = env.kuma.status_pages()[0].0.clone();
    run_raw("saveStatusPage", json!(["ours", cfg, "/icon.svg", [{"name": "Stuff", "monitorList": [{"id": b}]}]]));
    env.monitors(
        r#"{"status_pages": [{"slug": "ours", "title": "Ours", "groups": [{"name": "Stuff", "monitors": ["A"]}]}],
            "monitors": [{"name": "A", "url": "https://a.example.com"}, {"name": "B", "url": "https://b.example.com"}]}"#,
    );
    let run = env.sync(&[]);
    run.expect(0);
    assert!(run.stdout.contains("~ adopt status page ours: groups [Stuff: [B]] → [Stuff: [A]]\n"), "{}", run.stdout);
    assert_eq!(groups(&env, "ours"), [("Stuff".to_owned(), vec!["A".into()])]);
    // Ours now: dropped from the file, deleted; theirs never touched.
    env.monitors(r#"[{"name": "A", "url": "https://a.example.com"}, {"name": "B", "url": "https://b.example.com"}]"#);
    let run = env.sync(&[]);
    run.expect(0);
    assert_eq!(run.stdout, "- delete status page ours\n= 2 unchanged\n");
    let left: Vec<String> = env.kuma.status_pages().iter().map(|p| p.0["slug"].as_str().unwrap().to_owned()).collect();
    assert_eq!(left, ["theirs"]);
}

#[test]
fn a_page_naming_a_monitor_the_file_does_not_declare_is_refused_offline() {
    let env = Env::new(Kuma::v2().user(USER, PASSWORD));
    env.monitors(
        r#"{"status_pages": [{"slug": "home", "title": "Home", "groups": [{"name": "G", "monitors": ["Nope"]}]}]}"#,
    );
    let run = env.sync(&[]);
    run.expect(65);
    assert!(
        run.stderr.contains(
            r#"status_pages: entry 1 ("home"): field "groups": group "G": "Nope" is not a monitor in this file"#
        ),
        "{}",
        run.stderr
    );
    env.monitors(r#"[{"name": "A", "url": "https://a.example.com", "status_pages": ["elsewhere"]}]"#);
    let run = env.sync(&[]);
    run.expect(65);
    assert!(
        run.stderr.contains(r#"field "status_pages": "elsewhere" is not a status page in this file"#),
        "{}",
        run.stderr
    );
    assert_eq!(env.kuma.connections(), 0);
}
