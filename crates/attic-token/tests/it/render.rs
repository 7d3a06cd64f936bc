use crate::*;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

pub fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/attic-server.toml")
}

fn render(template: &Path, secret: Option<&Path>, out: &Path) -> Out {
    let mut c = bin();
    c.args(["render-config", "--template"]).arg(template).arg("--out").arg(out);
    if let Some(s) = secret {
        c.arg("--secret-file").arg(s);
    }
    run(&mut c)
}

#[test]
fn keeps_the_template_and_adds_the_key_0600() {
    let d = tempfile::tempdir().unwrap();
    let secret = sample_secret(d.path());
    let out_path = d.path().join("attic-config.toml");
    let out = render(&example(), Some(&secret), &out_path);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let template = std::fs::read_to_string(example()).unwrap();
    let rendered = std::fs::read_to_string(&out_path).unwrap();
    let b64 = STANDARD.encode(SAMPLE_SECRET);
    assert_eq!(rendered, format!("{template}\n[jwt.signing]\ntoken-hs256-secret-base64 = \"{b64}\"\n"));
    assert_eq!(mode(&out_path), 0o600);
    assert!(!out.stdout.contains(&b64) && !out.stderr.contains(&b64), "the secret is never printed");

    // The result is a config atticd (and our mint) accepts, and tokens from it match the sample.
    let mint = run(bin().args(SAMPLE_FLAGS).args(["--now", SAMPLE_NOW, "--config"]).arg(&out_path));
    assert_eq!(mint.stdout.trim(), SAMPLE_TOKEN, "{}", mint.stderr);
}

#[test]
fn rs256_key_and_mode_flag() {
    let d = tempfile::tempdir().unwrap();
    let b64 = STANDARD.encode(rsa_pem());
    // An existing [jwt] table keeps its comments; an old key is replaced.
    let template = std::fs::read_to_string(example()).unwrap()
        + "\n[jwt] # bound tokens\ntoken-bound-issuer = \"me\"\n\n[jwt.signing]\ntoken-hs256-secret-base64 = \"b2xk\"\n";
    let template = write(d.path(), "t.toml", template, 0o644);
    let secret = write(d.path(), "rs.b64", &b64, 0o600);
    let out_path = d.path().join("o.toml");
    let out = run(bin()
        .args(["render-config", "--mode", "0640", "--template"])
        .arg(&template)
        .arg("--out")
        .arg(&out_path)
        .arg("--secret-file")
        .arg(&secret));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let rendered = std::fs::read_to_string(&out_path).unwrap();
    assert!(rendered.contains("[jwt] # bound tokens\ntoken-bound-issuer = \"me\"\n"), "{rendered}");
    assert!(rendered.ends_with(&format!("[jwt.signing]\ntoken-rs256-secret-base64 = \"{b64}\"\n")), "{rendered}");
    assert!(!rendered.contains("b2xk"));
    assert_eq!(mode(&out_path), 0o640);
}

#[test]
fn each_bad_template_is_refused_with_a_clear_line_and_nothing_written() {
    let d = tempfile::tempdir().unwrap();
    let secret = sample_secret(d.path());
    let b64 = STANDARD.encode(SAMPLE_SECRET);
    let good = std::fs::read_to_string(example()).unwrap();
    let out_path = d.path().join("attic-config.toml");
    write(d.path(), "attic-config.toml", "previous", 0o600);
    let cases = [
        (
            format!("{good}\n[store]\nenableChunkedUpload = true\nmaxChunkSize = 5_000_000\n"),
            "[store]: atticd refuses to start (unknown field `store`); attic has no such setting: chunked, deduplicated uploads are controlled by the [chunking] section",
        ),
        (
            good.replace("[database]\nurl = \"sqlite:///var/lib/atticd/server.db?mode=rwc\"\n", ""),
            "[database]: missing",
        ),
        (good.replace("[storage]", "[storge]"), "storge: unknown top-level key"),
        (good.replace("[chunking]", "[chunks]"), "[chunking]: missing"),
        (good.replace("max-size = 262144", "max-size = 32768"), "must be min-size ≤ avg-size ≤ max-size"),
        (good.replace("https://attic.example.com/\"", "https://attic.example.com\""), "must end with \"/\""),
        (good.replace("listen = ", "listen == "), "not valid TOML"),
    ];
    for (text, want) in cases {
        let template = write(d.path(), "bad.toml", &text, 0o644);
        let out = render(&template, Some(&secret), &out_path);
        assert_eq!(out.code, 78, "{want}: {}", out.stderr);
        let line = out.stderr.trim();
        assert_eq!(line.lines().count(), 1, "one line: {line}");
        assert!(line.contains(&template.display().to_string()) && line.contains(want), "want {want:?} in {line}");
        assert!(!line.contains(&b64) && !out.stdout.contains(&b64));
        assert_eq!(std::fs::read_to_string(&out_path).unwrap(), "previous", "nothing written");
    }
}

#[test]
fn secret_problems_never_show_the_secret() {
    let d = tempfile::tempdir().unwrap();
    let out_path = d.path().join("o.toml");
    // A PEM that is not a key: base64 fine, contents not.
    let junk = "-----BEGIN RSA PRIVATE KEY-----\nTOPSECRETTOPSECRETTOPSECRET\n-----END RSA PRIVATE KEY-----\n";
    let secret = write(d.path(), "s", STANDARD.encode(junk), 0o600);
    let out = render(&example(), Some(&secret), &out_path);
    assert_eq!(out.code, 78);
    assert!(out.stderr.contains("secret file") && out.stderr.contains("RSA"), "{}", out.stderr);
    assert!(!out.stderr.contains("TOPSECRET") && !out.stderr.contains(&STANDARD.encode(junk)[..20]), "{}", out.stderr);
    assert!(!out_path.exists());

    let none = render(&example(), None, &out_path);
    assert_eq!(none.code, 78);
    assert!(none.stderr.contains("no signing key"), "{}", none.stderr);
    assert!(!out_path.exists());
}

#[test]
fn secret_from_the_environment_or_credential() {
    let d = tempfile::tempdir().unwrap();
    let out_path = d.path().join("o.toml");
    let b64 = STANDARD.encode(SAMPLE_SECRET);
    let out = run(bin()
        .args(["render-config", "--template"])
        .arg(example())
        .arg("--out")
        .arg(&out_path)
        .env("ATTIC_SERVER_TOKEN_HS256_SECRET_BASE64", &b64));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(std::fs::read_to_string(&out_path).unwrap().contains(&b64));

    let creds = d.path().join("creds");
    std::fs::create_dir(&creds).unwrap();
    let rs = STANDARD.encode(rsa_pem());
    write(&creds, "attic-token-secret", &rs, 0o400);
    let out = run(bin()
        .args(["render-config", "--template"])
        .arg(example())
        .arg("--out")
        .arg(&out_path)
        .env("CREDENTIALS_DIRECTORY", &creds));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(std::fs::read_to_string(&out_path).unwrap().contains(&format!("token-rs256-secret-base64 = \"{rs}\"")));
}

/// render-config and the stand-in atticd agree on every template: what atticd refuses is refused (78,
/// nothing written); what atticd takes is rendered, and the stand-in takes the result. Where
/// render-config refuses more (a config atticd starts with but that cannot work), the row says so.
#[test]
fn agrees_with_atticd_check_config() {
    let d = tempfile::tempdir().unwrap();
    let secret = sample_secret(d.path());
    let good = std::fs::read_to_string(example()).unwrap();
    let s3 = "type = \"s3\"\nregion = \"eu-central-1\"\nbucket = \"attic\"";
    let local = "type = \"local\"\n# On the external disk; NAR content is not backed up (reproducible from source).\npath = \"/mnt/data/attic/storage\"";
    assert!(good.contains(local));
    // (template, atticd starts with it, render-config refuses it although atticd starts)
    let rows: Vec<(String, bool, bool)> = vec![
        (good.clone(), true, false),
        (good.replace("127.0.0.1:8080", "localhost:8080"), false, false),
        (good.replace("127.0.0.1:8080", "8080"), false, false),
        (good.replace("127.0.0.1:8080", "[::1]:8080"), true, false),
        (good.replace("interval = \"12 hours\"", "interval = \"12 hourz\""), false, false),
        (good.replace("interval = \"12 hours\"", "interval = 43200"), false, false),
        (good.replace("type = \"zstd\"", "type = \"zstd\"\nlevel = \"8\""), false, false),
        (good.replace("type = \"zstd\"", "type = \"zstd\"\nlevel = 8"), true, false),
        (good.replace("type = \"zstd\"", "level = 8"), false, false),
        (good.replace("[database]\n", "[database]\nheartbeat = \"true\"\n"), false, false),
        (good.replace("[database]\n", "[database]\nheartbeat = true\n"), true, false),
        (format!("max-nar-info-size = -1\n{good}"), false, false),
        (format!("max-nar-info-size = 1048576\n{good}"), true, false),
        (good.replace(local, &format!("{s3}\ncredentials = \"AKIA:x\"")), false, false),
        (
            good.replace(
                local,
                &format!("{s3}\n[storage.credentials]\naccess_key_id = \"a\"\nsecret_access_key = \"b\""),
            ),
            true,
            false,
        ),
        (good.replace(local, s3), true, false),
        (good.replace(local, "type = \"nfs\""), false, false),
        (good.replace(local, "type = \"local\""), false, false),
        (format!("soft-delete-caches = 1\n{good}"), false, false),
        (format!("token-hs256-secret-base64 = \"eA==\"\n{good}"), false, false),
        (format!("{good}\n[store]\nenableChunkedUpload = true\n"), false, false),
        (good.replace("max-size = 262144", "max-size = \"256k\""), false, false),
        (good.replace("min-size = 16384           # 16 KiB\n", ""), false, false),
        (good.replace("[chunking]", "[chunks]"), false, false),
        (format!("{good}\n[jwt]\ntoken-bound-audiences = \"nix\"\n"), false, false),
        (format!("{good}\n[jwt]\ntoken-bound-audiences = [\"nix\"]\ntoken-bound-issuer = \"me\"\n"), true, false),
        // Unknown keys inside sections: atticd ignores them; render-config warns.
        (good.replace("[database]\n", "[database]\nurll = 1\n"), true, false),
        // Started, but cannot work: clients' URLs break, the chunker panics on the first upload.
        (good.replace("https://attic.example.com/\"", "https://attic.example.com\""), true, true),
        (good.replace("max-size = 262144", "max-size = 32768"), true, true),
        (good.replace("min-size = 16384", "min-size = 16"), true, true),
    ];
    let out_path = d.path().join("attic-config.toml");
    for (text, atticd_starts, stricter) in rows {
        // What atticd gets: the template with the key under [jwt.signing], as render-config writes it.
        let with_key =
            format!("{text}\n[jwt.signing]\ntoken-hs256-secret-base64 = \"{}\"\n", STANDARD.encode(SAMPLE_SECRET));
        let with_key = if text.contains("\n[jwt]\n") {
            text.replace(
                "\n[jwt]\n",
                &format!(
                    "\n[jwt.signing]\ntoken-hs256-secret-base64 = \"{}\"\n[jwt]\n",
                    STANDARD.encode(SAMPLE_SECRET)
                ),
            )
        } else {
            with_key
        };
        let verdict = atticd_config::check_config(&with_key, false, false);
        assert_eq!(verdict.is_ok(), atticd_starts, "the stand-in on {text}: {verdict:?}");
        let _ = std::fs::remove_file(&out_path);
        let template = write(d.path(), "t.toml", &text, 0o644);
        let out = render(&template, Some(&secret), &out_path);
        let we_render = atticd_starts && !stricter;
        assert_eq!(out.code, if we_render { 0 } else { 78 }, "{text}\natticd: {verdict:?}\nours: {}", out.stderr);
        assert_eq!(out_path.exists(), we_render);
        if we_render {
            let rendered = std::fs::read_to_string(&out_path).unwrap();
            assert_eq!(atticd_config::check_config(&rendered, false, false), Ok(()), "{rendered}");
        } else {
            assert_eq!(out.stderr.trim().lines().count(), 1, "one line: {}", out.stderr);
        }
    }
}

#[test]
fn the_database_url_from_the_environment_as_atticd_takes_it() {
    let d = tempfile::tempdir().unwrap();
    let secret = sample_secret(d.path());
    let text = std::fs::read_to_string(example())
        .unwrap()
        .replace("url = \"sqlite:///var/lib/atticd/server.db?mode=rwc\"\n", "");
    let template = write(d.path(), "t.toml", &text, 0o644);
    let out_path = d.path().join("o.toml");
    assert!(atticd_config::check_config(&text, false, true).is_err());
    let out = render(&template, Some(&secret), &out_path);
    assert_eq!(out.code, 78, "{}", out.stderr);
    assert!(
        out.stderr.contains("[database] url: missing, and $ATTIC_SERVER_DATABASE_URL is not set"),
        "{}",
        out.stderr
    );
    assert!(atticd_config::check_config(&text, true, true).is_ok());
    let out = run(bin()
        .args(["render-config", "--template"])
        .arg(&template)
        .arg("--out")
        .arg(&out_path)
        .arg("--secret-file")
        .arg(&secret)
        .env("ATTIC_SERVER_DATABASE_URL", "postgresql:///attic"));
    assert_eq!(out.code, 0, "{}", out.stderr);
}

#[test]
fn a_mode_that_lets_others_read_the_key_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let secret = sample_secret(d.path());
    let out_path = d.path().join("o.toml");
    for mode in ["0644", "0604", "0601"] {
        let out = run(bin()
            .args(["render-config", "--mode", mode, "--template"])
            .arg(example())
            .arg("--out")
            .arg(&out_path)
            .arg("--secret-file")
            .arg(&secret));
        assert_eq!(out.code, 2, "{mode}: {}", out.stderr);
        assert!(out.stderr.contains(&format!("--mode {mode}")) && out.stderr.contains("mint tokens"), "{}", out.stderr);
        assert!(!out_path.exists());
    }
}
