//! Argon2id password hashing on a bounded pool of blocking threads.
//!
//! Hashing is deliberately slow (~25 ms a core at OWASP's parameters), so it
//! never runs on the async executor, and at most `password_hash_concurrency`
//! hashes run at once: a login flood queues here instead of starving the
//! threads that serve everything else.

use std::sync::Arc;

use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
use secrecy::{ExposeSecret, SecretString};

use super::hash_pool::HashPool;
use crate::config::Settings;
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
            settings.argon2_memory_kib,
            settings.argon2_iterations,
            settings.argon2_parallelism,
            None,
        )
        .map_err(|e| anyhow::anyhow!("invalid Argon2 parameters: {e}"))?;
        let dummy_hash = hash_blocking(&params, "dummy password for unknown accounts")?;
        Ok(Passwords {
            params,
            pool: HashPool::new(settings.password_hash_concurrency)?,
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
        self.on_pool(move || {
            let password = password.expose_secret();
            let Ok(parsed) = PasswordHash::new(&stored) else {
                tracing::error!("a stored password hash is not a valid PHC string");
                return Ok(Verified::No);
            };
            let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
            if argon2
                .verify_password(password.as_bytes(), &parsed)
                .is_err()
                || !known
            {
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
        settings.argon2_memory_kib,
        settings.argon2_iterations,
        settings.argon2_parallelism,
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

fn hash_blocking(params: &Params, password: &str) -> anyhow::Result<String> {
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let hash = argon2
        .hash_password(password.as_bytes())
        .map_err(|e| anyhow::anyhow!("hashing failed: {e}"))?;
    Ok(hash.to_string())
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
