//! Command-line values checked when they are parsed, so a bad flag is a usage error before anything runs.

use homey_kit::units::GivenDuration;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

/// Where the gateway comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GatewaySpec {
    /// The lowest-metric default route through the interface, read again before every probe round
    /// (a restarted wpa_supplicant or DHCP client may change it).
    Auto,
    Fixed(Ipv4Addr),
}

impl GatewaySpec {
    pub fn parse(s: &str) -> Result<GatewaySpec, String> {
        if s == "auto" {
            return Ok(GatewaySpec::Auto);
        }
        match s.parse::<IpAddr>() {
            Ok(IpAddr::V4(a)) if a.is_unspecified() || a.is_broadcast() || a.is_multicast() => {
                Err(format!("{s} cannot be a gateway"))
            }
            Ok(IpAddr::V4(a)) => Ok(GatewaySpec::Fixed(a)),
            Ok(IpAddr::V6(_)) => Err(format!("{s}: the gateway probe is IPv4 only; give `auto` or an IPv4 address")),
            Err(_) => Err(format!("{s:?}: expected `auto` or an IPv4 address like 192.168.1.1")),
        }
    }
}

/// An extra signal: ICMP echo to an IPv4 address, or a TCP connect to IP:PORT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Icmp(Ipv4Addr),
    Tcp(SocketAddr),
}

impl Target {
    pub fn parse(s: &str) -> Result<Target, String> {
        if let Ok(sa) = s.parse::<SocketAddr>() {
            if sa.port() == 0 {
                return Err(format!("{s}: port 0 cannot be connected to"));
            }
            return Ok(Target::Tcp(sa));
        }
        match s.parse::<IpAddr>() {
            Ok(IpAddr::V4(a)) if a.is_unspecified() || a.is_broadcast() || a.is_multicast() => {
                Err(format!("{s} cannot be pinged"))
            }
            Ok(IpAddr::V4(a)) => Ok(Target::Icmp(a)),
            Ok(IpAddr::V6(_)) => Err(format!("{s}: ICMP targets are IPv4 only; give [{s}]:PORT for a TCP probe")),
            // A hostname would need DNS, which fails exactly when the network does.
            Err(_) => {
                Err(format!("{s:?}: expected an IP address or IP:PORT (no hostnames: DNS fails when the network does)"))
            }
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Target::Icmp(_) => "icmp",
            Target::Tcp(_) => "tcp",
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Icmp(a) => write!(f, "{a}"),
            Target::Tcp(sa) => write!(f, "{sa}"),
        }
    }
}

/// A Linux interface name: at most 15 bytes, no '/', no whitespace, not "." or "..".
pub fn interface(s: &str) -> Result<String, String> {
    let ok = !s.is_empty()
        && s.len() <= 15
        && s != "."
        && s != ".."
        && !s.starts_with('-')
        && s.bytes().all(|b| b.is_ascii_graphic() && b != b'/' && b != b':');
    if ok {
        Ok(s.to_owned())
    } else {
        Err(format!("{s:?} is not an interface name (1-15 characters, no '/', ':' or spaces)"))
    }
}

/// A systemd unit name; refusing a leading '-' keeps it from being read as a systemctl option.
pub fn unit(s: &str) -> Result<String, String> {
    let ok = !s.is_empty()
        && !s.starts_with('-')
        && s.contains('.')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || ":-_.\\@".contains(c));
    if ok { Ok(s.to_owned()) } else { Err(format!("{s:?} is not a unit name like wpa_supplicant.service")) }
}

fn duration_within(s: &str, min: Duration, max: Duration) -> Result<Duration, String> {
    let d = homey_kit::units::parse_duration(s)?;
    if d < min || d > max {
        return Err(format!("{s}: must be between {} and {}", human(min), human(max)));
    }
    Ok(d)
}

pub fn probe_timeout(s: &str) -> Result<Duration, String> {
    duration_within(s, Duration::from_millis(10), Duration::from_secs(60))
}

// These are echoed in messages, so they keep the text the operator gave (`24h`, not `1d`).
pub fn settle(s: &str) -> Result<GivenDuration, String> {
    given_within(s, Duration::ZERO, Duration::from_secs(3600))
}

pub fn window(s: &str) -> Result<GivenDuration, String> {
    given_within(s, Duration::from_secs(60), Duration::from_secs(365 * 86400))
}

pub fn grace(s: &str) -> Result<GivenDuration, String> {
    given_within(s, Duration::ZERO, Duration::from_secs(365 * 86400))
}

fn given_within(s: &str, min: Duration, max: Duration) -> Result<GivenDuration, String> {
    duration_within(s, min, max)?;
    GivenDuration::parse(s)
}

/// `250ms`, `30s`, `5m`, `1h30m`, `2d3h` — the inverse of `homey_kit::units::parse_duration`, rounded to
/// what a person reads.
pub fn human(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        return format!("{}ms", d.as_millis());
    }
    let s = d.as_secs();
    let (days, h, m, sec) = (s / 86400, s % 86400 / 3600, s % 3600 / 60, s % 60);
    let mut out = String::new();
    for (n, u) in [(days, "d"), (h, "h"), (m, "m"), (sec, "s")] {
        if n > 0 {
            out += &format!("{n}{u}");
        }
    }
    out
}

/// `2026-11-27 07:31:39 UTC` from seconds since 1970.
pub fn utc(secs: u64) -> String {
    homey_kit::units::Utc::from_unix(secs as i64).human()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        assert_eq!(Target::parse("192.168.1.1"), Ok(Target::Icmp(Ipv4Addr::new(192, 168, 1, 1))));
        assert_eq!(Target::parse("1.1.1.1:443"), Ok(Target::Tcp("1.1.1.1:443".parse().unwrap())));
        assert_eq!(Target::parse("[2001:db8::1]:443"), Ok(Target::Tcp("[2001:db8::1]:443".parse().unwrap())));
        assert!(Target::parse("example.com").unwrap_err().contains("no hostnames"));
        assert!(Target::parse("2001:db8::1").unwrap_err().contains("[2001:db8::1]:PORT"));
        assert!(Target::parse("1.1.1.1:0").is_err());
        assert!(Target::parse("255.255.255.255").is_err());
    }

    #[test]
    fn gateways() {
        assert_eq!(GatewaySpec::parse("auto"), Ok(GatewaySpec::Auto));
        assert_eq!(GatewaySpec::parse("192.0.2.1"), Ok(GatewaySpec::Fixed(Ipv4Addr::new(192, 0, 2, 1))));
        assert!(GatewaySpec::parse("0.0.0.0").is_err());
        assert!(GatewaySpec::parse("router.example.com").is_err());
        assert!(GatewaySpec::parse("fe80::1").unwrap_err().contains("IPv4 only"));
    }

    #[test]
    fn names() {
        assert!(interface("wlan0").is_ok());
        assert!(interface("wlp1s0f0u12345678").is_err(), "16 bytes is too long");
        assert!(interface("../etc").is_err());
        assert!(interface("-x").is_err());
        assert!(unit("wpa_supplicant-wlan0.service").is_ok());
        assert!(unit("--force").is_err());
        assert!(unit("wpa supplicant.service").is_err());
        assert!(unit("wpa_supplicant").is_err());
    }

    #[test]
    fn durations_bounded_and_printed() {
        assert_eq!(probe_timeout("1s"), Ok(Duration::from_secs(1)));
        assert!(probe_timeout("0s").is_err());
        assert!(window("10s").unwrap_err().contains("between 1m and 365d"));
        assert_eq!(human(Duration::from_secs(5400)), "1h30m");
        assert_eq!(human(Duration::from_millis(250)), "250ms");
        assert_eq!(human(Duration::from_secs(86400 + 5)), "1d5s");
    }

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc(1_795_764_699), "2026-11-27 07:31:39 UTC");
    }
}
