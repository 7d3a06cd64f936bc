//! The commands end to end: render (schema-valid, order-independent, refusing bad input), lint, explain, hash.

use super::{bin, shared, text};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

fn example() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/access-rules.json")
}

fn write(dir: &Path, name: &str, body: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p
}

fn render(file: &Path, format: &str) -> String {
    let out = bin().arg("render").arg(file).args(["--format", format]).output().unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    stdout
}

/// Validate `doc` against Authelia's own JSON schema with the reference Python implementation.
fn assert_schema_valid(doc: &Value) {
    let schema = shared().join("conformance/authelia/configuration.v4.39.schema.json");
    let script = "import json, sys, jsonschema\n\
        schema = json.load(open(sys.argv[1]))\n\
        doc = json.load(sys.stdin)\n\
        errors = [e.message + ' at ' + '/'.join(map(str, e.absolute_path)) for e in jsonschema.Draft202012Validator(schema).iter_errors(doc)]\n\
        print('\\n'.join(errors)); sys.exit(1 if errors else 0)\n";
    // The Debian package python3-jsonschema serves /usr/bin/python3; a pip install serves python3 on PATH.
    let python = ["python3", "/usr/bin/python3"]
        .into_iter()
        .find(|p| {
            std::process::Command::new(p).args(["-c", "import jsonschema"]).output().is_ok_and(|o| o.status.success())
        })
        .expect("python3 with jsonschema (Debian package python3-jsonschema) is needed to check Authelia's schema");
    let mut child = std::process::Command::new(python)
        .args(["-c", script])
        .arg(&schema)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(doc.to_string().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "schema errors:\n{}", String::from_utf8_lossy(&out.stdout));
}

#[test]
fn rendered_yaml_is_stable_and_matches_the_json_rendering() {
    let yaml = render(&example(), "yaml");
    insta::assert_snapshot!("example_yaml", yaml);
    let json_doc: Value = serde_json::from_str(&render(&example(), "json")).unwrap();
    let yaml_doc: Value = serde_yaml_ng::from_str(&yaml).unwrap();
    assert_eq!(yaml_doc, json_doc);
    // Every rule is preceded by its name and priority.
    assert!(yaml.contains("    # #9 nextcloud-admin-settings (priority 24)\n    - domain:\n"), "{yaml}");
}

#[test]
fn rendered_output_is_accepted_by_authelias_schema() {
    let doc: Value = serde_json::from_str(&render(&example(), "json")).unwrap();
    assert_schema_valid(&doc);
    // Every criterion, single strings turned into lists, queries and methods.
    let dir = tempfile::tempdir().unwrap();
    let all = write(
        dir.path(),
        "all.json",
        r#"{"default_policy": "two_factor", "networks": [{"name": "lan", "networks": "10.0.0.0/8"}], "rules": [
            {"priority": 1, "domain": "a.example.com", "policy": "one_factor", "subject": "user:bob", "networks": ["lan", "192.168.1.7"],
             "resources": "^/api([/?].*)?$", "methods": "POST", "query": [{"key": "secure", "value": "yes"}, {"key": "x", "operator": "absent"}]},
            {"priority": 2, "domain_regex": "^(?P<User>\\w+)\\.example\\.com$", "policy": "two_factor", "query": [[{"key": "a", "operator": "pattern", "value": "^b'c$"}]]}]}"#,
    );
    let yaml = render(&all, "yaml");
    let doc: Value = serde_yaml_ng::from_str(&yaml).unwrap();
    assert_schema_valid(&doc);
    assert_eq!(doc["access_control"]["rules"][0]["subject"], json!([["user:bob"]]));
    assert_eq!(doc["access_control"]["rules"][0]["methods"], json!(["POST"]));
    assert_eq!(doc["access_control"]["rules"][1]["query"][0][0]["value"], json!("^b'c$"));
    // A rule Authelia's schema would reject is rejected by the check itself, so the check can fail.
    let mut bad = doc.clone();
    bad["access_control"]["rules"][0]["policy"] = json!("allow");
    let r = std::panic::catch_unwind(|| assert_schema_valid(&bad));
    assert!(r.is_err(), "the schema check accepted policy 'allow'");
}

#[test]
fn output_never_depends_on_input_order() {
    let dir = tempfile::tempdir().unwrap();
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(example()).unwrap()).unwrap();
    // The same rules as a list, reversed.
    let mut list: Vec<Value> = doc["rules"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            let mut v = v.clone();
            v["name"] = json!(k);
            v
        })
        .collect();
    list.reverse();
    let reversed = write(
        dir.path(),
        "reversed.json",
        &json!({"default_policy": "deny", "networks": doc["networks"], "rules": list}).to_string(),
    );
    assert_eq!(render(&reversed, "yaml"), render(&example(), "yaml"));
}

#[test]
fn render_writes_the_file_atomically_and_refuses_lint_errors_leaving_it() {
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("access_control.yml");
    let out = bin().arg("render").arg(example()).arg("-o").arg(&out_file).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    let good = std::fs::read_to_string(&out_file).unwrap();
    assert_eq!(good, render(&example(), "yaml"));

    // A looser rule before a stricter one for the same requests: a security bug, refused.
    let shadow = write(
        dir.path(),
        "shadow.json",
        r#"{"rules": {
            "grafana-open": {"priority": 50, "domain": "*.example.com", "policy": "one_factor"},
            "grafana-admins": {"priority": 60, "domain": "grafana.example.com", "policy": "two_factor", "subject": "group:admins"}}}"#,
    );
    let out = bin().arg("render").arg(&shadow).arg("-o").arg(&out_file).output().unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(65), "{stderr}");
    assert!(stdout.is_empty());
    assert!(
        stderr.contains("rule #2 (domain 'grafana.example.com'): is fully shadowed by the looser rule #1 ('grafana-open', priority 50)"),
        "{stderr}"
    );
    assert!(stderr.contains("[rule 'grafana-admins', priority 60]"), "{stderr}");
    assert!(stderr.contains("refusing to render") && stderr.contains("left as it was"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&out_file).unwrap(), good);
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names.len(), 2, "a temporary file was left behind: {names:?}");
}

#[test]
fn bad_input_is_one_clear_line_naming_the_rule_exit_65_nothing_written() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("out.yml");
    std::fs::write(&target, "previous\n").unwrap();
    let rule = |extra: &str| {
        format!(r#"{{"rules": {{"cloud": {{"priority": 50, "domain": "cloud.example.com", {extra}}}}}}}"#)
    };
    let cases: Vec<(&str, String, &str)> = vec![
        ("malformed.json", r#"{"rules": [ {"domain": "a", }"#.into(), "malformed.json: malformed JSON: "),
        ("malformed.yml", "access_control:\n  rules:\n    - domain: [a\n".into(), "malformed.yml: malformed YAML: "),
        (
            "regex.json",
            rule(r#""policy": "one_factor", "resources": ["^/api(/"]"#),
            "rule #1 (domain 'cloud.example.com'): option 'resources' is invalid: error parsing regexp: missing closing ): `^/api(/` [rule 'cloud', priority 50]",
        ),
        (
            "policy.json",
            rule(r#""policy": "allow""#),
            "rule #1 (domain 'cloud.example.com'): option 'policy' must be one of 'bypass', 'one_factor', 'two_factor', or 'deny' but it's configured as 'allow' [rule 'cloud', priority 50]",
        ),
        (
            "cidr.json",
            rule(r#""policy": "one_factor", "networks": "192.168.1.0/33""#),
            "rule #1 (domain 'cloud.example.com'): the network '192.168.1.0/33' is not a valid Group Name, IP, or CIDR notation [rule 'cloud', priority 50]",
        ),
    ];
    for (name, body, expect) in cases {
        let p = write(dir.path(), name, &body);
        for cmd in ["render", "lint"] {
            let mut c = bin();
            c.arg(cmd).arg(&p);
            if cmd == "render" {
                c.arg("-o").arg(&target);
            }
            let out = c.output().unwrap();
            let (stdout, stderr) = text(&out);
            assert_eq!(out.status.code(), Some(65), "{name} {cmd}: {stderr}");
            assert!(stdout.is_empty(), "{name} {cmd}: {stdout}");
            let errors: Vec<&str> =
                stderr.lines().filter(|l| l.starts_with("error: ") && !l.contains("refusing to render")).collect();
            assert_eq!(errors.len(), 1, "{name} {cmd}: {stderr}");
            assert!(errors[0].contains(expect) && errors[0].contains(name), "{name} {cmd}: {stderr}");
        }
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "previous\n", "{name}");
        // explain cannot evaluate such rules either.
        let out = bin().arg("explain").arg(&p).args(["--url", "https://cloud.example.com/"]).output().unwrap();
        assert_eq!(out.status.code(), Some(65), "{name} explain: {:?}", text(&out));
    }
}

#[test]
fn lint_exit_codes_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let out = bin().arg("lint").arg(example()).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));

    let warn = write(
        dir.path(),
        "warn.json",
        r#"{"rules": {
            "photos": {"priority": 55, "domain": "photos.example.com", "policy": "two_factor", "resources": ["/admin", "^/api", "^/api"]},
            "photos-api": {"priority": 56, "domain": "photos.example.com", "policy": "one_factor", "resources": "^/api"},
            "empty": {"priority": 57, "domain": "x.example.com", "policy": "one_factor", "methods": []}}}"#,
    );
    let out = bin().arg("lint").arg(&warn).arg("--json").output().unwrap();
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(3), "{stdout}");
    let doc: Value = serde_json::from_str(&stdout).unwrap();
    let msgs: Vec<(u64, String)> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["rule"].as_u64().unwrap(), f["message"].as_str().unwrap().to_owned()))
        .collect();
    let has = |rule: u64, part: &str| msgs.iter().any(|(r, m)| *r == rule && m.contains(part));
    assert!(has(1, "resource '/admin' is not anchored"), "{msgs:#?}");
    assert!(has(1, "option 'resources' lists '^/api' more than once"), "{msgs:#?}");
    assert!(
        has(1, "priority 55 is the one_factor band (50-64), which does not fit a two_factor rule with resources"),
        "{msgs:#?}"
    );
    assert!(
        has(2, "is fully shadowed by rule #1 ('photos', priority 55) ('two_factor') and never decides"),
        "{msgs:#?}"
    );
    assert!(!has(2, "band"), "{msgs:#?}");
    assert!(has(3, "option 'methods' is an empty list"), "{msgs:#?}");
    assert_eq!(doc["errors"], 0);
    assert_eq!(doc["findings"][0]["name"], "photos");
    assert_eq!(doc["findings"][0]["priority"], 55);

    let out = bin().arg("lint").arg(&warn).arg("--strict").output().unwrap();
    assert_eq!(out.status.code(), Some(65));

    // Bypass trusting identity that anonymous requests "may" have.
    let bypass = write(
        dir.path(),
        "bypass.json",
        r#"{"rules": [
            {"name": "homes", "priority": 0, "domain": "{user}.example.com", "policy": "bypass"},
            {"name": "files", "priority": 1, "domain": "files.example.com", "policy": "bypass", "resources": "^/(?P<User>\\w+)/"}]}"#,
    );
    let out = bin().arg("lint").arg(&bypass).output().unwrap();
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(65), "{stderr}");
    assert!(
        stderr.contains("rule #1 (domain '{user}.example.com'): 'policy' option 'bypass' with the domain"),
        "{stderr}"
    );
    assert!(
        stderr.contains("rule #2 (domain 'files.example.com'): 'policy' option 'bypass' with the resource"),
        "{stderr}"
    );
}

#[test]
fn explain_names_the_deciding_rule_and_anonymous_may_match() {
    let run = |args: &[&str]| {
        let out = bin().arg("explain").arg(example()).args(args).arg("--json").output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
        serde_json::from_str::<Value>(&text(&out).0).unwrap()
    };
    assert_eq!(
        run(&["--url", "https://cloud.example.com/remote.php/dav/files/bob"]),
        json!({"policy": "bypass", "rule": 1, "name": "nextcloud-dav", "priority": 0})
    );
    // Anonymous: the admins-only rule may match, so its level is required before login.
    assert_eq!(run(&["--url", "https://cloud.example.com/settings/admin"])["name"], "nextcloud-admin-settings");
    assert_eq!(
        run(&[
            "--url",
            "https://cloud.example.com/settings/admin",
            "--username",
            "alice",
            "--groups",
            "admins,nextcloud-users"
        ])["policy"],
        "two_factor"
    );
    assert_eq!(
        run(&["--url", "https://cloud.example.com/settings/admin", "--username", "bob", "--groups", "nextcloud-users"])
            ["policy"],
        "deny"
    );
    assert_eq!(
        run(&["--url", "https://photos.example.com/", "--username", "bob", "--ip", "192.168.1.20"]),
        json!({"policy": "one_factor", "rule": 12, "name": "home-lan", "priority": 51})
    );
    assert_eq!(
        run(&["--url", "https://photos.example.com/", "--username", "bob", "--ip", "192.168.1.20", "--method", "POST"]),
        json!({"policy": "deny", "rule": null, "name": null, "priority": null})
    );

    let out = bin().arg("explain").arg(example()).args(["--url", "https://grafana.example.com/d/x"]).output().unwrap();
    let (stdout, _) = text(&out);
    assert!(
        stdout.contains("~ 5  hit    hit      hit   hit    hit     may     two_factor 'grafana-admins', priority 20\n"),
        "{stdout}"
    );
    // Aligned like Authelia's own table: spaces, every column starting at the same place on every line.
    assert!(!stdout.contains('\t'), "{stdout}");
    let table: Vec<&str> = stdout.lines().filter(|l| l.contains(" hit ") || l.contains("Domain")).collect();
    let policy_at = table[0].find("Policy").unwrap();
    assert!(
        table.len() > 5
            && table.iter().all(|l| l[policy_at - 1..].starts_with(' ') && !l[policy_at..].starts_with(' ')),
        "{stdout}"
    );
    assert!(stdout.contains("The policy 'two_factor' from rule #5 ('grafana-admins', priority 20) is required for this request: its subject may match once the user logs in"), "{stdout}");
}

#[test]
fn hash_is_sha256_of_the_files_in_order_and_missing_files_are_bad_input() {
    use sha2::Digest;
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), "configuration.yml", "server:\n  port: 9091\n");
    let b = write(dir.path(), "access_control.yml", "access_control: {}\n");
    let run = |files: &[&Path]| {
        let out = bin().arg("hash").args(files).output().unwrap();
        (out.status.code(), text(&out).0, text(&out).1)
    };
    let (code, ab, _) = run(&[&a, &b]);
    assert_eq!(code, Some(0));
    let expected = hex::encode(sha2::Sha256::digest(b"server:\n  port: 9091\naccess_control: {}\n"));
    assert_eq!(ab, format!("{expected}\n"));
    let (_, ba, _) = run(&[&b, &a]);
    assert_ne!(ab, ba);
    std::fs::write(&b, "access_control: {default_policy: deny}\n").unwrap();
    assert_ne!(run(&[&a, &b]).1, ab);
    let (code, stdout, stderr) = run(&[&a, &dir.path().join("missing.yml")]);
    assert_eq!(code, Some(65));
    assert!(stdout.is_empty() && stderr.contains("missing.yml"), "{stderr}");
}

#[test]
fn authelia_configuration_input_keeps_its_order() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(
        dir.path(),
        "configuration.yml",
        "theme: dark\ndefinitions:\n  network:\n    lan: ['192.168.1.0/24']\naccess_control:\n  default_policy: deny\n  rules:\n    - domain: 'b.example.com'\n      policy: two_factor\n      networks: lan\n    - domain: ['a.example.com']\n      policy: one_factor\n",
    );
    let yaml = render(&cfg, "yaml");
    let b = yaml.find("b.example.com").unwrap();
    let a = yaml.find("a.example.com").unwrap();
    assert!(b < a, "{yaml}");
    assert!(yaml.contains("    # #1\n"), "{yaml}");
    let out = bin()
        .arg("explain")
        .arg(&cfg)
        .args(["--url", "https://b.example.com/", "--ip", "192.168.1.9", "--json"])
        .output()
        .unwrap();
    assert_eq!(serde_json::from_str::<Value>(&text(&out).0).unwrap()["rule"], 1);
}

#[test]
fn render_into_a_missing_directory_names_it_and_claims_nothing() {
    let d = tempfile::tempdir().unwrap();
    let out_dir = d.path().join("authelia");
    let out =
        bin().arg("render").arg(example()).arg("--output").arg(out_dir.join("access-control.yml")).output().unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(78), "{stderr}");
    assert!(stderr.contains(&format!("the directory {} does not exist", out_dir.display())), "{stderr}");
    assert!(!stderr.contains("wrote") && stdout.is_empty(), "{stderr}");
    assert!(!out_dir.exists());
}
