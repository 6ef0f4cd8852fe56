//! Argon2id password hashing on a bounded pool of blocking threads.
//!
//! Hashing is deliberately slow (~25 ms a core at OWASP's parameters), so it
//! never runs on the async executor, and at most `password_hash_concurrency`
//! hashes run at once: a login flood queues here instead of starving the
//! threads that serve everything else.

use std::sync::Arc;

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};

use super::hash_pool::HashPool;
use super::tokens::constant_time_eq;
use crate::config::Settings;
use crate::domain::check_password;
use crate::domain::password_policy::UserAttributes;
use crate::error::ApiError;

#[derive(Clone)]
pub struct Passwords {
    params: Params,
    pool: HashPool,
    /// Verified against when the email is unknown, so that an unknown email
    /// costs the same time as a wrong password.
    dummy_hash: Arc<str>,
}

/// The result of checking a password.
#[derive(Debug, PartialEq, Eq)]
pub enum Verified {
    Yes {
        /// A fresh hash when the stored one used older parameters.
        rehashed: Option<String>,
    },
    No,
}

impl Passwords {
    pub fn new(settings: &Settings) -> anyhow::Result<Self> {
        let params = Params::new(
            settings.passwords.argon2_memory_kib,
            settings.passwords.argon2_iterations,
            settings.passwords.argon2_parallelism,
            None,
        )
        .map_err(|e| anyhow::anyhow!("invalid Argon2 parameters: {e}"))?;
        let dummy_hash = hash_blocking(&params, "dummy password for unknown accounts")?;
        Ok(Passwords {
            params,
            pool: HashPool::new(settings.passwords.hash_concurrency)?,
            dummy_hash: dummy_hash.into(),
        })
    }

    /// Hashes a new password into a PHC string.
    pub async fn hash(&self, password: SecretString) -> Result<String, ApiError> {
        let params = self.params.clone();
        self.on_pool(move || {
            hash_blocking(&params, password.expose_secret()).map_err(ApiError::from)
        })
        .await
    }

    /// Checks `password` against a stored PHC string, or against the dummy
    /// hash when there is none (unknown account): same work, same answer.
    pub async fn verify(
        &self,
        password: SecretString,
        stored: Option<String>,
    ) -> Result<Verified, ApiError> {
        let params = self.params.clone();
        let known = stored.is_some();
        let stored = stored.unwrap_or_else(|| self.dummy_hash.to_string());
        let dummy = Arc::clone(&self.dummy_hash);
        self.on_pool(move || {
            let password = password.expose_secret();
            // Moved from Django: checked as Django checks it, then
            // replaced by our own hash.
            if let Some(matched) = super::django_hashes::verify(&stored, password) {
                return Ok(if matched && known {
                    Verified::Yes {
                        rehashed: Some(hash_blocking(&params, password)?),
                    }
                } else {
                    Verified::No
                });
            }
            // Unusable (`!`) or legacy: never a match, but the same Argon2
            // work as a wrong password, so the answer's time does not tell
            // an imported account without a password from any other.
            if let super::django_hashes::Kind::Unusable(_) = super::django_hashes::kind(&stored) {
                if let Ok(dummy) = PasswordHash::new(&dummy) {
                    matches(&dummy, password);
                }
                return Ok(Verified::No);
            }
            let Ok(parsed) = PasswordHash::new(&stored) else {
                tracing::error!("a stored password hash is not a valid PHC string");
                return Ok(Verified::No);
            };
            if !matches(&parsed, password) || !known {
                return Ok(Verified::No);
            }
            let current = Params::try_from(&parsed).ok();
            let outdated = parsed.algorithm.as_str() != "argon2id"
                || current.is_none_or(|p| {
                    p.m_cost() != params.m_cost()
                        || p.t_cost() != params.t_cost()
                        || p.p_cost() != params.p_cost()
                });
            let rehashed = if outdated {
                Some(hash_blocking(&params, password)?)
            } else {
                None
            };
            Ok(Verified::Yes { rehashed })
        })
        .await
    }

    /// The password rules, on the hashing threads: zxcvbn's checks take
    /// milliseconds of CPU, which belong off the async executor and at the
    /// hashing threads' low priority.
    pub async fn check_rules(
        &self,
        password: SecretString,
        email: String,
        username: String,
    ) -> Result<Vec<String>, ApiError> {
        self.on_pool(move || {
            let user = UserAttributes {
                email: &email,
                username: &username,
            };
            Ok(check_password(password.expose_secret(), &user))
        })
        .await
    }

    async fn on_pool<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        self.pool.run(work).await?
    }
}

/// How many hashes a second `threads` threads do at the configured
/// parameters: the ceiling for logins and registrations on this machine
/// (`accounts hash-rate`, and the load test's reference point).
pub fn hash_rate(
    settings: &Settings,
    threads: usize,
    duration: std::time::Duration,
) -> anyhow::Result<f64> {
    let params = Params::new(
        settings.passwords.argon2_memory_kib,
        settings.passwords.argon2_iterations,
        settings.passwords.argon2_parallelism,
        None,
    )
    .map_err(|e| anyhow::anyhow!("invalid Argon2 parameters: {e}"))?;
    let started = std::time::Instant::now();
    let workers: Vec<_> = (0..threads.max(1))
        .map(|_| {
            let params = params.clone();
            std::thread::spawn(move || {
                let mut done = 0u64;
                while started.elapsed() < duration {
                    if hash_blocking(&params, "benchmark password").is_ok() {
                        done += 1;
                    }
                }
                done
            })
        })
        .collect();
    let total: u64 = workers.into_iter().map(|w| w.join().unwrap_or(0)).sum();
    Ok(total as f64 / started.elapsed().as_secs_f64())
}

thread_local! {
    /// Argon2's working memory (19 MiB at OWASP's parameters), kept by each
    /// hashing thread: allocating it afresh for every hash costs page
    /// faults on the way in and a TLB shootdown, felt by every thread of
    /// the process, on the way out.
    static BLOCKS: std::cell::RefCell<Vec<Block>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn with_blocks<T>(params: &Params, work: impl FnOnce(&mut [Block]) -> T) -> T {
    BLOCKS.with(|cell| {
        let mut blocks = cell.borrow_mut();
        if blocks.len() != params.block_count() {
            *blocks = vec![Block::default(); params.block_count()];
        }
        work(&mut blocks)
    })
}

/// Computes the raw Argon2 output into `out`, in the thread's memory.
fn argon2_into(
    algorithm: Algorithm,
    version: Version,
    params: &Params,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> anyhow::Result<()> {
    let argon2 = Argon2::new(algorithm, version, params.clone());
    with_blocks(params, |blocks| {
        argon2.hash_password_into_with_memory(password, salt, out, blocks)
    })
    .map_err(|e| anyhow::anyhow!("hashing failed: {e}"))
}

/// A new PHC string for `password` at `params` (Argon2id, v19, 16-byte salt).
fn hash_blocking(params: &Params, password: &str) -> anyhow::Result<String> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    argon2_into(
        Algorithm::Argon2id,
        Version::V0x13,
        params,
        password.as_bytes(),
        &salt,
        &mut out,
    )?;
    let hash = PasswordHash {
        algorithm: argon2::ARGON2ID_IDENT,
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params)
            .map_err(|e| anyhow::anyhow!("PHC parameters: {e}"))?,
        salt: Some(Salt::new(&salt).map_err(|e| anyhow::anyhow!("PHC salt: {e}"))?),
        hash: Some(Output::new(&out).map_err(|e| anyhow::anyhow!("PHC output: {e}"))?),
    };
    Ok(hash.to_string())
}

/// Whether `password` matches an Argon2 PHC string (ours, or the one
/// inside Django's `argon2$...`).
pub(super) fn matches_phc(phc: &str, password: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|parsed| matches(&parsed, password))
}

/// Whether `password` matches a parsed PHC string, computed in the
/// thread's memory with the string's own parameters.
fn matches(parsed: &PasswordHash, password: &str) -> bool {
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(parsed.algorithm.as_str()) else {
        return false;
    };
    let version = parsed.version.map_or(Ok(Version::V0x13), Version::try_from);
    let (Ok(version), Ok(params)) = (version, Params::try_from(parsed)) else {
        return false;
    };
    let mut out = vec![0u8; expected.as_bytes().len()];
    argon2_into(
        algorithm,
        version,
        &params,
        password.as_bytes(),
        salt.as_ref(),
        &mut out,
    )
    .is_ok()
        && constant_time_eq(&out, expected.as_bytes())
}

/// Whether a stored hash can ever verify a password: one of ours (a PHC
/// string) or a usable Django format. An account made without a password,
/// or whose password was made unusable, has none.
pub fn is_usable(stored: &str) -> bool {
    match super::django_hashes::kind(stored) {
        super::django_hashes::Kind::Usable => true,
        super::django_hashes::Kind::Unusable(_) => false,
        super::django_hashes::Kind::NotDjango => PasswordHash::new(stored).is_ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passwords(memory_kib: &str) -> Passwords {
        let s =
            Settings::from_lookup(|k| (k == "ARGON2_MEMORY_KIB").then(|| memory_kib.to_owned()))
                .unwrap();
        Passwords::new(&s).unwrap()
    }

    #[actix_web::test]
    async fn hashes_are_argon2id_phc_strings_at_owasp_parameters() {
        let p = passwords("19456");
        let hash = p.hash("correct horse".to_owned().into()).await.unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert_eq!(
            p.verify("correct horse".to_owned().into(), Some(hash.clone()))
                .await
                .unwrap(),
            Verified::Yes { rehashed: None }
        );
        assert_eq!(
            p.verify("wrong".to_owned().into(), Some(hash))
                .await
                .unwrap(),
            Verified::No
        );
    }

    #[test]
    fn hashes_interoperate_with_the_argon2_crates_own_api() {
        use argon2::{PasswordHasher, PasswordVerifier};
        let params = Params::new(19_456, 2, 1, None).unwrap();
        let theirs = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
            .hash_password(b"correct horse")
            .unwrap()
            .to_string();
        assert!(matches(
            &PasswordHash::new(&theirs).unwrap(),
            "correct horse"
        ));
        assert!(!matches(
            &PasswordHash::new(&theirs).unwrap(),
            "correct horsE"
        ));
        let ours = hash_blocking(&params, "correct horse").unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(Argon2::default()
            .verify_password(b"correct horse", &parsed)
            .is_ok());
        assert!(Argon2::default()
            .verify_password(b"wrong", &parsed)
            .is_err());
    }

    #[actix_web::test]
    async fn unknown_accounts_never_verify() {
        let p = passwords("19456");
        let guess = "dummy password for unknown accounts".to_owned();
        assert_eq!(p.verify(guess.into(), None).await.unwrap(), Verified::No);
    }

    #[actix_web::test]
    async fn a_hash_with_older_parameters_is_upgraded_on_login() {
        let old = passwords("19456")
            .hash("correct horse".to_owned().into())
            .await
            .unwrap();
        let newer = passwords("20000");
        match newer
            .verify("correct horse".to_owned().into(), Some(old))
            .await
            .unwrap()
        {
            Verified::Yes { rehashed: Some(h) } => assert!(h.contains("m=20000"), "{h}"),
            other => panic!("expected a re-hash, got {other:?}"),
        }
    }
}
