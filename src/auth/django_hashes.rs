//! Django's password hashes, verified as Django 5.2 verifies them
//! (`django/contrib/auth/hashers.py`), so that users moved from a Django
//! project keep their passwords. A successful check is followed by a
//! re-hash to our Argon2id (`Passwords::verify`).
//!
//! Formats (`algorithm$...` as Django stores them):
//! - `pbkdf2_sha256$<iterations>$<salt>$<base64 hash>` (32 bytes) and
//!   `pbkdf2_sha1$...` (20 bytes), any iteration count;
//! - `argon2$<PHC string>`: argon2id, and argon2i from older Django;
//! - `bcrypt_sha256$<bcrypt hash>`: bcrypt of the lowercase hex SHA-256 of
//!   the password; `bcrypt$<bcrypt hash>`: bcrypt of the password (its
//!   first 72 bytes, as the bcrypt library then used by Django did);
//! - `scrypt$<N>$<salt>$<r>$<p>$<base64 hash>` (64 bytes).
//!
//! Unusable passwords (`!...`) and Django's legacy formats (md5, sha1,
//! unsalted_md5, unsalted_sha1, crypt) never verify: those accounts reset
//! their password. Every comparison is in constant time. Parameters beyond
//! these bounds are refused rather than computed: a stored string must not
//! be able to make a login take minutes or gigabytes.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sha2::{Digest, Sha256};

use super::argon2_work::matches_phc;
use super::tokens::constant_time_eq;

const MAX_PBKDF2_ITERATIONS: u32 = 20_000_000;
const MAX_BCRYPT_COST: u32 = 16;
/// scrypt's memory is 128 * r * N bytes: at most 256 MiB.
const MAX_SCRYPT_MEMORY: u64 = 256 << 20;

/// What a stored string is, as far as Django's formats go.
#[derive(Debug, PartialEq, Eq)]
pub enum Kind {
    /// One of the formats above.
    Usable,
    /// `!` (unusable) or a legacy format: never verifies.
    Unusable(&'static str),
    /// Not a Django string (ours: a PHC string).
    NotDjango,
}

/// The format of `encoded`.
pub fn kind(encoded: &str) -> Kind {
    if encoded.starts_with('!') {
        return Kind::Unusable("unusable password");
    }
    let algorithm = encoded.split_once('$').map_or("", |(a, _)| a);
    match algorithm {
        "pbkdf2_sha256" | "pbkdf2_sha1" | "argon2" | "bcrypt_sha256" | "bcrypt" | "scrypt" => {
            Kind::Usable
        }
        "md5" | "sha1" | "unsalted_md5" | "unsalted_sha1" | "crypt" => {
            Kind::Unusable("legacy hash")
        }
        // Django's unsalted MD5 may also be stored bare (32 hex digits).
        _ if encoded.len() == 32 && encoded.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Kind::Unusable("legacy hash")
        }
        _ => Kind::NotDjango,
    }
}

/// The format of a usable Django string and the work its parameters ask
/// for, comparable between strings of one format only (iterations for
/// PBKDF2, 2^cost for bcrypt, N*r*p for scrypt, KiB*passes for Argon2):
/// what picks the costliest stored string of each format
/// (`auth::login_floor`). `None` for anything else.
pub fn cost(encoded: &str) -> Option<(&str, u64)> {
    if kind(encoded) != Kind::Usable {
        return None;
    }
    let (algorithm, rest) = encoded.split_once('$')?;
    let number = |s: Option<&str>| s.and_then(|s| s.parse::<u64>().ok());
    let fields: Vec<&str> = rest.split('$').collect();
    let work = match algorithm {
        "pbkdf2_sha256" | "pbkdf2_sha1" => number(fields.first().copied())?,
        // `$2b$12$...` after the algorithm's own `$`.
        "bcrypt_sha256" | "bcrypt" => 1u64 << number(fields.get(2).copied())?.min(63),
        "scrypt" => {
            let (n, r, p) = (
                number(fields.first().copied())?,
                number(fields.get(2).copied())?,
                number(fields.get(3).copied())?,
            );
            n.saturating_mul(r).saturating_mul(p)
        }
        "argon2" => {
            let params = fields.iter().find(|f| f.starts_with("m="))?;
            let value = |key: &str| {
                params
                    .split(',')
                    .find_map(|kv| kv.strip_prefix(key))
                    .and_then(|v| v.parse::<u64>().ok())
            };
            value("m=")?.saturating_mul(value("t=")?)
        }
        _ => return None,
    };
    Some((algorithm, work))
}

/// Whether `password` matches the Django string `encoded`; `None` when it
/// is not a usable Django string.
pub fn verify(encoded: &str, password: &str) -> Option<bool> {
    if kind(encoded) != Kind::Usable {
        return None;
    }
    let (algorithm, rest) = encoded.split_once('$')?;
    Some(match algorithm {
        "pbkdf2_sha256" => pbkdf2(rest, password, pbkdf2::pbkdf2_hmac::<Sha256>, 32),
        "pbkdf2_sha1" => pbkdf2(rest, password, pbkdf2::pbkdf2_hmac::<sha1::Sha1>, 20),
        // `argon2$argon2id$v=19$...`: the rest after "argon2" is the PHC string.
        // The same Argon2 check as our own hashes'.
        "argon2" => matches_phc(&encoded["argon2".len()..], password),
        "bcrypt_sha256" => {
            let digest = Sha256::digest(password.as_bytes());
            let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
            bcrypt(rest, hex.as_bytes())
        }
        "bcrypt" => bcrypt(rest, password.as_bytes()),
        "scrypt" => scrypt(rest, password),
        _ => false,
    })
}

fn pbkdf2(
    rest: &str,
    password: &str,
    derive: fn(&[u8], &[u8], u32, &mut [u8]),
    len: usize,
) -> bool {
    let mut parts = rest.splitn(3, '$');
    let (Some(iterations), Some(salt), Some(expected)) = (parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let Ok(iterations) = iterations.parse::<u32>() else {
        return false;
    };
    let Ok(expected) = STANDARD.decode(expected) else {
        return false;
    };
    if iterations == 0 || iterations > MAX_PBKDF2_ITERATIONS || expected.len() != len {
        return false;
    }
    let mut out = vec![0u8; len];
    derive(password.as_bytes(), salt.as_bytes(), iterations, &mut out);
    constant_time_eq(&out, &expected)
}

/// `rest` is the bcrypt string itself (Django writes `bcrypt$` + it, and
/// its `$2b$...` makes the doubled dollar).
fn bcrypt(rest: &str, secret: &[u8]) -> bool {
    let cost = rest.get(4..6).and_then(|c| c.parse::<u32>().ok());
    if cost.is_none_or(|c| c > MAX_BCRYPT_COST) {
        return false;
    }
    // `verify` compares in constant time; it uses the first 72 bytes.
    bcrypt::verify(secret, rest).unwrap_or(false)
}

fn scrypt(rest: &str, password: &str) -> bool {
    let parts: Vec<&str> = rest.splitn(5, '$').collect();
    let [n, salt, r, p, expected] = parts.as_slice() else {
        return false;
    };
    let (Ok(n), Ok(r), Ok(p)) = (n.parse::<u64>(), r.parse::<u32>(), p.parse::<u32>()) else {
        return false;
    };
    let Ok(expected) = STANDARD.decode(expected) else {
        return false;
    };
    if !n.is_power_of_two() || n < 2 || 128 * u64::from(r) * n > MAX_SCRYPT_MEMORY || p > 64 {
        return false;
    }
    let log_n = u8::try_from(n.trailing_zeros()).unwrap_or(u8::MAX);
    let Ok(params) = scrypt::Params::new(log_n, r, p, expected.len()) else {
        return false;
    };
    let mut out = vec![0u8; expected.len()];
    scrypt::scrypt(password.as_bytes(), salt.as_bytes(), &params, &mut out).is_ok()
        && constant_time_eq(&out, &expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_or_broken_strings_are_refused_cheaply() {
        for encoded in [
            "pbkdf2_sha256$4294967295$salt$AAAA",
            "pbkdf2_sha256$x$salt$AAAA",
            "pbkdf2_sha256$1000",
            "scrypt$1073741824$salt$8$1$AAAA",
            "scrypt$1000$salt$8$1$AAAA",
            "bcrypt$$2b$31$abcdefghijklmnopqrstuu",
            "bcrypt_sha256$$2b$xx$abc",
        ] {
            assert_eq!(verify(encoded, "password"), Some(false), "{encoded}");
        }
        assert_eq!(
            kind("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"),
            Kind::NotDjango
        );
        assert_eq!(kind("sha1$salt$abc"), Kind::Unusable("legacy hash"));
        for (encoded, algorithm, work) in [
            (
                "pbkdf2_sha256$1000000$salt$AAAA",
                "pbkdf2_sha256",
                1_000_000,
            ),
            ("bcrypt$$2b$12$abcdefghijklmnopqrstuu", "bcrypt", 1 << 12),
            ("scrypt$16384$salt$8$5$AAAA", "scrypt", 16384 * 8 * 5),
            (
                "argon2$argon2id$v=19$m=102400,t=2,p=8$c2FsdA$aGFzaA",
                "argon2",
                204_800,
            ),
        ] {
            assert_eq!(cost(encoded), Some((algorithm, work)), "{encoded}");
        }
        assert_eq!(cost("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"), None);
        assert_eq!(cost("!unusable"), None);
        assert_eq!(
            kind("5f4dcc3b5aa765d61d8327deb882cf99"),
            Kind::Unusable("legacy hash")
        );
    }
}
