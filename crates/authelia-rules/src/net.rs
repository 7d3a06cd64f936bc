//! The parts of a request Authelia looks at, parsed as Authelia (Go's net/url, path, net) parses them:
//! the host, the cleaned path with the raw query, query values, and IP networks.

use std::net::IpAddr;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The hostname as written (port and brackets removed); matchers lower-case it where Authelia does.
    pub host: String,
    /// The cleaned, decoded path, plus `?` and the raw query when there is one: what `resources` see.
    pub path: String,
    pub raw_query: String,
}

/// Parse a URL like Go's `url.Parse` followed by Authelia's `NewObject`.
pub fn parse_url(url: &str) -> Result<Target, String> {
    // Authelia reads only the host, path and query; the scheme just has to be there.
    let rest = match url.find(':') {
        Some(i) if i > 0 && url[..i].chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) => &url[i + 1..],
        _ => return Err(format!("parse {url:?}: missing protocol scheme")),
    };
    let rest = rest.split_once('#').map_or(rest, |(a, _)| a);
    let Some(rest) = rest.strip_prefix("//") else {
        return Err(format!("parse {url:?}: no host: the URL must look like https://host/path"));
    };
    let auth_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..auth_end];
    let after = &rest[auth_end..];
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(inner) = hostport.strip_prefix('[') {
        inner.split_once(']').map(|(h, _)| h).ok_or_else(|| format!("parse {url:?}: missing ']' in host"))?
    } else {
        hostport.rsplit_once(':').map_or(hostport, |(h, _)| h)
    };
    let (raw_path, raw_query) = after.split_once('?').unwrap_or((after, ""));
    let decoded = percent_decode(raw_path, false).map_err(|e| format!("parse {url:?}: {e}"))?;
    let mut path = clean_full(&decoded);
    if !raw_query.is_empty() {
        path.push('?');
        path.push_str(raw_query);
    }
    Ok(Target { host: host.to_owned(), path, raw_query: raw_query.to_owned() })
}

/// Authelia's `URLPathFullClean`: `path.Clean`, keeping a trailing slash.
pub fn clean_full(decoded: &str) -> String {
    let cleaned = go_path_clean(decoded);
    if decoded.len() > 1 && decoded.ends_with('/') && cleaned != "/" { cleaned + "/" } else { cleaned }
}

/// Go's `path.Clean`: the shortest equivalent path ("" gives ".").
pub fn go_path_clean(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let rooted = p.starts_with('/');
    let mut parts: Vec<&str> = vec![];
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            s => parts.push(s),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

/// Percent-decoding as Go does it; `plus_is_space` for query strings.
pub fn percent_decode(s: &str, plus_is_space: bool) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = b.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(v) if hex.is_some_and(|h| h.chars().all(|c| c.is_ascii_hexdigit())) => out.push(v),
                    _ => {
                        let bad: String = s[i..].chars().take(3).collect();
                        return Err(format!("invalid URL escape {bad:?}"));
                    }
                }
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// The first value of each query key, as Go's `url.Values.Get` sees it (pairs that do not decode are skipped).
pub fn query_values(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|p| !p.is_empty() && !p.contains(';'))
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            Some((percent_decode(k, true).ok()?, percent_decode(v, true).ok()?))
        })
        .collect()
}

/// An IP network; a bare address is a /32 or /128.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl IpNet {
    pub fn parse(s: &str) -> Option<IpNet> {
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a.parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            None => max,
            Some(p) if !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()) => {
                p.parse::<u8>().ok().filter(|&n| n <= max)?
            }
            Some(_) => return None,
        };
        Some(IpNet { addr: mask(addr, prefix), prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        ip.is_ipv4() == self.addr.is_ipv4() && mask(ip, self.prefix) == self.addr
    }

    /// Every address of `other` is in `self`.
    pub fn covers(&self, other: &IpNet) -> bool {
        self.prefix <= other.prefix && self.contains(other.addr)
    }
}

fn mask(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            let m = if prefix == 0 { 0 } else { u32::MAX << (32 - prefix as u32) };
            IpAddr::V4((bits & m).into())
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let m = if prefix == 0 { 0 } else { u128::MAX << (128 - prefix as u32) };
            IpAddr::V6((bits & m).into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_clean_examples() {
        for (i, o) in [
            ("", "."),
            ("/", "/"),
            ("/a/../t", "/t"),
            ("/a//../t", "/t"),
            ("a/../..", ".."),
            ("/../x", "/x"),
            ("/a/./b/", "/a/b"),
        ] {
            assert_eq!(go_path_clean(i), o, "{i}");
        }
    }

    #[test]
    fn url_parts() {
        let t = parse_url("https://Public.Example.com:8080/a/%2e%2e%2Fb/?x=%41").unwrap();
        assert_eq!((t.host.as_str(), t.path.as_str()), ("Public.Example.com", "/b/?x=%41"));
        assert_eq!(parse_url("https://x.example.com").unwrap().path, ".");
        assert_eq!(parse_url("https://[fec0::1]:443/").unwrap().host, "fec0::1");
        assert!(parse_url("://invalid").unwrap_err().contains("missing protocol scheme"));
    }

    #[test]
    fn networks() {
        let n = IpNet::parse("fec0::1/64").unwrap();
        assert!(n.contains("fec0::2".parse().unwrap()));
        assert!(!IpNet::parse("fec0::1").unwrap().contains("fec0::2".parse().unwrap()));
        assert!(IpNet::parse("10.0.0.0/8").unwrap().covers(&IpNet::parse("10.1.0.0/16").unwrap()));
        assert!(IpNet::parse("10.0.0.0/33").is_none() && IpNet::parse("10.0.0.300").is_none());
    }
}
