//! The stand-in Uptime Kuma as a process, for `cargo xtask demo` and `cargo xtask bench`.
//!
//! `kuma-standin [--v1] [--listen ADDR] [--user NAME --password-file FILE] [--notification NAME[:default]]…`
//! prints its URL on the first stdout line, then answers stdin commands, one a line: `writes` (the number of
//! write events received), `monitors` (how many monitors it holds), `names` (their names); it exits when
//! stdin closes. Without `--user` it starts as a fresh server that needs setup.

use std::io::{BufRead, Write};
use test_support::kuma::Kuma;

fn main() {
    let mut args = std::env::args().skip(1);
    let mut v1 = false;
    let mut listen = "127.0.0.1:0".to_owned();
    let mut user = None;
    let mut password_file = None;
    let mut notifications = vec![];
    while let Some(a) = args.next() {
        match a.as_str() {
            "--v1" => v1 = true,
            "--listen" => listen = args.next().expect("--listen ADDR"),
            "--user" => user = args.next(),
            "--password-file" => password_file = args.next(),
            "--notification" => notifications.push(args.next().expect("--notification NAME")),
            other => {
                eprintln!("kuma-standin: unknown argument {other}");
                std::process::exit(2);
            }
        }
    }
    let mut b = if v1 { Kuma::v1() } else { Kuma::v2() };
    if let (Some(u), Some(f)) = (user, password_file) {
        let pw = std::fs::read_to_string(&f).expect("reading the password file");
        b = b.user(&u, pw.trim_end_matches('\n'));
    }
    for n in notifications {
        let (name, default) = match n.strip_suffix(":default") {
            Some(name) => (name.to_owned(), true),
            None => (n, false),
        };
        b = b.notification(&name, default);
    }
    let kuma = b.start_on(listen.parse().expect("--listen ADDR:PORT"));
    println!("{}", kuma.url());
    let _ = std::io::stdout().flush();
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let answer = match line.trim() {
            "writes" => kuma.writes().len().to_string(),
            "monitors" => kuma.monitors().len().to_string(),
            "names" => kuma
                .monitors()
                .iter()
                .map(|m| m["name"].as_str().unwrap_or("").to_owned())
                .collect::<Vec<_>>()
                .join("\n"),
            other => format!("unknown command {other}"),
        };
        println!("{answer}");
        let _ = std::io::stdout().flush();
    }
}
