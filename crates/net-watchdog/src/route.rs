//! The default gateway from `/proc/net/route`, without a shell or netlink.

use std::net::Ipv4Addr;

const RTF_UP: u32 = 0x1;
const RTF_GATEWAY: u32 = 0x2;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub iface: String,
    pub destination: Ipv4Addr,
    pub gateway: Ipv4Addr,
    pub flags: u32,
    pub metric: u32,
    pub mask: Ipv4Addr,
}

impl Route {
    fn is_default(&self) -> bool {
        self.destination.is_unspecified()
            && self.mask.is_unspecified()
            && self.flags & (RTF_UP | RTF_GATEWAY) == RTF_UP | RTF_GATEWAY
            && !self.gateway.is_unspecified()
    }
}

/// The kernel prints each `__be32` as a native-endian integer (`%08X`), so the bytes come back with
/// `to_ne_bytes` on any host.
fn addr(hex: &str) -> Result<Ipv4Addr, String> {
    if hex.len() != 8 {
        return Err(format!("{hex:?} is not 8 hex digits"));
    }
    u32::from_str_radix(hex, 16).map(|v| Ipv4Addr::from(v.to_ne_bytes())).map_err(|_| format!("{hex:?} is not hex"))
}

/// Parse the table; columns are found by their header names so a kernel adding one breaks nothing.
pub fn parse(text: &str) -> Result<Vec<Route>, String> {
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().ok_or("empty file")?.split_whitespace().collect();
    let col = |name: &str| header.iter().position(|h| *h == name).ok_or(format!("no {name} column in the header"));
    let (i_iface, i_dest, i_gw, i_flags, i_metric, i_mask) =
        (col("Iface")?, col("Destination")?, col("Gateway")?, col("Flags")?, col("Metric")?, col("Mask")?);
    let mut routes = vec![];
    for (n, line) in lines.enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        let line_no = n + 2;
        let get = |i: usize, name: &str| f.get(i).copied().ok_or(format!("line {line_no}: no {name} field"));
        let field = |i: usize, name: &str| -> Result<Ipv4Addr, String> {
            addr(get(i, name)?).map_err(|e| format!("line {line_no}: {name}: {e}"))
        };
        let iface = get(i_iface, "Iface")?.to_owned();
        let destination = field(i_dest, "Destination")?;
        let gateway = field(i_gw, "Gateway")?;
        let flags =
            u32::from_str_radix(get(i_flags, "Flags")?, 16).map_err(|_| format!("line {line_no}: Flags: not hex"))?;
        let metric = get(i_metric, "Metric")?.parse().map_err(|_| format!("line {line_no}: Metric: not a number"))?;
        let mask = field(i_mask, "Mask")?;
        routes.push(Route { iface, destination, gateway, flags, metric, mask });
    }
    Ok(routes)
}

/// The gateway of the lowest-metric default route through `iface`.
pub fn default_gateway(routes: &[Route], iface: &str) -> Result<Ipv4Addr, String> {
    if let Some(r) = routes.iter().filter(|r| r.is_default() && r.iface == iface).min_by_key(|r| r.metric) {
        return Ok(r.gateway);
    }
    let elsewhere: Vec<&str> = routes.iter().filter(|r| r.is_default()).map(|r| r.iface.as_str()).collect();
    if elsewhere.is_empty() {
        Err(format!("no default route via {iface} (no default route at all)"))
    } else {
        Err(format!("no default route via {iface} (default routes go via {})", elsewhere.join(", ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(a: Ipv4Addr) -> String {
        format!("{:08X}", u32::from_ne_bytes(a.octets()))
    }

    fn table(rows: &[(&str, &str, &str, &str, u32, &str)]) -> String {
        let mut s = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n".to_owned();
        for (iface, dest, gw, flags, metric, mask) in rows {
            let [d, g, m] = [dest, gw, mask].map(|a| hex(a.parse().unwrap()));
            s += &format!("{iface}\t{d}\t{g}\t{flags}\t0\t0\t{metric}\t{m}\t0\t0\t0\n");
        }
        s
    }

    #[test]
    fn host_byte_order_as_documented() {
        if cfg!(target_endian = "little") {
            assert_eq!(addr("010200C0").unwrap(), Ipv4Addr::new(192, 0, 2, 1));
        }
        assert!(addr("0102").is_err());
        assert!(addr("zz0200C0").is_err());
    }

    #[test]
    fn lowest_metric_default_route_of_the_interface_wins() {
        let t = table(&[
            ("eth0", "0.0.0.0", "192.168.1.254", "0003", 100, "0.0.0.0"),
            ("wlan0", "0.0.0.0", "192.168.1.2", "0003", 600, "0.0.0.0"),
            ("wlan0", "0.0.0.0", "192.168.1.1", "0003", 300, "0.0.0.0"),
            ("wlan0", "192.168.1.0", "0.0.0.0", "0001", 300, "255.255.255.0"),
        ]);
        let routes = parse(&t).unwrap();
        assert_eq!(routes.len(), 4);
        assert_eq!(default_gateway(&routes, "wlan0"), Ok(Ipv4Addr::new(192, 168, 1, 1)));
        assert_eq!(default_gateway(&routes, "eth0"), Ok(Ipv4Addr::new(192, 168, 1, 254)));
    }

    #[test]
    fn routes_that_are_down_or_not_default_do_not_count() {
        let t = table(&[
            ("wlan0", "0.0.0.0", "192.168.1.1", "0002", 0, "0.0.0.0"),
            ("wlan0", "10.0.0.0", "192.168.1.1", "0003", 0, "255.0.0.0"),
            ("eth0", "0.0.0.0", "10.0.0.1", "0003", 0, "0.0.0.0"),
        ]);
        let err = default_gateway(&parse(&t).unwrap(), "wlan0").unwrap_err();
        assert_eq!(err, "no default route via wlan0 (default routes go via eth0)");
        let empty = table(&[]);
        assert_eq!(
            default_gateway(&parse(&empty).unwrap(), "wlan0").unwrap_err(),
            "no default route via wlan0 (no default route at all)"
        );
    }

    #[test]
    fn malformed_tables_name_the_line_and_field() {
        assert_eq!(parse("").unwrap_err(), "empty file");
        assert_eq!(parse("Iface Destination\n").unwrap_err(), "no Gateway column in the header");
        let mut t = table(&[("wlan0", "0.0.0.0", "192.168.1.1", "0003", 0, "0.0.0.0")]);
        t = t.replace("\t0003\t", "\tXYZ\t");
        assert_eq!(parse(&t).unwrap_err(), "line 2: Flags: not hex");
        assert_eq!(
            parse("Iface\tDestination\tGateway\tFlags\tMetric\tMask\nwlan0\t00000000\n").unwrap_err(),
            "line 2: no Gateway field"
        );
    }
}
