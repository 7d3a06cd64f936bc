//! The Nix daemon's netrc: one host's entry added or replaced, every other byte kept as it was.

/// Refuse what Nix would not match: a netrc `machine` is a bare host name.
pub fn check_host(host: &str) -> Result<(), String> {
    if host.is_empty() {
        return Err("--host is empty".into());
    }
    if host.contains("://") || host.contains('/') {
        return Err(format!("--host {host:?}: give the bare host name (e.g. attic.example.com), not a URL"));
    }
    if host.contains(':') {
        return Err(format!("--host {host:?}: give the host without a port; netrc entries match the host name only"));
    }
    if host.chars().any(|c| c.is_whitespace() || c.is_control() || c == '"' || c == '#') {
        return Err(format!("--host {host:?}: not a host name"));
    }
    Ok(())
}

/// A token as the netrc `password` value: one word, or curl and Nix read garbage.
pub fn check_token(token: &str) -> Result<(), String> {
    if token.is_empty() {
        return Err("the token file is empty".into());
    }
    if !token.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        || token.split('.').count() != 3
    {
        return Err("the token file does not hold one JWT (three base64url parts joined by dots, on one line)".into());
    }
    Ok(())
}

/// A token of the netrc file: its text and where it starts and ends.
struct Word<'a> {
    text: &'a str,
    start: usize,
}

fn words(s: &str) -> Vec<Word<'_>> {
    let mut out = vec![];
    let mut i = 0;
    let bytes = s.as_bytes();
    while i < bytes.len() {
        if bytes[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let text = &s[start..i];
        out.push(Word { text, start });
        if text == "macdef" {
            // A macro body runs to the next empty line; its words are not netrc words.
            match s[i..].find("\n\n") {
                Some(off) => i += off + 2,
                None => i = bytes.len(),
            }
            out.push(Word { text: "", start: i });
        }
    }
    out
}

/// The new netrc text: `host`'s entry replaced in place (or appended), later duplicates of it removed,
/// everything else byte for byte.
pub fn merge(existing: &str, host: &str, login: &str, token: &str) -> String {
    let entry = format!("machine {host}\n  login {login}\n  password {token}\n");
    let ws = words(existing);
    // Spans [start, end) of the entries for `host`: from its `machine` word to the next entry.
    let mut spans = vec![];
    let mut i = 0;
    while i < ws.len() {
        if ws[i].text == "machine" && ws.get(i + 1).is_some_and(|w| w.text == host) {
            let start = ws[i].start;
            let mut j = i + 2;
            while j < ws.len() && !matches!(ws[j].text, "machine" | "default" | "macdef") {
                j += 1;
            }
            let end = ws.get(j).map_or(existing.len(), |w| w.start);
            spans.push((start, end));
            i = j;
        } else {
            i += 1;
        }
    }
    let mut out = String::with_capacity(existing.len() + entry.len());
    match spans.first() {
        None => {
            out.push_str(existing);
            if !out.is_empty() && !out.ends_with('\n') {
                out.push('\n');
            }
            out.push_str(&entry);
        }
        Some(_) => {
            let mut pos = 0;
            for (n, (start, end)) in spans.iter().enumerate() {
                out.push_str(&existing[pos..*start]);
                if n == 0 {
                    out.push_str(&entry);
                }
                pos = *end;
            }
            out.push_str(&existing[pos..]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "aaa.bbb.ccc";

    #[test]
    fn appends_to_empty_and_to_others() {
        assert_eq!(
            merge("", "attic.example.com", "attic", TOKEN),
            "machine attic.example.com\n  login attic\n  password aaa.bbb.ccc\n"
        );
        let other = "machine git.example.com login me password pw";
        assert_eq!(
            merge(other, "attic.example.com", "attic", TOKEN),
            format!("{other}\nmachine attic.example.com\n  login attic\n  password aaa.bbb.ccc\n")
        );
    }

    #[test]
    fn replaces_only_the_named_host_in_place() {
        let before = "machine a.example.com login x password 1\n\nmachine attic.example.com\n  login old\n  password old.tok.en\n\nmachine attic.example.com.evil login y password 2\ndefault login anon password none\n";
        let after = merge(before, "attic.example.com", "attic", TOKEN);
        assert_eq!(
            after,
            "machine a.example.com login x password 1\n\nmachine attic.example.com\n  login attic\n  password aaa.bbb.ccc\nmachine attic.example.com.evil login y password 2\ndefault login anon password none\n"
        );
        // Idempotent: a second run changes nothing.
        assert_eq!(merge(&after, "attic.example.com", "attic", TOKEN), after);
    }

    #[test]
    fn later_duplicates_are_dropped_and_macdefs_skipped() {
        let before = "machine h login a password 1\nmacdef init\nmachine h fake\n\nmachine h login b password 2\n";
        let after = merge(before, "h", "attic", TOKEN);
        assert_eq!(after, "machine h\n  login attic\n  password aaa.bbb.ccc\nmacdef init\nmachine h fake\n\n");
    }

    #[test]
    fn hosts_and_tokens_that_cannot_work_are_refused() {
        assert!(check_host("attic.example.com").is_ok());
        assert!(check_host("https://attic.example.com/").unwrap_err().contains("not a URL"));
        assert!(check_host("attic.example.com:443").unwrap_err().contains("without a port"));
        assert!(check_token("a.b.c").is_ok());
        assert!(check_token("a.b.c d").is_err());
        assert!(check_token("abc").is_err());
    }
}
