use crate::*;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

fn inspect(token: &str, secret: Option<&Path>, extra: &[&str]) -> Out {
    let mut c = bin();
    c.args(["inspect", token]).args(extra);
    if let Some(s) = secret {
        c.arg("--secret-file").arg(s);
    }
    run(&mut c)
}

/// A token with these claims, correctly signed with the sample secret by openssl.
fn signed(dir: &Path, header: &str, claims: &str) -> String {
    let input = format!("{}.{}", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(claims));
    let sig = openssl_hmac(dir, SAMPLE_SECRET.as_bytes(), &input);
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

const HS: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

#[test]
fn accepts_atticadms_sample_and_says_what_it_grants() {
    let d = tempfile::tempdir().unwrap();
    let secret = sample_secret(d.path());
    let out = inspect(SAMPLE_TOKEN, Some(&secret), &["--now", SAMPLE_NOW]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    for want in [
        "subject    ci-push",
        "valid, expires 2027-02-26 13:08:08 UTC (in 3 months)",
        "signature  valid (HS256 with the given key)",
        "  main    pull, push, configure cache",
        "  team-*  pull, create cache, destroy cache",
        "verdict    usable",
    ] {
        assert!(out.stdout.contains(want), "{want:?} in\n{}", out.stdout);
    }
    // Without a key the signature is not judged, and stdin works.
    let mut c = bin();
    c.args(["inspect", "-", "--json", "--now", "1795757300"]).stdin(Stdio::piped()).stdout(Stdio::piped());
    let mut child = c.spawn().unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), SAMPLE_TOKEN.as_bytes()).unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["signature"], "unchecked");
    assert_eq!(v["valid"], true);
    assert_eq!(
        v["caches"][1],
        serde_json::json!({"pattern": "team-*", "permissions": ["pull", "create cache", "destroy cache"]})
    );
    assert_eq!(v["expires"], 1_803_647_288);
}

#[test]
fn expired_and_not_yet_valid_exit_1() {
    let d = tempfile::tempdir().unwrap();
    let secret = sample_secret(d.path());
    let out = inspect(SAMPLE_TOKEN, Some(&secret), &["--now", "1803647289"]);
    assert_eq!(out.code, 1);
    assert!(out.stdout.contains("EXPIRED at 2027-02-26 13:08:08 UTC (1 second ago)"), "{}", out.stdout);
    let out = inspect(SAMPLE_TOKEN, Some(&secret), &["--now", "1795757239"]);
    assert_eq!(out.code, 1);
    assert!(out.stdout.contains("NOT YET VALID"), "{}", out.stdout);
}

#[test]
fn rejects_tampering_wrong_alg_true_and_missing_caches() {
    let d = tempfile::tempdir().unwrap();
    let secret = sample_secret(d.path());
    let now = ["--now", "1795757300"];

    // Tampered: the claims changed (push on team-* added), the signature kept.
    let (_, sig, claims) = split(SAMPLE_TOKEN);
    let forged = claims.replace(r#""team-*":{"r":1"#, r#""team-*":{"r":1,"w":1"#);
    let tampered =
        format!("{}.{}.{}", URL_SAFE_NO_PAD.encode(HS), URL_SAFE_NO_PAD.encode(&forged), URL_SAFE_NO_PAD.encode(&sig));
    let out = inspect(&tampered, Some(&secret), &now);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(out.stdout.contains("signature  INVALID"), "{}", out.stdout);
    // A flipped signature byte, too.
    let mut sig2 = sig.clone();
    sig2[0] ^= 1;
    let flipped = format!("{}.{}", SAMPLE_TOKEN.rsplit_once('.').unwrap().0, URL_SAFE_NO_PAD.encode(sig2));
    assert_eq!(inspect(&flipped, Some(&secret), &now).code, 1);

    // Wrong alg: an RS256 header over the same claims, "signed" with the HS256 secret.
    let wrong_alg = signed(d.path(), r#"{"alg":"RS256","typ":"JWT"}"#, &claims);
    let out = inspect(&wrong_alg, Some(&secret), &now);
    assert_eq!(out.code, 1);
    assert!(out.stdout.contains("the token says RS256 but the key is HS256"), "{}", out.stdout);
    for alg in ["none", "HS512"] {
        let t = signed(d.path(), &format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#), &claims);
        let out = inspect(&t, None, &now);
        assert_eq!(out.code, 1, "{alg}");
        assert!(out.stdout.starts_with("INVALID: algorithm"), "{}", out.stdout);
    }

    // `true` instead of 1, correctly signed: atticd still rejects it.
    let t = signed(d.path(), HS, &claims.replace(r#""cc":1"#, r#""cc":true"#));
    let out = inspect(&t, Some(&secret), &now);
    assert_eq!(out.code, 1);
    assert!(
        out.stdout.contains(r#""team-*"."cc" (create cache) is true; atticd accepts only the integers 0 or 1"#),
        "{}",
        out.stdout
    );

    // No "caches".
    let t = signed(d.path(), HS, r#"{"exp":1803647288,"nbf":1795757240,"sub":"x","https://jwt.attic.rs/v1":{}}"#);
    let out = inspect(&t, Some(&secret), &["--json", "--now", "1795757300"]);
    assert_eq!(out.code, 1);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["valid"], false);
    assert!(v["problems"][0].as_str().unwrap().contains("no \"caches\""), "{v}");

    // The control: the same construction with good claims is accepted, so the checks above can fail.
    let ok = signed(d.path(), HS, &claims);
    assert_eq!(ok, SAMPLE_TOKEN);
    assert_eq!(inspect(&ok, Some(&secret), &now).code, 0);
}

#[test]
fn rs256_checked_with_the_private_or_the_public_key() {
    let d = tempfile::tempdir().unwrap();
    let key = write(d.path(), "rs.b64", STANDARD.encode(rsa_pem()), 0o600);
    let mint = run(bin().args(SAMPLE_FLAGS).args(["--now", SAMPLE_NOW, "--secret-file"]).arg(&key));
    assert_eq!(mint.code, 0, "{}", mint.stderr);
    let token = mint.stdout.trim();
    let pem = write(d.path(), "k.pem", rsa_pem(), 0o600);
    let public = openssl(&["rsa", "-in", pem.to_str().unwrap(), "-pubout"], d.path());
    let public = write(d.path(), "pub.b64", STANDARD.encode(public), 0o600);
    for k in [&key, &public] {
        let out = inspect(token, Some(k), &["--now", "1795757300"]);
        assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
        assert!(out.stdout.contains("signature  valid (RS256"), "{}", out.stdout);
    }
    // Another RSA key does not verify it, nor does the HS256 secret.
    let other = openssl(&["genrsa", "-traditional", "2048"], d.path());
    let other = write(d.path(), "other.b64", STANDARD.encode(other), 0o600);
    assert_eq!(inspect(token, Some(&other), &["--now", "1795757300"]).code, 1);
    assert_eq!(inspect(token, Some(&sample_secret(d.path())), &["--now", "1795757300"]).code, 1);
}

#[test]
fn garbage_is_invalid() {
    for t in ["", "abc", "a.b", "!!!.b.c"] {
        let out = inspect(t, None, &[]);
        assert_eq!(out.code, 1, "{t:?}");
        assert!(out.stdout.starts_with("INVALID:"), "{}", out.stdout);
    }
}

#[test]
fn accepts_what_atticd_accepts_and_says_where_that_is_unwise() {
    let d = tempfile::tempdir().unwrap();
    let secret = sample_secret(d.path());
    let ns = r#""https://jwt.attic.rs/v1":{"caches":{"main":{"r":1}}}"#;
    let cases = [
        (r#"{"alg":"HS256","typ":"JWT"}"#, format!("{{\"sub\":\"forever\",{ns}}}"), "never expires (no \"exp\")"),
        (r#"{"alg":"HS256","typ":"jwt"}"#, format!("{{\"exp\":1803647288,{ns}}}"), "expires 2027-02-26 13:08:08 UTC"),
        (r#"{"alg":"HS256","typ":"at+jwt"}"#, format!("{{\"exp\":1803647288,{ns}}}"), "expires 2027-02-26"),
        (
            r#"{"alg":"HS256"}"#,
            format!("{{\"exp\":1803647288.75,\"nbf\":1795757240.5,{ns}}}"),
            "expires 2027-02-26 13:08:08 UTC",
        ),
    ];
    for (header, claims, want) in cases {
        let t = signed(d.path(), header, &claims);
        let out = inspect(&t, Some(&secret), &["--now", "1795757300"]);
        assert_eq!(out.code, 0, "{header} {claims}: {}", out.stdout);
        assert!(out.stdout.contains(want) && out.stdout.contains("verdict    usable"), "{want:?} in {}", out.stdout);
    }
    let t = signed(d.path(), HS, &format!("{{\"sub\":\"forever\",{ns}}}"));
    let out = inspect(&t, Some(&secret), &["--json"]);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!((v["valid"].as_bool(), v["expires"].is_null()), (Some(true), true), "{v}");
    assert!(v["notes"][0].as_str().unwrap().contains("more lenient than is wise"), "{v}");
    // A typ atticd refuses.
    let t = signed(d.path(), r#"{"alg":"HS256","typ":"JOSE"}"#, &format!("{{{ns}}}"));
    let out = inspect(&t, Some(&secret), &[]);
    assert_eq!(out.code, 1);
    assert!(out.stdout.starts_with("INVALID: header \"typ\" is \"JOSE\""), "{}", out.stdout);
}

#[test]
fn patterns_are_listed_in_the_tokens_order() {
    let d = tempfile::tempdir().unwrap();
    let secret = sample_secret(d.path());
    let mint = run(bin()
        .args(["mint", "--sub", "s", "--validity", "1d", "--pull", "x*", "--push", "*", "--secret-file"])
        .arg(&secret));
    assert_eq!(mint.code, 0, "{}", mint.stderr);
    let out = inspect(mint.stdout.trim(), Some(&secret), &[]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    let x = out.stdout.find("  x*  pull").expect(&out.stdout);
    let star = out.stdout.find("  *   push").expect(&out.stdout);
    assert!(x < star, "{}", out.stdout);
}

#[test]
fn reads_a_token_file_refusing_one_others_can_read() {
    let d = tempfile::tempdir().unwrap();
    let secret = sample_secret(d.path());
    let token = write(d.path(), "t", format!("{SAMPLE_TOKEN}\n"), 0o600);
    let out =
        run(bin().args(["inspect", "--now", SAMPLE_NOW, "--token-file"]).arg(&token).arg("--secret-file").arg(&secret));
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("verdict    usable"), "{}", out.stdout);
    let open = write(d.path(), "open", SAMPLE_TOKEN, 0o644);
    let out = run(bin().args(["inspect", "--token-file"]).arg(&open));
    assert_eq!(out.code, 78, "{}", out.stderr);
    assert!(out.stderr.contains("token file") && out.stderr.contains("mode 0644"), "{}", out.stderr);
    assert!(!out.stdout.contains(SAMPLE_TOKEN) && !out.stderr.contains(SAMPLE_TOKEN));
    // Neither, or both: a usage error.
    assert_eq!(run(bin().args(["inspect"])).code, 2);
    assert_eq!(run(bin().args(["inspect", SAMPLE_TOKEN, "--token-file"]).arg(&token)).code, 2);
}
