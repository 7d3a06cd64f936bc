//! A closed stdout, made real: the test re-runs its own binary as a child whose fd 1 is a pipe with
//! no reader left, and looks at the child's exit status and stderr.

use homey_kit::Exit;
use homey_kit::cli::Verbosity;
use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitCode};

const CHILD: &str = "HOMEY_KIT_PIPE_CHILD";

#[derive(Debug, clap::Parser)]
struct Tool {
    #[command(flatten)]
    verbosity: Verbosity,
    /// How the tool writes its output.
    how: String,
}

fn run(t: Tool) -> anyhow::Result<Exit> {
    match t.how.as_str() {
        // The kit's writer: the job goes on after the reader left and ends with its own code.
        "outln" => {
            for i in 0..1000 {
                homey_kit::outln!("line {i}")?;
            }
            homey_kit::warn!("job finished after {} lines", 1000);
            // 3 only if the pipe really was closed under the writer.
            Ok(if homey_kit::cli::stdout_closed() { Exit::Warnings } else { Exit::Failed })
        }
        // A plain println!: std panics on EPIPE; the kit keeps it quiet.
        "println" => {
            println!("a line nobody reads");
            homey_kit::warn!("not reached");
            Ok(Exit::Failed)
        }
        // An io::Error carried up with `?`.
        "writeln" => {
            let mut out = std::io::stdout().lock();
            writeln!(out, "a line nobody reads")?;
            out.flush()?;
            Ok(Exit::Failed)
        }
        // A broken pipe that is not stdout's: a child that died before reading its input.
        "child" => {
            let mut child = std::process::Command::new("true").stdin(std::process::Stdio::piped()).spawn()?;
            let mut stdin = child.stdin.take().expect("piped");
            child.wait()?;
            stdin.write_all(&[0u8; 1 << 16])?;
            Ok(Exit::Ok)
        }
        other => panic!("unknown mode {other}"),
    }
}

/// In the child: make fd 1 a pipe whose read end is already closed (unless the job's own pipe is under
/// test), run the tool, exit with its code before the test harness prints anything more.
fn child(how: &str) -> ! {
    if how != "child" {
        let mut fds = [0; 2];
        // SAFETY: plain pipe/dup2/close on fds this process owns.
        unsafe {
            assert_eq!(libc::pipe(fds.as_mut_ptr()), 0);
            libc::close(fds[0]);
            assert_eq!(libc::dup2(fds[1], 1), 1);
            libc::close(fds[1]);
        }
    }
    let code = homey_kit::cli::main_from(["tool".into(), how.into()], &[], |t: &Tool| t.verbosity, run);
    // ExitCode has no accessor on 1.86; compare against the ones the tool can return.
    for c in [0u8, 1, 2, 3, 101] {
        if code == ExitCode::from(c) {
            std::process::exit(c.into());
        }
    }
    std::process::exit(99)
}

fn in_child(test: &str, how: &str) -> (i32, String) {
    if std::env::var_os(CHILD).is_some() {
        child(how);
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let code = out.status.code().unwrap_or_else(|| 128 + out.status.signal().unwrap_or(0));
    (code, stderr)
}

fn assert_quiet(stderr: &str) {
    for bad in ["panicked", "Broken pipe", "error:"] {
        assert!(!stderr.contains(bad), "{bad:?} on stderr:\n{stderr}");
    }
}

#[test]
fn the_kit_writer_lets_the_job_finish_with_its_own_code() {
    let (code, stderr) = in_child("pipe::the_kit_writer_lets_the_job_finish_with_its_own_code", "outln");
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("job finished after 1000 lines"), "{stderr}");
    assert_quiet(&stderr);
}

#[test]
fn a_plain_println_ends_quietly_with_0() {
    let (code, stderr) = in_child("pipe::a_plain_println_ends_quietly_with_0", "println");
    assert_eq!(code, 0, "{stderr}");
    assert!(!stderr.contains("not reached"), "{stderr}");
    assert_quiet(&stderr);
}

#[test]
fn a_returned_broken_pipe_error_ends_quietly_with_0() {
    let (code, stderr) = in_child("pipe::a_returned_broken_pipe_error_ends_quietly_with_0", "writeln");
    assert_eq!(code, 0, "{stderr}");
    assert_quiet(&stderr);
}

#[test]
fn a_broken_pipe_into_a_child_is_not_mistaken_for_a_closed_stdout() {
    let (code, stderr) = in_child("pipe::a_broken_pipe_into_a_child_is_not_mistaken_for_a_closed_stdout", "child");
    assert_eq!(code, 1, "a job that failed must not end with 0: {stderr}");
    assert!(stderr.contains("Broken pipe"), "the failure is said: {stderr}");
}
