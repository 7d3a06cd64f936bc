//! Attic's JWT: the claims as atticadm writes them (key order, `1` for true, no `iat`), and a strict
//! reader that accepts what atticd accepts and names what it would reject.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
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
    /// `None` only in a token read from elsewhere: atticd accepts a token without an expiry.
    pub exp: Option<i64>,
    pub nbf: Option<i64>,
    /// atticadm never writes `iat`; atticd refuses a token issued in the future.
    pub iat: Option<i64>,
    pub iss: Option<String>,
    pub sub: Option<String>,
    pub aud: Vec<String>,
    pub caches: Caches,
}

fn json_str(s: &str) -> String {
    serde_json::to_string(s).expect("a string always serialises")
}

impl Claims {
    /// Compact JSON in atticadm's key order: [iat], exp, nbf, [iss], sub, [aud], namespace.
    pub fn to_json(&self) -> String {
        let mut parts = vec![];
        for (k, v) in [("iat", self.iat), ("exp", self.exp), ("nbf", self.nbf)] {
            if let Some(v) = v {
                parts.push(format!("\"{k}\":{v}"));
            }
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

/// The latest time atticd and atticadm can hold: their JWT library keeps seconds in 32 bits and
/// saturates (2106-02-07 06:28:15 UTC). atticadm writes this `exp` for any later expiry.
pub const TIMESTAMP_CAP: i64 = u32::MAX as i64;

/// The last second chrono (which atticadm adds the validity with) can represent; beyond it atticadm
/// refuses with "Expiry timestamp overflowed".
pub const ATTICADM_LAST_SECOND: i64 = 8_210_298_412_799;

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
            exp: Some(
                self.now.saturating_add(i64::try_from(self.validity_secs).unwrap_or(i64::MAX)).min(TIMESTAMP_CAP),
            ),
            nbf: Some(self.now),
            iat: None,
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
    /// Where atticd accepts this token more leniently than is wise (no expiry, a negative one, …).
    pub notes: Vec<String>,
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

/// JSON with every object's keys in the order they were written: serde_json's own map sorts them,
/// and the order of the cache patterns decides which wildcard atticd picks.
#[derive(Debug, Clone, PartialEq)]
enum Json {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Json;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("JSON")
            }
            fn visit_unit<E>(self) -> Result<Json, E> {
                Ok(Json::Null)
            }
            fn visit_bool<E>(self, b: bool) -> Result<Json, E> {
                Ok(Json::Bool(b))
            }
            fn visit_u64<E>(self, n: u64) -> Result<Json, E> {
                Ok(Json::Number(n.into()))
            }
            fn visit_i64<E>(self, n: i64) -> Result<Json, E> {
                Ok(Json::Number(n.into()))
            }
            fn visit_f64<E>(self, n: f64) -> Result<Json, E> {
                Ok(serde_json::Number::from_f64(n).map_or(Json::Null, Json::Number))
            }
            fn visit_str<E>(self, s: &str) -> Result<Json, E> {
                Ok(Json::String(s.to_owned()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
                let mut out = vec![];
                while let Some(v) = seq.next_element()? {
                    out.push(v);
                }
                Ok(Json::Array(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
                let mut out = vec![];
                while let Some(entry) = map.next_entry::<String, Json>()? {
                    out.push(entry);
                }
                Ok(Json::Object(out))
            }
        }
        d.deserialize_any(V)
    }
}

impl fmt::Display for Json {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Json::Null => f.write_str("null"),
            Json::Bool(b) => write!(f, "{b}"),
            Json::Number(n) => write!(f, "{n}"),
            Json::String(s) => f.write_str(&json_str(s)),
            Json::Array(_) => f.write_str("a list"),
            Json::Object(_) => f.write_str("an object"),
        }
    }
}

/// An object's entries, refusing a key written twice where atticd's decoder (serde's derive) does.
fn fields<'a>(what: &str, v: &'a Json, unique: &[&str]) -> Result<&'a [(String, Json)], Malformed> {
    let Json::Object(entries) = v else {
        return bad(format!("{what} is {v}, not a JSON object"));
    };
    for key in unique {
        if entries.iter().filter(|(k, _)| k == key).count() > 1 {
            return bad(format!("{what}: {key:?} appears twice (atticd refuses such a token)"));
        }
    }
    Ok(entries)
}

fn get<'a>(entries: &'a [(String, Json)], key: &str) -> Option<&'a Json> {
    entries.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

fn part(what: &str, text: &str) -> Result<Vec<u8>, Malformed> {
    URL_SAFE_NO_PAD.decode(text).or_else(|_| bad(format!("the {what} is not unpadded base64url")))
}

/// A time claim as atticd's JWT library (jwt-simple 0.11) reads it: any JSON number; a fraction is
/// dropped, a negative float counts as 0, a negative integer wraps to a huge value, and everything at
/// or past 2^32 s saturates to [`TIMESTAMP_CAP`].
fn time_claim(claims: &[(String, Json)], key: &str, notes: &mut Vec<String>) -> Result<Option<i64>, Malformed> {
    let n = match get(claims, key) {
        None => return Ok(None),
        Some(Json::Number(n)) => n,
        Some(v) => return bad(format!("claim {key:?} is {v}, not a number of seconds (atticd refuses the token)")),
    };
    let secs: u64 = if let Some(u) = n.as_u64() {
        u
    } else if let Some(i) = n.as_i64() {
        notes.push(format!(
            "claim {key:?} is negative ({i}); atticd reads it as {} (its JWT library wraps negative integers)",
            crate::words::utc(TIMESTAMP_CAP)
        ));
        i as u64
    } else {
        let f = n.as_f64().unwrap_or(0.0);
        notes.push(format!("claim {key:?} is {n}, not whole seconds; atticd drops the fraction"));
        f as u64
    };
    if secs > TIMESTAMP_CAP as u64 && n.as_u64().is_some() {
        notes.push(format!(
            "claim {key:?} is {n}, past what atticd can hold; it reads {}",
            crate::words::utc(TIMESTAMP_CAP)
        ));
    }
    Ok(Some(secs.min(TIMESTAMP_CAP as u64) as i64))
}

fn string_claim(claims: &[(String, Json)], key: &str) -> Result<Option<String>, Malformed> {
    match get(claims, key) {
        None | Some(Json::Null) => Ok(None),
        Some(Json::String(s)) => Ok(Some(s.clone())),
        Some(v) => bad(format!("claim {key:?} is {v}, not a string (atticd refuses the token)")),
    }
}

fn parse_caches(ns: &Json) -> Result<Caches, Malformed> {
    let ns = fields(&format!("claim {NAMESPACE:?}"), ns, &["caches"])?;
    let Some(caches) = get(ns, "caches") else {
        return bad(format!("claim {NAMESPACE:?} has no \"caches\" (atticd refuses such a token)"));
    };
    let caches = fields("\"caches\"", caches, &[])?;
    let keys: Vec<&str> = PERMS.iter().map(|p| p.key).collect();
    let mut out: Vec<(String, Perms)> = vec![];
    for (pattern, perms) in caches {
        check_pattern(pattern).map_err(|e| Malformed(format!("\"caches\": {e} (atticd refuses the token)")))?;
        let map = fields(&format!("\"caches\".{pattern:?}"), perms, &keys)?;
        let mut p = Perms::default();
        for (i, perm) in PERMS.iter().enumerate() {
            match get(map, perm.key) {
                None => {}
                Some(Json::Number(n)) if n.as_u64() == Some(1) => p.0[i] = true,
                Some(Json::Number(n)) if n.as_u64() == Some(0) => {}
                Some(v) => {
                    return bad(format!(
                        "\"caches\".{pattern:?}.{:?} ({}) is {v}; atticd accepts only the integers 0 or 1",
                        perm.key, perm.words
                    ));
                }
            }
        }
        // Written twice, the later grant counts and the pattern keeps its first place, as in the
        // IndexMap atticd reads the caches into.
        match out.iter_mut().find(|(k, _)| k == pattern) {
            Some((_, existing)) => *existing = p,
            None => out.push((pattern.clone(), p)),
        }
    }
    Ok(Caches(out))
}

/// The header's registered fields, typed as atticd's JWT library reads them: a mistyped one fails.
const HEADER_STRINGS: [&str; 8] = ["alg", "cty", "kid", "typ", "jku", "jwk", "x5u", "x5t"];
const HEADER_LISTS: [&str; 2] = ["crit", "x5c"];
/// jwt-simple's limit on the encoded header.
const MAX_HEADER_LENGTH: usize = 8192;

fn check_header(header: &[(String, Json)]) -> Result<Alg, Malformed> {
    for key in HEADER_STRINGS.iter().chain(["x5t#S256"].iter()) {
        match get(header, key) {
            None | Some(Json::String(_)) => {}
            Some(Json::Null) if *key != "alg" => {}
            Some(v) => return bad(format!("header {key:?} is {v}, not a string (atticd refuses the token)")),
        }
    }
    for key in HEADER_LISTS {
        match get(header, key) {
            None | Some(Json::Null) => {}
            Some(Json::Array(a)) if a.iter().all(|v| matches!(v, Json::String(_))) => {}
            Some(v) => return bad(format!("header {key:?} is {v}, not a list of strings (atticd refuses the token)")),
        }
    }
    // jwt-simple: any case, "JWT" or a "+JWT" media type (at+jwt); absent is fine.
    if let Some(Json::String(t)) = get(header, "typ") {
        let up = t.to_uppercase();
        if up != "JWT" && !up.ends_with("+JWT") {
            return bad(format!(
                "header \"typ\" is {t:?}; atticd accepts only a JWT type (\"JWT\" or \"…+jwt\", in any case) or none"
            ));
        }
    }
    match get(header, "alg") {
        Some(Json::String(a)) if a == "HS256" => Ok(Alg::Hs256),
        Some(Json::String(a)) if a == "RS256" => Ok(Alg::Rs256),
        Some(a) => bad(format!("algorithm {a} in the header: atticd verifies only HS256 or RS256, as its key is")),
        None => bad("the header names no algorithm (\"alg\"); atticd refuses the token"),
    }
}

/// Split and parse a token exactly as atticd reads it (jwt-simple 0.11 and attic's claims). The
/// signature is returned, not checked.
pub fn parse(token: &str) -> Result<Parsed, Malformed> {
    let token = token.trim();
    let pieces: Vec<&str> = token.split('.').collect();
    if pieces.len() != 3 {
        return bad(format!("a JWT has 3 dot-separated parts; this has {}", pieces.len()));
    }
    if pieces[0].len() > MAX_HEADER_LENGTH {
        return bad(format!("the header is longer than atticd takes ({MAX_HEADER_LENGTH} characters)"));
    }
    let header_bytes = part("header", pieces[0])?;
    let claims_bytes = part("claims part", pieces[1])?;
    let signature = part("signature", pieces[2])?;
    let header_json = String::from_utf8(header_bytes).or_else(|_| bad("the header is not UTF-8"))?;
    let claims_json = String::from_utf8(claims_bytes).or_else(|_| bad("the claims are not UTF-8"))?;
    let header: Json = serde_json::from_str(&header_json).or_else(|e| bad(format!("the header is not JSON: {e}")))?;
    let mut unique: Vec<&str> = HEADER_STRINGS.to_vec();
    unique.extend(HEADER_LISTS);
    unique.push("x5t#S256");
    let alg = check_header(fields("the header", &header, &unique)?)?;
    let claims: Json = serde_json::from_str(&claims_json).or_else(|e| bad(format!("the claims are not JSON: {e}")))?;
    let claims = fields("the claims", &claims, &["iat", "exp", "nbf", "iss", "sub", "aud", "jti", "nonce", NAMESPACE])?;
    let mut notes = vec![];
    let exp = time_claim(claims, "exp", &mut notes)?;
    let nbf = time_claim(claims, "nbf", &mut notes)?;
    let iat = time_claim(claims, "iat", &mut notes)?;
    if exp.is_none() {
        notes.push(
            "no expiry (\"exp\"): atticd accepts this token for as long as its key is unchanged — more lenient than is wise"
                .into(),
        );
    }
    let iss = string_claim(claims, "iss")?;
    let sub = string_claim(claims, "sub")?;
    string_claim(claims, "jti")?;
    string_claim(claims, "nonce")?;
    let aud = match get(claims, "aud") {
        None => vec![],
        Some(Json::String(s)) => vec![s.clone()],
        Some(Json::Array(a)) => a
            .iter()
            .map(|v| match v {
                Json::String(s) => Ok(s.clone()),
                other => bad(format!("claim \"aud\" holds {other}, not a string (atticd refuses the token)")),
            })
            .collect::<Result<_, _>>()?,
        Some(v) => return bad(format!("claim \"aud\" is {v}, not a string or a list (atticd refuses the token)")),
    };
    let Some(ns) = get(claims, NAMESPACE) else {
        return bad(format!("no {NAMESPACE:?} claim: not an attic token (atticd refuses it)"));
    };
    let caches = parse_caches(ns)?;
    let signing_input = format!("{}.{}", pieces[0], pieces[1]);
    Ok(Parsed {
        header_json,
        claims_json,
        alg,
        claims: Claims { exp, nbf, iat, iss, sub, aud, caches },
        signing_input,
        signature,
        notes,
    })
}

/// Where a token stands in time, as atticd sees it (no leeway).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeStatus {
    NotYetValid,
    Valid,
    Expired,
}

/// atticd compares with the sub-second clock, so a token is expired from its `exp` second on; a
/// saturated time lasts to the end of that second.
pub fn time_status(claims: &Claims, now: i64) -> TimeStatus {
    let end_of = |t: i64| if t == TIMESTAMP_CAP { t + 1 } else { t };
    if claims.nbf.into_iter().chain(claims.iat).any(|t| now < end_of(t)) {
        TimeStatus::NotYetValid
    } else if claims.exp.is_some_and(|exp| now >= end_of(exp)) {
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
        assert!(parse(&token_with(&t)).unwrap_err().0.contains("only the integers 0 or 1"));
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
        let c = Claims {
            exp: Some(200),
            nbf: Some(100),
            iat: None,
            iss: None,
            sub: None,
            aud: vec![],
            caches: Caches::default(),
        };
        assert_eq!(time_status(&c, 99), TimeStatus::NotYetValid);
        assert_eq!(time_status(&c, 100), TimeStatus::Valid);
        assert_eq!(time_status(&c, 199), TimeStatus::Valid);
        // atticd's clock has fractions of a second: past the first instant of `exp` it refuses.
        assert_eq!(time_status(&c, 200), TimeStatus::Expired);
        let issued_later = Claims { iat: Some(150), ..c.clone() };
        assert_eq!(time_status(&issued_later, 149), TimeStatus::NotYetValid);
        let forever = Claims { exp: None, ..c.clone() };
        assert_eq!(time_status(&forever, i64::MAX), TimeStatus::Valid);
        let capped = Claims { exp: Some(TIMESTAMP_CAP), ..c };
        assert_eq!(time_status(&capped, TIMESTAMP_CAP), TimeStatus::Valid);
        assert_eq!(time_status(&capped, TIMESTAMP_CAP + 1), TimeStatus::Expired);
    }

    #[test]
    fn pattern_order_is_the_tokens_own() {
        // atticadm `--pull 'x*' --push '*'`: the pattern written first wins for "xy".
        let t = r#"{"exp":9,"https://jwt.attic.rs/v1":{"caches":{"x*":{"r":1},"*":{"w":1},"a*":{"d":1}}}}"#;
        let p = parse(&token_with(t)).unwrap();
        let order: Vec<&str> = p.claims.caches.0.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(order, ["x*", "*", "a*"]);
        assert_eq!(p.claims.caches.lookup("xy").map(|(k, perms)| (k, perms.words())), Some(("x*", vec!["pull"])));
        assert_eq!(p.claims.caches.lookup("ab").map(|(k, _)| k), Some("*"));
        // Written twice: the later grant, in the first place (atticd's IndexMap).
        let t = r#"{"exp":9,"https://jwt.attic.rs/v1":{"caches":{"b*":{"r":1},"*":{"w":1},"b*":{"d":1}}}}"#;
        let p = parse(&token_with(t)).unwrap();
        assert_eq!(p.claims.caches.0.len(), 2);
        assert_eq!((p.claims.caches.0[0].0.as_str(), p.claims.caches.0[0].1.words()), ("b*", vec!["delete"]));
    }

    fn with_header(header: &str, claims: &str) -> String {
        format!("{}.{}.c2ln", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(claims))
    }

    #[test]
    fn lenient_where_atticd_is() {
        let ns = r#""https://jwt.attic.rs/v1":{"caches":{}}"#;
        for typ in [r#","typ":"JWT""#, r#","typ":"jwt""#, r#","typ":"at+jwt""#, r#","typ":"Jwt""#, ""] {
            let h = format!(r#"{{"alg":"HS256"{typ}}}"#);
            assert!(parse(&with_header(&h, &format!("{{\"exp\":9,{ns}}}"))).is_ok(), "{h}");
        }
        for typ in ["JWS", "application/json", "jwtx"] {
            let h = format!(r#"{{"alg":"HS256","typ":"{typ}"}}"#);
            assert!(parse(&with_header(&h, &format!("{{{ns}}}"))).unwrap_err().0.contains("\"typ\""), "{h}");
        }
        let h = r#"{"alg":"HS256","kid":7}"#;
        assert!(parse(&with_header(h, &format!("{{{ns}}}"))).unwrap_err().0.contains("\"kid\""));
        assert!(parse(&with_header(r#"{"alg":"hs256"}"#, &format!("{{{ns}}}"))).is_err());

        let p = parse(&token_with(&format!("{{{ns}}}"))).unwrap();
        assert_eq!(p.claims.exp, None);
        assert!(p.notes[0].contains("no expiry"), "{:?}", p.notes);
        let p = parse(&token_with(&format!("{{\"exp\":1803647288.9,\"nbf\":1795757240.5,{ns}}}"))).unwrap();
        assert_eq!((p.claims.exp, p.claims.nbf), (Some(1_803_647_288), Some(1_795_757_240)));
        assert!(p.notes.iter().any(|n| n.contains("drops the fraction")), "{:?}", p.notes);
        let p = parse(&token_with(&format!("{{\"exp\":-1,{ns}}}"))).unwrap();
        assert_eq!(p.claims.exp, Some(TIMESTAMP_CAP));
        assert!(p.notes[0].contains("negative"), "{:?}", p.notes);
        let p = parse(&token_with(&format!("{{\"exp\":-5.5,{ns}}}"))).unwrap();
        assert_eq!(p.claims.exp, Some(0));
        let p = parse(&token_with(&format!("{{\"exp\":99999999999,\"aud\":\"nix\",{ns}}}"))).unwrap();
        assert_eq!((p.claims.exp, p.claims.aud.clone()), (Some(TIMESTAMP_CAP), vec!["nix".to_owned()]));
        for bad in [
            format!("{{\"exp\":\"9\",{ns}}}"),
            format!("{{\"exp\":null,{ns}}}"),
            format!("{{\"sub\":1,{ns}}}"),
            format!("{{\"aud\":[1],{ns}}}"),
            format!("{{\"exp\":1,\"exp\":2,{ns}}}"),
            r#"{"https://jwt.attic.rs/v1":{"caches":{"main":{"r":1.0}}}}"#.to_owned(),
            r#"{"https://jwt.attic.rs/v1":{"caches":{"main":{"r":1,"r":1}}}}"#.to_owned(),
            r#"{"https://jwt.attic.rs/v1":{"caches":{"ma.in":{"r":1}}}}"#.to_owned(),
        ] {
            assert!(parse(&token_with(&bad)).is_err(), "{bad}");
        }
    }
}
