//! Authelia's own test suite as data (shared/conformance/authelia/cases.json), through the binary.

use super::{bin, cases, text};
use serde_json::{Value, json};

fn write(dir: &std::path::Path, name: &str, v: &Value) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, serde_json::to_string_pretty(v).unwrap()).unwrap();
    p
}

#[test]
fn every_authorizer_case_gives_its_expected_policy_through_explain() {
    let all = cases();
    let list = all["cases"].as_array().unwrap();
    assert!(list.len() >= 196, "{}", list.len());
    let dir = tempfile::tempdir().unwrap();
    let mut failures = vec![];
    for (n, c) in list.iter().enumerate() {
        let rules = write(
            dir.path(),
            &format!("case{n}.json"),
            &json!({"default_policy": c["default_policy"], "networks": c["networks"], "rules": c["rules"]}),
        );
        let r = &c["request"];
        let mut cmd = bin();
        cmd.arg("explain").arg(&rules).arg("--json").args([
            "--url",
            r["url"].as_str().unwrap(),
            "--method",
            r["method"].as_str().unwrap(),
        ]);
        if let Some(u) = r["username"].as_str() {
            cmd.args(["--username", u]);
        }
        let groups: Vec<&str> = r["groups"].as_array().unwrap().iter().map(|g| g.as_str().unwrap()).collect();
        if !groups.is_empty() {
            cmd.arg("--groups").arg(groups.join(","));
        }
        if let Some(ip) = r["ip"].as_str() {
            cmd.args(["--ip", ip]);
        }
        if let Some(id) = r.get("client_id").and_then(Value::as_str) {
            cmd.args(["--client-id", id]);
        }
        let out = cmd.output().unwrap();
        let (stdout, stderr) = text(&out);
        if !out.status.success() {
            failures.push(format!("{}: exit {:?}: {stderr}", c["name"], out.status.code()));
            continue;
        }
        let got: Value = serde_json::from_str(&stdout).unwrap();
        if got["policy"] != c["expected_policy"] || got["rule"] != c["derived_matched_rule"] {
            failures.push(format!(
                "{}: got {got}, expected {} from rule {}",
                c["name"], c["expected_policy"], c["derived_matched_rule"]
            ));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), list.len(), failures.join("\n"));
}

#[test]
fn path_normalisation_cases() {
    for c in cases()["path_normalization_cases"]["cases"].as_array().unwrap() {
        let t = authelia_rules::net::parse_url(c["url"].as_str().unwrap()).unwrap();
        assert_eq!(t.host, c["domain"].as_str().unwrap(), "{c}");
        assert_eq!(t.path, c["object_path"].as_str().unwrap(), "{c}");
    }
}

#[test]
fn domain_matcher_cases() {
    use authelia_rules::authz::{DomainMatcher, Match, Subject};
    let cs = cases();
    let list = cs["domain_matcher_cases"]["cases"].as_array().unwrap();
    assert!(!list.is_empty());
    for c in list {
        let name = c["matcher_name"].as_str().unwrap().to_owned();
        let m = match c["kind"].as_str().unwrap() {
            "user_wildcard" => DomainMatcher::User(name),
            "group_wildcard" => DomainMatcher::Group(name),
            "wildcard" => DomainMatcher::Wildcard(name),
            _ => DomainMatcher::Exact(name),
        };
        let got = m.matches(c["domain"].as_str().unwrap(), &Subject::default()) != Match::Miss;
        assert_eq!(got, c["expected_match"].as_bool().unwrap(), "{c}");
    }
}

/// The configuration a validation case describes, as an Authelia configuration file.
fn config_of(c: &Value) -> Value {
    let mut doc = json!({"access_control": {"default_policy": c["default_policy"], "rules": c["rules"]}});
    if let Some(ids) = c.get("oidc_client_ids").and_then(Value::as_array) {
        let clients: Vec<Value> = ids.iter().map(|id| json!({"client_id": id})).collect();
        doc["identity_providers"] = json!({"oidc": {"clients": clients}});
    }
    doc
}

#[test]
fn every_validation_case_gives_its_errors_and_warnings() {
    use authelia_rules::validate::{Severity, authelia_access_control, authelia_rules};
    let cs = cases();
    let list = cs["validation_cases"].as_array().unwrap();
    assert!(list.len() >= 18);
    for c in list {
        let rs = authelia_rules::model::from_value("configuration.yml", &config_of(c)).unwrap();
        let findings = match c["validator"].as_str().unwrap() {
            "ValidateAccessControl" => authelia_access_control(&rs),
            _ => authelia_rules(&rs),
        };
        let of =
            |s: Severity| findings.iter().filter(|f| f.severity == s).map(|f| f.message.clone()).collect::<Vec<_>>();
        let strings =
            |k: &str| c[k].as_array().unwrap().iter().map(|e| e.as_str().unwrap().to_owned()).collect::<Vec<_>>();
        let (errors, expected) = (of(Severity::Error), strings("errors"));
        assert_eq!(errors.len(), expected.len(), "{}: {errors:#?}", c["test"]);
        for (got, want) in errors.iter().zip(&expected) {
            if want.contains("error parsing regexp") {
                // Go's RE2 words its syntax errors itself; the part before them is Authelia's.
                let stem = want.split("error parsing regexp:").next().unwrap();
                assert!(got.starts_with(stem), "{}: {got}", c["test"]);
            } else {
                assert_eq!(got, want, "{}", c["test"]);
            }
        }
        assert_eq!(of(Severity::Warning), strings("warnings"), "{}", c["test"]);
    }
}

#[test]
fn lint_reports_every_validation_error_with_exit_65() {
    let cs = cases();
    let dir = tempfile::tempdir().unwrap();
    for (n, c) in cs["validation_cases"].as_array().unwrap().iter().enumerate() {
        if c["validator"] != "ValidateRules" {
            continue;
        }
        let p = write(dir.path(), &format!("v{n}.json"), &config_of(c));
        let out = bin().arg("lint").arg(&p).arg("--json").output().unwrap();
        let (stdout, stderr) = text(&out);
        let doc: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout} {stderr}"));
        let msgs: Vec<&str> =
            doc["findings"].as_array().unwrap().iter().map(|f| f["message"].as_str().unwrap()).collect();
        let expected = c["errors"].as_array().unwrap();
        for e in expected {
            let stem = e.as_str().unwrap().split("error parsing regexp:").next().unwrap();
            assert!(msgs.iter().any(|m| m.starts_with(stem)), "{}: {stem} not in {msgs:#?}", c["test"]);
        }
        let code = out.status.code();
        if expected.is_empty() {
            assert_ne!(code, Some(65), "{}: {stdout}", c["test"]);
        } else {
            assert_eq!(code, Some(65), "{}: {stdout}", c["test"]);
        }
    }
}

#[test]
fn check_policy_cases() {
    let cs = cases();
    let dir = tempfile::tempdir().unwrap();
    for (n, c) in cs["check_policy_cases"]["cases"].as_array().unwrap().iter().enumerate() {
        let p = write(
            dir.path(),
            &format!("cp{n}.json"),
            &json!({"default_policy": c["default_policy"], "rules": c["rules"]}),
        );
        let f = &c["flags"];
        let mut cmd = bin();
        cmd.arg("explain").arg(&p);
        for k in ["url", "method", "username", "groups", "ip"] {
            if let Some(v) = f.get(k).and_then(Value::as_str) {
                cmd.arg(format!("--{k}")).arg(v);
            }
        }
        let out = cmd.output().unwrap();
        let (stdout, stderr) = text(&out);
        if let Some(e) = c.get("expect_error_contains").and_then(Value::as_str) {
            assert_eq!(out.status.code(), Some(2), "{stdout}{stderr}");
            assert!(stderr.contains(e), "{}: {stderr}", c["test"]);
            continue;
        }
        assert!(out.status.success(), "{}: {stderr}", c["test"]);
        for want in c["expect_contains"].as_array().unwrap() {
            assert!(stdout.contains(want.as_str().unwrap()), "{}: {want} not in\n{stdout}", c["test"]);
        }
    }
}

#[test]
fn the_table_and_the_json_answer_agree_on_every_case() {
    use authelia_rules::authz::{Request, Subject, compile};
    for c in cases()["cases"].as_array().unwrap() {
        let rs = authelia_rules::model::from_value(
            "case.json",
            &json!({"default_policy": c["default_policy"], "rules": c["rules"]}),
        )
        .unwrap();
        let az = compile(&rs).unwrap_or_else(|e| panic!("{}: {e:?}", c["name"]));
        let r = &c["request"];
        let req = Request::new(r["url"].as_str().unwrap(), r["method"].as_str().unwrap()).unwrap();
        let subject = Subject {
            username: r["username"].as_str().map(str::to_owned),
            groups: r["groups"].as_array().unwrap().iter().map(|g| g.as_str().unwrap().to_owned()).collect(),
            client_id: r.get("client_id").and_then(Value::as_str).map(str::to_owned),
            ip: r["ip"].as_str().map(|ip| ip.parse().unwrap()),
        };
        let d = az.decide(&req, &subject);
        assert_eq!((d.rule, d.policy), az.required_level(&req, &subject), "{}", c["name"]);
        assert_eq!(d.policy.as_str(), c["expected_policy"].as_str().unwrap(), "{}", c["name"]);
    }
}
