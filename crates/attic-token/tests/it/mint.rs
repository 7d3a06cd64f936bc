use crate::*;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

#[test]
fn reproduces_atticadms_sample_byte_for_byte() {
    let d = tempfile::tempdir().unwrap();
    let secret = sample_secret(d.path());
    let out = run(bin().args(SAMPLE_FLAGS).args(["--now", SAMPLE_NOW, "--secret-file"]).arg(&secret));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout.trim(), SAMPLE_TOKEN);
    assert!(!out.stderr.contains(SAMPLE_TOKEN), "the token is not logged");
    // The flag order does not matter: atticadm groups the patterns by permission.
    let shuffled = [
        "--configure-cache",
        "main",
        "--destroy-cache",
        "team-*",
        "--create-cache",
        "team-*",
        "--pull",
        "main",
        "--pull",
        "team-*",
        "--push",
        "main",
        "--validity",
        "3months",
        "--sub",
        "ci-push",
    ];
    let out = run(bin().arg("mint").args(shuffled).args(["--now", SAMPLE_NOW, "--secret-file"]).arg(&secret));
    assert_eq!(out.stdout.trim(), SAMPLE_TOKEN, "{}", out.stderr);
}

#[test]
fn hs256_signature_checked_by_openssl() {
    let d = tempfile::tempdir().unwrap();
    let secret = sample_secret(d.path());
    let out = run(bin()
        .args(["mint", "--sub", "nix-daemon", "--validity", "1y", "--pull", "main"])
        .arg("--secret-file")
        .arg(&secret));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let (input, sig, claims) = split(&out.stdout);
    assert_eq!(sig, openssl_hmac(d.path(), SAMPLE_SECRET.as_bytes(), &input));
    let v: serde_json::Value = serde_json::from_str(&claims).unwrap();
    assert_eq!(v["exp"].as_i64().unwrap() - v["nbf"].as_i64().unwrap(), 31_557_600);
    assert_eq!(v["https://jwt.attic.rs/v1"]["caches"]["main"], serde_json::json!({"r": 1}));
    assert!(v.get("iat").is_none() && v.get("jti").is_none());
}

#[test]
fn rs256_with_pkcs1_and_pkcs8_keys_checked_by_openssl() {
    let d = tempfile::tempdir().unwrap();
    let pem = rsa_pem();
    let pkcs1 = write(d.path(), "rs1.b64", STANDARD.encode(pem), 0o600);
    let key_file = write(d.path(), "k.pem", pem, 0o600);
    let pkcs8_pem = openssl(&["pkcs8", "-topk8", "-nocrypt", "-in", key_file.to_str().unwrap()], d.path());
    assert!(String::from_utf8_lossy(&pkcs8_pem).contains("BEGIN PRIVATE KEY"));
    let pkcs8 = write(d.path(), "rs8.b64", STANDARD.encode(&pkcs8_pem), 0o600);
    let mut tokens = vec![];
    for f in [&pkcs1, &pkcs8] {
        let out = run(bin()
            .args(SAMPLE_FLAGS)
            .args(["--now", SAMPLE_NOW, "--secret-file"])
            .arg(f)
            .arg("--push")
            .arg("extra"));
        assert_eq!(out.code, 0, "{}", out.stderr);
        let (input, sig, _) = split(&out.stdout);
        assert!(
            input.starts_with("eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9."),
            "header {{\"alg\":\"RS256\",\"typ\":\"JWT\"}}"
        );
        assert!(openssl_rsa_verifies(d.path(), pem, &input, &sig));
        assert!(!openssl_rsa_verifies(d.path(), pem, &input.replace("eyJ", "eyK"), &sig), "the check can fail");
        tokens.push(out.stdout);
    }
    // PKCS#1 v1.5 is deterministic: same key, same inputs, same second → same token.
    assert_eq!(tokens[0], tokens[1]);
}

#[test]
fn key_from_environment_credential_and_server_config() {
    let d = tempfile::tempdir().unwrap();
    let b64 = STANDARD.encode(SAMPLE_SECRET);
    let from_env =
        run(bin().args(SAMPLE_FLAGS).args(["--now", SAMPLE_NOW]).env("ATTIC_SERVER_TOKEN_HS256_SECRET_BASE64", &b64));
    assert_eq!(from_env.stdout.trim(), SAMPLE_TOKEN, "{}", from_env.stderr);

    let creds = d.path().join("creds");
    std::fs::create_dir(&creds).unwrap();
    // The NixOS module's EnvironmentFile form works as the credential too.
    write(&creds, "attic-token-secret", format!("ATTIC_SERVER_TOKEN_HS256_SECRET_BASE64={b64}\n"), 0o400);
    let from_cred = run(bin().args(SAMPLE_FLAGS).args(["--now", SAMPLE_NOW]).env("CREDENTIALS_DIRECTORY", &creds));
    assert_eq!(from_cred.stdout.trim(), SAMPLE_TOKEN, "{}", from_cred.stderr);

    let template = std::fs::read_to_string(crate::render::example()).unwrap();
    let cfg = write(
        d.path(),
        "server.toml",
        format!(
            "{template}\n[jwt]\ntoken-bound-issuer = \"https://attic.example.com/\"\ntoken-bound-audiences = [\"nix\"]\n[jwt.signing]\ntoken-hs256-secret-base64 = \"{b64}\"\n"
        ),
        0o600,
    );
    let out = run(bin().args(SAMPLE_FLAGS).args(["--now", SAMPLE_NOW, "--config"]).arg(&cfg));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let (input, sig, claims) = split(&out.stdout);
    assert!(
        claims.starts_with(
            r#"{"exp":1803647288,"nbf":1795757240,"iss":"https://attic.example.com/","sub":"ci-push","aud":["nix"],"#
        ),
        "{claims}"
    );
    assert_eq!(sig, openssl_hmac(d.path(), SAMPLE_SECRET.as_bytes(), &input));
}

#[test]
fn dump_claims_prints_the_unsigned_claims() {
    let out = run(bin().args(SAMPLE_FLAGS).args(["--now", SAMPLE_NOW, "--dump-claims"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout.trim(),
        r#"{"exp":1803647288,"nbf":1795757240,"sub":"ci-push","https://jwt.attic.rs/v1":{"caches":{"main":{"r":1,"w":1,"cr":1},"team-*":{"r":1,"cc":1,"cd":1}}}}"#
    );
}

#[test]
fn out_file_is_0600_and_atomic() {
    let d = tempfile::tempdir().unwrap();
    let secret = sample_secret(d.path());
    let tok = d.path().join("ci.token");
    write(d.path(), "ci.token", "old", 0o644);
    let out =
        run(bin().args(SAMPLE_FLAGS).args(["--now", SAMPLE_NOW, "--secret-file"]).arg(&secret).arg("--out").arg(&tok));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "");
    assert_eq!(std::fs::read_to_string(&tok).unwrap(), SAMPLE_TOKEN);
    assert_eq!(mode(&tok), 0o600);
    assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 2, "no temporary files left");
}

#[test]
fn bad_flags_and_missing_keys_are_refused_without_output() {
    let d = tempfile::tempdir().unwrap();
    let secret = sample_secret(d.path());
    let tok = d.path().join("t");
    let cases: &[(&[&str], i32, &str)] = &[
        (&["--validity", "0d"], 2, "at least one second"),
        (&["--validity", "90"], 2, "time unit needed"),
        (&["--validity", "0.1M"], 2, "cannot be represented"),
        (&["--validity", ".5h"], 2, "expected number"),
        (&["--validity", "1.h"], 2, "invalid character"),
        (&["--validity", "300000y"], 2, "Expiry timestamp overflowed"),
        (&["--validity=-3d"], 2, "expected number at 0"),
        (&["--validity", "1y", "--pull", "ma.in"], 2, "'.' is not allowed"),
        (&["--validity", "1y", "--push=-x"], 2, "must start with"),
    ];
    for (args, code, want) in cases {
        let out = run(bin()
            .args(["mint", "--sub", "s"])
            .args(*args)
            .arg("--secret-file")
            .arg(&secret)
            .arg("--out")
            .arg(&tok));
        assert_eq!(out.code, *code, "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(want), "{args:?}: {}", out.stderr);
        assert!(!tok.exists());
    }
    let none = run(bin().args(["mint", "--sub", "s", "--validity", "1d"]));
    assert_eq!(none.code, 78, "{}", none.stderr);
    assert!(
        none.stderr.contains("no signing key: pass --secret-file")
            && none.stderr.contains(&format!("{}/attic-token-secret by hand", test_support::NO_HOST_CREDENTIALS.1)),
        "{}",
        none.stderr
    );

    let wrapped = STANDARD.encode(SAMPLE_SECRET);
    let wrapped = format!("{}\n{}\n", &wrapped[..30], &wrapped[30..]);
    let bad = write(d.path(), "wrapped", &wrapped, 0o600);
    let out = run(bin().args(["mint", "--sub", "s", "--validity", "1d", "--secret-file"]).arg(&bad));
    assert_eq!(out.code, 78);
    assert!(out.stderr.contains("wrapped") && out.stderr.contains("base64 -w0"), "{}", out.stderr);
    assert!(!out.stderr.contains(&wrapped[..30]), "the secret stays out of errors");

    let open = write(d.path(), "open", STANDARD.encode(SAMPLE_SECRET), 0o644);
    let out = run(bin().args(["mint", "--sub", "s", "--validity", "1d", "--secret-file"]).arg(&open));
    assert_eq!(out.code, 78);
    assert!(out.stderr.contains("0644"), "{}", out.stderr);
}

#[test]
fn validity_in_atticadms_units_and_exp_capped_as_atticadm_caps_it() {
    let claims = |validity: &str| {
        let out = run(bin().args(["mint", "--sub", "s", "--validity", validity, "--dump-claims", "--now", SAMPLE_NOW]));
        assert_eq!(out.code, 0, "{validity}: {}", out.stderr);
        let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        (v["exp"].as_i64().unwrap() - v["nbf"].as_i64().unwrap(), v["exp"].as_i64().unwrap(), out.stderr)
    };
    assert_eq!(claims("2wks").0, 14 * 86_400);
    assert_eq!(claims("1yrs").0, 31_557_600);
    assert_eq!(claims("90000 millis").0, 90);
    assert_eq!(claims("1500000000000 nanos").0, 1500);
    assert_eq!(claims("1.5h").0, 5400);
    // Past 2106 atticd's 32-bit seconds saturate; atticadm writes the cap, and says nothing. We say so.
    let (_, exp, stderr) = claims("1000y");
    assert_eq!(exp, 4_294_967_295);
    assert!(stderr.contains("2106-02-07 06:28:15 UTC") && stderr.contains("as atticadm writes it"), "{stderr}");
}

#[test]
fn the_key_is_chosen_from_the_environment_as_atticd_chooses_it() {
    let d = tempfile::tempdir().unwrap();
    let pem = write(d.path(), "k.pem", rsa_pem(), 0o600);
    let public = STANDARD.encode(openssl(&["rsa", "-in", pem.to_str().unwrap(), "-pubout"], d.path()));
    let hs = STANDARD.encode(SAMPLE_SECRET);
    let rs = STANDARD.encode(rsa_pem());
    let mint = |env: &[(&str, &str)]| {
        let mut c = bin();
        c.args(["mint", "--sub", "s", "--validity", "1d", "--pull", "main"]);
        for (k, v) in env {
            c.env(k, v);
        }
        run(&mut c)
    };
    // The public key and an HS256 secret: atticd verifies with the public key only; atticadm refuses.
    let out =
        mint(&[("ATTIC_SERVER_TOKEN_RS256_PUBKEY_BASE64", &public), ("ATTIC_SERVER_TOKEN_HS256_SECRET_BASE64", &hs)]);
    assert_eq!(out.code, 78, "{}", out.stderr);
    assert!(out.stdout.is_empty());
    assert!(
        out.stderr.contains("$ATTIC_SERVER_TOKEN_RS256_PUBKEY_BASE64") && out.stderr.contains("cannot sign"),
        "{}",
        out.stderr
    );
    // An empty variable is unset, as atticd reads it.
    let out = mint(&[("ATTIC_SERVER_TOKEN_RS256_PUBKEY_BASE64", ""), ("ATTIC_SERVER_TOKEN_HS256_SECRET_BASE64", &hs)]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.starts_with("eyJhbGciOiJIUzI1NiIs"), "HS256: {}", out.stdout);
    // The RS256 secret before the HS256 one.
    let out = mint(&[("ATTIC_SERVER_TOKEN_HS256_SECRET_BASE64", &hs), ("ATTIC_SERVER_TOKEN_RS256_SECRET_BASE64", &rs)]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let (input, sig, _) = split(&out.stdout);
    assert!(openssl_rsa_verifies(d.path(), rsa_pem(), &input, &sig));
}
