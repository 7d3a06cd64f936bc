//! `check-subjects`: every `user:` and `group:` the rules name must exist in the directory, or the rule
//! silently never matches (a typo in an admin group locks the admins out, or lets a later, looser rule decide).

use crate::model::RuleSet;
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    User,
    Group,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::User => "user",
            Kind::Group => "group",
        }
    }
}

/// Each subject the rules name, with the 1-based positions of the rules that name it.
pub fn named_subjects(rs: &RuleSet) -> BTreeMap<(Kind, String), Vec<usize>> {
    let mut out: BTreeMap<(Kind, String), Vec<usize>> = BTreeMap::new();
    for (i, r) in rs.rules.iter().enumerate() {
        for s in r.subject.iter().flatten().flatten() {
            let key = if let Some(u) = s.strip_prefix("user:") {
                (Kind::User, u.to_owned())
            } else if let Some(g) = s.strip_prefix("group:") {
                (Kind::Group, g.to_owned())
            } else {
                continue;
            };
            let v = out.entry(key).or_default();
            if v.last() != Some(&(i + 1)) {
                v.push(i + 1);
            }
        }
    }
    out
}

/// The LDAP filter for one name: `{name}` (or Authelia's `{input}`) replaced by the escaped name.
pub fn filter_for(template: &str, name: &str) -> String {
    let esc = ldap3::ldap_escape(name);
    template.replace("{name}", &esc).replace("{input}", &esc)
}

pub const DEFAULT_USER_FILTER: &str = "(&(objectClass=person)(uid={name}))";
pub const DEFAULT_GROUP_FILTER: &str =
    "(&(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)(objectClass=posixGroup))(cn={name}))";

pub struct Directory {
    conn: ldap3::LdapConn,
    base_dn: String,
}

#[derive(Debug)]
pub enum DirError {
    /// Cannot reach or bind: exit 69.
    Unavailable(String),
    /// The server refused a search (bad filter or base): exit 78.
    Config(String),
}

impl Directory {
    pub fn connect(
        url: &str,
        base_dn: &str,
        bind: Option<(&str, &str)>,
        timeout: Duration,
    ) -> Result<Directory, DirError> {
        let settings = ldap3::LdapConnSettings::new().set_conn_timeout(timeout);
        let mut conn = ldap3::LdapConn::with_settings(settings, url)
            .map_err(|e| DirError::Unavailable(format!("cannot connect to {url}: {e}")))?;
        conn.with_timeout(timeout);
        if let Some((dn, pw)) = bind {
            conn.simple_bind(dn, pw)
                .and_then(|r| r.success())
                .map_err(|e| DirError::Unavailable(format!("bind as {dn} at {url} refused: {e}")))?;
        }
        Ok(Directory { conn, base_dn: base_dn.to_owned() })
    }

    pub fn exists(&mut self, filter: &str) -> Result<bool, DirError> {
        let (entries, _) = self
            .conn
            .search(&self.base_dn, ldap3::Scope::Subtree, filter, vec!["1.1"])
            .map_err(|e| DirError::Unavailable(format!("search {filter} under {}: {e}", self.base_dn)))?
            .success()
            .map_err(|e| match e {
                // No such object: the base DN is wrong, which is configuration, not a missing subject.
                ldap3::LdapError::LdapResult { result } if result.rc == 32 => {
                    DirError::Config(format!("base DN {} does not exist", self.base_dn))
                }
                ldap3::LdapError::LdapResult { result } if result.rc == 50 => DirError::Config(format!(
                    "the directory refused to search under {}: insufficient access rights (bind with --bind-dn?)",
                    self.base_dn
                )),
                other => DirError::Config(format!("search {filter} under {}: {other}", self.base_dn)),
            })?;
        Ok(!entries.is_empty())
    }

    pub fn close(mut self) {
        let _ = self.conn.unbind();
    }
}
