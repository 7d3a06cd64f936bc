//! Prometheus textfile output for node_exporter's textfile collector: the whole file is rendered as
//! data, then written atomically so the collector never scrapes half a file.

use std::fmt::Write;
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Gauge,
    Counter,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metrics {
    families: Vec<Family>,
}

#[derive(Debug, Clone, PartialEq)]
struct Family {
    name: String,
    help: String,
    kind: &'static str,
    samples: Vec<(Vec<(String, String)>, f64)>,
}

impl Metrics {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn gauge(&mut self, name: &str, help: &str, labels: &[(&str, &str)], value: f64) -> &mut Self {
        self.add(name, help, Kind::Gauge, labels, value)
    }

    pub fn counter(&mut self, name: &str, help: &str, labels: &[(&str, &str)], value: f64) -> &mut Self {
        self.add(name, help, Kind::Counter, labels, value)
    }

    fn add(&mut self, name: &str, help: &str, kind: Kind, labels: &[(&str, &str)], value: f64) -> &mut Self {
        assert!(valid_name(name), "invalid metric name {name:?}");
        let kind = match kind {
            Kind::Gauge => "gauge",
            Kind::Counter => "counter",
        };
        let labels = labels.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        match self.families.iter_mut().find(|f| f.name == name) {
            Some(f) => f.samples.push((labels, value)),
            None => self.families.push(Family {
                name: name.to_owned(),
                help: help.to_owned(),
                kind,
                samples: vec![(labels, value)],
            }),
        }
        self
    }

    /// The exposition text format.
    pub fn render(&self) -> String {
        let mut s = String::new();
        for f in &self.families {
            let _ = writeln!(s, "# HELP {} {}", f.name, f.help.replace('\\', r"\\").replace('\n', r"\n"));
            let _ = writeln!(s, "# TYPE {} {}", f.name, f.kind);
            for (labels, v) in &f.samples {
                s.push_str(&f.name);
                if !labels.is_empty() {
                    let l: Vec<String> = labels
                        .iter()
                        .map(|(k, v)| {
                            format!("{k}=\"{}\"", v.replace('\\', r"\\").replace('"', "\\\"").replace('\n', r"\n"))
                        })
                        .collect();
                    let _ = write!(s, "{{{}}}", l.join(","));
                }
                let _ = writeln!(s, " {}", format_value(*v));
            }
        }
        s
    }

    /// Write `dir/NAME.prom` atomically, world-readable (node_exporter runs as its own user).
    pub fn write_textfile(&self, dir: &Path, name: &str) -> anyhow::Result<()> {
        crate::fs::write_atomic(&dir.join(format!("{name}.prom")), self.render().as_bytes(), 0o644)
    }
}

fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf".into() } else { "-Inf".into() }
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

fn valid_name(n: &str) -> bool {
    let mut chars = n.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_exposition_format_and_writes_atomically() {
        let mut m = Metrics::new();
        m.gauge("homey_backup_last_success_timestamp_seconds", "Last successful backup.", &[], 1_764_200_000.0)
            .gauge("homey_backup_status", "0 fail, 1 warning, 2 success.", &[("job", "nightly \"b\"")], 2.0)
            .gauge("homey_backup_status", "ignored", &[("job", "offload")], 0.5);
        let text = m.render();
        assert_eq!(
            text,
            "# HELP homey_backup_last_success_timestamp_seconds Last successful backup.\n\
             # TYPE homey_backup_last_success_timestamp_seconds gauge\n\
             homey_backup_last_success_timestamp_seconds 1764200000\n\
             # HELP homey_backup_status 0 fail, 1 warning, 2 success.\n\
             # TYPE homey_backup_status gauge\n\
             homey_backup_status{job=\"nightly \\\"b\\\"\"} 2\n\
             homey_backup_status{job=\"offload\"} 0.5\n"
        );
        let d = tempfile::tempdir().unwrap();
        m.write_textfile(d.path(), "backup").unwrap();
        assert_eq!(std::fs::read_to_string(d.path().join("backup.prom")).unwrap(), text);
    }
}
