//! What a run leaves behind for people and monitors: the status file, the node_exporter textfile and
//! the Uptime Kuma push.

use homey_kit::prom::Metrics;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Success,
    Warning,
    Failed,
}

impl Outcome {
    pub fn exit(self) -> homey_kit::Exit {
        match self {
            Outcome::Success => homey_kit::Exit::Ok,
            Outcome::Warning => homey_kit::Exit::Warnings,
            Outcome::Failed => homey_kit::Exit::Failed,
        }
    }
    /// resticprofile's convention: 0 fail, 1 warning, 2 success.
    pub fn metric(self) -> f64 {
        match self {
            Outcome::Failed => 0.0,
            Outcome::Warning => 1.0,
            Outcome::Success => 2.0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepResult {
    Ok,
    Warning,
    Failed,
    Skipped,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub name: String,
    pub result: StepResult,
    pub detail: String,
    pub seconds: f64,
}

/// The status file: the last run, and when the last successful one was.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    pub started_unix: u64,
    pub finished_unix: u64,
    pub outcome: Outcome,
    pub message: String,
    pub restic_version: Option<String>,
    pub snapshot_id: Option<String>,
    pub bytes_added: Option<u64>,
    pub files_new: Option<u64>,
    pub files_changed: Option<u64>,
    /// From `occ --on` until `--off` was confirmed; `None` when Nextcloud is not configured.
    pub maintenance_seconds: Option<f64>,
    pub steps: Vec<Step>,
    pub last_success_unix: Option<u64>,
    /// The run failed because of its configuration (keys or password refused): `run` exits 78.
    #[serde(skip)]
    pub config_fault: bool,
}

pub const STATUS_FILE: &str = "status.json";

impl Status {
    pub fn load(state_dir: &Path) -> anyhow::Result<Option<Status>> {
        let p = state_dir.join(STATUS_FILE);
        match std::fs::read_to_string(&p) {
            Ok(t) => Ok(Some(
                serde_json::from_str(&t).map_err(|e| anyhow::anyhow!("{}: not a status file: {e}", p.display()))?,
            )),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(anyhow::anyhow!("{}: {e}", p.display())),
        }
    }

    pub fn save(&self, state_dir: &Path) -> anyhow::Result<()> {
        let text = serde_json::to_string_pretty(self)? + "\n";
        homey_kit::fs::write_atomic(&state_dir.join(STATUS_FILE), text.as_bytes(), 0o644)
    }

    pub fn duration_seconds(&self) -> u64 {
        self.finished_unix.saturating_sub(self.started_unix)
    }

    pub fn metrics(&self) -> Metrics {
        let mut m = Metrics::new();
        m.gauge("homey_backup_status", "Last backup run: 0 failed, 1 warning, 2 success.", &[], self.outcome.metric())
            .gauge(
                "homey_backup_time_seconds",
                "When the last backup run finished (unix time).",
                &[],
                self.finished_unix as f64,
            )
            .gauge(
                "homey_backup_duration_seconds",
                "How long the last backup run took.",
                &[],
                self.duration_seconds() as f64,
            );
        if let Some(t) = self.last_success_unix {
            m.gauge(
                "homey_backup_last_success_timestamp_seconds",
                "When the last successful backup finished.",
                &[],
                t as f64,
            );
        }
        if let Some(b) = self.bytes_added {
            m.gauge("homey_backup_added_bytes", "Bytes the last snapshot added to the repository.", &[], b as f64);
        }
        if let Some(f) = self.files_new {
            m.gauge("homey_backup_files_new", "New files in the last snapshot.", &[], f as f64);
        }
        if let Some(s) = self.maintenance_seconds {
            m.gauge("homey_backup_maintenance_seconds", "How long Nextcloud was in maintenance mode.", &[], s);
        }
        m
    }

    /// For `status` on a terminal.
    pub fn render(&self) -> String {
        let mut s = format!(
            "last run: {} → {} ({}s): {}\n",
            rfc3339(self.started_unix),
            rfc3339(self.finished_unix),
            self.duration_seconds(),
            match self.outcome {
                Outcome::Success => "success",
                Outcome::Warning => "WARNING",
                Outcome::Failed => "FAILED",
            }
        );
        if !self.message.is_empty() && self.outcome != Outcome::Success {
            s += &format!("  {}\n", self.message);
        }
        if let Some(id) = &self.snapshot_id {
            s += &format!("snapshot: {id}");
            if let Some(b) = self.bytes_added {
                s += &format!(", {} added", homey_kit::units::format_bytes(b));
            }
            s += "\n";
        }
        if let Some(m) = self.maintenance_seconds {
            s += &format!("maintenance mode on for {m:.1}s\n");
        }
        s += &format!("last success: {}\n", self.last_success_unix.map(rfc3339).unwrap_or_else(|| "never".into()));
        s += "steps:\n";
        for st in &self.steps {
            let r = match st.result {
                StepResult::Ok => "ok",
                StepResult::Warning => "warning",
                StepResult::Failed => "FAILED",
                StepResult::Skipped => "skipped",
            };
            s += &format!("  {:<28} {:<8} {:>7.1}s  {}\n", st.name, r, st.seconds, st.detail);
        }
        s
    }
}

/// `2026-11-27T03:00:00Z`, from unix seconds.
pub fn rfc3339(unix: u64) -> String {
    homey_kit::units::Utc::from_unix(unix as i64).rfc3339()
}

/// Uptime Kuma push: a monitoring outage is a warning, never a failed or delayed backup.
#[derive(Debug, Clone)]
pub struct Kuma {
    pub url: String,
    pub timeout: Duration,
}

impl Kuma {
    pub fn push(&self, up: bool, msg: &str, ping_ms: Option<u64>) {
        if let Err(e) = self.try_push(up, msg, ping_ms) {
            // The push URL carries the monitor's token: name only the host.
            homey_kit::warn!("could not tell Uptime Kuma ({}): {e}", host_of(&self.url));
        }
    }

    fn try_push(&self, up: bool, msg: &str, ping_ms: Option<u64>) -> anyhow::Result<()> {
        let agent: ureq::Agent = ureq::Agent::config_builder().timeout_global(Some(self.timeout)).build().into();
        let mut req = agent.get(&self.url).query("status", if up { "up" } else { "down" }).query("msg", msg);
        if let Some(p) = ping_ms {
            req = req.query("ping", p.to_string());
        }
        let resp = req.call().map_err(|e| anyhow::anyhow!("{}", redact(&e.to_string(), &self.url)))?;
        let body = resp.into_body().read_to_string().unwrap_or_default();
        // Kuma answers 200 {"ok":false,"msg":"Monitor not found or not active."} for a bad token.
        if body.contains("\"ok\":false") {
            anyhow::bail!("Kuma refused the push: {}", body.trim());
        }
        Ok(())
    }
}

fn host_of(url: &str) -> &str {
    url.split("://").nth(1).and_then(|r| r.split('/').next()).unwrap_or("?")
}

fn redact(msg: &str, url: &str) -> String {
    match url.rsplit_once('/') {
        Some((_, token)) if !token.is_empty() => msg.replace(token, "<token>"),
        _ => msg.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_795_748_400), "2026-11-27T03:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }

    fn status() -> Status {
        Status {
            started_unix: 1_795_748_400,
            finished_unix: 1_795_748_460,
            outcome: Outcome::Warning,
            message: "1 file could not be read".into(),
            restic_version: Some("0.14.0".into()),
            snapshot_id: Some("abcdef12".into()),
            bytes_added: Some(2048),
            files_new: Some(3),
            files_changed: Some(0),
            maintenance_seconds: Some(12.5),
            steps: vec![Step { name: "backup".into(), result: StepResult::Warning, detail: "x".into(), seconds: 1.0 }],
            last_success_unix: Some(1_795_662_000),
            config_fault: false,
        }
    }

    #[test]
    fn metrics_follow_resticprofile_names() {
        insta::assert_snapshot!(status().metrics().render());
    }

    #[test]
    fn render_for_people() {
        insta::assert_snapshot!(status().render());
    }

    #[test]
    fn kuma_errors_never_show_the_token() {
        assert_eq!(
            redact("GET https://k/api/push/S3CR3T failed", "https://k/api/push/S3CR3T"),
            "GET https://k/api/push/<token> failed"
        );
        assert_eq!(host_of("https://status.example.com/api/push/T"), "status.example.com");
    }
}
