//! Signing keys in the form Attic reads them: standard base64 (strict: padding, no line breaks) of the
//! raw HS256 secret, or of a PEM RSA key for RS256. Errors name where the key came from, never its bytes.

use crate::token::Alg;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use homey_kit::secret::Secret;
use ring::signature::{self, KeyPair as _, RsaKeyPair};

/// The three keys atticd knows under `[jwt.signing]` (and as `ATTIC_SERVER_TOKEN_*` variables).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Hs256Secret,
    Rs256Secret,
    Rs256Pubkey,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Hs256Secret, Kind::Rs256Secret, Kind::Rs256Pubkey];

    pub fn config_key(self) -> &'static str {
        match self {
            Kind::Hs256Secret => "token-hs256-secret-base64",
            Kind::Rs256Secret => "token-rs256-secret-base64",
            Kind::Rs256Pubkey => "token-rs256-pubkey-base64",
        }
    }
    pub fn env_var(self) -> &'static str {
        match self {
            Kind::Hs256Secret => "ATTIC_SERVER_TOKEN_HS256_SECRET_BASE64",
            Kind::Rs256Secret => "ATTIC_SERVER_TOKEN_RS256_SECRET_BASE64",
            Kind::Rs256Pubkey => "ATTIC_SERVER_TOKEN_RS256_PUBKEY_BASE64",
        }
    }
    pub fn from_config_key(k: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|kind| kind.config_key() == k)
    }
    pub fn from_env_var(k: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|kind| kind.env_var() == k)
    }
}

enum Material {
    Hmac(Secret),
    Rsa(Box<RsaKeyPair>),
    /// DER `RSAPublicKey`: verifies, cannot sign.
    RsaPublic(Vec<u8>),
}

/// A key ready to sign or verify, with the base64 text it came from (for the server config).
pub struct Key {
    pub kind: Kind,
    base64: Secret,
    material: Material,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Key({:?}, <redacted>)", self.kind)
    }
}

impl Key {
    pub fn alg(&self) -> Alg {
        match self.kind {
            Kind::Hs256Secret => Alg::Hs256,
            _ => Alg::Rs256,
        }
    }

    /// A reason to distrust the key that atticd would not refuse it for.
    pub fn weakness(&self) -> Option<String> {
        match &self.material {
            Material::Hmac(s) if s.expose().len() < 32 => Some(format!(
                "the HS256 secret is only {} bytes; anyone who guesses it can mint tokens (attic-token keygen makes 64 random bytes)",
                s.expose().len()
            )),
            _ => None,
        }
    }

    pub fn can_sign(&self) -> bool {
        !matches!(self.material, Material::RsaPublic(_))
    }

    /// The base64 text exactly as it goes into `[jwt.signing]`.
    pub fn base64(&self) -> &Secret {
        &self.base64
    }

    /// Read the base64 text as Attic does. `kind` is `None` when the source does not say (a secret
    /// file): a PEM inside means RS256, anything else is an HS256 secret.
    pub fn from_base64(text: &[u8], kind: Option<Kind>) -> Result<Key, String> {
        let text = Secret::new(env_file_value(text));
        if text.is_empty() {
            return Err("empty".into());
        }
        if text.expose().iter().any(|b| b.is_ascii_whitespace()) {
            return Err(
                "contains spaces or line breaks; attic reads strict base64 on one line (use `base64 -w0`)".into()
            );
        }
        let raw = Secret::new(
            STANDARD
                .decode(text.expose())
                .map_err(|_| "not strict standard base64 (with = padding), as attic needs it".to_owned())?,
        );
        let is_pem = raw.expose().starts_with(b"-----BEGIN ");
        let kind = match kind {
            Some(k) => k,
            None if !is_pem => Kind::Hs256Secret,
            None if contains(raw.expose(), b"PUBLIC KEY-----") => Kind::Rs256Pubkey,
            None => Kind::Rs256Secret,
        };
        let material = match kind {
            Kind::Hs256Secret => {
                if is_pem {
                    return Err("holds a PEM key, but is used as an HS256 secret".into());
                }
                Material::Hmac(raw)
            }
            Kind::Rs256Secret => Material::Rsa(rsa_private(raw.expose())?),
            Kind::Rs256Pubkey => Material::RsaPublic(rsa_public(raw.expose())?),
        };
        Ok(Key { kind, base64: text, material })
    }

    pub fn sign(&self, input: &[u8]) -> Result<Vec<u8>, String> {
        match &self.material {
            Material::Hmac(secret) => Ok(hmac_sha256(secret.expose(), input)),
            Material::Rsa(pair) => {
                let mut sig = vec![0; pair.public().modulus_len()];
                pair.sign(&signature::RSA_PKCS1_SHA256, &ring::rand::SystemRandom::new(), input, &mut sig)
                    .map_err(|_| "RSA signing failed".to_owned())?;
                Ok(sig)
            }
            Material::RsaPublic(_) => {
                Err("this is an RS256 public key: it verifies tokens but cannot sign them; give the private key".into())
            }
        }
    }

    /// Does `sig` over `input` hold for this key under `alg`? A key of the other algorithm never holds,
    /// as atticd refuses a token whose `alg` does not match its key.
    pub fn verify(&self, alg: Alg, input: &[u8], sig: &[u8]) -> bool {
        if alg != self.alg() {
            return false;
        }
        let public = match &self.material {
            Material::Hmac(secret) => {
                use hmac::Mac;
                let mut mac =
                    hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.expose()).expect("HMAC takes keys of any length");
                mac.update(input);
                // Constant time: a timing difference would let a forger learn the MAC byte by byte.
                return mac.verify_slice(sig).is_ok();
            }
            Material::Rsa(pair) => pair.public_key().as_ref().to_vec(),
            Material::RsaPublic(der) => der.clone(),
        };
        signature::UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, public).verify(input, sig).is_ok()
    }
}

fn hmac_sha256(key: &[u8], input: &[u8]) -> Vec<u8> {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(input);
    mac.finalize().into_bytes().to_vec()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The NixOS atticd module keeps the secret in an EnvironmentFile (`ATTIC_SERVER_TOKEN_…=…`); accept
/// that file as it is, so one credential serves both.
fn env_file_value(text: &[u8]) -> Vec<u8> {
    let trimmed = text.trim_ascii();
    if let Some(eq) = trimmed.iter().position(|b| *b == b'=') {
        let name = std::str::from_utf8(&trimmed[..eq]).unwrap_or("");
        let name = name.strip_prefix("export ").unwrap_or(name).trim();
        if Kind::from_env_var(name).is_some() {
            let v = trimmed[eq + 1..].trim_ascii();
            let v = v.strip_prefix(b"\"").and_then(|v| v.strip_suffix(b"\"")).unwrap_or(v);
            let v = v.strip_prefix(b"'").and_then(|v| v.strip_suffix(b"'")).unwrap_or(v);
            return v.to_vec();
        }
    }
    text.to_vec()
}

/// The DER inside a PEM block, and the block's label.
fn pem(raw: &[u8]) -> Result<(String, Secret), String> {
    let text = std::str::from_utf8(raw).map_err(|_| "the PEM key is not text".to_owned())?;
    let begin = text.find("-----BEGIN ").ok_or("no PEM block")?;
    let rest = &text[begin + 11..];
    let label_end = rest.find("-----").ok_or("a broken PEM header")?;
    let label = rest[..label_end].to_owned();
    let body_start = label_end + 5;
    let end =
        rest.find(&format!("-----END {label}-----")).ok_or_else(|| format!("PEM block {label:?} has no END line"))?;
    let body: String = rest[body_start..end].chars().filter(|c| !c.is_whitespace()).collect();
    let der = STANDARD.decode(body.as_bytes()).map_err(|_| format!("PEM block {label:?}: its body is not base64"))?;
    Ok((label, Secret::new(der)))
}

fn rsa_private(raw: &[u8]) -> Result<Box<RsaKeyPair>, String> {
    let (label, der) = pem(raw)?;
    let pair = match label.as_str() {
        "RSA PRIVATE KEY" => RsaKeyPair::from_der(der.expose()).map(Box::new),
        "PRIVATE KEY" => RsaKeyPair::from_pkcs8(der.expose()).map(Box::new),
        "ENCRYPTED PRIVATE KEY" => return Err("the RSA key is encrypted; attic needs it unencrypted".into()),
        other => {
            return Err(format!(
                "PEM block {other:?}: expected an RSA private key (\"RSA PRIVATE KEY\" or \"PRIVATE KEY\")"
            ));
        }
    };
    pair.map_err(|e| format!("not a usable RSA private key ({e}); RS256 needs 2048 to 4096 bits"))
}

fn rsa_public(raw: &[u8]) -> Result<Vec<u8>, String> {
    let (label, der) = pem(raw)?;
    match label.as_str() {
        "RSA PUBLIC KEY" => Ok(der.expose().to_vec()),
        "PUBLIC KEY" => {
            spki_rsa_public_key(der.expose()).ok_or_else(|| "PEM \"PUBLIC KEY\": not an RSA public key".into())
        }
        other => Err(format!("PEM block {other:?}: expected an RSA public key")),
    }
}

/// Read one DER element: (tag, contents, rest).
fn der(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        (rest[..n].iter().fold(0usize, |acc, b| acc << 8 | *b as usize), &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// SubjectPublicKeyInfo → the PKCS#1 RSAPublicKey inside its BIT STRING.
fn spki_rsa_public_key(spki: &[u8]) -> Option<Vec<u8>> {
    const RSA_OID: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
    let (0x30, body, _) = der(spki)? else { return None };
    let (0x30, alg, rest) = der(body)? else { return None };
    let (0x06, oid, _) = der(alg)? else { return None };
    if oid != RSA_OID {
        return None;
    }
    let (0x03, bits, _) = der(rest)? else { return None };
    let (0, key) = bits.split_first()? else { return None };
    Some(key.to_vec())
}

/// A fresh HS256 secret: 64 random bytes (HMAC-SHA256 gains nothing from more), base64 as attic reads it.
pub fn new_hs256_secret() -> Result<Secret, String> {
    let mut buf = [0u8; 64];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut buf)
        .map_err(|_| "the system random generator failed".to_owned())?;
    let text = Secret::new(STANDARD.encode(buf));
    buf.fill(0);
    // Keeps the wipe of the raw secret from being optimised away as a dead store.
    std::hint::black_box(&buf);
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hs256_from_strict_base64_only() {
        let b64 = STANDARD.encode("attic-token research throwaway secret 0123456789abcdef");
        let k = Key::from_base64(b64.as_bytes(), None).unwrap();
        assert_eq!(k.kind, Kind::Hs256Secret);
        let wrapped = format!("{}\n{}", &b64[..20], &b64[20..]);
        assert!(Key::from_base64(wrapped.as_bytes(), None).unwrap_err().contains("-w0"));
        let padded = STANDARD.encode("k1");
        let unpadded = padded.trim_end_matches('=');
        assert_ne!(unpadded, padded);
        assert!(Key::from_base64(unpadded.as_bytes(), None).unwrap_err().contains("strict"));
        assert!(Key::from_base64(b"", None).is_err());
    }

    #[test]
    fn env_file_form_is_accepted() {
        let b64 = STANDARD.encode("s3cret");
        let line = format!("ATTIC_SERVER_TOKEN_HS256_SECRET_BASE64=\"{b64}\"\n");
        assert_eq!(Key::from_base64(line.as_bytes(), None).unwrap().base64().expose(), b64.as_bytes());
    }

    #[test]
    fn errors_never_contain_the_secret() {
        let secret = "-----BEGIN RSA PRIVATE KEY-----\nTOPSECRETTOPSECRET\n-----END RSA PRIVATE KEY-----\n";
        let err = Key::from_base64(STANDARD.encode(secret).as_bytes(), None).unwrap_err();
        assert!(!err.contains("TOPSECRET"), "{err}");
    }

    #[test]
    fn hs256_of_the_other_alg_never_verifies() {
        let k = Key::from_base64(STANDARD.encode("k").as_bytes(), None).unwrap();
        let sig = k.sign(b"x").unwrap();
        assert!(k.verify(Alg::Hs256, b"x", &sig));
        assert!(!k.verify(Alg::Rs256, b"x", &sig));
        assert!(!k.verify(Alg::Hs256, b"y", &sig));
        assert!(k.weakness().unwrap().contains("only 1 bytes"));
        let strong = Key::from_base64(new_hs256_secret().unwrap().expose(), None).unwrap();
        assert_eq!(strong.weakness(), None);
    }

    #[test]
    fn generated_hs256_secret_reads_back() {
        let s = new_hs256_secret().unwrap();
        let k = Key::from_base64(s.expose(), Some(Kind::Hs256Secret)).unwrap();
        assert_eq!(STANDARD.decode(k.base64().expose()).unwrap().len(), 64);
    }
}
