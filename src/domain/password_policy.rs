//! The contract's password rules, each with its own message (the wording of
//! Django's validators, which many clients already show to people).

use std::collections::HashMap;

use zxcvbn::matching::patterns::MatchPattern;

pub const MIN_LENGTH: usize = 8;
pub const MAX_LENGTH: usize = 1024;
/// Django's default for UserAttributeSimilarityValidator.
const MAX_SIMILARITY: f64 = 0.7;
/// The longest entry of zxcvbn's leaked-password list has 20 characters, and
/// a match must cover the whole password (l33t and case variants keep the
/// length), so longer passwords skip the estimator, whose cost grows with
/// length.
const COMMON_CHECK_MAX_CHARS: usize = 20;

/// The attributes a password must not resemble, with the name each is
/// reported under ("The password is too similar to the email.").
pub struct UserAttributes<'a> {
    pub email: &'a str,
    pub username: &'a str,
}

/// Every rule the password breaks, in a stable order; empty when it is fine.
pub fn check_password(password: &str, user: &UserAttributes<'_>) -> Vec<String> {
    let mut problems = Vec::new();
    let length = password.chars().count();
    if length < MIN_LENGTH {
        problems.push(format!(
            "This password is too short. It must contain at least {MIN_LENGTH} characters."
        ));
    }
    if length > MAX_LENGTH {
        // Checked before hashing: an unbounded input is a denial-of-service lever.
        problems.push(format!(
            "This password is too long. It must contain at most {MAX_LENGTH} characters."
        ));
        return problems;
    }
    if !password.is_empty() && password.chars().all(|c| c.is_ascii_digit()) {
        problems.push("This password is entirely numeric.".into());
    }
    if is_common(password) {
        problems.push("This password is too common.".into());
    }
    for (name, value) in [("email", user.email), ("username", user.username)] {
        if too_similar(password, value) {
            problems.push(format!("The password is too similar to the {name}."));
        }
    }
    problems
}

/// True when the whole password is one entry of zxcvbn's list of leaked
/// passwords (also reversed, l33t-spoken or re-cased).
fn is_common(password: &str) -> bool {
    if password.is_empty() || password.chars().count() > COMMON_CHECK_MAX_CHARS {
        return false;
    }
    let estimate = zxcvbn::zxcvbn(password, &[]);
    match estimate.sequence() {
        [only] => matches!(
            &only.pattern,
            // zxcvbn does not export its dictionary names; its default is the
            // leaked-passwords list.
            MatchPattern::Dictionary(d) if d.dictionary_name == Default::default()
        ),
        _ => false,
    }
}

/// Django's UserAttributeSimilarityValidator: the password against the whole
/// attribute and each of its parts split at non-word characters.
fn too_similar(password: &str, attribute: &str) -> bool {
    let password = password.to_lowercase();
    let attribute = attribute.to_lowercase();
    if attribute.is_empty() {
        return false;
    }
    let parts = attribute
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .chain(std::iter::once(attribute.as_str()))
        .filter(|p| !p.is_empty());
    for part in parts {
        if exceeds_length_ratio(&password, part) {
            continue;
        }
        if quick_ratio(&password, part) >= MAX_SIMILARITY {
            return true;
        }
        // A password that is mostly the attribute ("alice2024!" for alice@…).
        let part_len = part.chars().count();
        if part_len >= 4 && password.contains(part) && part_len * 2 >= password.chars().count() {
            return true;
        }
    }
    false
}

fn exceeds_length_ratio(password: &str, value: &str) -> bool {
    let pwd_len = password.chars().count() as f64;
    let value_len = value.chars().count() as f64;
    pwd_len >= 10.0 * value_len && value_len < MAX_SIMILARITY / 2.0 * pwd_len
}

/// Python's `SequenceMatcher.quick_ratio`: 2 * (shared characters, as a
/// multiset) / (total length).
fn quick_ratio(a: &str, b: &str) -> f64 {
    let mut counts: HashMap<char, i64> = HashMap::new();
    for c in b.chars() {
        *counts.entry(c).or_default() += 1;
    }
    let mut shared = 0usize;
    for c in a.chars() {
        if let Some(n) = counts.get_mut(&c) {
            if *n > 0 {
                *n -= 1;
                shared += 1;
            }
        }
    }
    let total = a.chars().count() + b.chars().count();
    if total == 0 {
        0.0
    } else {
        2.0 * shared as f64 / total as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const USER: UserAttributes<'static> = UserAttributes {
        email: "alice.liddell@example.com",
        username: "wonderland",
    };

    #[test]
    fn a_strong_password_passes() {
        assert!(check_password("correct horse battery staple", &USER).is_empty());
        assert!(check_password("Tr0ub4dor&3-xyzzy", &USER).is_empty());
    }

    #[test]
    fn each_rule_has_its_own_message() {
        assert_eq!(
            check_password("Ab1!x", &USER),
            vec!["This password is too short. It must contain at least 8 characters."]
        );
        assert!(check_password("12345678901", &USER)
            .contains(&"This password is entirely numeric.".to_owned()));
        assert_eq!(
            check_password("password", &USER),
            vec!["This password is too common."]
        );
        assert_eq!(
            check_password("Sunshine", &USER),
            vec!["This password is too common."]
        );
        assert_eq!(
            check_password(&"x".repeat(1025), &USER),
            vec!["This password is too long. It must contain at most 1024 characters."]
        );
        assert_eq!(
            check_password("alice.liddell", &USER),
            vec!["The password is too similar to the email."]
        );
        assert_eq!(
            check_password("Wonderland7", &USER),
            vec!["The password is too similar to the username."]
        );
    }

    #[test]
    fn a_long_password_is_accepted_up_to_the_limit() {
        let long: String = "ab3$".repeat(256);
        assert_eq!(long.chars().count(), MAX_LENGTH);
        assert!(check_password(&long, &USER).is_empty());
    }
}
