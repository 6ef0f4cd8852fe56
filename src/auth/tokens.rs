//! Random secrets and their one-way ids.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::distr::Alphanumeric;
use rand::{Rng, RngCore};
use sha2::{Digest, Sha256};

/// A new session key: 64 alphanumerics (about 380 bits), which is also the
/// app client's Bearer token.
pub fn session_key() -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(64)
        .map(char::from)
        .collect()
}

/// The id a session is stored and listed under: a hash of its key, so
/// neither the store's contents nor `GET /accounts/sessions` reveal a key.
pub fn session_id(session_key: &str) -> String {
    let digest = Sha256::digest(session_key.as_bytes());
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// A CSRF token: 32 random bytes, URL-safe base64.
pub fn csrf_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn request_id() -> String {
    let mut bytes = [0u8; 12];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A one-way, non-reversible key for counters about an email address, so
/// Redis keys and rows do not hold addresses.
pub fn counter_key(scope: &str, value: &str) -> String {
    let digest = Sha256::digest(format!("{scope}:{value}").as_bytes());
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("{scope}:{hex}")
}

/// Compares secrets without an early exit on the first differing byte.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A token mailed to a user (password reset, email verification, email
/// change): 32 bytes (256 bits) straight from the operating system's
/// CSPRNG, URL-safe base64 (43 characters, no padding).
pub fn mail_token() -> Result<String, rand::rand_core::OsError> {
    use rand::TryRngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.try_fill_bytes(&mut bytes)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// What a mailed token is stored and looked up as: its SHA-256, in hex. A
/// token has 256 random bits, so a fast hash is enough (there is nothing
/// to guess), and a copy of the table holds no usable token.
pub fn mail_token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether `token` could be one `mail_token` made; anything else is
/// refused before a query.
pub fn looks_like_mail_token(token: &str) -> bool {
    token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_long_random_and_ids_do_not_reveal_them() {
        let (a, b) = (session_key(), session_key());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        let id = session_id(&a);
        assert_eq!(id.len(), 32);
        assert!(!a.contains(&id) && !id.contains(&a[..8]));
        assert_eq!(id, session_id(&a), "the id is stable for one key");
    }

    #[test]
    fn constant_time_eq_compares_exactly() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
