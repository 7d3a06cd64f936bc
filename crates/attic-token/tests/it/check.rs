//! `check` against a loopback stand-in for atticd's `GET /_api/v1/cache-config/NAME`, deciding as
//! atticd does: it reads the token as jwt-simple 0.11 does (any `typ` that is JWT or `…+jwt`, `exp`
//! optional, timestamps integer or float, no leeway) and the caches in the token's own order, exact
//! name first, then the first pattern that matches; an invalid token is anonymous; 200 needs pull (or
//! a public cache); 403 when the token has some permission but not pull; 404 for a missing cache the
//! token may discover; else 401.

use crate::*;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::Mac;
use serde::de::{Deserializer, MapAccess, Visitor};
use test_support::http::{Response, Stub};

const CACHES: &[(&str, bool)] = &[("main", false), ("public", true), ("xy", false)];

fn glob(p: &str, c: &str) -> bool {
    match p.split_once('*') {
        None => p == c,
        Some((head, tail)) => c.starts_with(head) && glob_rest(tail, &c[head.len()..]),
    }
}

fn glob_rest(p: &str, c: &str) -> bool {
    (0..=c.len()).any(|i| glob(p, &c[i..]))
}

/// atticd's `caches`: an IndexMap, so the token's order is kept.
struct InOrder(Vec<(String, serde_json::Map<String, serde_json::Value>)>);

impl<'de> serde::Deserialize<'de> for InOrder {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = InOrder;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("caches")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<InOrder, A::Error> {
                let mut v = vec![];
                while let Some(e) = m.next_entry()? {
                    v.push(e);
                }
                Ok(InOrder(v))
            }
        }
        d.deserialize_map(V)
    }
}

#[derive(serde::Deserialize)]
struct Ns {
    caches: InOrder,
}

#[derive(serde::Deserialize)]
struct AtticClaims {
    exp: Option<f64>,
    nbf: Option<f64>,
    #[serde(rename = "https://jwt.attic.rs/v1")]
    ns: Ns,
}

#[derive(serde::Deserialize)]
struct Header {
    alg: String,
    typ: Option<String>,
}

/// The permissions a bearer token grants on `cache` as atticd would see them (empty if invalid).
fn perms_of(auth: Option<&str>, cache: &str) -> serde_json::Map<String, serde_json::Value> {
    let none = serde_json::Map::new();
    let Some(token) = auth.and_then(|a| a.strip_prefix("Bearer ")) else { return none };
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        return none;
    }
    let Some(header) = URL_SAFE_NO_PAD.decode(parts[0]).ok().and_then(|h| serde_json::from_slice::<Header>(&h).ok())
    else {
        return none;
    };
    let typ_ok = header.typ.map(|t| t.to_uppercase()).is_none_or(|t| t == "JWT" || t.ends_with("+JWT"));
    if header.alg != "HS256" || !typ_ok {
        return none;
    }
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SAMPLE_SECRET.as_bytes()).unwrap();
    mac.update(format!("{}.{}", parts[0], parts[1]).as_bytes());
    let Ok(sig) = URL_SAFE_NO_PAD.decode(parts[2]) else { return none };
    if mac.verify_slice(&sig).is_err() {
        return none;
    }
    let Ok(claims) = serde_json::from_slice::<AtticClaims>(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()) else {
        return none;
    };
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
    if claims.exp.is_some_and(|exp| now > exp.trunc()) || claims.nbf.is_some_and(|nbf| now < nbf.trunc()) {
        return none;
    }
    let caches = claims.ns.caches.0;
    caches
        .iter()
        .find(|(p, _)| p == cache)
        .or_else(|| caches.iter().find(|(p, _)| glob(p, cache)))
        .map(|(_, v)| v.clone())
        .unwrap_or(none)
}

fn stand_in() -> Stub {
    Stub::start(|req| {
        let Some(cache) = req.target.strip_prefix("/_api/v1/cache-config/") else {
            return Response::new(404, "not found");
        };
        let perms = perms_of(req.header("authorization"), cache);
        let can = |k: &str| perms.get(k).and_then(|v| v.as_u64()) == Some(1);
        let any = perms.values().any(|v| v.as_u64() == Some(1));
        match CACHES.iter().find(|(n, _)| *n == cache) {
            None if any => Response::json(
                404,
                r#"{"code":404,"error":"NoSuchCache","message":"The requested cache does not exist."}"#,
            ),
            None => Response::json(401, r#"{"code":401,"error":"Unauthorized"}"#),
            Some((_, public)) if can("r") || *public => Response::json(
                200,
                r#"{"public_key":"main:x","is_public":false,"store_dir":"/nix/store","priority":41}"#,
            ),
            Some(_) if any => Response::json(403, r#"{"code":403,"error":"Forbidden"}"#),
            Some(_) => Response::json(401, r#"{"code":401,"error":"Unauthorized"}"#),
        }
    })
}

fn mint(dir: &Path, name: &str, args: &[&str]) -> PathBuf {
    let secret = sample_secret(dir);
    let out = run(bin().args(["mint", "--sub", "t"]).args(args).arg("--secret-file").arg(&secret));
    assert_eq!(out.code, 0, "{}", out.stderr);
    write(dir, name, out.stdout.trim(), 0o600)
}

fn check(stub_url: &str, cache: &str, token_file: &Path) -> Out {
    run(bin().args(["check", "--endpoint", stub_url, "--cache", cache, "--token-file"]).arg(token_file))
}

#[test]
fn each_answer_in_words() {
    let d = tempfile::tempdir().unwrap();
    let stub = stand_in();
    let url = stub.url("/");
    let pull = mint(d.path(), "pull", &["--validity", "1d", "--pull", "main", "--push", "main"]);
    let push_only = mint(d.path(), "push", &["--validity", "1d", "--push", "*"]);
    let other = mint(d.path(), "other", &["--validity", "1d", "--pull", "team-*"]);
    let expired = mint(d.path(), "expired", &["--validity", "1m", "--pull", "main", "--now", "1000000000"]);
    let foreign = write(
        d.path(),
        "foreign",
        format!("{}.{}", SAMPLE_TOKEN.rsplit_once('.').unwrap().0, URL_SAFE_NO_PAD.encode([7u8; 32])),
        0o600,
    );

    let cases: &[(&Path, &str, i32, &str)] = &[
        (
            &pull,
            "main",
            0,
            "works: the server accepts the token for cache \"main\" (granted by pattern \"main\": pull, push)",
        ),
        (
            &push_only,
            "main",
            1,
            "refused (403 Forbidden): the server accepts the token, but the token's grant on \"main\" (pattern \"*\": push) lacks pull",
        ),
        (&push_only, "nosuch", 1, "no such cache: the server has no cache named \"nosuch\""),
        (&other, "main", 1, "refused (401 Unauthorized): the token grants nothing on cache \"main\""),
        (&expired, "main", 1, "refused (401 Unauthorized): the token is EXPIRED at 2001-09-09"),
        (
            &foreign,
            "main",
            1,
            "refused (401 Unauthorized): the server rejects the token: it was signed with another key",
        ),
        (&other, "public", 0, "works: the server accepts the token for cache \"public\" (the cache is public"),
    ];
    for (token, cache, code, want) in cases {
        let out = check(&url, cache, token);
        assert_eq!(out.code, *code, "{want}: {}{}", out.stdout, out.stderr);
        assert!(out.stdout.starts_with(want), "want {want:?}, got {}", out.stdout);
    }
    // What the server was asked: the right path, the token as a bearer, nothing else.
    let reqs = stub.requests();
    assert_eq!(reqs.len(), cases.len());
    assert_eq!(reqs[0].method, "GET");
    assert_eq!(reqs[0].target, "/_api/v1/cache-config/main");
    let token = std::fs::read_to_string(&pull).unwrap();
    assert_eq!(reqs[0].header("authorization"), Some(format!("Bearer {token}").as_str()));
}

#[test]
fn a_dead_server_is_unavailable_and_the_token_never_shows() {
    let d = tempfile::tempdir().unwrap();
    let token = mint(d.path(), "t", &["--validity", "1d", "--pull", "main"]);
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let out = check(&format!("http://127.0.0.1:{port}/"), "main", &token);
    assert_eq!(out.code, 69, "{}", out.stderr);
    assert!(out.stderr.contains("cannot reach the Attic server"), "{}", out.stderr);
    let tok = std::fs::read_to_string(&token).unwrap();
    assert!(!out.stderr.contains(&tok) && !out.stdout.contains(&tok));
    let bad = run(bin().args(["check", "--endpoint", "http://x/", "--cache", "te*", "--token-file"]).arg(&token));
    assert_eq!(bad.code, 2, "{}", bad.stderr);
}

#[test]
fn redirects_are_not_followed_and_server_errors_are_unavailable() {
    let d = tempfile::tempdir().unwrap();
    let token = mint(d.path(), "t", &["--validity", "1d", "--pull", "main"]);
    let redirecting = Stub::start(|_| Response::new(302, ""));
    let out = check(&redirecting.url("/"), "main", &token);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("answered 302 with a redirect") && out.stderr.contains("--endpoint"), "{}", out.stderr);
    assert_eq!(redirecting.requests().len(), 1, "the token was not sent on");

    let failing = Stub::start(|_| Response::new(503, "busy"));
    let out = check(&failing.url("/"), "main", &token);
    assert_eq!(out.code, 69, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("the server failed (503)"), "{}", out.stdout);
}

#[test]
fn the_first_matching_pattern_in_the_tokens_order_decides() {
    let d = tempfile::tempdir().unwrap();
    let stub = stand_in();
    // atticadm writes pulls first: "x*" (pull) comes before "*" (push) in the token.
    let token = mint(d.path(), "t", &["--validity", "1d", "--push", "*", "--pull", "x*"]);
    let out = check(&stub.url("/"), "xy", &token);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .starts_with("works: the server accepts the token for cache \"xy\" (granted by pattern \"x*\": pull)"),
        "{}",
        out.stdout
    );
    let out = check(&stub.url("/"), "main", &token);
    assert_eq!(out.code, 1);
    assert!(out.stdout.contains("(pattern \"*\": push) lacks pull"), "{}", out.stdout);
}

#[test]
fn tokens_atticd_accepts_leniently_work() {
    let d = tempfile::tempdir().unwrap();
    let stub = stand_in();
    let ns = r#""https://jwt.attic.rs/v1":{"caches":{"main":{"r":1}}}"#;
    for (header, claims) in [
        (r#"{"alg":"HS256","typ":"JWT"}"#, format!("{{\"sub\":\"no-exp\",{ns}}}")),
        (r#"{"alg":"HS256","typ":"at+jwt"}"#, format!("{{\"exp\":4102444800,{ns}}}")),
        (r#"{"alg":"HS256"}"#, format!("{{\"exp\":4102444800.5,\"nbf\":1000000000.25,{ns}}}")),
    ] {
        let input = format!("{}.{}", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(&claims));
        let sig = openssl_hmac(d.path(), SAMPLE_SECRET.as_bytes(), &input);
        let token = write(d.path(), "t", format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig)), 0o600);
        let out = check(&stub.url("/"), "main", &token);
        assert_eq!(out.code, 0, "{header} {claims}: {}{}", out.stdout, out.stderr);
        assert!(out.stdout.contains("granted by pattern \"main\": pull"), "{}", out.stdout);
    }
}
