//! A real S3 server for tests: moto's server (`cargo xtask test` installs it into `target/s3-server`), started in
//! a temp dir on a free loopback port, killed when dropped. moto keeps its buckets in memory, so a test that needs
//! the server "gone" puts a [`crate::proxy::Proxy`] in front of it and refuses or cuts there.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where xtask's `s3server::ensure` puts it; else `$HOMEY_MOTO_SERVER`, else `moto_server` on PATH.
pub fn moto_server() -> Option<PathBuf> {
    let installed = crate::target_dir().join("s3-server/bin/moto_server");
    let from_env = std::env::var_os("HOMEY_MOTO_SERVER").map(PathBuf::from);
    let on_path = std::env::var_os("PATH")
        .and_then(|p| std::env::split_paths(&p).map(|d| d.join("moto_server")).find(|p| p.is_file()));
    [Some(installed), from_env, on_path].into_iter().flatten().find(|p| p.is_file())
}

pub struct S3 {
    child: Child,
    pub port: u16,
    pub log: PathBuf,
}

impl S3 {
    /// Start it, or panic naming how to install it (the test then fails: it is never counted as passed).
    /// It accepts any keys, as moto does by default.
    pub fn start(dir: &Path) -> S3 {
        S3::start_with(dir, false)
    }

    /// With `check_keys`, every request must be signed with keys of a user moto knows; none exist, so every
    /// key is refused as S3 refuses unknown ones ("The AWS Access Key Id you provided does not exist").
    pub fn start_with(dir: &Path, check_keys: bool) -> S3 {
        let exe = moto_server().unwrap_or_else(|| {
            panic!("moto's S3 server is not installed: run `cargo xtask deps` (it puts it into target/s3-server)")
        });
        let log = dir.join("moto.log");
        for _ in 0..3 {
            let port = crate::free_port();
            let mut cmd = Command::new(&exe);
            if check_keys {
                cmd.env("INITIAL_NO_AUTH_ACTION_COUNT", "0");
            }
            let mut child = cmd
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .current_dir(dir)
                .stdin(Stdio::null())
                .stdout(std::fs::File::create(&log).unwrap())
                .stderr(std::fs::File::create(dir.join("moto.err")).unwrap())
                .spawn()
                .expect("starting moto_server");
            // The deadline only guards against a hang; it asserts nothing about speed.
            let deadline = Instant::now() + Duration::from_secs(60);
            while Instant::now() < deadline && child.try_wait().unwrap().is_none() {
                if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return S3 { child, port, log };
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("moto_server did not come up: {}", std::fs::read_to_string(dir.join("moto.err")).unwrap_or_default());
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for S3 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
