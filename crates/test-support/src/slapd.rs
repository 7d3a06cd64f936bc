//! A real OpenLDAP slapd for tests: its own config and database in a temp dir, the tree loaded with
//! slapadd before it starts, listening on a free loopback port. Killed when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// What the directory holds and who administers it.
#[derive(Debug, Clone, Copy)]
pub struct Directory<'a> {
    pub suffix: &'a str,
    pub root_dn: &'a str,
    pub root_pw: &'a str,
    /// An `access to …` line; `None` keeps slapd's default (everyone may read).
    pub acl: Option<&'a str>,
    pub ldif: &'a str,
}

pub struct Slapd {
    child: Child,
    pub url: String,
    pub port: u16,
    pub conf: PathBuf,
}

/// Write `dir/NAME.conf` and an empty database directory for `d` (the LDIF is not loaded).
pub fn write_conf(dir: &Path, name: &str, d: &Directory) -> PathBuf {
    let db = dir.join(format!("{name}-db"));
    std::fs::create_dir_all(&db).unwrap();
    let conf = dir.join(format!("{name}.conf"));
    std::fs::write(
        &conf,
        format!(
            "include /etc/ldap/schema/core.schema\ninclude /etc/ldap/schema/cosine.schema\n\
             include /etc/ldap/schema/nis.schema\ninclude /etc/ldap/schema/inetorgperson.schema\n\
             modulepath /usr/lib/ldap\nmoduleload back_mdb\npidfile {dir}/{name}.pid\n\
             database mdb\nmaxsize 10485760\nsuffix \"{suffix}\"\nrootdn \"{root_dn}\"\nrootpw {root_pw}\n\
             directory {db}\n{acl}\n",
            dir = dir.display(),
            db = db.display(),
            suffix = d.suffix,
            root_dn = d.root_dn,
            root_pw = d.root_pw,
            acl = d.acl.unwrap_or(""),
        ),
    )
    .unwrap();
    conf
}

impl Slapd {
    pub fn start(dir: &Path, d: &Directory) -> Slapd {
        let conf = write_conf(dir, "slapd", d);
        let ldif = dir.join("slapd-tree.ldif");
        std::fs::write(&ldif, d.ldif).unwrap();
        let out = Command::new("/usr/sbin/slapadd")
            .arg("-f")
            .arg(&conf)
            .arg("-l")
            .arg(&ldif)
            .output()
            .expect("slapadd (Debian package slapd) must be installed");
        assert!(out.status.success(), "slapadd: {}", String::from_utf8_lossy(&out.stderr));
        // Another test may take the free port between our probe and slapd's bind: then try another.
        for _ in 0..3 {
            let port = crate::free_port();
            let url = format!("ldap://127.0.0.1:{port}");
            let mut child = Command::new("/usr/sbin/slapd")
                .arg("-f")
                .arg(&conf)
                .args(["-h", &format!("{url}/"), "-d", "0"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("slapd (Debian package slapd) must be installed");
            // The deadline only guards against a hang; it asserts nothing about speed.
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline && child.try_wait().unwrap().is_none() {
                if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Slapd { child, url, port, conf };
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("slapd did not start listening");
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
