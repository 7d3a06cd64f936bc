//! Attic's JWT: the claims as atticadm writes them (key order, `1` for true, no `iat`), and a strict
//! reader that accepts what atticd accepts and names what it would reject.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;
use std::fmt;

pub const NAMESPACE: &str = "https://jwt.attic.rs/v1";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    Hs256,
    Rs256,
}

impl Alg {
    pub fn name(self) -> &'static str {
        match self {
            Alg::Hs256 => "HS256",
            Alg::Rs256 => "RS256",
        }
    }
    /// The exact header atticadm writes: no `kid`, this key order.
    pub fn header_json(self) -> String {
        format!(r#"{{"alg":"{}","typ":"JWT"}}"#, self.name())
    }
}

/// One permission: its claim key, the atticadm flag that grants it, and the words for a person.
#[derive(Debug, Clone, Copy)]
pub struct Perm {
    pub key: &'static str,
    pub flag: &'static str,
    pub words: &'static str,
}

/// In the order atticadm writes the keys and groups the patterns.
pub const PERMS: [Perm; 7] = [
    Perm { key: "r", flag: "--pull", words: "pull" },
    Perm { key: "w", flag: "--push", words: "push" },
    Perm { key: "d", flag: "--delete", words: "delete" },
    Perm { key: "cc", flag: "--create-cache", words: "create cache" },
    Perm { key: "cr", flag: "--configure-cache", words: "configure cache" },
    Perm { key: "cq", flag: "--configure-cache-retention", words: "configure cache retention" },
    Perm { key: "cd", flag: "--destroy-cache", words: "destroy cache" },
];

/// Which of [`PERMS`] a pattern grants.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Perms(pub [bool; 7]);

impl Perms {
    pub fn words(&self) -> Vec<&'static str> {
        PERMS.iter().zip(self.0).filter(|(_, on)| *on).map(|(p, _)| p.words).collect()
    }
    pub fn any(&self) -> bool {
        self.0.iter().any(|b| *b)
    }
    fn json(&self) -> String {
        let keys: Vec<String> =
            PERMS.iter().zip(self.0).filter(|(_, on)| *on).map(|(p, _)| format!("\"{}\":1", p.key)).collect();
        format!("{{{}}}", keys.join(","))
    }
}

/// `^[A-Za-z0-9*][A-Za-z0-9-_+*]{0,49}$`: what atticd accepts as a cache name pattern.
pub fn check_pattern(p: &str) -> Result<(), String> {
    let ok_first = |c: char| c.is_ascii_alphanumeric() || c == '*';
    let ok_rest = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '+' | '*');
    let mut chars = p.chars();
    match chars.next() {
        None => return Err("an empty cache pattern".into()),
        Some(c) if !ok_first(c) => {
            return Err(format!("cache pattern {p:?}: must start with a letter, a digit or *"));
        }
        _ => {}
    }
    if let Some(bad) = chars.find(|c| !ok_rest(*c)) {
        return Err(format!("cache pattern {p:?}: {bad:?} is not allowed (letters, digits, - _ + and * only)"));
    }
    if p.chars().count() > 50 {
        return Err(format!("cache pattern {p:?}: longer than 50 characters"));
    }
    Ok(())
}

/// Does `pattern` (with `*` wildcards) match `cache`?
pub fn pattern_matches(pattern: &str, cache: &str) -> bool {
    fn go(p: &[u8], c: &[u8]) -> bool {
        match p.split_first() {
            None => c.is_empty(),
            Some((b'*', rest)) => (0..=c.len()).any(|i| go(rest, &c[i..])),
            Some((x, rest)) => c.first() == Some(x) && go(rest, &c[1..]),
        }
    }
    go(pattern.as_bytes(), cache.as_bytes())
}

/// The grants of a token: patterns in token order, each with its permissions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Caches(pub Vec<(String, Perms)>);

impl Caches {
    /// From atticadm's flags: `lists[i]` are the patterns given for `PERMS[i]`. Patterns are grouped as
    /// atticadm groups them (all pulls first, then pushes, …), whatever the order on the command line.
    pub fn from_flags(lists: [&[String]; 7]) -> Result<Caches, String> {
        let mut out: Vec<(String, Perms)> = vec![];
        for (i, list) in lists.iter().enumerate() {
            for p in list.iter() {
                check_pattern(p).map_err(|e| format!("{}: {e}", PERMS[i].flag))?;
                match out.iter_mut().find(|(k, _)| k == p) {
                    Some((_, perms)) => perms.0[i] = true,
                    None => {
                        let mut perms = Perms::default();
                        perms.0[i] = true;
                        out.push((p.clone(), perms));
                    }
                }
            }
        }
        Ok(Caches(out))
    }

    /// atticd's lookup: the exact name first, then wildcard patterns in token order.
    pub fn lookup(&self, cache: &str) -> Option<(&str, Perms)> {
        self.0
            .iter()
            .find(|(p, _)| p == cache)
            .or_else(|| self.0.iter().find(|(p, _)| p.contains('*') && pattern_matches(p, cache)))
            .map(|(p, perms)| (p.as_str(), *perms))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    pub exp: i64,
    pub nbf: Option<i64>,
    pub iss: Option<String>,
    pub sub: Option<String>,
    pub aud: Vec<String>,
    pub caches: Caches,
}

fn json_str(s: &str) -> String {
    serde_json::to_string(s).expect("a string always serialises")
}

impl Claims {
    /// Compact JSON in atticadm's key order: exp, nbf, [iss], sub, [aud], namespace.
    pub fn to_json(&self) -> String {
        let mut parts = vec![format!("\"exp\":{}", self.exp)];
        if let Some(nbf) = self.nbf {
            parts.push(format!("\"nbf\":{nbf}"));
        }
        if let Some(iss) = &self.iss {
            parts.push(format!("\"iss\":{}", json_str(iss)));
        }
        if let Some(sub) = &self.sub {
            parts.push(format!("\"sub\":{}", json_str(sub)));
        }
        if !self.aud.is_empty() {
            let aud: Vec<String> = self.aud.iter().map(|a| json_str(a)).collect();
            parts.push(format!("\"aud\":[{}]", aud.join(",")));
        }
        let caches: Vec<String> =
            self.caches.0.iter().map(|(p, perms)| format!("{}:{}", json_str(p), perms.json())).collect();
        parts.push(format!("{}:{{\"caches\":{{{}}}}}", json_str(NAMESPACE), caches.join(",")));
        format!("{{{}}}", parts.join(","))
    }
}

/// What minting needs, as plain data.
#[derive(Debug, Clone)]
pub struct MintRequest {
    pub sub: String,
    pub validity_secs: u64,
    pub now: i64,
    pub issuer: Option<String>,
    pub audiences: Vec<String>,
    pub caches: Caches,
}

impl MintRequest {
    pub fn claims(&self) -> Claims {
        Claims {
            exp: self.now + self.validity_secs as i64,
            nbf: Some(self.now),
            iss: self.issuer.clone(),
            sub: Some(self.sub.clone()),
            aud: self.audiences.clone(),
            caches: self.caches.clone(),
        }
    }
}

/// `base64url(header) . base64url(claims)`: the bytes that get signed.
pub fn signing_input(alg: Alg, claims: &Claims) -> String {
    format!("{}.{}", URL_SAFE_NO_PAD.encode(alg.header_json()), URL_SAFE_NO_PAD.encode(claims.to_json()))
}

pub fn assemble(input: &str, signature: &[u8]) -> String {
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// A token split and parsed, signature not yet checked.
#[derive(Debug, Clone)]
pub struct Parsed {
    pub header_json: String,
    pub claims_json: String,
    pub alg: Alg,
    pub claims: Claims,
    pub signing_input: String,
    pub signature: Vec<u8>,
}

/// Why a token is not one atticd would accept (signature aside).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed(pub String);

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Malformed {}

fn bad<T>(msg: impl Into<String>) -> Result<T, Malformed> {
    Err(Malformed(msg.into()))
}

/// A JSON object with its keys in the order they were written (serde_json's map sorts them, and the
/// order of cache patterns decides which wildcard wins).
struct Ordered(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Ordered {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Ordered;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Ordered, A::Error> {
                let mut out = vec![];
                while let Some((k, v)) = map.next_entry::<String, Value>()? {
                    out.push((k, v));
                }
                Ok(Ordered(out))
            }
        }
        d.deserialize_map(V)
    }
}

impl Ordered {
    fn get(&self, k: &str) -> Option<&Value> {
        self.0.iter().find(|(key, _)| key == k).map(|(_, v)| v)
    }
}

fn part(what: &str, text: &str) -> Result<Vec<u8>, Malformed> {
    URL_SAFE_NO_PAD.decode(text).or_else(|_| bad(format!("the {what} is not unpadded base64url")))
}

fn int_claim(claims: &Ordered, key: &str) -> Result<Option<i64>, Malformed> {
    match claims.get(key) {
        None => Ok(None),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(v) => Ok(Some(v)),
            None => bad(format!("claim {key:?} is {n}, not a whole number of seconds")),
        },
        Some(v) => bad(format!("claim {key:?} is {v}, not a number")),
    }
}

fn parse_caches(ns: &Value) -> Result<Caches, Malformed> {
    let Value::Object(_) = ns else {
        return bad(format!("claim {NAMESPACE:?} is not an object"));
    };
    let ns: Ordered = serde_json::from_value(ns.clone()).or_else(|e| bad(format!("claim {NAMESPACE:?}: {e}")))?;
    let Some(caches) = ns.get("caches") else {
        return bad(format!("claim {NAMESPACE:?} has no \"caches\" (atticd rejects such a token)"));
    };
    let caches: Ordered = match caches {
        Value::Object(_) => serde_json::from_value(caches.clone()).or_else(|e| bad(format!("\"caches\": {e}")))?,
        other => return bad(format!("\"caches\" is {other}, not an object")),
    };
    let mut out = vec![];
    for (pattern, perms) in caches.0 {
        check_pattern(&pattern).map_err(|e| Malformed(format!("\"caches\": {e}")))?;
        let Value::Object(map) = perms else {
            return bad(format!("\"caches\".{pattern:?} is {perms}, not an object of permissions"));
        };
        let mut p = Perms::default();
        for (i, perm) in PERMS.iter().enumerate() {
            match map.get(perm.key) {
                None => {}
                Some(v) if v.as_u64() == Some(1) => p.0[i] = true,
                Some(v) if v.as_u64() == Some(0) => {}
                Some(v) => {
                    return bad(format!(
                        "\"caches\".{pattern:?}.{:?} ({}) is {v}; atticd accepts only 0 or 1",
                        perm.key, perm.words
                    ));
                }
            }
        }
        out.push((pattern, p));
    }
    Ok(Caches(out))
}

/// Split and parse a token, strictly as atticd reads it. The signature is returned, not checked.
pub fn parse(token: &str) -> Result<Parsed, Malformed> {
    let token = token.trim();
    let pieces: Vec<&str> = token.split('.').collect();
    if pieces.len() != 3 {
        return bad(format!("a JWT has 3 dot-separated parts; this has {}", pieces.len()));
    }
    let header_bytes = part("header", pieces[0])?;
    let claims_bytes = part("claims part", pieces[1])?;
    let signature = part("signature", pieces[2])?;
    let header_json = String::from_utf8(header_bytes).or_else(|_| bad("the header is not UTF-8"))?;
    let claims_json = String::from_utf8(claims_bytes).or_else(|_| bad("the claims are not UTF-8"))?;
    let header: Ordered =
        serde_json::from_str(&header_json).or_else(|e| bad(format!("the header is not a JSON object: {e}")))?;
    let alg = match header.get("alg") {
        Some(Value::String(a)) if a == "HS256" => Alg::Hs256,
        Some(Value::String(a)) if a == "RS256" => Alg::Rs256,
        Some(a) => return bad(format!("algorithm {a} in the header: attic signs only HS256 or RS256")),
        None => return bad("the header names no algorithm (\"alg\")"),
    };
    match header.get("typ") {
        None => {}
        Some(Value::String(t)) if t == "JWT" => {}
        Some(t) => return bad(format!("header \"typ\" is {t}; atticd accepts only \"JWT\"")),
    }
    let claims: Ordered =
        serde_json::from_str(&claims_json).or_else(|e| bad(format!("the claims are not a JSON object: {e}")))?;
    let Some(exp) = int_claim(&claims, "exp")? else {
        return bad("no expiry (\"exp\") claim");
    };
    let nbf = int_claim(&claims, "nbf")?;
    let string = |k: &str| -> Result<Option<String>, Malformed> {
        match claims.get(k) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(v) => bad(format!("claim {k:?} is {v}, not a string")),
        }
    };
    let iss = string("iss")?;
    let sub = string("sub")?;
    let aud = match claims.get("aud") {
        None => vec![],
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| {
                v.as_str().map(str::to_owned).ok_or_else(|| Malformed(format!("claim \"aud\" holds {v}, not a string")))
            })
            .collect::<Result<_, _>>()?,
        Some(v) => return bad(format!("claim \"aud\" is {v}, not a string or a list")),
    };
    let Some(ns) = claims.get(NAMESPACE) else {
        return bad(format!("no {NAMESPACE:?} claim: not an attic token"));
    };
    let caches = parse_caches(ns)?;
    let signing_input = format!("{}.{}", pieces[0], pieces[1]);
    Ok(Parsed {
        header_json,
        claims_json,
        alg,
        claims: Claims { exp, nbf, iss, sub, aud, caches },
        signing_input,
        signature,
    })
}

/// Where a token stands in time, as atticd sees it (no leeway).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeStatus {
    NotYetValid,
    Valid,
    Expired,
}

pub fn time_status(claims: &Claims, now: i64) -> TimeStatus {
    if claims.nbf.is_some_and(|nbf| now < nbf) {
        TimeStatus::NotYetValid
    } else if now > claims.exp {
        TimeStatus::Expired
    } else {
        TimeStatus::Valid
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub const SAMPLE_CLAIMS: &str = r#"{"exp":1803647288,"nbf":1795757240,"sub":"ci-push","https://jwt.attic.rs/v1":{"caches":{"main":{"r":1,"w":1,"cr":1},"team-*":{"r":1,"cc":1,"cd":1}}}}"#;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn sample_claims_byte_for_byte_whatever_the_flag_order() {
        let (pull, push, cc, cr, cd) =
            (s(&["main", "team-*"]), s(&["main"]), s(&["team-*"]), s(&["main"]), s(&["team-*"]));
        let caches = Caches::from_flags([&pull, &push, &[], &cc, &cr, &[], &cd]).unwrap();
        let req = MintRequest {
            sub: "ci-push".into(),
            validity_secs: 3 * 2_630_016,
            now: 1_795_757_240,
            issuer: None,
            audiences: vec![],
            caches,
        };
        assert_eq!(req.claims().to_json(), SAMPLE_CLAIMS);
    }

    #[test]
    fn issuer_and_audience_in_atticadm_order() {
        let req = MintRequest {
            sub: "a\"b".into(),
            validity_secs: 10,
            now: 100,
            issuer: Some("https://attic.example.com/".into()),
            audiences: s(&["nix"]),
            caches: Caches::default(),
        };
        assert_eq!(
            req.claims().to_json(),
            r#"{"exp":110,"nbf":100,"iss":"https://attic.example.com/","sub":"a\"b","aud":["nix"],"https://jwt.attic.rs/v1":{"caches":{}}}"#
        );
    }

    #[test]
    fn patterns() {
        for ok in ["main", "team-*", "*", "a_b+c", &"x".repeat(50)] {
            assert!(check_pattern(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-main", "ma.in", "a b", "caché", &"x".repeat(51)] {
            assert!(check_pattern(bad).is_err(), "{bad}");
        }
        assert!(pattern_matches("team-*", "team-a"));
        assert!(pattern_matches("*", "anything"));
        assert!(!pattern_matches("team-*", "main"));
        assert!(pattern_matches("a*c*", "abxc"));
    }

    #[test]
    fn lookup_exact_first_then_wildcards_in_order() {
        let mut r = Perms::default();
        r.0[0] = true;
        let mut w = Perms::default();
        w.0[1] = true;
        let c = Caches(vec![("*".into(), r), ("main".into(), w), ("m*".into(), w)]);
        assert_eq!(c.lookup("main"), Some(("main", w)));
        assert_eq!(c.lookup("mine"), Some(("*", r)));
        assert_eq!(Caches::default().lookup("main"), None);
    }

    fn token_with(claims: &str) -> String {
        format!("{}.{}.c2ln", URL_SAFE_NO_PAD.encode(Alg::Hs256.header_json()), URL_SAFE_NO_PAD.encode(claims))
    }

    #[test]
    fn reader_is_strict_where_atticd_is() {
        let ok = parse(&token_with(SAMPLE_CLAIMS)).unwrap();
        assert_eq!(ok.claims.caches.0.len(), 2);
        assert_eq!(ok.claims.caches.0[1].1.words(), ["pull", "create cache", "destroy cache"]);
        let t = SAMPLE_CLAIMS.replace(r#""r":1,"w":1"#, r#""r":true,"w":1"#);
        assert!(parse(&token_with(&t)).unwrap_err().0.contains("only 0 or 1"));
        let t = r#"{"exp":1,"sub":"x","https://jwt.attic.rs/v1":{}}"#;
        assert!(parse(&token_with(t)).unwrap_err().0.contains("no \"caches\""));
        let t = r#"{"exp":1,"sub":"x"}"#;
        assert!(parse(&token_with(t)).unwrap_err().0.contains("not an attic token"));
        let none_alg =
            format!("{}.{}.", URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#), URL_SAFE_NO_PAD.encode(SAMPLE_CLAIMS));
        assert!(parse(&none_alg).unwrap_err().0.contains("HS256 or RS256"));
        assert!(parse("abc").unwrap_err().0.contains("3 dot-separated"));
        let zero = SAMPLE_CLAIMS.replace(r#""w":1"#, r#""w":0"#);
        assert_eq!(parse(&token_with(&zero)).unwrap().claims.caches.0[0].1.words(), ["pull", "configure cache"]);
    }

    #[test]
    fn time_without_leeway() {
        let c = Claims { exp: 200, nbf: Some(100), iss: None, sub: None, aud: vec![], caches: Caches::default() };
        assert_eq!(time_status(&c, 99), TimeStatus::NotYetValid);
        assert_eq!(time_status(&c, 100), TimeStatus::Valid);
        assert_eq!(time_status(&c, 200), TimeStatus::Valid);
        assert_eq!(time_status(&c, 201), TimeStatus::Expired);
    }
}
