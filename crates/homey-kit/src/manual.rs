//! `--help` as a manual: each subcommand states its own exit codes and two or three examples, and the
//! same clap definition gives the man pages and the shell completions.
//!
//! A tool declares one [`Page`] per subcommand next to its `Cli` and hands the list to
//! [`cli::main_with`](crate::cli::main_with). [`apply`] puts each page under that subcommand's help;
//! [`problems`] is what a tool's test (and the generator) checks — every option and positional
//! described, every subcommand with a page; [`generate`] writes `man1/*.1` and `completions/` for
//! the Nix package (`TOOL --generate-manual DIR`, see [`cli::main_with`](crate::cli::main_with)).

use crate::exit::Exit;
use anyhow::Context;
use clap::Command;
use std::path::Path;

/// What one subcommand's `--help` ends with.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    /// The subcommand, as typed after the tool's name (`"check"`, `"keys show"`); `""` is the tool itself.
    pub command: &'static str,
    /// The codes this subcommand ends with, each with what it means *here*. `2` (usage) is added for
    /// every command.
    pub exits: &'static [(Exit, &'static str)],
    /// (what it does, the command line) — two or three of them.
    pub examples: &'static [(&'static str, &'static str)],
}

/// Put each page's exit codes and examples under its subcommand's help. With pages given, the tool's
/// own help points to the subcommands' instead of a generic table that might contradict them.
pub fn apply(mut cmd: Command, pages: &[Page]) -> Command {
    if pages.is_empty() {
        return cmd;
    }
    let tool = cmd.get_name().to_owned();
    if !pages.iter().any(|p| p.command.is_empty()) && cmd.has_subcommands() {
        cmd = cmd.after_help(format!(
            "Each command's help lists its exit codes and examples: {tool} help COMMAND, or man {tool}-COMMAND."
        ));
    }
    for page in pages {
        let text = render(page);
        let path: Vec<&str> = page.command.split_whitespace().collect();
        // A page for no subcommand is for `problems` to report, not a reason to panic at start.
        if find(&cmd, &path).is_none() {
            continue;
        }
        cmd = on_subcommand(cmd, &path, &move |c| c.after_help(text.clone()));
    }
    cmd
}

fn on_subcommand(cmd: Command, path: &[&str], f: &dyn Fn(Command) -> Command) -> Command {
    match path.split_first() {
        None => f(cmd),
        Some((first, rest)) => {
            let first = first.to_string();
            cmd.mut_subcommand(first, |sub| on_subcommand(sub, rest, f))
        }
    }
}

/// The text a page adds under a subcommand's options.
pub fn render(page: &Page) -> String {
    let mut exits: Vec<(u8, &str)> = page.exits.iter().map(|(e, m)| (e.code(), *m)).collect();
    if !exits.iter().any(|(c, _)| *c == Exit::Usage.code()) {
        exits.push((Exit::Usage.code(), "usage error: the command line is wrong; nothing was done"));
    }
    exits.sort_by_key(|(c, _)| *c);
    let mut s = String::from("Exit codes:\n");
    for (code, meaning) in exits {
        s.push_str(&format!("  {code:>3}  {meaning}\n"));
    }
    s.push_str("\nExamples:\n");
    for (what, line) in page.examples {
        s.push_str(&format!("  {what}:\n    $ {line}\n"));
    }
    s.trim_end().to_owned()
}

/// Everything that keeps `--help` from being a manual: an option or positional without a description,
/// a subcommand without an about line or without a page, a page with the wrong number of examples or
/// an example that does not start with the tool's name, a page for a subcommand that does not exist.
pub fn problems(cmd: &Command, pages: &[Page]) -> Vec<String> {
    let mut out = undescribed(cmd);
    let tool = cmd.get_name().to_owned();
    walk(cmd, &mut vec![], &mut |path, c| {
        let name = if path.is_empty() { tool.clone() } else { format!("{tool} {}", path.join(" ")) };
        if c.is_hide_set() {
            return;
        }
        if !path.is_empty() && c.get_about().is_none() {
            out.push(format!("{name}: no about line"));
        }
        let leaf = !c.has_subcommands();
        let joined = path.join(" ");
        if leaf && !path.is_empty() && !pages.iter().any(|p| p.command == joined) {
            out.push(format!("{name}: no manual page (exit codes and examples)"));
        }
    });
    for page in pages {
        let path: Vec<&str> = page.command.split_whitespace().collect();
        if find(cmd, &path).is_none() {
            out.push(format!("{tool}: a manual page for {:?}, which is not a subcommand", page.command));
            continue;
        }
        let name = format!("{tool} {}", page.command).trim_end().to_owned();
        if !(2..=3).contains(&page.examples.len()) {
            out.push(format!(
                "{name}: {}; give two or three",
                crate::units::count(page.examples.len(), "example", "examples")
            ));
        }
        for (_, line) in page.examples {
            if !line.starts_with(&format!("{tool} ")) && !line.contains(&format!("| {tool} ")) {
                out.push(format!("{name}: the example {line:?} does not run {tool}"));
                continue;
            }
            if let Err(why) = parses(cmd, &tool, line) {
                out.push(format!("{name}: the example {line:?} does not parse: {why}"));
            }
        }
        if page.exits.is_empty() {
            out.push(format!("{name}: no exit codes"));
        }
    }
    out
}

/// Every option and positional, in every subcommand, that has no help text (`--json has no help text`).
pub fn undescribed(cmd: &Command) -> Vec<String> {
    let mut out = vec![];
    let tool = cmd.get_name().to_owned();
    walk(cmd, &mut vec![], &mut |path, c| {
        let name = if path.is_empty() { tool.clone() } else { format!("{tool} {}", path.join(" ")) };
        for arg in c.get_arguments() {
            if arg.is_hide_set() || matches!(arg.get_id().as_str(), "help" | "version") {
                continue;
            }
            if arg.get_help().is_none() && arg.get_long_help().is_none() {
                let shown = match (arg.get_long(), arg.get_value_names()) {
                    (Some(l), _) => format!("--{l}"),
                    (None, Some(v)) if !v.is_empty() => v[0].to_string(),
                    _ => arg.get_id().to_string(),
                };
                out.push(format!("{name}: {shown} has no help text"));
            }
        }
    });
    out
}

/// Whether the tool's part of an example (`… | tool args | jq …`) is a command line the tool accepts.
fn parses(cmd: &Command, tool: &str, line: &str) -> Result<(), String> {
    let part = line.split(" | ").find(|p| p.trim_start().starts_with(&format!("{tool} "))).unwrap_or(line);
    let mut words = vec![];
    let mut word = String::new();
    let mut quote = None;
    for c in part.trim().chars() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, ' ') => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            (_, c) => word.push(c),
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    match cmd.clone().try_get_matches_from(words) {
        Ok(_) => Ok(()),
        Err(e) if matches!(e.kind(), clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion) => {
            Ok(())
        }
        Err(e) => Err(e.to_string().lines().next().unwrap_or_default().trim_start_matches("error: ").to_owned()),
    }
}

fn walk(cmd: &Command, path: &mut Vec<String>, f: &mut dyn FnMut(&[String], &Command)) {
    f(path, cmd);
    for sub in cmd.get_subcommands() {
        if sub.get_name() == "help" {
            continue;
        }
        path.push(sub.get_name().to_owned());
        walk(sub, path, f);
        path.pop();
    }
}

fn find<'a>(cmd: &'a Command, path: &[&str]) -> Option<&'a Command> {
    match path.split_first() {
        None => Some(cmd),
        Some((first, rest)) => cmd.find_subcommand(first).and_then(|s| find(s, rest)),
    }
}

/// Write `DIR/man1/TOOL.1`, `DIR/man1/TOOL-COMMAND.1`… and `DIR/completions/{TOOL.bash,_TOOL,TOOL.fish}`.
pub fn generate(cmd: Command, dir: &Path) -> anyhow::Result<()> {
    use clap_complete::Shell;
    let tool = cmd.get_name().to_owned();
    let man = dir.join("man1");
    let completions = dir.join("completions");
    for d in [&man, &completions] {
        std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
    }
    clap_mangen::generate_to(cmd.clone(), &man).with_context(|| format!("writing man pages to {}", man.display()))?;
    let mut cmd = cmd;
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        clap_complete::generate_to(shell, &mut cmd, &tool, &completions)
            .with_context(|| format!("writing {shell} completions to {}", completions.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Arg, ArgAction};

    fn tool() -> Command {
        Command::new("demo")
            .about("A demo tool.")
            .subcommand(
                Command::new("check")
                    .about("Check.")
                    .arg(Arg::new("dry-run").long("dry-run").action(ArgAction::SetTrue).help("Change nothing."))
                    .arg(Arg::new("json").long("json").action(ArgAction::SetTrue)),
            )
            .subcommand(Command::new("status").about("Status.").arg(Arg::new("file")))
    }

    const CHECK: Page = Page {
        command: "check",
        exits: &[(Exit::Ok, "healthy"), (Exit::Failed, "dead")],
        examples: &[("By hand", "demo check --dry-run"), ("As JSON", "demo check --json | jq .")],
    };

    #[test]
    fn every_undescribed_option_and_missing_page_is_named() {
        let p = problems(&tool(), &[CHECK]);
        assert_eq!(
            p,
            [
                "demo check: --json has no help text",
                "demo status: file has no help text",
                "demo status: no manual page (exit codes and examples)",
            ]
        );
        let stray = Page { command: "stauts", exits: &[], examples: &[("x", "demo stauts")] };
        let p = problems(&apply(tool(), &[stray]), &[stray]);
        assert!(p.iter().any(|l| l.contains("\"stauts\", which is not a subcommand")), "{p:?}");
    }

    #[test]
    fn pages_need_two_or_three_examples_of_the_tool_and_exit_codes() {
        let thin = Page { command: "check", exits: &[], examples: &[("x", "rm -rf /")] };
        let p = problems(&tool(), &[thin]);
        assert!(p.contains(&"demo check: 1 example; give two or three".to_owned()), "{p:?}");
        assert!(p.iter().any(|l| l.contains("does not run demo")), "{p:?}");
        assert!(p.iter().any(|l| l.ends_with("no exit codes")), "{p:?}");
    }

    #[test]
    fn an_example_with_a_flag_that_does_not_exist_is_named() {
        let typo = Page {
            command: "check",
            exits: &[(Exit::Ok, "healthy")],
            examples: &[("x", "demo check --dry-runn"), ("y", "sudo demo check --json | jq '.a | .b'")],
        };
        let p = problems(&tool(), &[typo]);
        assert!(
            p.iter().any(|l| l.contains("\"demo check --dry-runn\" does not parse") && l.contains("--dry-runn")),
            "{p:?}"
        );
        assert!(p.iter().any(|l| l.contains("sudo demo") && l.contains("does not run demo")), "{p:?}");
        assert_eq!(parses(&tool(), "demo", "demo check --json | jq '.a | .b'"), Ok(()));
    }

    #[test]
    fn the_page_is_under_its_subcommand_and_the_tool_points_there() {
        let mut cmd = apply(tool(), &[CHECK]);
        let help = cmd.find_subcommand_mut("check").unwrap().render_long_help().to_string();
        assert!(help.contains("Exit codes:\n    0  healthy\n    1  dead\n    2  usage error"), "{help}");
        assert!(help.contains("Examples:\n  By hand:\n    $ demo check --dry-run"), "{help}");
        let top = cmd.render_long_help().to_string();
        assert!(top.contains("demo help COMMAND"), "{top}");
        assert!(!top.contains("Exit codes:"), "{top}");
    }

    #[test]
    fn man_pages_and_completions_come_from_the_same_definition() {
        let d = tempfile::tempdir().unwrap();
        generate(apply(tool(), &[CHECK]), d.path()).unwrap();
        let check = std::fs::read_to_string(d.path().join("man1/demo-check.1")).unwrap();
        assert!(check.contains("healthy") && check.contains("dry\\-run"), "{check}");
        assert!(d.path().join("man1/demo.1").exists());
        let bash = std::fs::read_to_string(d.path().join("completions/demo.bash")).unwrap();
        assert!(bash.contains("--dry-run"), "{bash}");
        assert!(d.path().join("completions/_demo").exists() && d.path().join("completions/demo.fish").exists());
    }
}
