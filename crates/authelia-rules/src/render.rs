//! The `access_control:` section as Authelia reads it: lists always as lists (a single string would be split
//! on commas by Authelia's loader), one stable key order, each rule preceded by a comment naming it.

use crate::model::{QueryItem, Rule, RuleSet};
use serde::Serialize;
use serde_json::Value;
use std::fmt::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Yaml,
    Json,
}

#[derive(Serialize)]
struct OutNetwork<'a> {
    name: &'a str,
    networks: &'a [String],
}

#[derive(Serialize)]
struct OutQuery<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    operator: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<&'a Value>,
}

#[derive(Serialize)]
struct OutRule<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    domain: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    domain_regex: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    policy: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subject: Option<&'a [Vec<String>]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    networks: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resources: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    query: Option<Vec<Vec<OutQuery<'a>>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    methods: Option<&'a [String]>,
}

#[derive(Serialize)]
struct OutAccessControl<'a> {
    default_policy: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    networks: Vec<OutNetwork<'a>>,
    rules: Vec<OutRule<'a>>,
}

#[derive(Serialize)]
struct OutDoc<'a> {
    access_control: OutAccessControl<'a>,
}

/// Empty lists are left out: Authelia treats them as absent, and its schema's `oneOf` would reject them.
fn some<T>(v: &Option<Vec<T>>) -> Option<&[T]> {
    v.as_deref().filter(|v| !v.is_empty())
}

fn out_rule(r: &Rule) -> OutRule<'_> {
    OutRule {
        domain: some(&r.domain),
        domain_regex: some(&r.domain_regex),
        policy: r.policy.as_deref(),
        subject: some(&r.subject),
        networks: some(&r.networks),
        resources: some(&r.resources),
        query: some(&r.query).map(|groups| {
            groups
                .iter()
                .map(|g| {
                    g.iter()
                        .map(|q: &QueryItem| OutQuery {
                            operator: q.operator.as_deref(),
                            key: q.key.as_deref(),
                            value: q.value.as_ref(),
                        })
                        .collect()
                })
                .collect()
        }),
        methods: some(&r.methods),
    }
}

fn doc(rs: &RuleSet) -> OutDoc<'_> {
    OutDoc {
        access_control: OutAccessControl {
            default_policy: rs.default_policy.as_deref().filter(|p| !p.is_empty()).unwrap_or("deny"),
            networks: rs.networks.iter().map(|n| OutNetwork { name: &n.name, networks: &n.networks }).collect(),
            rules: rs.rules.iter().map(out_rule).collect(),
        },
    }
}

pub fn render(rs: &RuleSet, format: Format) -> String {
    match format {
        Format::Json => {
            let mut s = serde_json::to_string_pretty(&doc(rs)).expect("plain data serialises");
            s.push('\n');
            s
        }
        Format::Yaml => yaml(rs),
    }
}

/// A YAML scalar that means exactly the string: single quotes keep backslashes and colons literal.
fn scalar(s: &str) -> String {
    if s.chars().any(|c| c.is_control()) {
        // Double-quoted JSON is valid YAML and escapes what single quotes cannot hold.
        serde_json::to_string(s).expect("string serialises")
    } else {
        format!("'{}'", s.replace('\'', "''"))
    }
}

fn list(out: &mut String, indent: &str, key: &str, items: &[String]) {
    let _ = writeln!(out, "{indent}{key}:");
    for it in items {
        let _ = writeln!(out, "{indent}  - {}", scalar(it));
    }
}

fn yaml(rs: &RuleSet) -> String {
    let d = doc(rs);
    let ac = &d.access_control;
    let mut out = String::from("access_control:\n");
    let _ = writeln!(out, "  default_policy: {}", scalar(ac.default_policy));
    if !ac.networks.is_empty() {
        out.push_str("  networks:\n");
        for n in &ac.networks {
            let _ = writeln!(out, "    - name: {}", scalar(n.name));
            list(&mut out, "      ", "networks", n.networks);
        }
    }
    if ac.rules.is_empty() {
        out.push_str("  rules: []\n");
        return out;
    }
    out.push_str("  rules:\n");
    for (i, (r, src)) in ac.rules.iter().zip(&rs.rules).enumerate() {
        let name = src.name.as_deref().map(|n| format!(" {}", n.replace('\n', " "))).unwrap_or_default();
        let prio = src.priority.map(|p| format!(" (priority {p})")).unwrap_or_default();
        let _ = writeln!(out, "    # #{}{name}{prio}", i + 1);
        let mut fields = String::new();
        let ind = "      ";
        if let Some(v) = r.domain {
            list(&mut fields, ind, "domain", v);
        }
        if let Some(v) = r.domain_regex {
            list(&mut fields, ind, "domain_regex", v);
        }
        if let Some(p) = r.policy {
            let _ = writeln!(fields, "{ind}policy: {}", scalar(p));
        }
        if let Some(groups) = r.subject {
            let _ = writeln!(fields, "{ind}subject:");
            for g in groups {
                let items: Vec<String> = g.iter().map(|s| scalar(s)).collect();
                let _ = writeln!(fields, "{ind}  - [{}]", items.join(", "));
            }
        }
        if let Some(v) = r.networks {
            list(&mut fields, ind, "networks", v);
        }
        if let Some(v) = r.resources {
            list(&mut fields, ind, "resources", v);
        }
        if let Some(groups) = &r.query {
            let _ = writeln!(fields, "{ind}query:");
            for g in groups {
                let _ = writeln!(fields, "{ind}  -");
                for q in g {
                    let mut parts = vec![];
                    if let Some(o) = q.operator {
                        parts.push(format!("operator: {}", scalar(o)));
                    }
                    if let Some(k) = q.key {
                        parts.push(format!("key: {}", scalar(k)));
                    }
                    if let Some(v) = q.value {
                        let v = match v {
                            Value::String(s) => scalar(s),
                            other => other.to_string(),
                        };
                        parts.push(format!("value: {v}"));
                    }
                    let _ = writeln!(fields, "{ind}    - {{{}}}", parts.join(", "));
                }
            }
        }
        if let Some(v) = r.methods {
            list(&mut fields, ind, "methods", v);
        }
        // The first field carries the list dash.
        if fields.is_empty() {
            out.push_str("    - {}\n");
        } else {
            out.push_str(&fields.replacen(ind, "    - ", 1));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::parse;

    #[test]
    fn every_field_quoted_literally_and_lists_always_lists() {
        let rs = parse(
            "r.json",
            r#"{"default_policy": "two_factor", "rules": {
                "files": {"priority": 65, "domain": "files.example.com", "policy": "one_factor", "subject": ["user:o'brien", ["group:a", "group:b"]],
                          "networks": "10.0.0.0/8", "resources": "^/share/[^/]+\\.(pdf|txt)$", "methods": "GET",
                          "query": [[{"key": "dl", "value": "1"}], [{"operator": "absent", "key": "preview"}]]},
                "tabs": {"priority": 70, "domain_regex": "^x\t$", "policy": "deny"}}}"#,
        )
        .unwrap();
        let yaml: serde_json::Value = serde_yaml_ng::from_str(&render(&rs, Format::Yaml)).unwrap();
        let json: serde_json::Value = serde_json::from_str(&render(&rs, Format::Json)).unwrap();
        assert_eq!(yaml, json);
        insta::assert_snapshot!(render(&rs, Format::Yaml), @r#"
        access_control:
          default_policy: 'two_factor'
          rules:
            # #1 files (priority 65)
            - domain:
                - 'files.example.com'
              policy: 'one_factor'
              subject:
                - ['user:o''brien']
                - ['group:a', 'group:b']
              networks:
                - '10.0.0.0/8'
              resources:
                - '^/share/[^/]+\.(pdf|txt)$'
              query:
                -
                  - {key: 'dl', value: '1'}
                -
                  - {operator: 'absent', key: 'preview'}
              methods:
                - 'GET'
            # #2 tabs (priority 70)
            - domain_regex:
                - "^x\t$"
              policy: 'deny'
        "#);
    }
}
