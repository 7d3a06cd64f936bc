use crate::*;

fn token_file(dir: &Path) -> PathBuf {
    write(dir, "tok", format!("{SAMPLE_TOKEN}\n"), 0o600)
}

fn netrc(host: &str, token: &Path, out: &Path) -> Out {
    run(bin().args(["netrc", "--host", host, "--token-file"]).arg(token).arg("--out").arg(out))
}

#[test]
fn adds_then_replaces_only_the_named_host() {
    let d = tempfile::tempdir().unwrap();
    let tok = token_file(d.path());
    let out_path = d.path().join("netrc");
    let others =
        "machine github.com\n  login me\n  password ghp_x\n\nmachine attic.example.com.other login a password b\n";
    write(d.path(), "netrc", others, 0o644);

    let out = netrc("attic.example.com", &tok, &out_path);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let first = std::fs::read_to_string(&out_path).unwrap();
    assert_eq!(first, format!("{others}machine attic.example.com\n  login attic\n  password {SAMPLE_TOKEN}\n"));
    assert_eq!(mode(&out_path), 0o600);
    assert!(!out.stderr.contains(SAMPLE_TOKEN));

    // A new token replaces the entry in place; the other machines stay byte for byte.
    let new = write(d.path(), "tok2", "aaa.bbb.ccc", 0o600);
    assert_eq!(netrc("attic.example.com", &new, &out_path).code, 0);
    let second = std::fs::read_to_string(&out_path).unwrap();
    assert_eq!(second, format!("{others}machine attic.example.com\n  login attic\n  password aaa.bbb.ccc\n"));
    assert!(!second.contains(SAMPLE_TOKEN));
}

#[test]
fn creates_a_missing_file() {
    let d = tempfile::tempdir().unwrap();
    let out_path = d.path().join("nix-netrc");
    assert_eq!(netrc("attic.example.com", &token_file(d.path()), &out_path).code, 0);
    assert!(std::fs::read_to_string(&out_path).unwrap().starts_with("machine attic.example.com\n"));
    assert_eq!(mode(&out_path), 0o600);
}

#[test]
fn bad_input_changes_nothing() {
    let d = tempfile::tempdir().unwrap();
    let out_path = write(d.path(), "netrc", "machine a login b password c\n", 0o600);
    let tok = token_file(d.path());
    let url = netrc("https://attic.example.com/", &tok, &out_path);
    assert_eq!(url.code, 2);
    assert!(url.stderr.contains("not a URL"), "{}", url.stderr);
    assert_eq!(netrc("attic.example.com:443", &tok, &out_path).code, 2);
    let two_lines = write(d.path(), "bad", "aaa.bbb.ccc\nddd.eee.fff\n", 0o600);
    let out = netrc("attic.example.com", &two_lines, &out_path);
    assert_eq!(out.code, 65);
    assert!(out.stderr.contains("token file") && !out.stderr.contains("ddd.eee"), "{}", out.stderr);
    assert_eq!(std::fs::read_to_string(&out_path).unwrap(), "machine a login b password c\n");
}

#[test]
fn a_token_file_others_can_read_is_refused_in_words_that_fit() {
    let d = tempfile::tempdir().unwrap();
    let token = write(d.path(), "t", SAMPLE_TOKEN, 0o644);
    let netrc = d.path().join("netrc");
    let out =
        run(bin().args(["netrc", "--host", "attic.example.com", "--out"]).arg(&netrc).arg("--token-file").arg(&token));
    assert_eq!(out.code, 78, "{}", out.stderr);
    assert!(out.stderr.contains(&format!("token file {}: mode 0644", token.display())), "{}", out.stderr);
    assert!(!out.stderr.contains("flag") && !out.stderr.contains("secret file"), "{}", out.stderr);
    assert!(!out.stderr.contains(SAMPLE_TOKEN) && !netrc.exists());
}
