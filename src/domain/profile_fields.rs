//! Profile fields: the portfolio site and the bio.

use super::email::valid_host_label;

/// Django's URLField length.
const MAX_URL: usize = 200;

/// An `http` or `https` URL with a host, or `""`. Anything else
/// (`javascript:`, `ftp:`, a bare word, credentials in the URL) is refused:
/// the value ends up in `href` attributes of other people's pages.
pub fn parse_portfolio_site(raw: &str) -> Result<String, String> {
    let value = raw.trim();
    if value.is_empty() {
        return Ok(String::new());
    }
    let invalid = || "Enter a valid URL starting with http:// or https://.".to_owned();
    if value.chars().count() > MAX_URL {
        return Err(format!(
            "Ensure this field has no more than {MAX_URL} characters."
        ));
    }
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid());
    }
    let lower = value.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
        .ok_or_else(invalid)?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err(invalid());
    }
    let host = match authority.strip_prefix('[') {
        // An IPv6 literal: [::1]:8080
        Some(v6) => {
            let (inside, after) = v6.split_once(']').ok_or_else(invalid)?;
            if inside.is_empty()
                || !inside
                    .chars()
                    .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
            {
                return Err(invalid());
            }
            check_port(after.strip_prefix(':'), after.is_empty()).ok_or_else(invalid)?;
            return Ok(value.to_owned());
        }
        None => {
            let (host, port) = match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            };
            check_port(port, port.is_none()).ok_or_else(invalid)?;
            host
        }
    };
    let labels: Vec<&str> = host.split('.').collect();
    if host.is_empty()
        || !labels.iter().all(|l| valid_host_label(l))
        || (labels.len() < 2 && host != "localhost")
    {
        return Err(invalid());
    }
    Ok(value.to_owned())
}

fn check_port(port: Option<&str>, absent: bool) -> Option<()> {
    if absent {
        return Some(());
    }
    let port = port?;
    (!port.is_empty() && port.len() <= 5 && port.parse::<u16>().is_ok()).then_some(())
}

/// Free text up to `max` characters; newlines and tabs are fine, other
/// control characters are not.
pub fn parse_bio(raw: &str, max: usize) -> Result<String, String> {
    if raw.chars().count() > max {
        return Err(format!(
            "Ensure this field has no more than {max} characters."
        ));
    }
    if raw
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err("This field may not contain control characters.".into());
    }
    Ok(raw.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn portfolio_sites() {
        for ok in [
            "",
            "  ",
            "https://example.com",
            "http://ada.example.org/work?x=1#top",
            "https://localhost:8080/",
            "https://[::1]:8443/p",
            "HTTPS://Example.COM",
        ] {
            assert!(parse_portfolio_site(ok).is_ok(), "{ok:?}");
        }
        for bad in [
            "javascript:alert(1)",
            "ftp://example.com",
            "example.com",
            "https://",
            "https://user:pw@example.com",
            "http://exa mple.com",
            "https://example.com:99999",
            "data:text/html,hi",
            "//example.com",
            "https://-x.com",
        ] {
            assert!(parse_portfolio_site(bad).is_err(), "{bad:?}");
        }
        assert!(parse_portfolio_site(&format!("https://example.com/{}", "a".repeat(200))).is_err());
    }

    #[test]
    fn bios() {
        assert_eq!(
            parse_bio("  Hello\nworld\t! ", 100).unwrap(),
            "Hello\nworld\t!"
        );
        assert!(parse_bio("x\u{7}", 100).is_err());
        assert!(parse_bio(&"b".repeat(101), 100).is_err());
    }
}
