//! Authelia's authorizer: rules compiled into matchers, and the first rule whose criteria all match
//! deciding the required level, with Authelia's anonymous "may match" semantics.

use crate::model::{QueryItem, Rule, RuleSet};
use crate::net::{IpNet, Target, parse_url, query_values};
use regex::Regex;
use std::net::IpAddr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Policy {
    Bypass,
    OneFactor,
    TwoFactor,
    Deny,
}

pub const POLICIES: &str = "'bypass', 'one_factor', 'two_factor', or 'deny'";

impl Policy {
    pub fn parse(s: &str) -> Option<Policy> {
        Some(match s {
            "bypass" => Policy::Bypass,
            "one_factor" => Policy::OneFactor,
            "two_factor" => Policy::TwoFactor,
            "deny" => Policy::Deny,
            _ => return None,
        })
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::Bypass => "bypass",
            Policy::OneFactor => "one_factor",
            Policy::TwoFactor => "two_factor",
            Policy::Deny => "deny",
        }
    }
}

/// Who asks. Anonymous: no username, no groups, no OAuth2 client.
#[derive(Debug, Clone, Default)]
pub struct Subject {
    pub username: Option<String>,
    pub groups: Vec<String>,
    pub client_id: Option<String>,
    pub ip: Option<IpAddr>,
}

impl Subject {
    pub fn is_anonymous(&self) -> bool {
        self.username.as_deref().unwrap_or("").is_empty()
            && self.groups.is_empty()
            && self.client_id.as_deref().unwrap_or("").is_empty()
    }
    fn username(&self) -> &str {
        self.username.as_deref().unwrap_or("")
    }
}

pub struct Request {
    pub target: Target,
    pub method: String,
}

impl Request {
    pub fn new(url: &str, method: &str) -> Result<Request, String> {
        Ok(Request { target: parse_url(url)?, method: method.to_ascii_uppercase() })
    }
}

#[derive(Debug, Clone)]
pub enum DomainMatcher {
    Exact(String),
    /// `*.x`: the suffix `.x`.
    Wildcard(String),
    /// `{user}.x`: the suffix `.x`.
    User(String),
    /// `{group}.x`: the suffix `.x`.
    Group(String),
    Regex(IdentityRegex),
}

/// A regex whose named groups `User` / `Group` must equal the subject's name / one of its groups.
/// Checked (parsed) when loaded, compiled on first use: building a regex's automata costs far more than
/// parsing it, and `explain` usually needs a few of a thousand.
#[derive(Debug, Clone)]
pub struct IdentityRegex {
    pub pattern: String,
    identity_groups: bool,
    /// Shared by clones: rules with the same pattern compile it once.
    compiled: std::sync::Arc<std::sync::OnceLock<Option<Compiled>>>,
}

#[derive(Debug)]
struct Compiled {
    re: Regex,
    user: Option<usize>,
    group: Option<usize>,
}

impl IdentityRegex {
    /// Parse `pattern`; the error is in Go's words where the common cases allow.
    pub fn new(pattern: &str) -> Result<IdentityRegex, String> {
        let ast = regex_syntax::ast::parse::Parser::new().parse(pattern).map_err(|e| short(&e.to_string(), pattern))?;
        regex_syntax::hir::translate::Translator::new()
            .translate(pattern, &ast)
            .map_err(|e| short(&e.to_string(), pattern))?;
        let mut names = vec![];
        capture_names(&ast, &mut names);
        let identity_groups = names.iter().any(|n| n == "User" || n == "Group");
        Ok(IdentityRegex { pattern: pattern.to_owned(), identity_groups, compiled: Default::default() })
    }

    pub fn has_identity_groups(&self) -> bool {
        self.identity_groups
    }

    fn compiled(&self) -> Option<&Compiled> {
        self.compiled
            .get_or_init(|| {
                let re = Regex::new(&self.pattern)
                    .inspect_err(|e| {
                        homey_kit::warn!("regex {:?} does not compile: {e}; it matches nothing", self.pattern)
                    })
                    .ok()?;
                let idx = |n: &str| re.capture_names().position(|c| c == Some(n));
                Some(Compiled { user: idx("User"), group: idx("Group"), re })
            })
            .as_ref()
    }

    pub fn is_match(&self, s: &str) -> bool {
        self.compiled().is_some_and(|c| c.re.is_match(s))
    }

    fn matches(&self, s: &str, subject: &Subject) -> Match {
        let Some(c) = self.compiled() else { return Match::Miss };
        if !self.identity_groups {
            return Match::hit(c.re.is_match(s));
        }
        let Some(caps) = c.re.captures(s) else { return Match::Miss };
        if subject.is_anonymous() {
            return Match::May;
        }
        let user_ok =
            c.user.is_none_or(|i| caps.get(i).is_some_and(|m| m.as_str().eq_ignore_ascii_case(subject.username())));
        let group_ok = c.group.is_none_or(|i| {
            caps.get(i).is_some_and(|m| subject.groups.iter().any(|g| g.eq_ignore_ascii_case(m.as_str())))
        });
        Match::hit(user_ok && group_ok)
    }
}

fn capture_names(ast: &regex_syntax::ast::Ast, out: &mut Vec<String>) {
    use regex_syntax::ast::{Ast, GroupKind};
    match ast {
        Ast::Group(g) => {
            if let GroupKind::CaptureName { name, .. } = &g.kind {
                out.push(name.name.clone());
            }
            capture_names(&g.ast, out);
        }
        Ast::Repetition(r) => capture_names(&r.ast, out),
        Ast::Concat(c) => c.asts.iter().for_each(|a| capture_names(a, out)),
        Ast::Alternation(a) => a.asts.iter().for_each(|a| capture_names(a, out)),
        _ => {}
    }
}

impl DomainMatcher {
    pub fn new(domain: &str) -> DomainMatcher {
        let d = domain.to_lowercase();
        if let Some(rest) = d.strip_prefix('*').filter(|r| r.starts_with('.')) {
            DomainMatcher::Wildcard(rest.to_owned())
        } else if let Some(rest) = d.strip_prefix("{user}") {
            DomainMatcher::User(rest.to_owned())
        } else if let Some(rest) = d.strip_prefix("{group}") {
            DomainMatcher::Group(rest.to_owned())
        } else {
            DomainMatcher::Exact(d)
        }
    }

    pub fn matches(&self, host: &str, subject: &Subject) -> Match {
        let lower = host.to_lowercase();
        match self {
            DomainMatcher::Exact(name) => Match::hit(lower == *name),
            DomainMatcher::Wildcard(suffix) => Match::hit(lower.ends_with(suffix.as_str())),
            // Anonymous: any name before the suffix may turn out to be the user's (or a group's).
            DomainMatcher::User(suffix) | DomainMatcher::Group(suffix) if subject.is_anonymous() => {
                if lower.ends_with(suffix.as_str()) && lower.len() > suffix.len() { Match::May } else { Match::Miss }
            }
            DomainMatcher::User(suffix) => {
                Match::hit(lower == format!("{}{suffix}", subject.username().to_lowercase()))
            }
            DomainMatcher::Group(suffix) => {
                let Some(i) = lower.find('.') else { return Match::Miss };
                Match::hit(lower[i..] == *suffix && subject.groups.iter().any(|g| g.eq_ignore_ascii_case(&lower[..i])))
            }
            DomainMatcher::Regex(r) => r.matches(host, subject),
        }
    }
}

/// How a criterion met a request: `may` only for anonymous requests, where identity decides later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match {
    Hit,
    Miss,
    May,
}

impl Match {
    fn hit(b: bool) -> Match {
        if b { Match::Hit } else { Match::Miss }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Match::Hit => "hit",
            Match::Miss => "miss",
            Match::May => "may",
        }
    }
    /// Any of several alternatives: a hit beats a may beats a miss.
    fn any(items: impl IntoIterator<Item = Match>) -> Match {
        let mut best = Match::Miss;
        for m in items {
            match m {
                Match::Hit => return Match::Hit,
                Match::May => best = Match::May,
                Match::Miss => {}
            }
        }
        best
    }
}

#[derive(Debug, Clone)]
pub enum QueryOp {
    Equal(String),
    NotEqual(String),
    Present,
    Absent,
    Pattern(Regex),
    NotPattern(Regex),
}

#[derive(Debug, Clone)]
pub struct QueryMatcher {
    pub key: String,
    pub op: QueryOp,
}

#[derive(Debug, Clone)]
pub enum SubjectMatcher {
    User(String),
    Group(String),
    Client(String),
}

#[derive(Debug, Clone)]
pub struct CompiledRule {
    pub policy: Policy,
    pub domains: Vec<DomainMatcher>,
    pub resources: Vec<IdentityRegex>,
    pub query: Vec<Vec<QueryMatcher>>,
    pub methods: Vec<String>,
    pub networks: Vec<IpNet>,
    pub subjects: Vec<Vec<SubjectMatcher>>,
}

/// The per-criterion outcome of one rule for one request, as `access-control check-policy` shows it.
#[derive(Debug, Clone, Copy)]
pub struct RuleResult {
    pub domain: Match,
    pub resource: Match,
    pub query: Match,
    pub method: Match,
    pub network: Match,
    pub subject: Match,
}

impl RuleResult {
    pub fn all(&self) -> [Match; 6] {
        [self.domain, self.resource, self.query, self.method, self.network, self.subject]
    }
    /// Every criterion hit or may: this rule decides the required level.
    pub fn matches(&self) -> bool {
        self.all().iter().all(|m| *m != Match::Miss)
    }
    pub fn exact(&self) -> bool {
        self.all().iter().all(|m| *m == Match::Hit)
    }
}

impl CompiledRule {
    pub fn matches(&self, req: &Request, subject: &Subject) -> bool {
        let t = &req.target;
        let ok = |m: Match| m != Match::Miss;
        (self.domains.is_empty() || self.domains.iter().any(|d| ok(d.matches(&t.host, subject))))
            && (self.resources.is_empty() || self.resources.iter().any(|r| ok(r.matches(&t.path, subject))))
            && (self.query.is_empty() || ok(self.query_match(t)))
            && (self.methods.is_empty() || self.methods.contains(&req.method))
            && (self.networks.is_empty() || subject.ip.is_some_and(|ip| self.networks.iter().any(|n| n.contains(ip))))
            && ok(self.subject_match(subject))
    }

    fn query_match(&self, t: &Target) -> Match {
        let values = query_values(&t.raw_query);
        let get = |k: &str| values.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
        Match::hit(self.query.iter().any(|group| {
            group.iter().all(|q| match &q.op {
                QueryOp::Equal(v) => get(&q.key).unwrap_or("") == v,
                QueryOp::NotEqual(v) => get(&q.key).unwrap_or("") != v,
                QueryOp::Present => get(&q.key).is_some(),
                QueryOp::Absent => get(&q.key).is_none(),
                QueryOp::Pattern(re) => re.is_match(get(&q.key).unwrap_or("")),
                QueryOp::NotPattern(re) => !re.is_match(get(&q.key).unwrap_or("")),
            })
        }))
    }

    fn subject_match(&self, subject: &Subject) -> Match {
        if self.subjects.is_empty() {
            Match::Hit
        } else if subject.is_anonymous() {
            Match::May
        } else {
            Match::hit(self.subjects.iter().any(|all| {
                all.iter().all(|s| match s {
                    SubjectMatcher::User(u) => subject.username() == u,
                    SubjectMatcher::Group(g) => subject.groups.contains(g),
                    SubjectMatcher::Client(c) => subject.client_id.as_deref() == Some(c.as_str()),
                })
            }))
        }
    }

    pub fn evaluate(&self, req: &Request, subject: &Subject) -> RuleResult {
        let t = &req.target;
        let domain = if self.domains.is_empty() {
            Match::Hit
        } else {
            Match::any(self.domains.iter().map(|d| d.matches(&t.host, subject)))
        };
        let resource = if self.resources.is_empty() {
            Match::Hit
        } else {
            Match::any(self.resources.iter().map(|r| r.matches(&t.path, subject)))
        };
        let query = if self.query.is_empty() { Match::Hit } else { self.query_match(t) };
        let method = Match::hit(self.methods.is_empty() || self.methods.contains(&req.method));
        let network = Match::hit(
            self.networks.is_empty() || subject.ip.is_some_and(|ip| self.networks.iter().any(|n| n.contains(ip))),
        );
        let subj = self.subject_match(subject);
        RuleResult { domain, resource, query, method, network, subject: subj }
    }
}

pub struct Authorizer {
    pub default_policy: Policy,
    pub rules: Vec<CompiledRule>,
}

/// What decided: the 0-based rule index (None: the default policy) and the required level.
#[derive(Debug, Clone)]
pub struct Decision {
    pub rule: Option<usize>,
    pub policy: Policy,
    pub results: Vec<RuleResult>,
}

impl Authorizer {
    /// `GetRequiredLevel` alone: criteria in Authelia's order, each rule abandoned at its first miss.
    pub fn required_level(&self, req: &Request, subject: &Subject) -> (Option<usize>, Policy) {
        for (i, r) in self.rules.iter().enumerate() {
            if r.matches(req, subject) {
                return (Some(i), r.policy);
            }
        }
        (None, self.default_policy)
    }

    /// `GetRequiredLevel`, plus every rule's criteria for the check-policy table.
    pub fn decide(&self, req: &Request, subject: &Subject) -> Decision {
        let mut results = Vec::with_capacity(self.rules.len());
        let mut decided = None;
        for (i, r) in self.rules.iter().enumerate() {
            let res = r.evaluate(req, subject);
            if decided.is_none() && res.matches() {
                decided = Some(i);
            }
            results.push(res);
        }
        let policy = decided.map_or(self.default_policy, |i| self.rules[i].policy);
        Decision { rule: decided, policy, results }
    }
}

/// A problem that makes a rule impossible to evaluate: (0-based rule index or None for the top level, message).
pub type CompileError = (Option<usize>, String);

/// Build the matchers. Only what Authelia could not even load is an error here (an unknown policy, a bad
/// regex, a network that is neither a name nor an IP); the rest is lint's business, so `explain` can
/// answer for rule sets Authelia's own tests evaluate.
pub fn compile(rs: &RuleSet) -> Result<Authorizer, Vec<CompileError>> {
    let mut errors = vec![];
    let default_policy = match rs.default_policy.as_deref().unwrap_or("") {
        "" => Policy::Deny,
        p => Policy::parse(p).unwrap_or_else(|| {
            errors.push((
                None,
                format!(
                    "access_control: option 'default_policy' must be one of {POLICIES} but it's configured as '{p}'"
                ),
            ));
            Policy::Deny
        }),
    };
    let mut rules = vec![];
    // Admin two_factor + deny pairs repeat their resources: check each pattern once.
    let mut checked: std::collections::HashMap<&str, Result<IdentityRegex, String>> = std::collections::HashMap::new();
    for (i, r) in rs.rules.iter().enumerate() {
        let mut push = |m: String| errors.push((Some(i), m));
        let desc = descriptor(i + 1, r);
        let policy = match r.policy.as_deref() {
            None | Some("") => {
                push(format!("access_control: rule {desc}: option 'policy' must be present but it's absent"));
                Policy::Deny
            }
            Some(p) => Policy::parse(p).unwrap_or_else(|| {
                push(format!("access_control: rule {desc}: option 'policy' must be one of {POLICIES} but it's configured as '{p}'"));
                Policy::Deny
            }),
        };
        let mut domains: Vec<DomainMatcher> = r.domain.iter().flatten().map(|d| DomainMatcher::new(d)).collect();
        let mut resources = vec![];
        for (field, list) in [("domain_regex", &r.domain_regex), ("resources", &r.resources)] {
            for p in list.iter().flatten() {
                match checked.entry(p).or_insert_with(|| IdentityRegex::new(p)).clone() {
                    Ok(re) if field == "domain_regex" => domains.push(DomainMatcher::Regex(re)),
                    Ok(re) => resources.push(re),
                    Err(e) => push(regex_error(&desc, field, &e)),
                }
            }
        }
        let mut networks = vec![];
        for n in r.networks.iter().flatten() {
            match rs.named_network(n) {
                Some(cidrs) => networks.extend(cidrs.iter().filter_map(|c| IpNet::parse(c))),
                None => match IpNet::parse(n) {
                    Some(net) => networks.push(net),
                    None => push(network_error(&desc, n)),
                },
            }
        }
        let mut query = vec![];
        for group in r.query.iter().flatten() {
            let mut g = vec![];
            for q in group {
                match query_matcher(q) {
                    Ok(m) => g.push(m),
                    Err(e) => push(format!("access_control: rule {desc}: query: {e}")),
                }
            }
            query.push(g);
        }
        let subjects = r
            .subject
            .iter()
            .flatten()
            .map(|all| {
                all.iter()
                    .filter_map(|s| {
                        if let Some(u) = s.strip_prefix("user:") {
                            Some(SubjectMatcher::User(u.to_owned()))
                        } else if let Some(g) = s.strip_prefix("group:") {
                            Some(SubjectMatcher::Group(g.to_owned()))
                        } else {
                            s.strip_prefix("oauth2:client:").map(|c| SubjectMatcher::Client(c.to_owned()))
                        }
                    })
                    .collect()
            })
            .collect();
        rules.push(CompiledRule {
            policy,
            domains,
            resources,
            query,
            methods: r.methods.clone().unwrap_or_default(),
            networks,
            subjects,
        });
    }
    for n in &rs.networks {
        for cidr in &n.networks {
            if IpNet::parse(cidr).is_none() {
                errors.push((None, network_group_error(&n.name, cidr)));
            }
        }
    }
    if errors.is_empty() { Ok(Authorizer { default_policy, rules }) } else { Err(errors) }
}

/// Authelia's rule descriptor in messages: `#3` or `#3 (domain 'a.example.com')`.
pub fn descriptor(position: usize, r: &Rule) -> String {
    match &r.domain {
        Some(d) if !d.is_empty() => format!("#{position} (domain '{}')", d.join(",")),
        _ => format!("#{position}"),
    }
}

pub fn regex_error(desc: &str, field: &str, why: &str) -> String {
    format!("access_control: rule {desc}: option '{field}' is invalid: error parsing regexp: {why}")
}

pub fn network_error(desc: &str, n: &str) -> String {
    format!("access_control: rule {desc}: the network '{n}' is not a valid Group Name, IP, or CIDR notation")
}

pub fn network_group_error(name: &str, n: &str) -> String {
    format!(
        "access_control: networks: network group '{name}' is invalid: the network '{n}' is not a valid IP or CIDR notation"
    )
}

pub const QUERY_OPERATORS: &str = "'present', 'absent', 'equal', 'not equal', 'pattern', or 'not pattern'";

/// One query matcher, with Authelia's defaults (key only: present; key and value: equal) and messages.
pub fn query_matcher(q: &QueryItem) -> Result<QueryMatcher, String> {
    let key = q.key.clone().filter(|k| !k.is_empty()).ok_or("option 'key' is required but it's absent")?;
    let value = match &q.value {
        None => None,
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(v) => return Err(format!("option 'value' is invalid: expected type was string but got {}", go_type(v))),
    };
    let op = match q.operator.as_deref().unwrap_or("") {
        "" if value.as_deref().unwrap_or("").is_empty() => "present",
        "" => "equal",
        o => o,
    };
    let need = |v: Option<String>| {
        v.ok_or(format!("option 'value' must be present when the option 'operator' is '{op}' but it's absent"))
    };
    let pattern = |v: String| {
        IdentityRegex::new(&v).map_err(|e| format!("option 'value' is invalid: error parsing regexp: {e}"))?;
        Regex::new(&v).map_err(|e| format!("option 'value' is invalid: {e}"))
    };
    Ok(QueryMatcher {
        op: match op.to_lowercase().as_str() {
            "equal" => QueryOp::Equal(need(value)?),
            "not equal" => QueryOp::NotEqual(need(value)?),
            "present" | "absent" if !value.as_deref().unwrap_or("").is_empty() => {
                return Err(format!(
                    "option 'value' must not be present when the option 'operator' is '{op}' but it's present"
                ));
            }
            "present" => QueryOp::Present,
            "absent" => QueryOp::Absent,
            "pattern" => QueryOp::Pattern(pattern(need(value)?)?),
            "not pattern" => QueryOp::NotPattern(pattern(need(value)?)?),
            _ => {
                return Err(format!(
                    "option 'operator' must be one of {QUERY_OPERATORS} but it's configured as '{op}'"
                ));
            }
        },
        key,
    })
}

fn go_type(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Number(n) if n.is_i64() || n.is_u64() => "int",
        serde_json::Value::Number(_) => "float64",
        serde_json::Value::Bool(_) => "bool",
        serde_json::Value::Array(_) => "[]interface {}",
        serde_json::Value::Object(_) => "map[string]interface {}",
        _ => "string",
    }
}

/// A regex syntax error in Go's words where the common cases allow it, else the regex crate's.
pub fn short(error: &str, pattern: &str) -> String {
    let text = error.lines().last().unwrap_or(error).trim_start_matches("error: ");
    if text.contains("unclosed group") {
        format!("missing closing ): `{pattern}`")
    } else if text.contains("unopened group") {
        format!("unexpected ): `{pattern}`")
    } else {
        format!("{text}: `{pattern}`")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anonymous_user_wildcard_may_match_longer_host_only() {
        let anon = Subject::default();
        let m = DomainMatcher::User(".example.com".into());
        assert_eq!(m.matches("bob.Example.com", &anon), Match::May);
        assert_eq!(m.matches(".example.com", &anon), Match::Miss);
        let bob = Subject { username: Some("Bob".into()), ..Subject::default() };
        assert_eq!(m.matches("bob.example.com", &bob), Match::Hit);
        assert_eq!(m.matches("alice.example.com", &bob), Match::Miss);
    }
}
