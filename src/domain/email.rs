//! Email addresses: trimmed, domain lower-cased, matched case-insensitively.

/// A syntactically valid, normalised email address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    normalized: String,
}

const MAX_LEN: usize = 254;
const MAX_LOCAL_LEN: usize = 64;

impl Email {
    /// Trims surrounding space and lower-cases the domain (the local part is
    /// kept as typed, as Django's `normalize_email` does).
    pub fn parse(raw: &str) -> Result<Self, String> {
        let invalid = || "Enter a valid email address.".to_owned();
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err("This field may not be blank.".into());
        }
        if trimmed.chars().count() > MAX_LEN {
            return Err(format!(
                "Ensure this field has no more than {MAX_LEN} characters."
            ));
        }
        let (local, domain) = trimmed.rsplit_once('@').ok_or_else(invalid)?;
        if local.is_empty() || local.len() > MAX_LOCAL_LEN || !local.chars().all(valid_local_char) {
            return Err(invalid());
        }
        if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
            return Err(invalid());
        }
        let domain = domain.to_lowercase();
        let labels: Vec<&str> = domain.split('.').collect();
        if labels.len() < 2 || !labels.iter().all(|l| valid_host_label(l)) {
            return Err(invalid());
        }
        Ok(Email {
            normalized: format!("{local}@{domain}"),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.normalized
    }

    /// The form used for uniqueness and look-ups: `A@X.com` and `a@x.com`
    /// are one account.
    pub fn canonical(&self) -> String {
        self.normalized.to_lowercase()
    }

    pub fn local_part(&self) -> &str {
        self.normalized.rsplit_once('@').map_or("", |(l, _)| l)
    }
}

/// One label of a host name: 1 to 63 letters, digits or hyphens, not
/// starting or ending with a hyphen (letters beyond ASCII allowed, as in
/// internationalised names).
pub fn valid_host_label(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= 63
        && !label.starts_with('-')
        && !label.ends_with('-')
        && label.chars().all(|c| c.is_alphanumeric() || c == '-')
}

fn valid_local_char(c: char) -> bool {
    // The RFC 5322 "atext" set plus dots, and non-ASCII letters (RFC 6531).
    c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c)
}

#[cfg(test)]
mod tests {
    use super::Email;

    #[test]
    fn normalises_domain_and_space_but_keeps_local_case() {
        let e = Email::parse("  John.Doe@Example.COM ").unwrap();
        assert_eq!(e.as_str(), "John.Doe@example.com");
        assert_eq!(e.canonical(), "john.doe@example.com");
        assert_eq!(
            Email::parse("A@X.com").unwrap().canonical(),
            Email::parse("a@x.com").unwrap().canonical()
        );
    }

    #[test]
    fn rejects_what_is_not_an_address() {
        for bad in [
            "",
            "   ",
            "plain",
            "@x.com",
            "a@",
            "a@x",
            "a b@x.com",
            "a@x..com",
            "a@-x.com",
            ".a@x.com",
            "a@x.com\n",
        ] {
            // "a@x.com\n" trims to a valid address; every other one is invalid.
            if bad == "a@x.com\n" {
                assert!(Email::parse(bad).is_ok());
            } else {
                assert!(Email::parse(bad).is_err(), "{bad:?} should be rejected");
            }
        }
        assert!(Email::parse(&format!("{}@x.com", "a".repeat(65))).is_err());
    }
}
