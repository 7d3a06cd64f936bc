//! The README's console examples, run as tests (`cargo xtask test` runs them after the demo; `cargo xtask
//! readme` alone). Every ```` ```console ```` block in README.md is a test: its `$ ` lines are commands, the
//! lines after each are what it prints (stdout and stderr together, in order). A block runs in one `sh`, in
//! the demo's sandbox of the README section it stands in (`target/demo/<tool>`; outside a tool's section, the
//! sandbox of the first command's tool), with the built tools and the sandbox's stand-ins first on PATH.
//!
//! Writing an example (also in ARCHITECTURE.md):
//! - a line `...` (or `…` alone) stands for any number of lines; `…` inside a line for any text in it;
//! - `$ echo $?` shows the exit code (the block is one shell, so `$?` is the previous command's);
//! - lines starting `# ` before the first command are comments;
//! - an example that cannot run here (a real SD card, a real Wi-Fi interface) says so right above its block,
//!   visibly: a line `_Not run by the tests: REASON._` — the test run lists it, with the reason, as left out.

use crate::util::{root, target_dir};
use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const NOT_RUN: &str = "_Not run by the tests:";

#[derive(Debug, PartialEq)]
pub struct Example {
    /// 1-based line of the opening fence.
    pub line: usize,
    /// The README section's tool (`<!-- BEGIN tool -->`), if the block is inside one.
    pub section: Option<String>,
    /// `Some(reason)` when marked as not run.
    pub not_run: Option<String>,
    pub steps: Vec<Step>,
}

#[derive(Debug, PartialEq)]
pub struct Step {
    pub command: String,
    pub expected: Vec<String>,
}

impl Example {
    /// The demo sandbox the block runs in.
    fn sandbox_tool(&self) -> Option<String> {
        self.section.clone().or_else(|| self.steps.first()?.command.split_whitespace().next().map(str::to_owned))
    }
}

/// Every console block of a markdown text.
pub fn parse(markdown: &str) -> Vec<Example> {
    let lines: Vec<&str> = markdown.lines().collect();
    let mut examples = vec![];
    let mut section: Option<String> = None;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if let Some(tool) = line.strip_prefix("<!-- BEGIN ").and_then(|l| l.strip_suffix(" -->")) {
            section = Some(tool.trim().to_owned());
        } else if line.starts_with("<!-- END ") {
            section = None;
        } else if line.trim() == "```console" {
            let start = i;
            let above = lines[..i].iter().rev().find(|l| !l.trim().is_empty()).map(|l| l.trim());
            let not_run = above
                .and_then(|l| l.strip_prefix(NOT_RUN))
                .map(|r| r.trim().trim_end_matches('_').trim_end_matches('.').trim().to_owned());
            let mut steps: Vec<Step> = vec![];
            i += 1;
            while i < lines.len() && lines[i].trim() != "```" {
                let l = lines[i].trim_end();
                if let Some(cmd) = l.strip_prefix("$ ") {
                    steps.push(Step { command: cmd.to_owned(), expected: vec![] });
                } else if let Some(step) = steps.last_mut() {
                    step.expected.push(l.to_owned());
                }
                // Before the first command: a comment.
                i += 1;
            }
            examples.push(Example { line: start + 1, section: section.clone(), not_run, steps });
        }
        i += 1;
    }
    examples
}

/// Does `line` match `pattern`, where `…` in the pattern stands for any text?
pub fn line_matches(pattern: &str, line: &str) -> bool {
    let pattern = pattern.trim_end();
    let line = line.trim_end();
    let mut parts = pattern.split('…');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = line.strip_prefix(first) else { return false };
    let parts: Vec<&str> = parts.collect();
    for (k, part) in parts.iter().enumerate() {
        if k + 1 == parts.len() {
            return rest.ends_with(part);
        }
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.is_empty()
}

/// Do the printed lines match the expected ones, where a line `...` or `…` stands for any number of lines?
pub fn lines_match(expected: &[String], actual: &[&str]) -> bool {
    match expected.split_first() {
        None => actual.is_empty(),
        Some((e, rest)) if e.trim() == "..." || e.trim() == "…" => {
            (0..=actual.len()).any(|skip| lines_match(rest, &actual[skip..]))
        }
        Some((e, rest)) => actual.first().is_some_and(|a| line_matches(e, a)) && lines_match(rest, &actual[1..]),
    }
}

const MARK: &str = "\u{1e}homey-readme-step";

/// Run one example in `dir`; `Err` says which command printed what instead of what.
fn run_example(ex: &Example, dir: &Path, bin_dir: &Path) -> anyhow::Result<()> {
    let mut script = String::from("exec 2>&1 </dev/null\n");
    for (n, step) in ex.steps.iter().enumerate() {
        // The marker between the commands keeps `$?` for the next one (`$ echo $?`).
        script += &format!("rc=$?; printf '\\n{MARK} {n}\\n'; (exit $rc)\n{}\n", step.command);
    }
    let path =
        format!("{}:{}:{}", bin_dir.display(), dir.join("bin").display(), std::env::var("PATH").unwrap_or_default());
    let out = Command::new("sh")
        .args(["-c", &script])
        .current_dir(dir)
        .env("PATH", path)
        .stdin(Stdio::null())
        .output()
        .context("running sh")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut printed: Vec<Vec<&str>> = vec![];
    for chunk in text.split(&format!("\n{MARK} ")).skip(1) {
        let mut lines: Vec<&str> = chunk.lines().skip(1).collect();
        while lines.last().is_some_and(|l| l.trim().is_empty()) {
            lines.pop();
        }
        printed.push(lines);
    }
    for (n, step) in ex.steps.iter().enumerate() {
        let got = printed.get(n).cloned().unwrap_or_default();
        if !lines_match(&step.expected, &got) {
            bail!(
                "README.md:{}: `$ {}` printed:\n{}\nexpected:\n{}",
                ex.line,
                step.command,
                indent(&got.join("\n")),
                indent(&step.expected.join("\n"))
            );
        }
    }
    Ok(())
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("    {l}")).collect::<Vec<_>>().join("\n")
}

/// The demo, quietly (its output in target/demo.log), to make the sandboxes; then every example.
pub fn run(_args: &[String]) -> anyhow::Result<()> {
    let log = target_dir().join("demo.log");
    eprintln!("$ cargo xtask demo > {}   (the sandboxes the README's examples run in)", shown(&log));
    // Through cargo, not this executable's path: the builds before may have replaced this very binary.
    let st = crate::util::cargo()
        .args(["run", "--quiet", "--package", "xtask", "--", "demo"])
        .stdout(std::fs::File::create(&log)?)
        .stderr(Stdio::inherit())
        .status()?;
    anyhow::ensure!(st.success(), "the demo failed: see {}", log.display());
    run_examples()
}

fn shown(p: &Path) -> String {
    p.strip_prefix(root()).unwrap_or(p).display().to_string()
}

fn run_examples() -> anyhow::Result<()> {
    let readme = root().join("README.md");
    let examples = parse(&std::fs::read_to_string(&readme).context("reading README.md")?);
    let bin_dir = target_dir().join("debug");
    let (mut ran, mut failed, mut left_out) = (0, vec![], vec![]);
    for ex in &examples {
        if let Some(reason) = &ex.not_run {
            left_out.push(format!("README.md:{}: {reason}", ex.line));
            continue;
        }
        let Some(tool) = ex.sandbox_tool() else {
            failed.push(format!("README.md:{}: a console block without a command", ex.line));
            continue;
        };
        let dir: PathBuf = target_dir().join("demo").join(&tool);
        if !dir.is_dir() {
            failed.push(format!("README.md:{}: no demo sandbox {} for it to run in", ex.line, shown(&dir)));
            continue;
        }
        ran += 1;
        if let Err(e) = run_example(ex, &dir, &bin_dir) {
            failed.push(format!("{e:#}"));
        }
    }
    let n = left_out.len();
    eprintln!(
        "xtask: README examples: {ran} run, {} failed; left out {n} marked not runnable here (not counted as passed){}",
        failed.len(),
        if n > 0 { ":" } else { "" }
    );
    for l in &left_out {
        eprintln!("  {l}");
    }
    if !failed.is_empty() {
        bail!("README examples that no longer hold:\n{}", failed.join("\n"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MD: &str = "intro\n\n```console\n$ tool a\nok\n```\n<!-- BEGIN kuma-sync -->\n\
        _Not run by the tests: needs a real card._\n\n```console\n# a comment\n$ kuma-sync x\n…\n$ echo $?\n3\n```\n\
        <!-- END kuma-sync -->\n```sh\n$ not a console block\n```\n";

    #[test]
    fn blocks_are_found_with_their_section_marker_and_steps() {
        let ex = parse(MD);
        assert_eq!(ex.len(), 2);
        assert_eq!(ex[0].line, 3);
        assert_eq!(ex[0].section, None);
        assert_eq!(ex[0].sandbox_tool().as_deref(), Some("tool"));
        assert_eq!(ex[0].not_run, None);
        assert_eq!(ex[0].steps, vec![Step { command: "tool a".into(), expected: vec!["ok".into()] }]);
        assert_eq!(ex[1].section.as_deref(), Some("kuma-sync"));
        assert_eq!(ex[1].not_run.as_deref(), Some("needs a real card"));
        assert_eq!(ex[1].steps.len(), 2);
        assert_eq!(ex[1].steps[1].expected, vec!["3".to_owned()]);
    }

    #[test]
    fn an_ellipsis_in_a_line_stands_for_any_text_and_only_there() {
        assert!(line_matches("wrote … to /dev/sdb (…)", "wrote 3.1 GiB to /dev/sdb (usb, removable)"));
        assert!(line_matches("sha256 5d0c…", "sha256 5d0cabcdef"));
        assert!(line_matches("…", "anything"));
        assert!(!line_matches("sha256 5d0c…", "sha256 ffff"));
        assert!(!line_matches("wrote … to /dev/sdb", "wrote 3 GiB to /dev/sdc"));
        assert!(!line_matches("exact", "exact but longer"));
        assert!(line_matches("trailing space  ", "trailing space"));
    }

    #[test]
    fn an_elision_line_stands_for_any_number_of_lines() {
        let exp = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(lines_match(&exp(&["a", "...", "z"]), &["a", "b", "c", "z"]));
        assert!(lines_match(&exp(&["a", "…", "z"]), &["a", "z"]));
        assert!(!lines_match(&exp(&["a", "...", "z"]), &["a", "b"]));
        assert!(!lines_match(&exp(&["a"]), &["a", "b"]));
        assert!(lines_match(&exp(&[]), &[]));
    }

    #[test]
    fn a_block_runs_in_one_shell_and_a_changed_output_fails_naming_the_command() {
        let dir = std::env::temp_dir().join(format!("xtask-readme-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("f.txt"), "one\ntwo\nthree\n").unwrap();
        let md = "```console\n$ cat f.txt\none\n...\n$ sh -c 'exit 3'\n$ echo $?\n3\n```\n";
        let ex = &parse(md)[0];
        run_example(ex, &dir, &dir).unwrap();
        let md = "```console\n$ cat f.txt\none\nTWO\nthree\n```\n";
        let err = run_example(&parse(md)[0], &dir, &dir).unwrap_err().to_string();
        assert!(err.contains("README.md:1: `$ cat f.txt` printed:") && err.contains("TWO"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
