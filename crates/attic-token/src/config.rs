//! atticd's server.toml: what atticd refuses (or would accept and then fail on), found before anything
//! is written; the runtime config rendered from a template with the signing key put in place, comments
//! and layout kept.

use crate::keys::{Key, Kind};
use toml_edit::{DocumentMut, Item, Table, Value};

const TOP_LEVEL: [&str; 13] = [
    "listen",
    "allowed-hosts",
    "api-endpoint",
    "substituter-endpoint",
    "soft-delete-caches",
    "require-proof-of-possession",
    "max-nar-info-size",
    "database",
    "storage",
    "chunking",
    "compression",
    "garbage-collection",
    "jwt",
];

/// Keys in sections atticd knows; others it silently ignores, which hides typos, so we warn.
fn known_keys(section: &str) -> &'static [&'static str] {
    match section {
        "database" => &["url", "heartbeat"],
        "storage" => &["type", "path", "region", "bucket", "endpoint", "credentials"],
        "chunking" => &["nar-size-threshold", "min-size", "avg-size", "max-size"],
        "compression" => &["type", "level"],
        "garbage-collection" => &["interval", "default-retention-period"],
        "jwt" => &["token-bound-issuer", "token-bound-audiences", "signing"],
        _ => &[],
    }
}

/// Keys from a widely copied but invented recipe (they are in the homelab's notes); atticd has no
/// such keys.
const INVENTED: [&str; 3] = ["enableChunkedUpload", "maxChunkSize", "store"];
const CHUNKING_HINT: &str = "attic has no such setting: chunked, deduplicated uploads are controlled by the [chunking] section \
(nar-size-threshold, min-size, avg-size, max-size; NixOS uses 65536, 16384, 65536, 262144)";

// fastcdc (attic's chunker) asserts these bounds; outside them atticd panics on the first chunked upload.
const FASTCDC_MIN: (i64, i64) = (64, 1_048_576);
const FASTCDC_AVG: (i64, i64) = (256, 4_194_304);
const FASTCDC_MAX: (i64, i64) = (1024, 16_777_216);

/// What the checks found: problems stop the run, warnings are logged.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Findings {
    pub problems: Vec<String>,
    pub warnings: Vec<String>,
}

/// The issuer and audiences tokens must carry, and the signing key the config holds (if any).
#[derive(Debug, Default)]
pub struct TokenSettings {
    pub issuer: Option<String>,
    pub audiences: Vec<String>,
    /// `(kind, base64 text)` of the one key under `[jwt.signing]`.
    pub signing: Option<(Kind, homey_kit::secret::Secret)>,
}

pub fn parse(text: &str) -> Result<DocumentMut, String> {
    text.parse::<DocumentMut>().map_err(|e| {
        // toml_edit's message quotes the offending line; keep only its first line (position and
        // reason), since a template may already hold a key.
        let msg = e.to_string();
        let first = msg.lines().next().unwrap_or("").trim().to_owned();
        let reason = msg.lines().rev().find(|l| !l.trim().is_empty() && !l.contains('|')).unwrap_or("").trim();
        format!("not valid TOML: {first} {reason}").trim_end().to_owned()
    })
}

fn kind_of(item: &Item) -> &'static str {
    match item {
        Item::None => "nothing",
        Item::Value(Value::String(_)) => "a string",
        Item::Value(Value::Integer(_)) => "an integer",
        Item::Value(Value::Float(_)) => "a float",
        Item::Value(Value::Boolean(_)) => "a boolean",
        Item::Value(Value::Datetime(_)) => "a date",
        Item::Value(Value::Array(_)) | Item::ArrayOfTables(_) => "a list",
        Item::Value(Value::InlineTable(_)) | Item::Table(_) => "a table",
    }
}

fn is_table(item: &Item) -> bool {
    item.is_table_like()
}

struct Checker<'a> {
    f: &'a mut Findings,
}

impl Checker<'_> {
    fn problem(&mut self, msg: String) {
        self.f.problems.push(msg);
    }

    fn expect(&mut self, entry: &str, item: &Item, want: &'static str) -> bool {
        let ok = match want {
            "a string" => item.as_str().is_some(),
            "an integer" => item.as_integer().is_some(),
            "a boolean" => item.as_bool().is_some(),
            "a list of strings" => item.as_array().is_some_and(|a| a.iter().all(|v| v.as_str().is_some())),
            _ => unreachable!("unknown type {want}"),
        };
        if !ok && !item.is_none() {
            self.problem(format!("{entry}: must be {want}, not {}", kind_of(item)));
        }
        ok
    }

    fn required(
        &mut self,
        section: &str,
        table: &dyn toml_edit::TableLike,
        key: &str,
        want: &'static str,
    ) -> Option<Item> {
        match table.get(key) {
            None => {
                self.problem(format!("[{section}] {key}: missing (atticd requires it)"));
                None
            }
            Some(item) => self.expect(&format!("[{section}] {key}"), item, want).then(|| item.clone()),
        }
    }
}

/// Everything atticd would refuse, or that would start and then fail.
pub fn check(doc: &DocumentMut) -> Findings {
    let mut findings = Findings::default();
    let mut c = Checker { f: &mut findings };
    for (key, item) in doc.iter() {
        if key == "token-hs256-secret-base64"
            || key == "token-rs256-secret-base64"
            || key == "token-rs256-pubkey-base64"
        {
            c.problem(format!("{key}: at the top level is an error in current atticd; move it under [jwt.signing]"));
        } else if INVENTED.contains(&key) {
            c.problem(format!("[{key}]: atticd refuses to start (unknown field `{key}`); {CHUNKING_HINT}"));
        } else if !TOP_LEVEL.contains(&key) {
            c.problem(format!(
                "{key}: unknown top-level key; atticd refuses to start with it (known: {})",
                TOP_LEVEL.join(", ")
            ));
        } else if known_keys(key).is_empty() {
            let want = match key {
                "allowed-hosts" => "a list of strings",
                "soft-delete-caches" | "require-proof-of-possession" => "a boolean",
                "max-nar-info-size" => "an integer",
                _ => "a string",
            };
            if c.expect(key, item, want) && key == "api-endpoint" && !item.as_str().unwrap_or("").ends_with('/') {
                c.problem(format!(
                    "api-endpoint = {:?}: must end with \"/\" (attic joins paths onto it and the client URLs break without it)",
                    item.as_str().unwrap_or("")
                ));
            }
        } else if !is_table(item) {
            c.problem(format!("{key}: must be a table ([{key}]), not {}", kind_of(item)));
        } else {
            let table = item.as_table_like().expect("checked");
            for (k, _) in table.iter() {
                if INVENTED.contains(&k) {
                    c.problem(format!("[{key}] {k}: {CHUNKING_HINT}"));
                } else if !known_keys(key).contains(&k) {
                    c.f.warnings.push(format!("[{key}] {k}: atticd does not know this key and silently ignores it"));
                }
            }
        }
    }
    for section in ["database", "storage", "chunking"] {
        if doc.get(section).is_none() {
            c.problem(format!("[{section}]: missing; atticd will not start without it"));
        }
    }
    let table = |name: &str| doc.get(name).and_then(Item::as_table_like);
    if let Some(t) = table("database") {
        c.required("database", t, "url", "a string");
    }
    if let Some(t) = table("storage") {
        match c.required("storage", t, "type", "a string").as_ref().and_then(Item::as_str) {
            Some("local") => {
                c.required("storage", t, "path", "a string");
            }
            Some("s3") => {
                c.required("storage", t, "region", "a string");
                c.required("storage", t, "bucket", "a string");
            }
            Some(other) => c.problem(format!("[storage] type = {other:?}: must be \"local\" or \"s3\"")),
            None => {}
        }
    }
    if let Some(t) = table("chunking") {
        let mut v = vec![];
        for key in ["nar-size-threshold", "min-size", "avg-size", "max-size"] {
            let n = c.required("chunking", t, key, "an integer").and_then(|i| i.as_integer());
            if let Some(n) = n.filter(|n| *n < 0) {
                c.problem(format!("[chunking] {key} = {n}: must not be negative"));
            }
            v.push(n);
        }
        if let [_, Some(min), Some(avg), Some(max)] = v[..] {
            if !(min <= avg && avg <= max) {
                c.problem(format!(
                    "[chunking] min-size = {min}, avg-size = {avg}, max-size = {max}: must be min-size ≤ avg-size ≤ max-size"
                ));
            }
            for (key, n, (lo, hi)) in
                [("min-size", min, FASTCDC_MIN), ("avg-size", avg, FASTCDC_AVG), ("max-size", max, FASTCDC_MAX)]
            {
                if n < lo || n > hi {
                    c.problem(format!(
                        "[chunking] {key} = {n}: attic's chunker (fastcdc) needs {lo} ≤ {key} ≤ {hi} and would crash on the first upload"
                    ));
                }
            }
        }
    }
    if let Some(item) = table("compression").and_then(|t| t.get("type")) {
        if c.expect("[compression] type", item, "a string") {
            let ty = item.as_str().unwrap_or("");
            if !["none", "brotli", "zstd", "xz"].contains(&ty) {
                c.problem(format!("[compression] type = {ty:?}: must be one of none, brotli, zstd, xz"));
            }
        }
    }
    if let Some(t) = table("garbage-collection") {
        for key in ["interval", "default-retention-period"] {
            if let Some(item) = t.get(key) {
                c.expect(&format!("[garbage-collection] {key}"), item, "a string");
            }
        }
    }
    if let Some(jwt) = table("jwt") {
        if let Some(item) = jwt.get("token-bound-issuer") {
            c.expect("[jwt] token-bound-issuer", item, "a string");
        }
        if let Some(item) = jwt.get("token-bound-audiences") {
            c.expect("[jwt] token-bound-audiences", item, "a list of strings");
        }
        if let Some(signing) = jwt.get("signing") {
            match signing.as_table_like() {
                None => c.problem(format!("[jwt] signing: must be a table ([jwt.signing]), not {}", kind_of(signing))),
                Some(s) => {
                    for (k, item) in s.iter() {
                        if Kind::from_config_key(k).is_none() {
                            c.problem(format!(
                                "[jwt.signing] {k}: unknown key (known: token-hs256-secret-base64, token-rs256-secret-base64, token-rs256-pubkey-base64)"
                            ));
                        } else {
                            c.expect(&format!("[jwt.signing] {k}"), item, "a string");
                        }
                    }
                    if s.len() > 1 {
                        c.problem("[jwt.signing]: holds more than one key; atticd needs exactly one".into());
                    }
                }
            }
        }
    }
    findings
}

/// Issuer, audiences and the signing key from a checked config.
pub fn token_settings(doc: &DocumentMut) -> TokenSettings {
    let jwt = doc.get("jwt").and_then(Item::as_table_like);
    let issuer = jwt.and_then(|j| j.get("token-bound-issuer")).and_then(Item::as_str).map(str::to_owned);
    let audiences = jwt
        .and_then(|j| j.get("token-bound-audiences"))
        .and_then(Item::as_array)
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    let signing = jwt.and_then(|j| j.get("signing")).and_then(Item::as_table_like).and_then(|s| {
        s.iter().find_map(|(k, v)| {
            Some((Kind::from_config_key(k)?, homey_kit::secret::Secret::new(v.as_str()?.as_bytes())))
        })
    });
    TokenSettings { issuer, audiences, signing }
}

/// Put `key` under `[jwt.signing]` as the only key, leaving the rest of the document as written.
pub fn put_signing_key(doc: &mut DocumentMut, key: &Key) -> Result<(), String> {
    let secret = key.base64().expose_str().map_err(|_| "the key is not text".to_owned())?.to_owned();
    let root = doc.as_table_mut();
    if !root.contains_key("jwt") {
        let mut jwt = Table::new();
        jwt.set_implicit(true);
        root.insert("jwt", Item::Table(jwt));
    }
    let jwt = root.get_mut("jwt").and_then(Item::as_table_like_mut).ok_or("[jwt] is not a table")?;
    if jwt.get("signing").is_none() {
        jwt.insert("signing", Item::Table(Table::new()));
    }
    let signing = jwt.get_mut("signing").and_then(Item::as_table_like_mut).ok_or("[jwt.signing] is not a table")?;
    for kind in Kind::ALL {
        signing.remove(kind.config_key());
    }
    signing.insert(key.kind.config_key(), toml_edit::value(secret));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"# the runtime config of atticd
listen = "[::]:8080"
api-endpoint = "https://attic.example.com/"

[database]
url = "sqlite:///var/lib/atticd/server.db?mode=rwc"

[storage]
type = "local" # on the external disk
path = "/mnt/data/attic"

[chunking]
nar-size-threshold = 65536
min-size = 16384
avg-size = 65536
max-size = 262144
"#;

    fn problems(text: &str) -> Vec<String> {
        check(&parse(text).unwrap()).problems
    }

    #[test]
    fn a_good_template_passes() {
        assert_eq!(check(&parse(GOOD).unwrap()), Findings::default());
    }

    #[test]
    fn the_invented_store_section_is_refused_with_the_reason() {
        let text = format!("{GOOD}\n[store]\nenableChunkedUpload = true\nmaxChunkSize = 5_000_000\n");
        let p = problems(&text);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].starts_with("[store]") && p[0].contains("[chunking]"), "{p:?}");
        let p = problems(&GOOD.replace("max-size = 262144", "max-size = 262144\nenableChunkedUpload = true"));
        assert!(p[0].contains("[chunking] enableChunkedUpload") && p[0].contains("no such setting"), "{p:?}");
    }

    #[test]
    fn each_bad_template_gets_its_own_line() {
        let cases = [
            (GOOD.replace("[database]\nurl", "[databse]\nurl"), "databse: unknown top-level key"),
            (
                GOOD.replace("[database]\nurl = \"sqlite:///var/lib/atticd/server.db?mode=rwc\"", ""),
                "[database]: missing",
            ),
            (GOOD.replace("[storage]", "[storage_]"), "[storage]: missing"),
            (GOOD.replace("[chunking]", "[chunkin]"), "[chunking]: missing"),
            (GOOD.replace("avg-size = 65536", "avg-size = 8192"), "must be min-size ≤ avg-size ≤ max-size"),
            (GOOD.replace("min-size = 16384\n", ""), "[chunking] min-size: missing"),
            (
                GOOD.replace("max-size = 262144", "max-size = \"256k\""),
                "[chunking] max-size: must be an integer, not a string",
            ),
            (GOOD.replace("example.com/\"", "example.com\""), "must end with \"/\""),
            (GOOD.replace("type = \"local\"", "type = \"nfs\""), "[storage] type = \"nfs\""),
            (GOOD.replace("path = \"/mnt/data/attic\"", ""), "[storage] path: missing"),
            (format!("token-hs256-secret-base64 = \"eA==\"\n{GOOD}"), "move it under [jwt.signing]"),
            (GOOD.replace("min-size = 16384", "min-size = 16"), "fastcdc"),
            (format!("{GOOD}[compression]\ntype = \"lz4\"\n"), "[compression] type = \"lz4\""),
            (
                format!(
                    "{GOOD}[jwt.signing]\ntoken-hs256-secret-base64 = \"eA==\"\ntoken-rs256-pubkey-base64 = \"eA==\"\n"
                ),
                "exactly one",
            ),
        ];
        for (text, want) in cases {
            let p = problems(&text);
            assert!(p.iter().any(|m| m.contains(want)), "want {want:?} in {p:?}");
        }
    }

    #[test]
    fn unknown_keys_in_sections_warn_but_pass() {
        let f = check(&parse(&GOOD.replace("[database]\n", "[database]\nurll = 1\n")).unwrap());
        assert!(f.problems.is_empty());
        assert_eq!(f.warnings, ["[database] urll: atticd does not know this key and silently ignores it"]);
    }

    #[test]
    fn signing_key_goes_in_keeping_comments() {
        use base64::Engine;
        let mut doc = parse(GOOD).unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode("k");
        let key = Key::from_base64(b64.as_bytes(), None).unwrap();
        put_signing_key(&mut doc, &key).unwrap();
        let out = doc.to_string();
        assert!(out.starts_with(GOOD), "{out}");
        assert!(out.ends_with(&format!("\n[jwt.signing]\ntoken-hs256-secret-base64 = \"{b64}\"\n")), "{out}");
        let doc = parse(&out).unwrap();
        assert!(check(&doc).problems.is_empty());
        let s = token_settings(&doc);
        assert_eq!(s.signing.map(|(k, v)| (k, v.expose().to_vec())), Some((Kind::Hs256Secret, b64.into_bytes())));
    }

    #[test]
    fn an_existing_key_is_replaced_not_doubled() {
        use base64::Engine;
        let text = format!(
            "{GOOD}\n[jwt]\ntoken-bound-issuer = \"me\" # keep\n\n[jwt.signing]\ntoken-rs256-pubkey-base64 = \"old\"\n"
        );
        let mut doc = parse(&text).unwrap();
        let key = Key::from_base64(base64::engine::general_purpose::STANDARD.encode("k").as_bytes(), None).unwrap();
        put_signing_key(&mut doc, &key).unwrap();
        let out = doc.to_string();
        assert!(!out.contains("\"old\"") && out.contains("token-bound-issuer = \"me\" # keep"), "{out}");
        assert_eq!(token_settings(&doc).issuer.as_deref(), Some("me"));
    }
}
