use crate::*;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

#[test]
fn hs256_secret_is_strict_base64_of_64_random_bytes_and_mints() {
    let d = tempfile::tempdir().unwrap();
    let a = d.path().join("a");
    let b = d.path().join("b");
    for p in [&a, &b] {
        let out = run(bin().args(["keygen", "--algorithm", "hs256", "--out"]).arg(p));
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(mode(p), 0o600);
    }
    let text = std::fs::read(&a).unwrap();
    let raw = STANDARD.decode(&text).expect("strict base64, no newline");
    assert_eq!(raw.len(), 64);
    assert_ne!(text, std::fs::read(&b).unwrap(), "random");

    let mint = run(bin().args(["mint", "--sub", "s", "--validity", "1d", "--pull", "main", "--secret-file"]).arg(&a));
    assert_eq!(mint.code, 0, "{}", mint.stderr);
    let (input, sig, _) = split(&mint.stdout);
    assert_eq!(sig, openssl_hmac(d.path(), &raw, &input));
}

#[test]
fn rs256_key_from_openssl_in_attics_form() {
    let d = tempfile::tempdir().unwrap();
    let k = d.path().join("rs");
    let out = run(bin().args(["keygen", "--algorithm", "rs256", "--bits", "2048", "--out"]).arg(&k));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(mode(&k), 0o600);
    let pem = STANDARD.decode(std::fs::read(&k).unwrap()).unwrap();
    assert!(pem.starts_with(b"-----BEGIN RSA PRIVATE KEY-----\n"), "PKCS#1, as `openssl genrsa -traditional`");
    let mint = run(bin().args(["mint", "--sub", "s", "--validity", "1d", "--pull", "main", "--secret-file"]).arg(&k));
    assert_eq!(mint.code, 0, "{}", mint.stderr);
    let (input, sig, _) = split(&mint.stdout);
    assert!(openssl_rsa_verifies(d.path(), &pem, &input, &sig));
}

#[test]
fn env_file_form_and_no_silent_overwrite() {
    let d = tempfile::tempdir().unwrap();
    let k = d.path().join("attic.env");
    assert_eq!(run(bin().args(["keygen", "--algorithm", "hs256", "--env-file", "--out"]).arg(&k)).code, 0);
    let first = std::fs::read_to_string(&k).unwrap();
    assert!(first.starts_with("ATTIC_SERVER_TOKEN_HS256_SECRET_BASE64=\"") && first.ends_with("\"\n"), "{first}");
    let again = run(bin().args(["keygen", "--algorithm", "hs256", "--out"]).arg(&k));
    assert_eq!(again.code, 2);
    assert!(again.stderr.contains("--force"), "{}", again.stderr);
    assert_eq!(std::fs::read_to_string(&k).unwrap(), first);
    assert_eq!(run(bin().args(["keygen", "--algorithm", "hs256", "--force", "--out"]).arg(&k)).code, 0);
    assert_ne!(std::fs::read_to_string(&k).unwrap(), first);
    // The env-file form is itself a secret file mint reads.
    let mint = run(bin().args(["mint", "--sub", "s", "--validity", "1d", "--secret-file"]).arg(&k));
    assert_eq!(mint.code, 0, "{}", mint.stderr);
}

#[test]
fn more_than_4096_bits_is_refused_before_openssl_runs() {
    let d = tempfile::tempdir().unwrap();
    let k = d.path().join("rs");
    // An openssl that would take 34 s for 8192 bits: a fake that fails loudly if it is ever started.
    let fake_bin = d.path().join("bin");
    std::fs::create_dir(&fake_bin).unwrap();
    write(&fake_bin, "openssl", "#!/bin/sh\necho openssl was run >&2\nexit 1\n", 0o755);
    for bits in ["8192", "4097", "1024"] {
        let out =
            run(bin().env("PATH", &fake_bin).args(["keygen", "--algorithm", "rs256", "--bits", bits, "--out"]).arg(&k));
        assert_eq!(out.code, 2, "{bits}: {}", out.stderr);
        assert!(out.stderr.contains("2048..=4096") && !out.stderr.contains("openssl was run"), "{}", out.stderr);
        assert!(!k.exists());
    }
}
