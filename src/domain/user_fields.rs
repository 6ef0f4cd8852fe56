//! The editable user fields besides email and password.

const MAX_USERNAME: usize = 150;
const MAX_NAME: usize = 150;

/// Like Django's username: up to 150 letters, digits and `@ . + - _`.
/// Empty is allowed (the email is the login).
pub fn parse_username(raw: &str) -> Result<String, String> {
    let value = raw.trim();
    if value.chars().count() > MAX_USERNAME {
        return Err(format!(
            "Ensure this field has no more than {MAX_USERNAME} characters."
        ));
    }
    if !value
        .chars()
        .all(|c| c.is_alphanumeric() || "@.+-_".contains(c))
    {
        return Err(
            "Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters."
                .into(),
        );
    }
    Ok(value.to_owned())
}

/// First and last names: free text, trimmed, no control characters.
pub fn parse_name(raw: &str) -> Result<String, String> {
    let value = raw.trim();
    if value.chars().count() > MAX_NAME {
        return Err(format!(
            "Ensure this field has no more than {MAX_NAME} characters."
        ));
    }
    if value.chars().any(char::is_control) {
        return Err("This field may not contain control characters.".into());
    }
    Ok(value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert_eq!(parse_username(" ada_l+1@x.y-z ").unwrap(), "ada_l+1@x.y-z");
        assert_eq!(parse_username("").unwrap(), "");
        assert!(parse_username("has space").is_err());
        assert!(parse_username("semi;colon").is_err());
        assert!(parse_username(&"u".repeat(151)).is_err());
    }

    #[test]
    fn names() {
        assert_eq!(parse_name("  Ada ").unwrap(), "Ada");
        assert!(parse_name("a\u{0}b").is_err());
        assert!(parse_name(&"n".repeat(151)).is_err());
    }
}
