//! The second factor's secrets: TOTP (RFC 6238 through `totp-rs`: SHA-1,
//! 6 digits, 30 s steps, one step of drift either way), the encryption of
//! TOTP secrets at rest, and recovery codes.
//!
//! A TOTP secret is stored only encrypted (AES-256-GCM, a key derived from
//! `SECRET_KEY` with HKDF-SHA-256, the user's id as associated data so a
//! row copied to another user does not decrypt). Recovery codes are
//! stored as SHA-256 hashes: each carries 80 random bits, so a fast hash
//! is as good as a slow one against guessing and costs a login nothing.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use totp_rs::{Algorithm, Secret, Totp};

/// Recovery codes a set.
pub const RECOVERY_CODES: usize = 10;
/// Letters of a recovery code (base32: 5 bits each, 80 bits in all).
const RECOVERY_CODE_LETTERS: usize = 16;
const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// Encrypts and decrypts TOTP secrets; built once from `SECRET_KEY`.
#[derive(Clone)]
pub struct SecretBox {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox")
    }
}

impl SecretBox {
    pub fn new(secret_key: &[u8]) -> Self {
        let mut key = [0u8; 32];
        hkdf::Hkdf::<Sha256>::new(Some(b"accounts"), secret_key)
            .expand(b"totp secret encryption v1", &mut key)
            .expect("32 bytes is a valid HKDF-SHA-256 output length");
        SecretBox {
            cipher: Aes256Gcm::new(&key.into()),
        }
    }

    /// `nonce || ciphertext`, base64: what the database stores.
    pub fn seal(&self, user_id: i32, secret: &[u8]) -> String {
        let mut nonce = [0u8; 12];
        rand::rng().fill_bytes(&mut nonce);
        let aad = user_id.to_be_bytes();
        let sealed = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: secret,
                    aad: &aad,
                },
            )
            .expect("AES-GCM encrypts any secret of this size");
        let mut out = nonce.to_vec();
        out.extend(sealed);
        STANDARD_NO_PAD.encode(out)
    }

    /// The secret, or `None` when the value was not sealed for this user
    /// with this key (`SECRET_KEY` changed, or a row was tampered with).
    pub fn open(&self, user_id: i32, stored: &str) -> Option<Vec<u8>> {
        let bytes = STANDARD_NO_PAD.decode(stored).ok()?;
        if bytes.len() < 12 {
            return None;
        }
        let (nonce, sealed) = bytes.split_at(12);
        let aad = user_id.to_be_bytes();
        self.cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: &aad,
                },
            )
            .ok()
    }
}

/// A new random TOTP secret (160 bits, RFC 4226's recommendation).
pub fn new_secret() -> Vec<u8> {
    let mut secret = vec![0u8; 20];
    rand::rng().fill_bytes(&mut secret);
    secret
}

fn totp(secret: &[u8], issuer: &str, email: &str) -> Option<Totp> {
    totp_rs::Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(30)
        .with_secret(Secret::from(secret.to_vec()))
        .with_issuer(Some(issuer))
        .with_account_name(email)
        .build()
        .ok()
}

/// The secret in base32 and the `otpauth://` URL an authenticator app
/// reads (issuer and the account's email as its label).
pub fn enrolment(secret: &[u8], issuer: &str, email: &str) -> Option<(String, String)> {
    let totp = totp(secret, issuer, email)?;
    let url = totp.to_url().ok()?;
    Some((totp.secret().to_base32(), url))
}

/// The step (`unix time / 30`) whose code `code` is, within one step of
/// `now_secs`; `None` when it is no code of those three steps.
pub fn matching_step(secret: &[u8], code: &str, now_secs: u64) -> Option<i64> {
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let totp = totp(secret, "accounts", "")?;
    totp.check(code, now_secs)
        .and_then(|s| i64::try_from(s).ok())
}

/// The code of `step` (for tests and the example client).
pub fn code_at(secret: &[u8], step: u64) -> String {
    totp(secret, "accounts", "").map_or_else(String::new, |t| t.generate(step * 30).to_string())
}

/// Whether `code` looks like a TOTP code (six digits), not a recovery one.
pub fn is_totp_code(code: &str) -> bool {
    let code = code.trim();
    code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit())
}

/// A fresh set: the codes to show once, and their hashes to store.
pub fn recovery_codes() -> Vec<(String, String)> {
    (0..RECOVERY_CODES)
        .map(|_| {
            let mut random = [0u8; RECOVERY_CODE_LETTERS];
            rand::rng().fill_bytes(&mut random);
            let letters: String = random
                .iter()
                .map(|b| char::from(BASE32[usize::from(b & 31)]))
                .collect();
            let shown = letters
                .as_bytes()
                .chunks(4)
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect::<Vec<_>>()
                .join("-");
            let hash = recovery_hash(&shown);
            (shown, hash)
        })
        .collect()
}

/// The stored form of a recovery code as typed: case, spaces and dashes
/// do not matter.
pub fn recovery_hash(code: &str) -> String {
    let normal: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let digest = Sha256::digest(normal.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_6238_sha1_vector() {
        // RFC 6238 appendix B, SHA-1, T = 59 s: 94287082 (8 digits); the
        // 6-digit code is its last six.
        let secret = b"12345678901234567890";
        assert_eq!(matching_step(secret, "287082", 59), Some(1));
        assert_eq!(code_at(secret, 1), "287082");
        // One step of drift either way, no more.
        assert_eq!(matching_step(secret, "287082", 59 + 30), Some(1));
        assert_eq!(matching_step(secret, "287082", 59 + 60), None);
        assert_eq!(matching_step(secret, "28708", 59), None);
    }

    #[test]
    fn secrets_open_only_for_their_user_and_key() {
        let sealer = SecretBox::new(b"a secret key that is long enough for the test");
        let secret = new_secret();
        let stored = sealer.seal(7, &secret);
        assert_eq!(sealer.open(7, &stored), Some(secret));
        assert_eq!(sealer.open(8, &stored), None);
        assert_eq!(SecretBox::new(b"another key").open(7, &stored), None);
        assert_eq!(sealer.open(7, "not base64!"), None);
    }

    #[test]
    fn recovery_codes_are_distinct_and_typed_loosely() {
        let codes = recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        let (shown, hash) = &codes[0];
        assert_eq!(shown.len(), 19);
        assert_eq!(
            &recovery_hash(&shown.to_lowercase().replace('-', " ")),
            hash
        );
        let distinct: std::collections::HashSet<_> = codes.iter().map(|c| &c.1).collect();
        assert_eq!(distinct.len(), RECOVERY_CODES);
    }
}
