//! atticd's server.toml: what atticd refuses (or would accept and then fail on), found before anything
//! is written; the runtime config rendered from a template with the signing key put in place, comments
//! and layout kept.

use crate::keys::{Key, Kind};
use toml_edit::{DocumentMut, Item, Table, Value};

/// What atticd's serde structs want of a value (server/src/config.rs and the storage configs).
#[derive(Debug, Clone, Copy)]
enum Want {
    Str,
    Bool,
    /// `usize`: a TOML integer, not negative.
    Size,
    /// `Option<i32>`: the compression level.
    I32,
    Strings,
    /// `std::net::SocketAddr`: an IP and a port, no host names.
    SocketAddr,
    /// `humantime_serde`: a string in humantime's grammar.
    Duration,
    OneOf(&'static [&'static str]),
    Table,
}

impl Want {
    fn words(self) -> String {
        match self {
            Want::Str => "a string".into(),
            Want::Bool => "true or false".into(),
            Want::Size => "a whole number, 0 or more".into(),
            Want::I32 => "a whole number (a 32-bit integer, e.g. 3)".into(),
            Want::Strings => "a list of strings".into(),
            Want::SocketAddr => {
                "a socket address: an IP address and a port, e.g. \"[::]:8080\" or \"127.0.0.1:8080\" (no host names)"
                    .into()
            }
            Want::Duration => "a duration in humantime's grammar, e.g. \"12 hours\", \"6 months\" or \"0\"".into(),
            Want::OneOf(v) => format!("one of {}", v.iter().map(|s| format!("\"{s}\"")).collect::<Vec<_>>().join(", ")),
            Want::Table => "a table".into(),
        }
    }
}

#[derive(Clone, Copy)]
struct Field {
    name: &'static str,
    want: Want,
    required: bool,
    /// Never echo the value (it is a secret).
    secret: bool,
}

const fn key(name: &'static str, want: Want) -> Field {
    Field { name, want, required: false, secret: false }
}

const fn required(name: &'static str, want: Want) -> Field {
    Field { name, want, required: true, secret: false }
}

/// atticd's `Config`, which denies unknown top-level fields. Sections are checked by their own lists.
const TOP_LEVEL: &[Field] = &[
    key("listen", Want::SocketAddr),
    key("allowed-hosts", Want::Strings),
    key("api-endpoint", Want::Str),
    key("substituter-endpoint", Want::Str),
    key("soft-delete-caches", Want::Bool),
    key("require-proof-of-possession", Want::Bool),
    key("max-nar-info-size", Want::Size),
    required("database", Want::Table),
    required("storage", Want::Table),
    required("chunking", Want::Table),
    key("compression", Want::Table),
    key("garbage-collection", Want::Table),
    key("jwt", Want::Table),
];

const COMPRESSION_TYPES: &[&str] = &["none", "brotli", "zstd", "xz"];
const STORAGE_TYPES: &[&str] = &["local", "s3"];

const DATABASE: &[Field] = &[required("url", Want::Str), key("heartbeat", Want::Bool)];
const CHUNKING: &[Field] = &[
    required("nar-size-threshold", Want::Size),
    required("min-size", Want::Size),
    required("avg-size", Want::Size),
    required("max-size", Want::Size),
];
const COMPRESSION: &[Field] = &[required("type", Want::OneOf(COMPRESSION_TYPES)), key("level", Want::I32)];
const GARBAGE_COLLECTION: &[Field] =
    &[key("interval", Want::Duration), key("default-retention-period", Want::Duration)];
const JWT: &[Field] =
    &[key("token-bound-issuer", Want::Str), key("token-bound-audiences", Want::Strings), key("signing", Want::Table)];
const STORAGE_TYPE: Field = required("type", Want::OneOf(STORAGE_TYPES));
const STORAGE_LOCAL: &[Field] = &[STORAGE_TYPE, required("path", Want::Str)];
const STORAGE_S3: &[Field] = &[
    STORAGE_TYPE,
    required("region", Want::Str),
    required("bucket", Want::Str),
    key("endpoint", Want::Str),
    // Mistyped, it may hold the keys themselves: never echoed.
    Field { name: "credentials", want: Want::Table, required: false, secret: true },
];
const S3_CREDENTIALS: &[Field] = &[
    required("access_key_id", Want::Str),
    Field { name: "secret_access_key", want: Want::Str, required: true, secret: true },
];

/// The keys of each section atticd reads; others it silently ignores, which hides typos, so we warn.
fn section_keys(section: &str) -> &'static [Field] {
    match section {
        "database" => DATABASE,
        "chunking" => CHUNKING,
        "compression" => COMPRESSION,
        "garbage-collection" => GARBAGE_COLLECTION,
        "jwt" => JWT,
        _ => &[],
    }
}

/// atticd falls back to this variable for `[database] url`.
pub const DATABASE_URL_VAR: &str = "ATTIC_SERVER_DATABASE_URL";

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

/// Does `item` deserialize into what atticd wants? `Err` says what is wrong with it.
fn fits(item: &Item, want: Want) -> Result<(), String> {
    let wrong_type = || Err(format!("not {}", kind_of(item)));
    match want {
        Want::Str => item.as_str().map(drop).map_or_else(wrong_type, Ok),
        Want::Bool => item.as_bool().map(drop).map_or_else(wrong_type, Ok),
        Want::Size => match item.as_integer() {
            Some(n) if n < 0 => Err("negative".into()),
            Some(_) => Ok(()),
            None => wrong_type(),
        },
        Want::I32 => match item.as_integer() {
            Some(n) if i32::try_from(n).is_err() => Err("out of range".into()),
            Some(_) => Ok(()),
            None => wrong_type(),
        },
        Want::Strings => match item.as_array() {
            Some(a) => match a.iter().find(|v| v.as_str().is_none()) {
                Some(v) => Err(format!("it holds {}", kind_of(&Item::Value(v.clone())))),
                None => Ok(()),
            },
            None => wrong_type(),
        },
        Want::SocketAddr => match item.as_str() {
            Some(s) => s.parse::<std::net::SocketAddr>().map(drop).map_err(|_| "not one".into()),
            None => wrong_type(),
        },
        Want::Duration => match item.as_str() {
            Some(s) => humantime::parse_duration(s).map(drop).map_err(|e| e.to_string()),
            None => wrong_type(),
        },
        Want::OneOf(choices) => match item.as_str() {
            Some(s) if choices.contains(&s) => Ok(()),
            Some(_) => Err("not one of them".into()),
            None => wrong_type(),
        },
        Want::Table => item.as_table_like().map(drop).map_or_else(wrong_type, Ok),
    }
}

struct Checker<'a> {
    f: &'a mut Findings,
}

impl Checker<'_> {
    fn problem(&mut self, msg: String) {
        self.f.problems.push(msg);
    }

    /// `entry` is how the key is named in messages: `listen`, `[chunking] min-size`.
    fn value(&mut self, entry: &str, item: &Item, k: &Field) -> bool {
        match fits(item, k.want) {
            Ok(()) => true,
            Err(why) => {
                let shown = match item {
                    Item::Value(v) if !k.secret && !matches!(v, Value::Array(_) | Value::InlineTable(_)) => {
                        format!(" = {}", v.to_string().trim())
                    }
                    _ => String::new(),
                };
                self.problem(format!("{entry}{shown}: atticd wants {} ({why}); it will not start", k.want.words()));
                false
            }
        }
    }

    /// Check a section's keys against atticd's list: known keys typed, required ones present, unknown
    /// ones warned about (atticd ignores them).
    fn section(&mut self, label: &str, table: &dyn toml_edit::TableLike, keys: &[Field], skip_required: &[&str]) {
        for (k, item) in table.iter() {
            match keys.iter().find(|key| key.name == k) {
                Some(key) => {
                    self.value(&format!("[{label}] {k}"), item, key);
                }
                None if INVENTED.contains(&k) => self.problem(format!("[{label}] {k}: {CHUNKING_HINT}")),
                None => self
                    .f
                    .warnings
                    .push(format!("[{label}] {k}: atticd does not know this key and silently ignores it")),
            }
        }
        for key in keys.iter().filter(|k| k.required && !skip_required.contains(&k.name)) {
            if table.get(key.name).is_none() {
                self.problem(format!("[{label}] {}: missing; atticd wants {} here", key.name, key.want.words()));
            }
        }
    }
}

/// Everything atticd would refuse (`atticd --mode check-config`), or would start with and then fail on.
/// `env` is the environment atticd will see: `[database] url` may come from it.
pub fn check(doc: &DocumentMut, env: &dyn Fn(&str) -> Option<std::ffi::OsString>) -> Findings {
    let mut findings = Findings::default();
    let mut c = Checker { f: &mut findings };
    for (name, item) in doc.iter() {
        if Kind::from_config_key(name).is_some() {
            c.problem(format!("{name}: at the top level is an error in current atticd; move it under [jwt.signing]"));
        } else if INVENTED.contains(&name) {
            c.problem(format!("[{name}]: atticd refuses to start (unknown field `{name}`); {CHUNKING_HINT}"));
        } else {
            match TOP_LEVEL.iter().find(|k| k.name == name) {
                None => c.problem(format!(
                    "{name}: unknown top-level key; atticd refuses to start with it (known: {})",
                    TOP_LEVEL.iter().map(|k| k.name).collect::<Vec<_>>().join(", ")
                )),
                Some(k) if matches!(k.want, Want::Table) => {
                    if !is_table(item) {
                        c.problem(format!("{name}: must be a table ([{name}]), not {}", kind_of(item)));
                    }
                }
                Some(k) => {
                    if c.value(name, item, k) && name == "api-endpoint" && !item.as_str().unwrap_or("").ends_with('/') {
                        c.problem(format!(
                            "api-endpoint = {:?}: must end with \"/\" (attic joins paths onto it and the client URLs break without it)",
                            item.as_str().unwrap_or("")
                        ));
                    }
                }
            }
        }
    }
    for k in TOP_LEVEL.iter().filter(|k| k.required) {
        if doc.get(k.name).is_none() {
            c.problem(format!("[{}]: missing; atticd will not start without it", k.name));
        }
    }
    let table = |name: &str| doc.get(name).and_then(Item::as_table_like);
    if let Some(t) = table("database") {
        c.section("database", t, section_keys("database"), &["url"]);
        if t.get("url").is_none() && env(DATABASE_URL_VAR).is_none() {
            c.problem(format!(
                "[database] url: missing, and ${DATABASE_URL_VAR} is not set; atticd needs the database URL from one of them"
            ));
        }
    }
    if let Some(t) = table("storage") {
        match t.get("type").and_then(Item::as_str) {
            Some("local") => c.section("storage", t, STORAGE_LOCAL, &[]),
            Some("s3") => {
                c.section("storage", t, STORAGE_S3, &[]);
                if let Some(creds) = t.get("credentials").and_then(Item::as_table_like) {
                    c.section("storage.credentials", creds, S3_CREDENTIALS, &[]);
                }
            }
            // Without a valid type the other keys mean nothing yet: only the type is reported.
            _ => match t.get("type") {
                Some(item) => {
                    c.value("[storage] type", item, &STORAGE_TYPE);
                }
                None => c.problem(format!("[storage] type: missing; atticd wants {}", STORAGE_TYPE.want.words())),
            },
        }
    }
    if let Some(t) = table("chunking") {
        c.section("chunking", t, section_keys("chunking"), &[]);
        let n = |k: &str| t.get(k).and_then(Item::as_integer).filter(|n| *n >= 0);
        if let (Some(min), Some(avg), Some(max)) = (n("min-size"), n("avg-size"), n("max-size")) {
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
    for name in ["compression", "garbage-collection"] {
        if let Some(t) = table(name) {
            c.section(name, t, section_keys(name), &[]);
        }
    }
    if let Some(jwt) = table("jwt") {
        c.section("jwt", jwt, section_keys("jwt"), &[]);
        if let Some(s) = jwt.get("signing").and_then(Item::as_table_like) {
            // An enum in atticd: exactly one of its three keys, a string.
            for (k, item) in s.iter() {
                match Kind::from_config_key(k) {
                    None => c.problem(format!(
                        "[jwt.signing] {k}: unknown key; atticd wants exactly one of token-hs256-secret-base64, token-rs256-secret-base64, token-rs256-pubkey-base64"
                    )),
                    Some(_) => {
                        let key = Field { name: "", want: Want::Str, required: true, secret: true };
                        c.value(&format!("[jwt.signing] {k}"), item, &key);
                    }
                }
            }
            if s.len() > 1 {
                c.problem("[jwt.signing]: holds more than one key; atticd needs exactly one".into());
            }
            if s.is_empty() {
                c.problem("[jwt.signing]: empty; atticd needs exactly one key in it".into());
            }
        }
    }
    findings
}

fn is_table(item: &Item) -> bool {
    item.is_table_like()
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

    fn no_env(_: &str) -> Option<std::ffi::OsString> {
        None
    }

    fn problems(text: &str) -> Vec<String> {
        check(&parse(text).unwrap(), &no_env).problems
    }

    #[test]
    fn a_good_template_passes() {
        assert_eq!(check(&parse(GOOD).unwrap(), &no_env), Findings::default());
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
                "[chunking] max-size = \"256k\": atticd wants a whole number, 0 or more (not a string)",
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

    /// Each template `atticd --mode check-config` refused although the old checks passed it (issue 14).
    #[test]
    fn what_atticd_check_config_refuses() {
        let cases = [
            (GOOD.replace("[::]:8080", "localhost:8080"), "listen = \"localhost:8080\": atticd wants a socket address"),
            (GOOD.replace("[::]:8080", "8080"), "listen = \"8080\": atticd wants a socket address"),
            (
                format!("{GOOD}[garbage-collection]\ninterval = \"12 hourz\"\n"),
                "[garbage-collection] interval = \"12 hourz\": atticd wants a duration",
            ),
            (
                format!("{GOOD}[garbage-collection]\ndefault-retention-period = 3600\n"),
                "[garbage-collection] default-retention-period = 3600: atticd wants a duration in humantime's grammar, e.g. \"12 hours\", \"6 months\" or \"0\" (not an integer)",
            ),
            (
                format!("{GOOD}[compression]\ntype = \"zstd\"\nlevel = \"3\"\n"),
                "[compression] level = \"3\": atticd wants a whole number (a 32-bit integer, e.g. 3) (not a string)",
            ),
            (format!("{GOOD}[compression]\nlevel = 3\n"), "[compression] type: missing"),
            (format!("{GOOD}[compression]\ntype = \"zstd\"\nlevel = 3000000000\n"), "(out of range)"),
            (
                GOOD.replace("[database]\n", "[database]\nheartbeat = \"yes\"\n"),
                "[database] heartbeat = \"yes\": atticd wants true or false (not a string)",
            ),
            (
                format!("max-nar-info-size = -1\n{GOOD}"),
                "max-nar-info-size = -1: atticd wants a whole number, 0 or more (negative)",
            ),
            (
                GOOD.replace(
                    "type = \"local\" # on the external disk\npath = \"/mnt/data/attic\"",
                    "type = \"s3\"\nregion = \"eu\"\nbucket = \"b\"\ncredentials = \"AKIA:secret\"",
                ),
                "[storage] credentials: atticd wants a table (not a string)",
            ),
            (
                GOOD.replace(
                    "type = \"local\" # on the external disk\npath = \"/mnt/data/attic\"",
                    "type = \"s3\"\nregion = \"eu\"\nbucket = \"b\"\n[storage.credentials]\naccess_key_id = \"a\"\n",
                ),
                "[storage.credentials] secret_access_key: missing",
            ),
            (format!("soft-delete-caches = \"no\"\n{GOOD}"), "soft-delete-caches = \"no\": atticd wants true or false"),
            (
                format!("allowed-hosts = \"a.example\"\n{GOOD}"),
                "allowed-hosts = \"a.example\": atticd wants a list of strings",
            ),
            (
                format!("{GOOD}[jwt]\ntoken-bound-audiences = [1]\n"),
                "[jwt] token-bound-audiences: atticd wants a list of strings (it holds an integer)",
            ),
            (format!("{GOOD}[jwt.signing]\n"), "[jwt.signing]: empty"),
        ];
        for (text, want) in cases {
            let p = problems(&text);
            assert!(p.iter().any(|m| m.contains(want)), "want {want:?} in {p:?}");
        }
        // What atticd takes: IPv4 and IPv6 socket addresses, humantime durations, "0".
        for ok in [
            GOOD.replace("[::]:8080", "127.0.0.1:8080"),
            format!("{GOOD}[garbage-collection]\ninterval = \"0\"\ndefault-retention-period = \"6 months\"\n"),
            format!("{GOOD}[compression]\ntype = \"xz\"\nlevel = -1\n"),
            format!("max-nar-info-size = 0\n{GOOD}"),
        ] {
            assert_eq!(problems(&ok), Vec::<String>::new(), "{ok}");
        }
    }

    #[test]
    fn the_database_url_may_come_from_the_environment() {
        let text = GOOD.replace("url = \"sqlite:///var/lib/atticd/server.db?mode=rwc\"", "heartbeat = true");
        let p = problems(&text);
        assert!(
            p.iter().any(|m| m.contains("[database] url: missing, and $ATTIC_SERVER_DATABASE_URL is not set")),
            "{p:?}"
        );
        let env = |k: &str| (k == DATABASE_URL_VAR).then(|| std::ffi::OsString::from("sqlite:///tmp/x.db"));
        assert_eq!(check(&parse(&text).unwrap(), &env), Findings::default());
    }

    #[test]
    fn secrets_are_never_echoed() {
        let text = format!("{GOOD}[jwt.signing]\ntoken-hs256-secret-base64 = 12345\n");
        let p = problems(&text);
        assert!(
            p.iter().any(|m| m.contains("[jwt.signing] token-hs256-secret-base64: atticd wants a string")),
            "{p:?}"
        );
        assert!(!p.iter().any(|m| m.contains("12345")), "{p:?}");
    }

    #[test]
    fn unknown_keys_in_sections_warn_but_pass() {
        let f = check(&parse(&GOOD.replace("[database]\n", "[database]\nurll = 1\n")).unwrap(), &no_env);
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
        assert!(check(&doc, &no_env).problems.is_empty());
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
