//! The input, read into one shape: the rules file Nix writes (priorities, maybe an attrset of rules) or an
//! existing Authelia configuration (rules in their order). Only the shape is checked here; what Authelia
//! would reject is [`crate::validate`]'s job, so a lint can report every problem at once.

use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

/// A shape error in the input: the file, where in it, what is wrong. Always exit 65.
#[derive(Debug)]
pub struct InputError(pub String);

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InputError {}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceKind {
    /// The JSON file Nix writes from `accessControlRules`.
    RulesFile,
    /// An Authelia configuration with an `access_control` section.
    AutheliaConfig,
}

#[derive(Debug, Clone, PartialEq)]
pub struct QueryItem {
    pub operator: Option<String>,
    pub key: Option<String>,
    pub value: Option<Value>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rule {
    pub name: Option<String>,
    pub priority: Option<i64>,
    /// 0-based position in the input, the last tie-breaker.
    pub input_index: usize,
    pub domain: Option<Vec<String>>,
    pub domain_regex: Option<Vec<String>>,
    pub policy: Option<String>,
    /// Outer list OR, inner list AND.
    pub subject: Option<Vec<Vec<String>>>,
    pub networks: Option<Vec<String>>,
    pub resources: Option<Vec<String>>,
    /// Outer list OR, inner list AND.
    pub query: Option<Vec<Vec<QueryItem>>>,
    pub methods: Option<Vec<String>>,
}

impl Rule {
    /// How findings name a rule besides its position: `'nextcloud-admin', priority 20`.
    pub fn label(&self) -> String {
        match (&self.name, self.priority) {
            (Some(n), Some(p)) => format!("'{n}', priority {p}"),
            (Some(n), None) => format!("'{n}'"),
            (None, Some(p)) => format!("priority {p}"),
            (None, None) => String::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Network {
    pub name: String,
    pub networks: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RuleSet {
    pub kind: SourceKind,
    pub default_policy: Option<String>,
    /// `access_control.networks` (legacy named networks).
    pub networks: Vec<Network>,
    /// `definitions.network` (v4.39), also usable by name in rules.
    pub definitions: BTreeMap<String, Vec<String>>,
    /// In evaluation order: sorted by priority, name, input order.
    pub rules: Vec<Rule>,
    /// Registered OpenID Connect clients, when the input says (an Authelia configuration does).
    pub oidc_client_ids: Option<Vec<String>>,
}

impl RuleSet {
    /// The CIDRs of a named network, when `name` is one.
    pub fn named_network(&self, name: &str) -> Option<Vec<&str>> {
        let mut found: Option<Vec<&str>> = None;
        for n in self.networks.iter().filter(|n| n.name == name) {
            found.get_or_insert_with(Vec::new).extend(n.networks.iter().map(String::as_str));
        }
        if let Some(d) = self.definitions.get(name) {
            found.get_or_insert_with(Vec::new).extend(d.iter().map(String::as_str));
        }
        found
    }
}

const RULE_KEYS: &[&str] =
    &["domain", "domain_regex", "policy", "subject", "networks", "resources", "query", "methods"];

/// Read a rules file or an Authelia configuration from `path`.
pub fn load(path: &Path) -> Result<RuleSet, InputError> {
    let text = std::fs::read_to_string(path).map_err(|e| InputError(format!("{}: {e}", path.display())))?;
    parse(&path.display().to_string(), &text)
}

/// Parse `text`: JSON, or YAML when it is not JSON (YAML is how Authelia configurations are usually written).
pub fn parse(file: &str, text: &str) -> Result<RuleSet, InputError> {
    let yaml_by_name = file.ends_with(".yml") || file.ends_with(".yaml");
    let doc: Value = if yaml_by_name || !text.trim_start().starts_with(['{', '[']) {
        serde_yaml_ng::from_str(text).map_err(|e| InputError(format!("{file}: malformed YAML: {e}")))?
    } else {
        serde_json::from_str(text).map_err(|e| InputError(format!("{file}: malformed JSON: {e}")))?
    };
    from_value(file, &doc)
}

pub fn from_value(file: &str, doc: &Value) -> Result<RuleSet, InputError> {
    let top = doc.as_object().ok_or_else(|| InputError(format!("{file}: expected an object at the top level")))?;
    if let Some(ac) = top.get("access_control") { authelia_config(file, top, ac) } else { rules_file(file, top) }
}

fn err<T>(msg: String) -> Result<T, InputError> {
    Err(InputError(msg))
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn rules_file(file: &str, top: &serde_json::Map<String, Value>) -> Result<RuleSet, InputError> {
    for k in top.keys() {
        if !["default_policy", "networks", "rules"].contains(&k.as_str()) {
            return err(format!("{file}: unknown top-level key '{k}' (expected default_policy, networks, rules)"));
        }
    }
    let default_policy = opt_string(file, "default_policy", top.get("default_policy"))?;
    let networks = networks(file, top.get("networks"), false)?;
    let mut rules = vec![];
    match top.get("rules") {
        None | Some(Value::Null) => {}
        Some(Value::Array(list)) => {
            for (i, r) in list.iter().enumerate() {
                rules.push(rule(file, &format!("rules[{i}]"), i, None, r, false)?);
            }
        }
        Some(Value::Object(map)) => {
            for (i, (key, r)) in map.iter().enumerate() {
                rules.push(rule(file, &format!("rules.{key}"), i, Some(key), r, false)?);
            }
        }
        Some(other) => {
            return err(format!(
                "{file}: 'rules' must be a list or an object keyed by rule name, not {}",
                type_name(other)
            ));
        }
    }
    let rules = order(file, rules)?;
    Ok(RuleSet {
        kind: SourceKind::RulesFile,
        default_policy,
        networks,
        definitions: BTreeMap::new(),
        rules,
        oidc_client_ids: None,
    })
}

fn authelia_config(file: &str, top: &serde_json::Map<String, Value>, ac: &Value) -> Result<RuleSet, InputError> {
    let ac = match ac {
        Value::Object(m) => m.clone(),
        Value::Null => serde_json::Map::new(),
        other => return err(format!("{file}: 'access_control' must be an object, not {}", type_name(other))),
    };
    for k in ac.keys() {
        if !["default_policy", "networks", "rules"].contains(&k.as_str()) {
            return err(format!("{file}: access_control: unknown key '{k}'"));
        }
    }
    let default_policy = opt_string(file, "access_control.default_policy", ac.get("default_policy"))?;
    let networks = networks(file, ac.get("networks"), true)?;
    let mut definitions = BTreeMap::new();
    if let Some(Value::Object(defs)) = top.get("definitions").and_then(|d| d.get("network")) {
        for (name, v) in defs {
            let list = string_list(file, &format!("definitions.network.{name}"), v, true)?;
            definitions.insert(name.clone(), list);
        }
    }
    let mut rules = vec![];
    match ac.get("rules") {
        None | Some(Value::Null) => {}
        Some(Value::Array(list)) => {
            for (i, r) in list.iter().enumerate() {
                rules.push(rule(file, &format!("access_control.rules[{i}]"), i, None, r, true)?);
            }
        }
        Some(other) => return err(format!("{file}: access_control.rules must be a list, not {}", type_name(other))),
    }
    let oidc_client_ids = Some(
        top.get("identity_providers")
            .and_then(|i| i.get("oidc"))
            .and_then(|o| o.get("clients"))
            .and_then(Value::as_array)
            .map(|cs| cs.iter().filter_map(|c| c.get("client_id")?.as_str().map(str::to_owned)).collect())
            .unwrap_or_default(),
    );
    Ok(RuleSet { kind: SourceKind::AutheliaConfig, default_policy, networks, definitions, rules, oidc_client_ids })
}

/// Evaluation order: ascending priority, then name, then input order, so the output never depends on
/// how Nix happened to list the rules. Without any priorities the input order stands.
fn order(file: &str, mut rules: Vec<Rule>) -> Result<Vec<Rule>, InputError> {
    let with = rules.iter().filter(|r| r.priority.is_some()).count();
    if with == 0 {
        return Ok(rules);
    }
    if let Some(r) = rules.iter().find(|r| r.priority.is_none()) {
        let who = r.name.as_ref().map(|n| format!(" '{n}'")).unwrap_or_default();
        return err(format!(
            "{file}: rule #{}{who}: field 'priority' is missing while {with} other rules have one; give every rule a priority, or none",
            r.input_index + 1
        ));
    }
    rules.sort_by(|a, b| {
        (a.priority, a.name.as_deref().unwrap_or(""), a.input_index).cmp(&(
            b.priority,
            b.name.as_deref().unwrap_or(""),
            b.input_index,
        ))
    });
    Ok(rules)
}

fn opt_string(file: &str, field: &str, v: Option<&Value>) -> Result<Option<String>, InputError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => err(format!("{file}: '{field}' must be a string, not {}", type_name(other))),
    }
}

/// A list of strings; a single string is one entry, or, for an Authelia configuration, split on commas
/// the way Authelia's loader does.
fn string_list(file: &str, at: &str, v: &Value, split_commas: bool) -> Result<Vec<String>, InputError> {
    match v {
        Value::String(s) if split_commas => Ok(s.split(',').map(|p| p.trim().to_owned()).collect()),
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, it)| match it {
                Value::String(s) => Ok(s.clone()),
                other => err(format!("{file}: {at}[{i}]: expected a string, not {}", type_name(other))),
            })
            .collect(),
        other => err(format!("{file}: {at}: expected a string or a list of strings, not {}", type_name(other))),
    }
}

fn networks(file: &str, v: Option<&Value>, split: bool) -> Result<Vec<Network>, InputError> {
    let list = match v {
        None | Some(Value::Null) => return Ok(vec![]),
        Some(Value::Array(l)) => l,
        Some(other) => return err(format!("{file}: 'networks' must be a list, not {}", type_name(other))),
    };
    let mut out = vec![];
    for (i, n) in list.iter().enumerate() {
        let at = format!("networks[{i}]");
        let obj = n
            .as_object()
            .ok_or_else(|| InputError(format!("{file}: {at}: expected an object with name and networks")))?;
        for k in obj.keys() {
            if k != "name" && k != "networks" {
                return err(format!("{file}: {at}: unknown field '{k}'"));
            }
        }
        let name = match obj.get("name") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            _ => return err(format!("{file}: {at}: field 'name' must be a non-empty string")),
        };
        let nets = match obj.get("networks") {
            Some(v) => string_list(file, &format!("{at} ('{name}').networks"), v, split)?,
            None => return err(format!("{file}: {at} ('{name}'): field 'networks' is missing")),
        };
        out.push(Network { name, networks: nets });
    }
    Ok(out)
}

fn rule(
    file: &str,
    at: &str,
    index: usize,
    key: Option<&String>,
    v: &Value,
    authelia: bool,
) -> Result<Rule, InputError> {
    let obj =
        v.as_object().ok_or_else(|| InputError(format!("{file}: {at}: expected an object, not {}", type_name(v))))?;
    let named = obj.get("name").and_then(Value::as_str).or(key.map(String::as_str));
    let at = match (named, key) {
        (Some(n), None) => format!("{at} ('{n}')"),
        _ => at.to_owned(),
    };
    let mut r = Rule { input_index: index, ..Rule::default() };
    for (k, val) in obj {
        let field = format!("{at}.{k}");
        match k.as_str() {
            "name" if !authelia => match val {
                Value::String(s) => {
                    if let Some(key) = key.filter(|key| *key != s) {
                        return err(format!("{file}: {field}: '{s}' differs from the rule's key '{key}'"));
                    }
                    r.name = Some(s.clone());
                }
                Value::Null => {}
                other => return err(format!("{file}: {field}: expected a string, not {}", type_name(other))),
            },
            "priority" if !authelia => match val {
                Value::Number(n) if n.as_i64().is_some() => r.priority = n.as_i64(),
                Value::Null => {}
                other => {
                    return err(format!("{file}: {field}: expected a whole number, not {}", describe(other)));
                }
            },
            // Nix writes unset `nullOr` options as null: absent, like a missing key.
            k if val.is_null() && RULE_KEYS.contains(&k) => {}
            "policy" => r.policy = opt_string(file, &field, Some(val))?,
            "domain" => r.domain = Some(string_list(file, &field, val, authelia)?),
            "domain_regex" => r.domain_regex = Some(string_list(file, &field, val, false)?),
            "networks" => r.networks = Some(string_list(file, &field, val, authelia)?),
            "resources" => r.resources = Some(string_list(file, &field, val, false)?),
            "methods" => r.methods = Some(string_list(file, &field, val, authelia)?),
            "subject" => r.subject = Some(subject(file, &field, val)?),
            "query" => r.query = Some(query(file, &field, val)?),
            _ => {
                let expected =
                    if authelia { RULE_KEYS.join(", ") } else { format!("name, priority, {}", RULE_KEYS.join(", ")) };
                return err(format!("{file}: {at}: unknown field '{k}' (expected {expected})"));
            }
        }
    }
    if r.name.is_none() {
        r.name = key.cloned();
    }
    Ok(r)
}

fn describe(v: &Value) -> String {
    match v {
        Value::Number(n) => format!("{n}"),
        Value::String(s) => format!("the string '{s}'"),
        other => type_name(other).to_owned(),
    }
}

/// `'user:a'`, `['user:a', 'group:b']` (either), `[['user:a', 'group:b']]` (both), or a mix.
fn subject(file: &str, at: &str, v: &Value) -> Result<Vec<Vec<String>>, InputError> {
    match v {
        Value::String(s) => Ok(vec![vec![s.clone()]]),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, it)| match it {
                Value::String(s) => Ok(vec![s.clone()]),
                Value::Array(_) => string_list(file, &format!("{at}[{i}]"), it, false),
                other => {
                    err(format!("{file}: {at}[{i}]: expected a string or a list of strings, not {}", type_name(other)))
                }
            })
            .collect(),
        other => err(format!("{file}: {at}: expected a string or a list, not {}", type_name(other))),
    }
}

/// A list of lists of `{operator, key, value}`; a flat list is one AND group.
fn query(file: &str, at: &str, v: &Value) -> Result<Vec<Vec<QueryItem>>, InputError> {
    let outer =
        v.as_array().ok_or_else(|| InputError(format!("{file}: {at}: expected a list, not {}", type_name(v))))?;
    let item = |at: String, v: &Value| -> Result<QueryItem, InputError> {
        let o = v
            .as_object()
            .ok_or_else(|| InputError(format!("{file}: {at}: expected an object with key, operator, value")))?;
        let mut q = QueryItem { operator: None, key: None, value: None };
        for (k, val) in o {
            match k.as_str() {
                "operator" => q.operator = opt_string(file, &format!("{at}.operator"), Some(val))?,
                "key" => q.key = opt_string(file, &format!("{at}.key"), Some(val))?,
                "value" => q.value = (!val.is_null()).then(|| val.clone()),
                _ => return err(format!("{file}: {at}: unknown field '{k}' (expected operator, key, value)")),
            }
        }
        Ok(q)
    };
    if outer.iter().all(Value::is_object) && !outer.is_empty() {
        let group = outer.iter().enumerate().map(|(i, v)| item(format!("{at}[{i}]"), v)).collect::<Result<_, _>>()?;
        return Ok(vec![group]);
    }
    outer
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let inner = g
                .as_array()
                .ok_or_else(|| InputError(format!("{file}: {at}[{i}]: expected a list of query matchers")))?;
            inner.iter().enumerate().map(|(j, v)| item(format!("{at}[{i}][{j}]"), v)).collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(rs: &RuleSet) -> Vec<String> {
        rs.rules.iter().map(|r| r.name.clone().unwrap_or_default()).collect()
    }

    #[test]
    fn sorted_by_priority_then_name_then_input_order() {
        let a = r#"{"rules": [
            {"name": "b", "priority": 20, "domain": "x.example.com", "policy": "deny"},
            {"name": "a", "priority": 20, "domain": "x.example.com", "policy": "deny"},
            {"name": "z", "priority": 0, "domain": "y.example.com", "policy": "bypass"}]}"#;
        let b = r#"{"rules": {
            "z": {"priority": 0, "domain": "y.example.com", "policy": "bypass"},
            "b": {"priority": 20, "domain": "x.example.com", "policy": "deny"},
            "a": {"priority": 20, "domain": "x.example.com", "policy": "deny"}}}"#;
        let ra = parse("a.json", a).unwrap();
        let rb = parse("b.json", b).unwrap();
        assert_eq!(names(&ra), ["z", "a", "b"]);
        assert_eq!(names(&rb), ["z", "a", "b"]);
        assert_eq!(ra.rules[0].domain, Some(vec!["y.example.com".to_owned()]));
    }

    #[test]
    fn nulls_from_nix_are_absent_criteria() {
        let r = parse("r.json", r#"{"default_policy": null, "networks": null, "rules": {"a": {"priority": 1, "domain": "a", "policy": "deny", "resources": null, "subject": null, "query": null, "methods": null, "networks": null, "domain_regex": null}}}"#)
            .unwrap();
        assert_eq!(
            r.rules[0],
            Rule {
                name: Some("a".into()),
                priority: Some(1),
                domain: Some(vec!["a".into()]),
                policy: Some("deny".into()),
                ..Rule::default()
            }
        );
    }

    #[test]
    fn mixed_priorities_are_refused_naming_the_rule() {
        let e = parse("r.json", r#"{"rules": [{"name": "a", "priority": 1, "domain": "a", "policy": "deny"}, {"name": "b", "domain": "a", "policy": "deny"}]}"#)
            .unwrap_err();
        assert!(e.0.contains("r.json: rule #2 'b': field 'priority' is missing"), "{e}");
    }

    #[test]
    fn unknown_field_is_refused_rather_than_ignored() {
        let e = parse("r.json", r#"{"rules": [{"name": "a", "domain": "a", "policy": "deny", "resource": "^/x"}]}"#)
            .unwrap_err();
        assert!(e.0.contains("rules[0] ('a'): unknown field 'resource'"), "{e}");
    }

    #[test]
    fn subject_shapes_normalise_to_or_of_and() {
        let r = parse(
            "r.json",
            r#"{"rules": [{"domain": "a", "policy": "one_factor", "subject": ["user:a", ["group:b", "group:c"]]}]}"#,
        )
        .unwrap();
        assert_eq!(r.rules[0].subject, Some(vec![vec!["user:a".into()], vec!["group:b".into(), "group:c".into()]]));
    }

    #[test]
    fn authelia_yaml_keeps_order_and_splits_strings_like_authelia() {
        let y = "access_control:\n  default_policy: deny\n  rules:\n    - domain: 'b.example.com,c.example.com'\n      policy: one_factor\n    - domain: a.example.com\n      policy: bypass\n";
        let r = parse("configuration.yml", y).unwrap();
        assert_eq!(r.kind, SourceKind::AutheliaConfig);
        assert_eq!(r.rules[0].domain, Some(vec!["b.example.com".into(), "c.example.com".into()]));
        assert_eq!(r.rules[1].policy.as_deref(), Some("bypass"));
        assert_eq!(r.oidc_client_ids, Some(vec![]));
    }
}
