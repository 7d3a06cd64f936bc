//! What Authelia rejects at start-up (in Authelia's words), and what it silently gets wrong: rules that
//! can never decide because an earlier rule always does, bypass rules that trust identity, bands.

use crate::authz::{
    self, IdentityRegex, POLICIES, Policy, descriptor, network_error, network_group_error, query_matcher,
};
use crate::model::{Rule, RuleSet};
use crate::net::IpNet;
use serde::Serialize;
use std::collections::HashSet;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    /// 1-based position in evaluation (rendered) order; None for the top level.
    pub rule: Option<usize>,
    pub name: Option<String>,
    pub priority: Option<i64>,
    pub message: String,
}

impl Finding {
    /// One line: the message, then which rule by name and priority.
    pub fn line(&self) -> String {
        match (&self.name, self.priority) {
            (None, None) => self.message.clone(),
            (Some(n), Some(p)) => format!("{} [rule '{n}', priority {p}]", self.message),
            (Some(n), None) => format!("{} [rule '{n}']", self.message),
            (None, Some(p)) => format!("{} [priority {p}]", self.message),
        }
    }
}

struct Sink<'a> {
    rs: &'a RuleSet,
    out: Vec<Finding>,
}

impl Sink<'_> {
    fn push(&mut self, severity: Severity, rule: Option<usize>, message: String) {
        let r = rule.map(|i| &self.rs.rules[i]);
        self.out.push(Finding {
            severity,
            rule: rule.map(|i| i + 1),
            name: r.and_then(|r| r.name.clone()),
            priority: r.and_then(|r| r.priority),
            message,
        });
    }
    fn error(&mut self, rule: Option<usize>, m: String) {
        self.push(Severity::Error, rule, m)
    }
    fn warn(&mut self, rule: Option<usize>, m: String) {
        self.push(Severity::Warning, rule, m)
    }
}

pub const METHODS: [&str; 16] = [
    "GET",
    "HEAD",
    "POST",
    "PUT",
    "PATCH",
    "DELETE",
    "TRACE",
    "CONNECT",
    "OPTIONS",
    "COPY",
    "LOCK",
    "MKCOL",
    "MOVE",
    "PROPFIND",
    "PROPPATCH",
    "UNLOCK",
];

/// Authelia's `ValidateAccessControl`: the default policy and the named networks.
pub fn authelia_access_control(rs: &RuleSet) -> Vec<Finding> {
    let mut s = Sink { rs, out: vec![] };
    let dp = rs.default_policy.as_deref().unwrap_or("");
    if !dp.is_empty() && Policy::parse(dp).is_none() {
        s.error(
            None,
            format!("access_control: option 'default_policy' must be one of {POLICIES} but it's configured as '{dp}'"),
        );
    }
    for n in &rs.networks {
        for cidr in &n.networks {
            if IpNet::parse(cidr).is_none() {
                s.error(None, network_group_error(&n.name, cidr));
            }
        }
    }
    s.out
}

/// Authelia's `ValidateRules`, in its order and words.
pub fn authelia_rules(rs: &RuleSet) -> Vec<Finding> {
    let mut s = Sink { rs, out: vec![] };
    let dp = rs.default_policy.as_deref().filter(|p| !p.is_empty()).unwrap_or("deny");
    if rs.rules.is_empty() {
        if dp != "one_factor" && dp != "two_factor" {
            s.error(None, format!("access_control: 'default_policy' option '{dp}' is invalid: when no rules are specified it must be 'two_factor' or 'one_factor'"));
        } else {
            s.warn(None, format!("access_control: no rules have been specified so the 'default_policy' of '{dp}' is going to be applied to all requests"));
        }
        return s.out;
    }
    for (i, r) in rs.rules.iter().enumerate() {
        let pos = i + 1;
        let desc = descriptor(pos, r);
        let at = Some(i);
        if r.domain.as_ref().map_or(0, Vec::len) + r.domain_regex.as_ref().map_or(0, Vec::len) == 0 {
            s.error(
                at,
                format!(
                    "access_control: rule {desc}: option 'domain' or 'domain_regex' must be present but are both absent"
                ),
            );
        }
        for (j, d) in r.domain.iter().flatten().enumerate() {
            if d.len() > 1 && d.starts_with('*') && !d[1..].starts_with('.') {
                s.warn(at, format!("access_control: rule #{pos}: domain #{}: domain '{d}' is ineffective and should probably be '*.{}' instead", j + 1, &d[1..]));
            }
        }
        match r.policy.as_deref().unwrap_or("") {
            "" => s.error(at, format!("access_control: rule {desc}: option 'policy' must be present but it's absent")),
            p if Policy::parse(p).is_none() => {
                s.error(at, format!("access_control: rule {desc}: option 'policy' must be one of {POLICIES} but it's configured as '{p}'"))
            }
            _ => {}
        }
        for n in r.networks.iter().flatten() {
            if IpNet::parse(n).is_none() && rs.named_network(n).is_none() {
                s.error(at, network_error(&desc, n));
            }
        }
        for subj in r.subject.iter().flatten().flatten() {
            if !(subj.starts_with("user:") || subj.starts_with("group:") || subj.starts_with("oauth2:client:")) {
                s.error(at, format!("access_control: rule {desc}: 'subject' option '{subj}' is invalid: must start with 'user:', 'group:', or 'oauth2:client:'"));
            } else if let (Some(id), Some(clients)) = (subj.strip_prefix("oauth2:client:"), &rs.oidc_client_ids) {
                if !clients.iter().any(|c| c == id) {
                    s.error(at, format!("access_control: rule {desc}: option 'subject' with value '{subj}' is invalid: the client id '{id}' does not belong to a registered client"));
                }
            }
        }
        if let Some(methods) = &r.methods {
            let invalid: Vec<&str> = methods.iter().map(String::as_str).filter(|m| !METHODS.contains(m)).collect();
            if !invalid.is_empty() {
                s.error(at, format!(
                    "access_control: rule {desc}: option 'methods' must only have the values {} but the values '{}' are present",
                    or_list(&METHODS),
                    invalid.join("', '")
                ));
            }
            let mut seen = HashSet::new();
            let mut dups = vec![];
            for m in methods {
                if !seen.insert(m) && !dups.contains(&m.as_str()) {
                    dups.push(m.as_str());
                }
            }
            if !dups.is_empty() {
                s.error(at, format!("access_control: rule {desc}: option 'methods' must have unique values but the values '{}' are duplicated", dups.join("', '")));
            }
        }
        for q in r.query.iter().flatten().flatten() {
            if let Err(e) = query_matcher(q) {
                s.error(at, format!("access_control: rule {desc}: query: {e}"));
            }
        }
        if r.policy.as_deref() == Some("bypass") {
            if r.subject.as_ref().is_some_and(|s| !s.is_empty()) {
                s.error(at, format!("access_control: rule {desc}: 'policy' option 'bypass' is not supported when 'subject' option is configured: see https://www.authelia.com/c/acl#bypass"));
            }
            if r.domain_regex.iter().flatten().any(|p| IdentityRegex::new(p).is_ok_and(|re| re.has_identity_groups())) {
                s.error(at, format!("access_control: rule {desc}: 'policy' option 'bypass' is not supported when 'domain_regex' option contains the user or group named matches. For more information see: https://www.authelia.com/c/acl-match-concept-2"));
            }
        }
    }
    s.out
}

fn or_list(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|m| format!("'{m}'")).collect();
    match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{}, or {last}", rest.join(", ")),
        _ => quoted.join(""),
    }
}

/// Everything: Authelia's start-up checks, regexes Authelia could not load, and this tool's lint.
pub fn lint(rs: &RuleSet) -> Vec<Finding> {
    let mut out = authelia_access_control(rs);
    out.extend(authelia_rules(rs));
    let mut s = Sink { rs, out };
    if rs.default_policy.as_deref() == Some("bypass") {
        s.warn(None, "access_control: default_policy 'bypass' lets every request no rule matches through without login (Authelia's schema does not allow it)".into());
    }
    for (i, r) in rs.rules.iter().enumerate() {
        lint_rule(&mut s, i, r);
        if let Some(name) = &r.name {
            if let Some(first) = rs.rules[..i].iter().position(|o| o.name.as_ref() == Some(name)) {
                let desc = descriptor(i + 1, r);
                s.warn(Some(i), format!("access_control: rule {desc}: the name '{name}' is also rule #{}'s: findings and comments become ambiguous", first + 1));
            }
        }
    }
    shadowing(&mut s);
    s.out.sort_by_key(|f| (f.rule.unwrap_or(0), std::cmp::Reverse(f.severity)));
    s.out
}

fn lint_rule(s: &mut Sink, i: usize, r: &Rule) {
    let desc = descriptor(i + 1, r);
    let at = Some(i);
    for (field, list) in [("domain_regex", &r.domain_regex), ("resources", &r.resources)] {
        for p in list.iter().flatten() {
            if let Err(e) = IdentityRegex::new(p) {
                s.error(at, authz::regex_error(&desc, field, &e));
            }
        }
    }
    let bypass = r.policy.as_deref() == Some("bypass");
    if bypass {
        for d in r.domain.iter().flatten() {
            let l = d.to_lowercase();
            if l.starts_with("{user}") || l.starts_with("{group}") {
                s.error(at, format!("access_control: rule {desc}: 'policy' option 'bypass' with the domain '{d}': Authelia matches it for every anonymous request, so the bypass is not limited to the user or group"));
            }
        }
        for p in r.resources.iter().flatten() {
            if IdentityRegex::new(p).is_ok_and(|re| re.has_identity_groups()) {
                s.error(at, format!("access_control: rule {desc}: 'policy' option 'bypass' with the resource '{p}' that has User/Group named groups: Authelia matches it for every anonymous request"));
            }
        }
    }
    for p in r.resources.iter().flatten() {
        if !p.starts_with('^') {
            s.warn(at, format!("access_control: rule {desc}: resource '{p}' is not anchored with '^': it matches anywhere in the path and query"));
        }
    }
    if r.domain.is_some() && r.domain_regex.is_some() {
        s.warn(at, format!("access_control: rule {desc}: has both 'domain' and 'domain_regex': Authelia matches either, but its JSON schema allows only one"));
    }
    let lists: [(&str, Option<usize>, Vec<String>); 7] = [
        ("domain", r.domain.as_ref().map(Vec::len), r.domain.iter().flatten().map(|d| d.to_lowercase()).collect()),
        ("domain_regex", r.domain_regex.as_ref().map(Vec::len), r.domain_regex.clone().unwrap_or_default()),
        ("subject", r.subject.as_ref().map(Vec::len), r.subject.iter().flatten().map(|a| a.join(" & ")).collect()),
        ("networks", r.networks.as_ref().map(Vec::len), r.networks.clone().unwrap_or_default()),
        ("resources", r.resources.as_ref().map(Vec::len), r.resources.clone().unwrap_or_default()),
        ("query", r.query.as_ref().map(Vec::len), vec![]),
        ("methods", r.methods.as_ref().map(Vec::len), vec![]),
    ];
    for (field, len, items) in lists {
        if len == Some(0) {
            s.warn(at, format!("access_control: rule {desc}: option '{field}' is an empty list, which Authelia treats as absent: it matches everything"));
        }
        let mut seen = HashSet::new();
        for it in &items {
            if !seen.insert(it) {
                s.warn(at, format!("access_control: rule {desc}: option '{field}' lists '{it}' more than once"));
            }
        }
    }
    if r.subject.iter().flatten().any(Vec::is_empty) {
        s.warn(at, format!("access_control: rule {desc}: option 'subject' has an empty group, which matches everyone"));
    }
    if let (Some(p), Some(policy)) = (r.priority, r.policy.as_deref().and_then(Policy::parse)) {
        if let Some(why) = band_mismatch(p, policy, r) {
            s.warn(at, format!("access_control: rule {desc}: priority {p} {why}"));
        }
    }
}

/// The homelab's priority bands: 0 bypass · 10–19 blanket bypass · 20–49 admin two_factor + deny pairs ·
/// 50–64 one_factor open · 65–79 per-path (resources, subject combinations).
pub fn band_mismatch(p: i64, policy: Policy, r: &Rule) -> Option<String> {
    let per_path = r.resources.as_ref().is_some_and(|v| !v.is_empty());
    let has_subject = r.subject.as_ref().is_some_and(|v| !v.is_empty());
    let (band, fits) = match p {
        0 => ("is the bypass band (0)", policy == Policy::Bypass),
        10..=19 => ("is the blanket bypass band (10-19)", policy == Policy::Bypass && !per_path),
        20..=49 => {
            ("is the admin band (20-49: two_factor and deny pairs)", matches!(policy, Policy::TwoFactor | Policy::Deny))
        }
        50..=64 => ("is the one_factor band (50-64)", policy == Policy::OneFactor),
        65..=79 => ("is the per-path band (65-79: resources and subject combinations)", per_path || has_subject),
        _ => return Some("is outside the bands (0, 10-19, 20-49, 50-64, 65-79)".into()),
    };
    (!fits).then(|| {
        let what = match (per_path, has_subject) {
            (true, _) => format!("a {} rule with resources", policy.as_str()),
            (false, true) => format!("a {} rule with a subject", policy.as_str()),
            _ => format!("a {} rule", policy.as_str()),
        };
        format!("{band}, which does not fit {what}")
    })
}

/// A query matcher as comparable data: operator, key, value.
type QueryKey = (Option<String>, Option<String>, Option<String>);

/// Criteria of a rule, resolved for containment checks; None when something does not parse (lint says so
/// elsewhere) and the rule is left out of shadow analysis.
struct Shape {
    policy: Policy,
    domains: Option<Vec<String>>,
    regexes: Vec<String>,
    subject: Option<Vec<HashSet<String>>>,
    networks: Option<Vec<IpNet>>,
    resources: Option<HashSet<String>>,
    query: Option<Vec<Vec<QueryKey>>>,
    methods: Option<HashSet<String>>,
    key: String,
}

fn shape(rs: &RuleSet, r: &Rule) -> Option<Shape> {
    let non_empty = |v: &Option<Vec<String>>| v.clone().filter(|v| !v.is_empty());
    let domain = non_empty(&r.domain);
    let regexes = r.domain_regex.clone().unwrap_or_default();
    let mut networks = vec![];
    for n in r.networks.iter().flatten() {
        match rs.named_network(n) {
            Some(c) => networks.extend(c.iter().map(|c| IpNet::parse(c)).collect::<Option<Vec<_>>>()?),
            None => networks.push(IpNet::parse(n)?),
        }
    }
    Some(Shape {
        policy: Policy::parse(r.policy.as_deref()?)?,
        domains: if domain.is_none() && regexes.is_empty() {
            None
        } else {
            Some(domain.unwrap_or_default().iter().map(|d| d.to_lowercase()).collect())
        },
        regexes,
        subject: r
            .subject
            .clone()
            .filter(|v| !v.is_empty())
            .map(|v| v.into_iter().map(|a| a.into_iter().collect()).collect()),
        networks: (!networks.is_empty()).then_some(networks),
        resources: non_empty(&r.resources).map(|v| v.into_iter().collect()),
        query: r.query.clone().filter(|v| !v.is_empty()).map(|v| {
            v.into_iter()
                .map(|g| g.into_iter().map(|q| (q.operator, q.key, q.value.map(|v| v.to_string()))).collect())
                .collect()
        }),
        methods: non_empty(&r.methods).map(|v| v.into_iter().collect()),
        key: format!(
            "{:?}",
            (&r.domain, &r.domain_regex, &r.policy, &r.subject, &r.networks, &r.resources, &r.query, &r.methods)
        ),
    })
}

/// Does every request `b` matches also match `a`? Conservative: "yes" only when it is certain.
fn covers(a: &Shape, b: &Shape) -> bool {
    let domains = match (&a.domains, &b.domains) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(ad), Some(bd)) => {
            b.regexes.iter().all(|r| a.regexes.contains(r))
                && bd.iter().all(|d| {
                    ad.iter().any(|x| {
                        x == d
                            || (x.starts_with("*.")
                                && !d.starts_with('{')
                                && d.ends_with(&x[1..])
                                && d.len() > x.len() - 1)
                    })
                })
        }
    };
    domains
        && match (&a.subject, &b.subject) {
            (None, _) => true,
            (Some(_), None) => false,
            // Each of b's alternatives requires at least everything one of a's alternatives requires.
            (Some(asub), Some(bsub)) => bsub.iter().all(|ball| asub.iter().any(|aall| aall.is_subset(ball))),
        }
        && match (&a.networks, &b.networks) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(an), Some(bn)) => bn.iter().all(|n| an.iter().any(|x| x.covers(n))),
        }
        && match (&a.resources, &b.resources) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(ar), Some(br)) => br.is_subset(ar),
        }
        && match (&a.query, &b.query) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(aq), Some(bq)) => bq.iter().all(|bg| aq.iter().any(|ag| ag.iter().all(|q| bg.contains(q)))),
        }
        && match (&a.methods, &b.methods) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(am), Some(bm)) => bm.is_subset(am),
        }
}

fn shadowing(s: &mut Sink) {
    let shapes: Vec<Option<Shape>> = s.rs.rules.iter().map(|r| shape(s.rs, r)).collect();
    for (bi, b) in shapes.iter().enumerate() {
        let Some(b) = b else { continue };
        let found =
            shapes[..bi].iter().enumerate().find_map(|(ai, a)| a.as_ref().filter(|a| covers(a, b)).map(|a| (ai, a)));
        let Some((ai, a)) = found else { continue };
        let br = &s.rs.rules[bi];
        let ar = &s.rs.rules[ai];
        let desc = descriptor(bi + 1, br);
        let who = match ar.label() {
            l if l.is_empty() => format!("rule #{}", ai + 1),
            l => format!("rule #{} ({l})", ai + 1),
        };
        if a.key == b.key {
            s.warn(Some(bi), format!("access_control: rule {desc}: duplicates {who} and never decides"));
        } else if a.policy < b.policy {
            s.error(Some(bi), format!(
                "access_control: rule {desc}: is fully shadowed by the looser {who}: every request it would give '{}' gets '{}' instead",
                b.policy.as_str(),
                a.policy.as_str()
            ));
        } else {
            s.warn(
                Some(bi),
                format!(
                    "access_control: rule {desc}: is fully shadowed by {who} ('{}') and never decides",
                    a.policy.as_str()
                ),
            );
        }
    }
}

pub fn has_errors(f: &[Finding]) -> bool {
    f.iter().any(|f| f.severity == Severity::Error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::parse;

    fn findings(rules: &str) -> Vec<(Option<usize>, Severity, String)> {
        let rs = parse("r.json", &format!(r#"{{"default_policy": "deny", "networks": [{{"name": "lan", "networks": ["192.168.0.0/16"]}}], "rules": {rules}}}"#)).unwrap();
        lint(&rs).into_iter().map(|f| (f.rule, f.severity, f.message)).collect()
    }

    fn shadowed(rules: &str) -> Option<Severity> {
        findings(rules).into_iter().find(|(r, _, m)| *r == Some(2) && m.contains("shadowed")).map(|(_, s, _)| s)
    }

    #[test]
    fn wildcards_networks_subjects_and_methods_shadow_only_when_certain() {
        // A wildcard covers deeper hosts, a wider network covers a narrower one.
        let r = r#"[{"domain": "*.example.com", "policy": "one_factor", "networks": "lan"},
                    {"domain": "a.b.example.com", "policy": "two_factor", "networks": "192.168.1.0/24"}]"#;
        assert_eq!(shadowed(r), Some(Severity::Error));
        // Not the apex, not a wider network.
        let r = r#"[{"domain": "*.example.com", "policy": "one_factor"}, {"domain": "example.com", "policy": "two_factor"}]"#;
        assert_eq!(shadowed(r), None);
        let r = r#"[{"domain": "a.example.com", "policy": "one_factor", "networks": "192.168.1.0/24"},
                    {"domain": "a.example.com", "policy": "two_factor", "networks": "lan"}]"#;
        assert_eq!(shadowed(r), None);
        // Subjects: an admin who must also be in users is always a user; a user need not be an admin.
        let r = r#"[{"domain": "a.example.com", "policy": "one_factor", "subject": "group:users"},
                    {"domain": "a.example.com", "policy": "two_factor", "subject": [["group:users", "group:admins"]]}]"#;
        assert_eq!(shadowed(r), Some(Severity::Error));
        let r = r#"[{"domain": "a.example.com", "policy": "one_factor", "subject": "group:admins"},
                    {"domain": "a.example.com", "policy": "two_factor", "subject": "group:users"}]"#;
        assert_eq!(shadowed(r), None);
        // Methods: GET-only rule does not cover all methods; a stricter earlier rule is only a warning.
        let r = r#"[{"domain": "a.example.com", "policy": "bypass", "methods": "GET"}, {"domain": "a.example.com", "policy": "deny"}]"#;
        assert_eq!(shadowed(r), None);
        let r = r#"[{"domain": "a.example.com", "policy": "deny"}, {"domain": "a.example.com", "policy": "bypass", "methods": "GET"}]"#;
        assert_eq!(shadowed(r), Some(Severity::Warning));
    }

    #[test]
    fn identical_rules_are_duplicates() {
        let r = r#"[{"domain": "a.example.com", "policy": "deny"}, {"domain": "a.example.com", "policy": "deny"}]"#;
        let f = findings(r);
        assert!(
            f.iter().any(|(r, s, m)| *r == Some(2) && *s == Severity::Warning && m.contains("duplicates rule #1")),
            "{f:?}"
        );
    }

    #[test]
    fn bands() {
        let rule = |policy: &str, resources: bool| Rule {
            policy: Some(policy.into()),
            resources: resources.then(|| vec!["^/x".to_owned()]),
            ..Rule::default()
        };
        assert_eq!(band_mismatch(0, Policy::Bypass, &rule("bypass", true)), None);
        assert!(band_mismatch(12, Policy::Bypass, &rule("bypass", true)).unwrap().contains("blanket bypass"));
        assert_eq!(band_mismatch(30, Policy::Deny, &rule("deny", false)), None);
        assert!(band_mismatch(55, Policy::TwoFactor, &rule("two_factor", false)).is_some());
        assert_eq!(band_mismatch(70, Policy::TwoFactor, &rule("two_factor", true)), None);
        assert!(band_mismatch(5, Policy::Bypass, &rule("bypass", false)).unwrap().contains("outside the bands"));
    }
}
