//! The authelia-rules part of the demo: render the example rules as Nix would at build time, lint them,
//! ask who gets in where, catch a misplaced rule, hash the config, and check the subjects against a
//! throw-away OpenLDAP slapd on loopback.

use super::Ctx;
use crate::util::have;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn run(ctx: &Ctx) -> anyhow::Result<()> {
    let rules = ctx.dir.join("access-rules.json");
    std::fs::copy(ctx.examples().join("access-rules.json"), &rules)?;
    let tool = || {
        let mut c = ctx.tool("authelia-rules");
        c.env_remove("JOURNAL_STREAM");
        c
    };
    ctx.show(tool().args(["render", "access-rules.json", "-o", "access_control.yml"]))?;
    println!(
        "{}",
        std::fs::read_to_string(ctx.dir.join("access_control.yml"))?.lines().take(24).collect::<Vec<_>>().join("\n")
    );
    println!("  …");
    ctx.show(tool().args(["lint", "access-rules.json"]))?;
    ctx.show(tool().args(["explain", "access-rules.json", "--url", "https://cloud.example.com/settings/admin"]))?;
    ctx.show(tool().args([
        "explain",
        "access-rules.json",
        "--url",
        "https://cloud.example.com/settings/admin",
        "--username",
        "bob",
        "--groups",
        "nextcloud-users",
        "--json",
    ]))?;

    // A module author adds a two_factor rule in the one_factor band: the LAN wildcard before it opens it.
    let mut doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&rules)?)?;
    doc["rules"]["photos-two-factor"] = serde_json::json!({
        "priority": 60, "domain": "photos.example.com", "policy": "two_factor", "networks": ["lan"], "methods": ["GET"]
    });
    std::fs::write(ctx.dir.join("misplaced.json"), serde_json::to_string_pretty(&doc)?)?;
    ctx.show(tool().args(["lint", "misplaced.json"]))?;
    ctx.show(tool().args(["render", "misplaced.json", "-o", "access_control.yml"]))?;

    std::fs::write(ctx.dir.join("configuration.yml"), "server:\n  address: 'tcp://:9091'\n")?;
    ctx.show(tool().args(["hash", "configuration.yml", "access_control.yml"]))?;

    if !have("slapd") || !have("ldapadd") {
        println!("\n(slapd/ldapadd not installed: skipping check-subjects)");
        return Ok(());
    }
    let (mut slapd, url) = start_slapd(ctx)?;
    let pw = ctx.dir.join("bind-password");
    std::fs::write(&pw, "demo-admin-pw\n")?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o600))?;
    let r = ctx.show(tool().args([
        "check-subjects",
        "access-rules.json",
        "--ldap-url",
        &url,
        "--base-dn",
        "dc=example,dc=com",
        "--bind-dn",
        "cn=admin,dc=example,dc=com",
        "--bind-password-file",
        "bind-password",
    ]));
    let _ = slapd.kill();
    let _ = slapd.wait();
    r?;
    Ok(())
}

/// A directory shaped like the homelab's, missing the group `nextcloud-users` the rules name.
fn start_slapd(ctx: &Ctx) -> anyhow::Result<(Child, String)> {
    let d = ctx.dir.join("slapd");
    std::fs::create_dir_all(d.join("db"))?;
    std::fs::write(
        d.join("slapd.conf"),
        format!(
            "include /etc/ldap/schema/core.schema\ninclude /etc/ldap/schema/cosine.schema\n\
             include /etc/ldap/schema/inetorgperson.schema\nmodulepath /usr/lib/ldap\nmoduleload back_mdb\n\
             pidfile {d}/slapd.pid\ndatabase mdb\nmaxsize 10485760\nsuffix \"dc=example,dc=com\"\n\
             rootdn \"cn=admin,dc=example,dc=com\"\nrootpw demo-admin-pw\ndirectory {d}/db\n",
            d = d.display()
        ),
    )?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let url = format!("ldap://127.0.0.1:{port}");
    let child = Command::new("slapd")
        .args(["-d", "0", "-f"])
        .arg(d.join("slapd.conf"))
        .args(["-h", &format!("{url}/")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        anyhow::ensure!(Instant::now() < deadline, "slapd did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut ldif = String::from(
        "dn: dc=example,dc=com\nobjectClass: dcObject\nobjectClass: organization\no: example\ndc: example\n\n\
         dn: ou=people,dc=example,dc=com\nobjectClass: organizationalUnit\nou: people\n\n\
         dn: ou=groups,dc=example,dc=com\nobjectClass: organizationalUnit\nou: groups\n\n",
    );
    for u in ["alice", "bob"] {
        ldif.push_str(&format!(
            "dn: uid={u},ou=people,dc=example,dc=com\nobjectClass: inetOrgPerson\nuid: {u}\ncn: {u}\nsn: {u}\n\n"
        ));
    }
    ldif.push_str("dn: cn=admins,ou=groups,dc=example,dc=com\nobjectClass: groupOfNames\ncn: admins\nmember: uid=alice,ou=people,dc=example,dc=com\n");
    std::fs::write(d.join("people.ldif"), ldif)?;
    std::fs::write(d.join("rootpw"), "demo-admin-pw")?;
    println!("\n(a throw-away slapd at {url} with users alice, bob and the group admins)");
    let out = Command::new("ldapadd")
        .args(["-x", "-H", &url, "-D", "cn=admin,dc=example,dc=com", "-y"])
        .arg(d.join("rootpw"))
        .arg("-f")
        .arg(d.join("people.ldif"))
        .output()?;
    anyhow::ensure!(out.status.success(), "ldapadd: {}", String::from_utf8_lossy(&out.stderr));
    Ok((child, url))
}
