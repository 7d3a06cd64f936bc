//! The attic-token part of the demo: a throwaway secret, the runtime config rendered from the example
//! template, a token minted from it, inspected, written into a netrc, and checked against a loopback
//! stand-in for atticd's cache-config endpoint.

use super::Ctx;
use std::io::{BufRead, BufReader, Write};

/// The spec's atticadm sample: its inputs must give this token byte for byte.
const SAMPLE_TOKEN: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJleHAiOjE4MDM2NDcyODgsIm5iZiI6MTc5NTc1NzI0MCwic3ViIjoiY2ktcHVzaCIsImh0dHBzOi8vand0LmF0dGljLnJzL3YxIjp7ImNhY2hlcyI6eyJtYWluIjp7InIiOjEsInciOjEsImNyIjoxfSwidGVhbS0qIjp7InIiOjEsImNjIjoxLCJjZCI6MX19fX0.J8fCq8HeNoQIYW80ByUv6SdfI13To56TnvuTxN_cQD8";
const SAMPLE_SECRET_B64: &str = "YXR0aWMtdG9rZW4gcmVzZWFyY2ggdGhyb3dhd2F5IHNlY3JldCAwMTIzNDU2Nzg5YWJjZGVm";

pub fn run(ctx: &Ctx) -> anyhow::Result<()> {
    let d = &ctx.dir;
    let expect = |code: i32, want: i32, what: &str| -> anyhow::Result<()> {
        anyhow::ensure!(code == want, "{what}: exit {code}, expected {want}");
        Ok(())
    };

    expect(
        ctx.show(ctx.tool("attic-token").args(["keygen", "--algorithm", "hs256", "--out", "secret.b64"]))?,
        0,
        "keygen",
    )?;

    // The template as NixOS would put it in the store; copied in so the lines show sandbox paths.
    let template = d.join("attic-server.toml");
    std::fs::copy(ctx.examples().join("attic-server.toml"), &template)?;
    let code = ctx.show(ctx.tool("attic-token").args(["render-config", "--template", "attic-server.toml"]).args([
        "--out",
        "attic-config.toml",
        "--secret-file",
        "secret.b64",
    ]))?;
    expect(code, 0, "render-config")?;
    let rendered = std::fs::read_to_string(d.join("attic-config.toml"))?;
    println!("  (attic-config.toml ends with:)");
    for line in rendered.lines().rev().take(2).collect::<Vec<_>>().into_iter().rev() {
        // The demo's secret is throwaway, but a habit of not printing secrets is not.
        let shown = match line.split_once(" = \"") {
            Some((k, _)) if k.starts_with("token-") => format!("{k} = \"<redacted>\""),
            _ => line.to_owned(),
        };
        println!("  | {shown}");
    }

    // The homelab notes' TODO: keys attic does not have.
    let notes_todo = std::fs::read_to_string(&template)?
        + "\n[store]\n# Enable the chunk-aware upload handler\nenableChunkedUpload = true\nmaxChunkSize = 5_000_000\n";
    std::fs::write(d.join("with-store.toml"), notes_todo)?;
    let code = ctx.show(ctx.tool("attic-token").args([
        "render-config",
        "--template",
        "with-store.toml",
        "--out",
        "refused.toml",
        "--secret-file",
        "secret.b64",
    ]))?;
    expect(code, 78, "render-config with [store]")?;
    anyhow::ensure!(!d.join("refused.toml").exists(), "a refused template must not be written");

    let code = ctx.show(ctx.tool("attic-token").args([
        "mint",
        "--config",
        "attic-config.toml",
        "--sub",
        "nix-daemon",
        "--validity",
        "1y",
        "--pull",
        "main",
        "--out",
        "nix-daemon.token",
    ]))?;
    expect(code, 0, "mint")?;
    // A token never goes on a command line (other users see argv): inspect reads it from its file.
    let code = ctx.show(ctx.tool("attic-token").args([
        "inspect",
        "--token-file",
        "nix-daemon.token",
        "--secret-file",
        "secret.b64",
    ]))?;
    expect(code, 0, "inspect")?;

    std::fs::write(d.join("netrc"), "machine git.example.com\n  login me\n  password not-a-real-one\n")?;
    let code = ctx.show(ctx.tool("attic-token").args([
        "netrc",
        "--host",
        "attic.example.com",
        "--token-file",
        "nix-daemon.token",
        "--out",
        "netrc",
    ]))?;
    expect(code, 0, "netrc")?;
    let netrc = std::fs::read_to_string(d.join("netrc"))?;
    println!("  (netrc now has the entries for: {})", machines(&netrc).join(", "));

    let endpoint = stand_in()?;
    expect(
        ctx.show(ctx.tool("attic-token").args([
            "check",
            "--endpoint",
            &endpoint,
            "--cache",
            "main",
            "--token-file",
            "nix-daemon.token",
        ]))?,
        0,
        "check main",
    )?;
    expect(
        ctx.show(ctx.tool("attic-token").args([
            "check",
            "--endpoint",
            &endpoint,
            "--cache",
            "other",
            "--token-file",
            "nix-daemon.token",
        ]))?,
        1,
        "check other",
    )?;

    // Byte compatibility: the spec's atticadm sample, minted at its second from its inputs.
    std::fs::write(d.join("sample.b64"), SAMPLE_SECRET_B64)?;
    std::fs::set_permissions(d.join("sample.b64"), std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    let out = ctx
        .tool("attic-token")
        .args(["mint", "--sub", "ci-push", "--validity", "3 months", "--pull", "main", "--push", "main"])
        .args([
            "--pull",
            "team-*",
            "--create-cache",
            "team-*",
            "--destroy-cache",
            "team-*",
            "--configure-cache",
            "main",
        ])
        .args(["--secret-file", "sample.b64", "--now", "1795757240"])
        .output()?;
    let same = String::from_utf8_lossy(&out.stdout).trim() == SAMPLE_TOKEN;
    println!("\n$ attic-token mint <the spec's atticadm sample inputs, at its second>");
    println!(
        "  {}",
        if same { "identical to atticadm's token, byte for byte" } else { "DIFFERS from atticadm's token" }
    );
    anyhow::ensure!(same, "the sample token was not reproduced");
    Ok(())
}

fn machines(netrc: &str) -> Vec<&str> {
    let words: Vec<&str> = netrc.split_whitespace().collect();
    words.windows(2).filter(|w| w[0] == "machine").map(|w| w[1]).collect()
}

/// A loopback stand-in for atticd's `GET /_api/v1/cache-config/NAME`: cache `main` exists and answers
/// 200 to a bearer token; an unknown cache is 404. (The tests' stand-in also judges the token.)
fn stand_in() -> anyhow::Result<String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut reader = BufReader::new(&mut conn);
            let mut request_line = String::new();
            let _ = reader.read_line(&mut request_line);
            let mut bearer = false;
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
                    break;
                }
                bearer |= h.to_ascii_lowercase().starts_with("authorization: bearer ");
            }
            let (status, body) = match request_line.split_whitespace().nth(1) {
                Some("/_api/v1/cache-config/main") if bearer => {
                    ("200 OK", r#"{"is_public":false,"store_dir":"/nix/store","priority":41}"#)
                }
                Some("/_api/v1/cache-config/main") => ("401 Unauthorized", r#"{"code":401}"#),
                _ => ("404 Not Found", r#"{"code":404,"error":"NoSuchCache"}"#),
            };
            let _ = write!(
                conn,
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    Ok(format!("http://{addr}/"))
}
