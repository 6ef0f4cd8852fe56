//! Email addresses: NFKC-normalised and trimmed, domain lower-cased,
//! matched by their case-folded form.
//!
//! NFKC comes first, before any check: a compatibility character (U+212A
//! KELVIN SIGN, fullwidth letters, ligatures) becomes its plain form, so
//! what is stored and mailed is the address a mail server delivers to, and
//! a look-alike cannot hold a key that differs from what it is stored as.

use icu_normalizer::ComposingNormalizerBorrowed;

/// A syntactically valid, normalised email address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    normalized: String,
}

const MAX_LEN: usize = 254;
const MAX_LOCAL_LEN: usize = 64;
/// Input longer than this is refused before it is normalised (NFKC may
/// compose a little, so the bound on the result is checked again after).
const MAX_RAW_LEN: usize = 4 * MAX_LEN;

/// Unicode NFKC (compiled-in data, no allocation for text already in it).
pub fn nfkc(text: &str) -> std::borrow::Cow<'_, str> {
    ComposingNormalizerBorrowed::new_nfkc().normalize(text)
}

/// The key under which every rule compares addresses: NFKC, then a
/// context-free full case folding (each character upper-cased, then
/// lower-cased), then NFKC again because case mapping can leave text that
/// is not normalised (`İ` lower-cases to `i` plus a combining dot).
/// Upper-then-lower folds what plain lower-casing keeps apart (`ß` and
/// `ss`, final `ς` and `σ`, `ǅ` and `ǆ`), as Unicode's NFKC_Casefold does
/// for every address a mail system accepts; it may join two mailboxes a
/// server would keep apart, never split one, which is the safe direction
/// for uniqueness and limits.
/// Applied until nothing changes: one round leaves `ẞ` (capital sharp s)
/// as `ß`, which the next folds to `ss`, so the key of every spelling is
/// a fixed point.
pub fn fold(text: &str) -> String {
    let mut key = nfkc(text).into_owned();
    // Two rounds reach the fixed point for every code point; the third
    // only confirms it.
    for _ in 0..3 {
        let folded: String = key
            .chars()
            .flat_map(char::to_uppercase)
            .flat_map(char::to_lowercase)
            .collect();
        let folded = nfkc(&folded).into_owned();
        if folded == key {
            break;
        }
        key = folded;
    }
    key
}

/// The key of any text given as an address: its canonical form when it
/// is one, else the folded text (a login with a malformed email is still
/// throttled, and an old row that does not parse still has one key).
pub fn fold_address(text: &str) -> String {
    Email::parse(text).map_or_else(
        // Not an address: folded within the address's own bound, so a
        // megabyte of text that NFKC expands costs no more than one.
        |_| fold(&text.trim().chars().take(MAX_RAW_LEN).collect::<String>()),
        |e| e.canonical(),
    )
}

impl Email {
    /// NFKC-normalises, trims surrounding space and lower-cases the domain
    /// (the local part keeps its case, as Django's `normalize_email` does).
    pub fn parse(raw: &str) -> Result<Self, String> {
        let invalid = || "Enter a valid email address.".to_owned();
        let too_long = || format!("Ensure this field has no more than {MAX_LEN} characters.");
        if raw.chars().count() > MAX_RAW_LEN {
            return Err(too_long());
        }
        let normalized = nfkc(raw);
        let trimmed = normalized.trim();
        if trimmed.is_empty() {
            return Err("This field may not be blank.".into());
        }
        if trimmed.chars().count() > MAX_LEN {
            return Err(too_long());
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

    /// The form used for uniqueness, look-ups and every per-address limit:
    /// `A@X.com` and `a@x.com` are one account (see `fold`).
    pub fn canonical(&self) -> String {
        fold(&self.normalized)
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
    fn compatibility_characters_become_their_plain_form() {
        // U+212A KELVIN SIGN, fullwidth letters and a fullwidth "@".
        let kelvin = Email::parse("\u{212A}ate@example.org").unwrap();
        assert_eq!(kelvin.as_str(), "Kate@example.org");
        assert_eq!(kelvin.canonical(), "kate@example.org");
        let wide = Email::parse("\u{FF4B}\u{FF41}te\u{FF20}\u{FF25}xample.org").unwrap();
        assert_eq!(wide.as_str(), "kate@example.org");
        // Decomposed and composed accents are one address.
        assert_eq!(
            Email::parse("jose\u{301}@x.org").unwrap().as_str(),
            "jos\u{e9}@x.org"
        );
    }

    #[test]
    fn case_variants_share_one_key() {
        let key = |s: &str| Email::parse(s).unwrap().canonical();
        assert_eq!(key("Victim@x.org"), key("vICTIM@x.org"));
        assert_eq!(key("STRASSE@x.org"), key("stra\u{df}e@x.org"));
        // Capital sharp s: one round of folding leaves it as `ß`.
        assert_eq!(key("STRA\u{1e9e}E@x.org"), key("strasse@x.org"));
        assert_eq!(
            key("\u{3a3}\u{3b1}\u{3c2}@x.org"),
            key("\u{3c3}\u{3b1}\u{3c3}@x.org")
        );
        // The key is a fixed point: folding it again changes nothing.
        for s in [
            "\u{212A}ate@x.org",
            "stra\u{df}e@x.org",
            "\u{130}@x.org",
            "STRA\u{1e9e}E@x.org",
        ] {
            assert_eq!(super::fold(&key(s)), key(s));
        }
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
        // A compatibility character that normalises to something invalid.
        assert!(Email::parse("a\u{2474}@x.com").is_err());
        assert!(Email::parse(&"\u{FDFA}".repeat(300)).is_err());
    }
}
