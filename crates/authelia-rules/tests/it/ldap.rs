//! check-subjects against a real OpenLDAP slapd that the test starts (temp dir, loopback), laid out as the
//! homelab's directory: people under ou=people, groups (groupOfNames) under ou=groups.

use super::{bin, text};
use std::path::{Path, PathBuf};
use test_support::slapd::Directory;

const BASE: &str = "dc=example,dc=com";
const ROOT_DN: &str = "cn=admin,dc=example,dc=com";

const LDIF: &str = "dn: dc=example,dc=com
objectClass: top
objectClass: dcObject
objectClass: organization
o: example
dc: example

dn: ou=people,dc=example,dc=com
objectClass: organizationalUnit
ou: people

dn: ou=groups,dc=example,dc=com
objectClass: organizationalUnit
ou: groups

dn: uid=alice,ou=people,dc=example,dc=com
objectClass: inetOrgPerson
uid: alice
cn: Alice
sn: Admin
mail: alice@example.com

dn: uid=bob,ou=people,dc=example,dc=com
objectClass: inetOrgPerson
uid: bob
cn: Bob
sn: User
mail: bob@example.com

dn: cn=admins,ou=groups,dc=example,dc=com
objectClass: groupOfNames
cn: admins
member: uid=alice,ou=people,dc=example,dc=com

dn: cn=nextcloud-users,ou=groups,dc=example,dc=com
objectClass: groupOfNames
cn: nextcloud-users
member: uid=alice,ou=people,dc=example,dc=com
member: uid=bob,ou=people,dc=example,dc=com
";

/// Anonymous users may only bind, so a search without credentials is refused, as on a hardened directory.
fn start_slapd() -> Slapd {
    let dir = tempfile::tempdir().unwrap();
    let acl = format!("access to * by dn.exact=\"{ROOT_DN}\" write by users read by anonymous auth");
    let directory = Directory { suffix: BASE, root_dn: ROOT_DN, root_pw: "adminpw", acl: Some(&acl), ldif: LDIF };
    let server = test_support::slapd::Slapd::start(dir.path(), &directory);
    Slapd { server, _dir: dir }
}

/// The server and the temp dir it lives in, dropped together.
struct Slapd {
    server: test_support::slapd::Slapd,
    _dir: tempfile::TempDir,
}

impl std::ops::Deref for Slapd {
    type Target = test_support::slapd::Slapd;
    fn deref(&self) -> &Self::Target {
        &self.server
    }
}

fn write_secret(dir: &Path, name: &str, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    p
}

fn rules(dir: &Path) -> PathBuf {
    let p = dir.join("rules.json");
    std::fs::write(
        &p,
        r#"{"default_policy": "deny", "rules": {
          "nextcloud-admin": {"priority": 20, "domain": "cloud.example.com", "policy": "two_factor", "subject": ["group:admins", "user:alice"], "resources": "^/settings/admin"},
          "nextcloud-admin-deny": {"priority": 21, "domain": "cloud.example.com", "policy": "deny", "resources": "^/settings/admin"},
          "family-photos": {"priority": 65, "domain": "photos.example.com", "policy": "one_factor", "subject": [["group:family", "user:carol"], ["group:nextcloud-users"]]},
          "cloud": {"priority": 50, "domain": "cloud.example.com", "policy": "one_factor", "subject": ["user:bob", "oauth2:client:nextcloud"]}
        }}"#,
    )
    .unwrap();
    p
}

#[test]
fn check_subjects_lists_the_missing_user_and_group_and_fails() {
    let slapd = start_slapd();
    let work = tempfile::tempdir().unwrap();
    let pw = write_secret(work.path(), "bind-password", "adminpw\n");
    let out = bin()
        .arg("check-subjects")
        .arg(rules(work.path()))
        .args(["--ldap-url", &slapd.url, "--base-dn", BASE, "--bind-dn", ROOT_DN, "--bind-password-file"])
        .arg(&pw)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert_eq!(
        stdout,
        "missing user 'carol' (named by rule #4 ('family-photos', priority 65))\n\
         missing group 'family' (named by rule #4 ('family-photos', priority 65))\n"
    );
    assert!(stderr.contains("6 subjects checked") && stderr.contains("2 missing"), "{stderr}");
    assert!(!stderr.contains("adminpw") && !stdout.contains("adminpw"));
}

#[test]
fn check_subjects_passes_when_all_exist_and_a_refused_anonymous_search_is_not_missing() {
    let slapd = start_slapd();
    let work = tempfile::tempdir().unwrap();
    let p = work.path().join("ok.json");
    std::fs::write(&p, r#"{"rules": [{"domain": "a.example.com", "policy": "two_factor", "subject": [["group:admins", "user:alice"], ["user:bob"]]}]}"#).unwrap();
    let out = bin().arg("check-subjects").arg(&p).args(["--ldap-url", &slapd.url, "--base-dn", BASE]).output().unwrap();
    let (stdout, stderr) = text(&out);
    // Anonymous users may only authenticate in this directory: a refused search is not "missing".
    assert_eq!(out.status.code(), Some(78), "{stdout}{stderr}");
    assert!(stderr.contains("insufficient access rights (bind with --bind-dn?)"), "{stderr}");
    assert_eq!(stdout, "");
    let out = bin()
        .arg("check-subjects")
        .arg(&p)
        .args(["--ldap-url", &slapd.url, "--base-dn", BASE, "--bind-dn", ROOT_DN])
        .env("AUTHELIA_RULES_BIND_PASSWORD_FILE", write_secret(work.path(), "pw", "adminpw"))
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert_eq!(stdout, "");
}

#[test]
fn wrong_password_and_dead_server_are_unavailable_and_wrong_base_is_config() {
    let slapd = start_slapd();
    let work = tempfile::tempdir().unwrap();
    let rules = rules(work.path());
    let wrong = write_secret(work.path(), "wrong", "not-the-password");
    let run = |url: &str, base: &str, pw: &Path| {
        bin()
            .arg("check-subjects")
            .arg(&rules)
            .args([
                "--ldap-url",
                url,
                "--base-dn",
                base,
                "--bind-dn",
                ROOT_DN,
                "--timeout",
                "5",
                "--bind-password-file",
            ])
            .arg(pw)
            .output()
            .unwrap()
    };
    let out = run(&slapd.url, BASE, &wrong);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(69), "{stderr}");
    assert!(stderr.contains("bind as cn=admin,dc=example,dc=com") && !stderr.contains("not-the-password"), "{stderr}");

    let good = write_secret(work.path(), "good", "adminpw");
    let out = run(&slapd.url, "dc=nowhere,dc=com", &good);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(78), "{stderr}");
    assert!(stderr.contains("base DN dc=nowhere,dc=com does not exist"), "{stderr}");

    let dead = format!("ldap://127.0.0.1:{}", test_support::free_port());
    let out = run(&dead, BASE, &good);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(69), "{stderr}");
    assert!(stderr.contains("cannot connect to"), "{stderr}");
}

#[test]
fn world_readable_password_file_is_refused_before_connecting() {
    use std::os::unix::fs::PermissionsExt;
    let work = tempfile::tempdir().unwrap();
    let pw = work.path().join("pw");
    std::fs::write(&pw, "adminpw").unwrap();
    std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = bin()
        .arg("check-subjects")
        .arg(rules(work.path()))
        .args(["--ldap-url", "ldap://127.0.0.1:1", "--base-dn", BASE, "--bind-dn", ROOT_DN, "--bind-password-file"])
        .arg(&pw)
        .output()
        .unwrap();
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(78), "{stderr}");
    assert!(stderr.contains("0644"), "{stderr}");
}

#[test]
fn a_bind_dn_without_a_password_names_every_place_it_looked() {
    let work = tempfile::tempdir().unwrap();
    let out = bin()
        .arg("check-subjects")
        .arg(rules(work.path()))
        .args(["--ldap-url", "ldap://127.0.0.1:1", "--base-dn", BASE, "--bind-dn", ROOT_DN])
        .env_remove("CREDENTIALS_DIRECTORY")
        .env_remove("AUTHELIA_RULES_BIND_PASSWORD_FILE")
        .output()
        .unwrap();
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(78), "{stderr}");
    for part in [
        "--bind-password-file",
        "$AUTHELIA_RULES_BIND_PASSWORD_FILE",
        "$CREDENTIALS_DIRECTORY/ldap-bind-password",
        // bin() moves the by-hand directory away from the host's /etc/homey/credentials.
        &format!("{}/ldap-bind-password", test_support::NO_HOST_CREDENTIALS.1),
    ] {
        assert!(stderr.contains(part), "{part} missing: {stderr}");
    }
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
}

#[test]
fn a_password_without_a_bind_dn_is_a_usage_error() {
    let work = tempfile::tempdir().unwrap();
    let pw = write_secret(work.path(), "pw", "adminpw");
    let out = bin()
        .arg("check-subjects")
        .arg(rules(work.path()))
        .args(["--ldap-url", "ldap://127.0.0.1:1", "--base-dn", BASE, "--bind-password-file"])
        .arg(&pw)
        .output()
        .unwrap();
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--bind-dn"), "{stderr}");
}
