//! A stand-in for `atticd --mode check-config`: atticd's server config as its own serde structs
//! (zhaofengli/attic server/src/config.rs and storage/{local,s3}.rs), read with the `toml` crate as
//! atticd reads it. Nothing here is attic-token's code, so the two can disagree, and the tests say when.

use serde::Deserialize;
use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::PathBuf;

#[allow(dead_code)]
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    listen: Option<SocketAddr>,
    #[serde(rename = "allowed-hosts", default)]
    allowed_hosts: Vec<String>,
    #[serde(rename = "api-endpoint")]
    api_endpoint: Option<String>,
    #[serde(rename = "substituter-endpoint")]
    substituter_endpoint: Option<String>,
    #[serde(rename = "soft-delete-caches")]
    soft_delete_caches: Option<bool>,
    #[serde(rename = "require-proof-of-possession")]
    require_proof_of_possession: Option<bool>,
    #[serde(rename = "max-nar-info-size")]
    max_nar_info_size: Option<usize>,
    database: Database,
    storage: Storage,
    chunking: Chunking,
    compression: Option<Compression>,
    #[serde(rename = "garbage-collection")]
    garbage_collection: Option<GarbageCollection>,
    jwt: Option<Jwt>,
}

#[allow(dead_code)]
#[derive(Deserialize)]
struct Database {
    /// atticd: `#[serde(default = "load_database_url_from_env")]`, which panics when the variable is unset.
    url: Option<String>,
    heartbeat: Option<bool>,
}

#[allow(dead_code)]
#[derive(Deserialize)]
#[serde(tag = "type")]
enum Storage {
    #[serde(rename = "local")]
    Local { path: PathBuf },
    #[serde(rename = "s3")]
    S3 { region: String, bucket: String, endpoint: Option<String>, credentials: Option<S3Credentials> },
}

#[allow(dead_code)]
#[derive(Deserialize)]
struct S3Credentials {
    access_key_id: String,
    secret_access_key: String,
}

#[allow(dead_code)]
#[derive(Deserialize)]
struct Chunking {
    #[serde(rename = "nar-size-threshold")]
    nar_size_threshold: usize,
    #[serde(rename = "min-size")]
    min_size: usize,
    #[serde(rename = "avg-size")]
    avg_size: usize,
    #[serde(rename = "max-size")]
    max_size: usize,
}

#[allow(dead_code)]
#[derive(Deserialize)]
struct Compression {
    r#type: CompressionType,
    level: Option<i32>,
}

#[derive(Deserialize)]
enum CompressionType {
    #[serde(rename = "none")]
    None,
    #[serde(rename = "brotli")]
    Brotli,
    #[serde(rename = "zstd")]
    Zstd,
    #[serde(rename = "xz")]
    Xz,
}

/// humantime_serde: a string in humantime's grammar.
fn duration<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<std::time::Duration>, D::Error> {
    let s = String::deserialize(d)?;
    humantime::parse_duration(&s).map(Some).map_err(serde::de::Error::custom)
}

#[allow(dead_code)]
#[derive(Deserialize)]
struct GarbageCollection {
    #[serde(default, deserialize_with = "duration")]
    interval: Option<std::time::Duration>,
    #[serde(rename = "default-retention-period", default, deserialize_with = "duration")]
    default_retention_period: Option<std::time::Duration>,
}

#[allow(dead_code)]
#[derive(Deserialize)]
struct Jwt {
    #[serde(rename = "token-bound-issuer")]
    token_bound_issuer: Option<String>,
    #[serde(rename = "token-bound-audiences")]
    token_bound_audiences: Option<HashSet<String>>,
    signing: Option<Signing>,
}

#[allow(dead_code)]
#[derive(Deserialize)]
enum Signing {
    #[serde(rename = "token-rs256-pubkey-base64")]
    Rs256Pubkey(String),
    #[serde(rename = "token-rs256-secret-base64")]
    Rs256Secret(String),
    #[serde(rename = "token-hs256-secret-base64")]
    Hs256Secret(String),
}

/// What `atticd --mode check-config` says of `text`, given whether `ATTIC_SERVER_DATABASE_URL` is set
/// and whether a signing key is in the environment: `Err` with its reason when it refuses.
pub fn check_config(text: &str, database_url_in_env: bool, key_in_env: bool) -> Result<(), String> {
    let config: Config = toml::from_str(text).map_err(|e| e.to_string())?;
    if config.database.url.is_none() && !database_url_in_env {
        return Err(
            "Database URL must be specified in either database.url or the ATTIC_SERVER_DATABASE_URL environment".into(),
        );
    }
    if config.jwt.and_then(|j| j.signing).is_none() && !key_in_env {
        return Err("You must configure JWT signing and verification".into());
    }
    Ok(())
}
