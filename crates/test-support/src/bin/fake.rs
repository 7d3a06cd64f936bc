//! One fake executable for every program a homey tool runs but a test cannot (occ, systemctl, iw, nix).
//!
//! Installed under any name by `test_support::Fakes::install`, which writes a two-line wrapper that sets
//! `HOMEY_FAKE_DIR` and `HOMEY_FAKE_NAME` and execs this binary. Each call appends one JSON line to
//! `$HOMEY_FAKE_DIR/calls.jsonl` (name, argv, env, stdin, cwd) and answers from `$HOMEY_FAKE_DIR/NAME.script`:
//!
//! ```text
//! # rules are tried top to bottom; the first that matches answers; `---` separates rules
//! when maintenance:mode --off   # every word must be among the arguments
//! if mode=enabled               # a variable (set by an earlier call) must have this value
//! times 1                       # answer at most this many times
//! exit 1
//! stdout first line             # repeatable; {var} is replaced by the variable's value
//! stderr boom
//! stdout_file /path/to/bytes
//! delay_ms 200
//! set mode=disabled             # remember for later calls (of any fake in the dir)
//! signal 9                      # after answering, die by this signal
//! ```
//! No script or no matching rule: exit 0, no output. std only on purpose (built by bare rustc).

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{IsTerminal, Read, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

// flock(2) by hand: std's `File::lock` is newer (1.89) than the workspace's rust-version, and this file
// stays std only so a bare rustc can build it.
unsafe extern "C" {
    fn flock(fd: i32, operation: i32) -> i32;
}
const LOCK_EX: i32 = 2;

/// Blocks until this process holds the exclusive lock; released when `f` is closed.
fn lock_exclusive(f: &File) -> std::io::Result<()> {
    // SAFETY: flock takes a descriptor number and no pointers; `f` keeps the descriptor open for the call.
    if unsafe { flock(f.as_raw_fd(), LOCK_EX) } == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) }
}

#[derive(Default, Debug)]
struct Rule {
    when: Vec<String>,
    cond: Vec<(String, String)>,
    times: Option<u64>,
    exit: i32,
    stdout: Vec<String>,
    stderr: Vec<String>,
    stdout_file: Option<PathBuf>,
    delay_ms: u64,
    set: Vec<(String, String)>,
    signal: Option<i32>,
}

fn parse(script: &str) -> Vec<Rule> {
    let mut rules = vec![Rule::default()];
    for line in script.lines() {
        let line = line.trim_start();
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        if line.trim() == "---" {
            rules.push(Rule::default());
            continue;
        }
        let (key, val) = line.split_once(' ').unwrap_or((line, ""));
        let r = rules.last_mut().unwrap();
        let kv = |v: &str| {
            let (k, v) = v.split_once('=').unwrap_or((v, ""));
            (k.trim().to_owned(), v.trim().to_owned())
        };
        match key {
            "when" => r.when.extend(val.split_whitespace().map(str::to_owned)),
            "if" => r.cond.push(kv(val)),
            "times" => r.times = val.trim().parse().ok(),
            "exit" => r.exit = val.trim().parse().unwrap_or(1),
            "stdout" => r.stdout.push(val.to_owned()),
            "stderr" => r.stderr.push(val.to_owned()),
            "stdout_file" => r.stdout_file = Some(PathBuf::from(val.trim())),
            "delay_ms" => r.delay_ms = val.trim().parse().unwrap_or(0),
            "set" => r.set.push(kv(val)),
            "signal" => r.signal = val.trim().parse().ok(),
            other => {
                eprintln!("fake: unknown script directive {other:?}");
                std::process::exit(120);
            }
        }
    }
    rules
}

fn json_str(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

fn read_kv(path: &Path) -> BTreeMap<String, String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())))
        .collect()
}

fn write_kv(path: &Path, m: &BTreeMap<String, String>) {
    let s: String = m.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    std::fs::write(path, s).expect("fake: writing state");
}

fn main() {
    let dir = PathBuf::from(std::env::var_os("HOMEY_FAKE_DIR").expect("fake: HOMEY_FAKE_DIR not set"));
    let name = std::env::var("HOMEY_FAKE_NAME").expect("fake: HOMEY_FAKE_NAME not set");
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut stdin = Vec::new();
    if !std::io::stdin().is_terminal() {
        let _ = std::io::stdin().read_to_end(&mut stdin);
    }

    // One call at a time through the log and the state files, so parallel calls stay whole.
    let lock = File::create(dir.join("fake.lock")).expect("fake: lock file");
    lock_exclusive(&lock).expect("fake: lock");

    let env: Vec<String> = std::env::vars()
        .filter(|(k, _)| !k.starts_with("HOMEY_FAKE_"))
        .map(|(k, v)| format!("{}:{}", json_str(&k), json_str(&v)))
        .collect();
    let argv: Vec<String> = std::iter::once(name.clone()).chain(args.iter().cloned()).map(|a| json_str(&a)).collect();
    let cwd = std::env::current_dir().map(|p| p.display().to_string()).unwrap_or_default();
    let line = format!(
        "{{\"name\":{},\"argv\":[{}],\"env\":{{{}}},\"stdin\":{},\"cwd\":{}}}\n",
        json_str(&name),
        argv.join(","),
        env.join(","),
        json_str(&String::from_utf8_lossy(&stdin)),
        json_str(&cwd)
    );
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("calls.jsonl"))
        .and_then(|mut f| f.write_all(line.as_bytes()))
        .expect("fake: writing calls.jsonl");

    let script = std::fs::read_to_string(dir.join(format!("{name}.script"))).unwrap_or_default();
    let rules = parse(&script);
    let vars_path = dir.join("fake.vars");
    let hits_path = dir.join("fake.hits");
    let mut vars = read_kv(&vars_path);
    let mut hits = read_kv(&hits_path);
    let chosen = rules.iter().enumerate().find(|(i, r)| {
        let used: u64 = hits.get(&format!("{name}#{i}")).and_then(|v| v.parse().ok()).unwrap_or(0);
        r.when.iter().all(|w| args.iter().any(|a| a == w))
            && r.cond.iter().all(|(k, v)| vars.get(k).map(String::as_str).unwrap_or("") == v)
            && r.times.is_none_or(|t| used < t)
    });
    let Some((i, rule)) = chosen else {
        return;
    };
    let key = format!("{name}#{i}");
    let used: u64 = hits.get(&key).and_then(|v| v.parse().ok()).unwrap_or(0);
    hits.insert(key, (used + 1).to_string());
    write_kv(&hits_path, &hits);
    for (k, v) in &rule.set {
        vars.insert(k.clone(), v.clone());
    }
    write_kv(&vars_path, &vars);
    drop(lock);

    if rule.delay_ms > 0 {
        std::thread::sleep(std::time::Duration::from_millis(rule.delay_ms));
    }
    let subst = |s: &str| vars.iter().fold(s.to_owned(), |acc, (k, v)| acc.replace(&format!("{{{k}}}"), v));
    let mut out = std::io::stdout().lock();
    for l in &rule.stdout {
        let _ = writeln!(out, "{}", subst(l));
    }
    if let Some(f) = &rule.stdout_file {
        let _ = out.write_all(&std::fs::read(f).expect("fake: stdout_file"));
    }
    let _ = out.flush();
    for l in &rule.stderr {
        eprintln!("{}", subst(l));
    }
    if let Some(sig) = rule.signal {
        let _ = std::process::Command::new("kill").arg(format!("-{sig}")).arg(std::process::id().to_string()).status();
        std::thread::sleep(std::time::Duration::from_secs(5));
    }
    std::process::exit(rule.exit);
}
