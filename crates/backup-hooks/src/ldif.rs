//! An LDIF writer (RFC 2849 records, as slapcat writes them): `dn:` first, unsafe values base64 (`attr:: …`), lines folded at 76
//! columns, entries separated by a blank line, parents before children.

use base64::Engine;
use std::io::{self, Write};

/// One directory entry: its DN and its attributes with their raw values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub dn: String,
    pub attrs: Vec<(String, Vec<Vec<u8>>)>,
}

impl Entry {
    /// Attributes in a stable order: objectClass first (readers expect it), then by name.
    pub fn normalise(&mut self) {
        self.attrs.sort_by(|(a, _), (b, _)| {
            let oc = |n: &str| !n.eq_ignore_ascii_case("objectClass");
            (oc(a), a.to_ascii_lowercase()).cmp(&(oc(b), b.to_ascii_lowercase()))
        });
    }
}

/// The number of RDNs in a DN (escaped commas do not count), so sorting by it puts parents first.
pub fn depth(dn: &str) -> usize {
    if dn.trim().is_empty() {
        return 0;
    }
    let mut n = 1;
    let mut escaped = false;
    for c in dn.chars() {
        match c {
            '\\' if !escaped => escaped = true,
            ',' if !escaped => n += 1,
            _ => escaped = false,
        }
    }
    n
}

/// Sort so that every parent comes before its children; siblings keep a stable, readable order.
pub fn order(entries: &mut [Entry]) {
    entries.sort_by_key(|e| (depth(&e.dn), e.dn.to_ascii_lowercase()));
}

/// A value that may be written as is (RFC 2849 SAFE-STRING), plus no trailing space.
pub fn is_safe(v: &[u8]) -> bool {
    match v.first() {
        None => return true,
        Some(b' ' | b':' | b'<') => return false,
        _ => {}
    }
    if v.last() == Some(&b' ') {
        return false;
    }
    v.iter().all(|&b| b != 0 && b != b'\n' && b != b'\r' && b < 0x80)
}

/// `name: value` or `name:: base64`, folded.
pub fn line(name: &str, value: &[u8]) -> String {
    let raw = if is_safe(value) {
        format!("{name}: {}", String::from_utf8_lossy(value))
    } else {
        format!("{name}:: {}", base64::engine::general_purpose::STANDARD.encode(value))
    };
    fold(&raw)
}

/// Fold at 76 columns: continuation lines start with one space. The input is ASCII here (anything
/// else was base64-encoded), so byte positions are character positions.
pub fn fold(s: &str) -> String {
    const WIDTH: usize = 76;
    if s.len() <= WIDTH {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len() + s.len() / 70 * 2);
    out.push_str(&s[..WIDTH]);
    let mut rest = &s[WIDTH..];
    while !rest.is_empty() {
        let take = rest.len().min(WIDTH - 1);
        out.push_str("\n ");
        out.push_str(&rest[..take]);
        rest = &rest[take..];
    }
    out
}

/// No `version: 1` line: slapadd (the only way back with operational attributes) refuses it, slapcat
/// does not write it, and ldapadd reads files with or without it.
pub fn write_header(_w: &mut impl Write) -> io::Result<()> {
    Ok(())
}

/// The entry and the blank line that ends it (OpenLDAP's reader wants `dn:` right after `version:`).
pub fn write_entry(w: &mut impl Write, e: &Entry) -> io::Result<()> {
    writeln!(w, "{}", line("dn", e.dn.as_bytes()))?;
    for (name, values) in &e.attrs {
        for v in values {
            writeln!(w, "{}", line(name, v))?;
        }
    }
    writeln!(w)
}

/// The whole document, for tests and small trees.
pub fn render(entries: &[Entry]) -> String {
    let mut out = vec![];
    write_header(&mut out).expect("writing to memory");
    for e in entries {
        write_entry(&mut out, e).expect("writing to memory");
    }
    String::from_utf8(out).expect("LDIF is ASCII")
}

/// Count `dn:` lines: the check that every entry we read was written.
pub fn count_entries(text: &str) -> usize {
    text.lines().filter(|l| l.starts_with("dn:")).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(dn: &str, attrs: &[(&str, &[&[u8]])]) -> Entry {
        Entry {
            dn: dn.into(),
            attrs: attrs.iter().map(|(n, vs)| ((*n).into(), vs.iter().map(|v| v.to_vec()).collect())).collect(),
        }
    }

    #[test]
    fn unsafe_values_are_base64() {
        assert!(is_safe(b"plain value"));
        for v in [&b" lead"[..], b":colon", b"<lt", b"trail ", b"a\nb", b"caf\xc3\xa9", b"nul\0", b"cr\r"] {
            assert!(!is_safe(v), "{v:?}");
        }
        assert_eq!(line("cn", "café".as_bytes()), "cn:: Y2Fmw6k=");
        assert_eq!(line("description", b" x"), "description:: IHg=");
    }

    #[test]
    fn long_lines_fold_at_76_and_unfold_back() {
        let v = "x".repeat(200);
        let l = line("description", v.as_bytes());
        for part in l.lines() {
            assert!(part.len() <= 76, "{part}");
        }
        let unfolded: String = l.lines().enumerate().map(|(i, p)| if i == 0 { p } else { &p[1..] }).collect();
        assert_eq!(unfolded, format!("description: {v}"));
    }

    #[test]
    fn parents_come_before_children() {
        let mut es = vec![
            e("uid=alice,ou=people,dc=example,dc=com", &[]),
            e("ou=people,dc=example,dc=com", &[]),
            e("cn=a\\,b,dc=example,dc=com", &[]),
            e("dc=example,dc=com", &[]),
        ];
        order(&mut es);
        let dns: Vec<&str> = es.iter().map(|e| e.dn.as_str()).collect();
        assert_eq!(
            dns,
            [
                "dc=example,dc=com",
                "cn=a\\,b,dc=example,dc=com",
                "ou=people,dc=example,dc=com",
                "uid=alice,ou=people,dc=example,dc=com"
            ]
        );
    }

    #[test]
    fn document_shape() {
        let mut a = e(
            "uid=bob,dc=example,dc=com",
            &[("sn", &[b"B"]), ("objectClass", &[b"top", b"person"]), ("jpegPhoto", &[b"\xff\xd8\xff"])],
        );
        a.normalise();
        let text = render(&[e("dc=example,dc=com", &[("dc", &[b"example"])]), a]);
        insta::assert_snapshot!(text, @r"
        dn: dc=example,dc=com
        dc: example

        dn: uid=bob,dc=example,dc=com
        objectClass: top
        objectClass: person
        jpegPhoto:: /9j/
        sn: B
        ");
        assert_eq!(count_entries(&text), 2);
    }
}
