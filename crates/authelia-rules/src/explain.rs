//! `explain`: the rule that decides a request, with a hit/miss/may line per rule as Authelia's
//! `access-control check-policy` prints them.

use crate::authz::{self, Match, Request, Subject};
use crate::model::RuleSet;
use std::fmt::Write;

pub enum Error {
    Url(String),
    Rules(Vec<authz::CompileError>),
}

pub fn explain(rs: &RuleSet, url: &str, method: &str, subject: &Subject, json: bool) -> Result<String, Error> {
    let az = authz::compile(rs).map_err(Error::Rules)?;
    let req = Request::new(url, method).map_err(Error::Url)?;
    if json {
        let (decided, policy) = az.required_level(&req, subject);
        let rule = decided.map(|i| &rs.rules[i]);
        let doc = serde_json::json!({
            "policy": policy.as_str(),
            "rule": decided.map(|i| i + 1),
            "name": rule.and_then(|r| r.name.clone()),
            "priority": rule.and_then(|r| r.priority),
        });
        return Ok(format!("{doc}\n"));
    }
    let d = az.decide(&req, subject);
    let rule = d.rule.map(|i| &rs.rules[i]);
    let mut out = String::new();
    let who = if subject.is_anonymous() {
        "an anonymous user".to_owned()
    } else {
        let mut parts = vec![];
        if let Some(u) = subject.username.as_deref().filter(|u| !u.is_empty()) {
            parts.push(format!("username '{u}'"));
        }
        if !subject.groups.is_empty() {
            parts.push(format!("groups '{}'", subject.groups.join(",")));
        }
        if let Some(c) = &subject.client_id {
            parts.push(format!("client '{c}'"));
        }
        parts.join(" ")
    };
    let ip = subject.ip.map(|ip| format!(" from IP '{ip}'")).unwrap_or_default();
    let _ = writeln!(out, "Performing policy check for request to '{url}' method '{}' by {who}{ip}.\n", req.method);
    let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase()).unwrap_or_default();
    if scheme != "https" && scheme != "wss" {
        let _ = writeln!(
            out,
            "Note: Authelia authorises only https and wss targets; it refuses this {scheme} URL before any rule.\n"
        );
    }
    if rs.rules.is_empty() {
        let _ = writeln!(
            out,
            "The default policy '{}' will be applied to ALL requests as no rules are configured.",
            d.policy.as_str()
        );
        return Ok(out);
    }
    let header = ["  #", "Domain", "Resource", "Query", "Method", "Network", "Subject", "Policy", "Rule"];
    let mut rows: Vec<Vec<String>> = vec![header.iter().map(|h| h.to_string()).collect()];
    for (i, res) in d.results.iter().enumerate() {
        // `*` an exact match, `~` a match only because an anonymous request may be the right user.
        let mark = match d.rule {
            Some(r) if r == i && res.exact() => '*',
            Some(r) if r == i => '~',
            _ => ' ',
        };
        let r = &rs.rules[i];
        let mut row = vec![format!("{mark} {}", i + 1)];
        row.extend(res.all().iter().map(|m| m.as_str().to_owned()));
        row.push(r.policy.as_deref().unwrap_or("-").to_owned());
        row.push(r.label());
        rows.push(row);
    }
    out.push_str(&align(&rows));
    out.push('\n');
    match (d.rule, rule) {
        (Some(i), Some(r)) if d.results[i].exact() => {
            let _ = writeln!(
                out,
                "The policy '{}' from rule #{}{} will be applied to this request.",
                d.policy.as_str(),
                i + 1,
                label(r)
            );
        }
        (Some(i), Some(r)) => {
            let may: Vec<&str> =
                crit_names(&d.results[i]).into_iter().filter(|(_, m)| *m == Match::May).map(|(n, _)| n).collect();
            let _ = writeln!(
                out,
                "The policy '{}' from rule #{}{} is required for this request: its {} may match once the user logs in, and Authelia then evaluates the rules again with the user's identity.",
                d.policy.as_str(),
                i + 1,
                label(r),
                may.join(" and ")
            );
        }
        _ => {
            let _ = writeln!(
                out,
                "The policy '{}' from the default policy will be applied to this request as no rules matched the request.",
                d.policy.as_str()
            );
        }
    }
    Ok(out)
}

/// Columns padded with spaces to the widest cell plus one, as Authelia's own table (a tab writer) prints
/// them: raw tabs would line up only by chance.
fn align(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| rows.iter().filter_map(|r| r.get(c)).map(|s| s.chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            if c + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<w$} ", w = widths[c]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn label(r: &crate::model::Rule) -> String {
    match r.label() {
        l if l.is_empty() => String::new(),
        l => format!(" ({l})"),
    }
}

fn crit_names(r: &authz::RuleResult) -> [(&'static str, Match); 6] {
    [
        ("domain", r.domain),
        ("resource", r.resource),
        ("query", r.query),
        ("method", r.method),
        ("network", r.network),
        ("subject", r.subject),
    ]
}
