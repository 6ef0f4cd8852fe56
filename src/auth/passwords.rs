//! Argon2id password hashing on a bounded pool of blocking threads.
//!
//! Hashing is deliberately slow (~25 ms a core at OWASP's parameters), so it
//! never runs on the async executor, and at most `password_hash_concurrency`
//! hashes run at once: a login flood queues here instead of starving the
//! threads that serve everything else.

use std::sync::Arc;
use std::time::Instant;

use argon2::password_hash::phc::PasswordHash;
use argon2::Params;
use secrecy::{ExposeSecret, SecretString};

use super::argon2_work::{hash_blocking, keep_blocks, matches};
use super::hash_pool::HashPool;
use super::login_floor::LoginFloor;
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
    /// How long a refused check waits for, at least (Django hashes).
    floor: Arc<LoginFloor>,
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
            floor: Arc::default(),
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
    /// A refused check answers no sooner than the login floor after its
    /// job started (`login_floor`).
    pub async fn verify(
        &self,
        password: SecretString,
        stored: Option<String>,
    ) -> Result<Verified, ApiError> {
        let (verified, started) = self.check(password, stored).await?;
        if verified == Verified::No {
            self.floor.hold(started).await;
        }
        Ok(verified)
    }

    /// Times one check of each stored string with a password nobody has:
    /// the costliest Django hashes still stored, before the first login.
    pub async fn calibrate(&self, stored: Vec<String>) -> Result<(), ApiError> {
        let formats = stored.len();
        for encoded in stored {
            let password = SecretString::from("\0 not anybody's password");
            self.check(password, Some(encoded)).await?;
        }
        if formats > 0 {
            let floor_ms = self.floor.floor().as_millis();
            tracing::info!(
                formats,
                floor_ms,
                "Django hashes are still stored: refused logins answer after {floor_ms} ms"
            );
        }
        Ok(())
    }

    /// The check itself, and when its job started on the pool.
    async fn check(
        &self,
        password: SecretString,
        stored: Option<String>,
    ) -> Result<(Verified, Instant), ApiError> {
        let params = self.params.clone();
        let floor = Arc::clone(&self.floor);
        let known = stored.is_some();
        let stored = stored.unwrap_or_else(|| self.dummy_hash.to_string());
        let dummy = Arc::clone(&self.dummy_hash);
        self.on_pool(move || {
            let started = Instant::now();
            let verified = check_blocking(&params, &stored, known, &dummy, &floor, password)?;
            Ok((verified, started))
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
        let kept = self.params.block_count();
        self.pool
            .run(move || {
                keep_blocks(kept);
                work()
            })
            .await?
    }
}

/// One check, on a hashing thread (see `Passwords::verify`).
fn check_blocking(
    params: &Params,
    stored: &str,
    known: bool,
    dummy: &str,
    floor: &LoginFloor,
    password: SecretString,
) -> Result<Verified, ApiError> {
    let password = password.expose_secret();
    // Moved from Django: checked as Django checks it (timed, for the
    // floor), then replaced by our own hash.
    let django = Instant::now();
    if let Some(matched) = super::django_hashes::verify(stored, password) {
        floor.observe(django.elapsed());
        return Ok(if matched && known {
            Verified::Yes {
                rehashed: Some(hash_blocking(params, password)?),
            }
        } else {
            Verified::No
        });
    }
    // Unusable (`!`) or legacy: never a match, but the same Argon2
    // work as a wrong password, so the answer's time does not tell
    // an imported account without a password from any other.
    if let super::django_hashes::Kind::Unusable(_) = super::django_hashes::kind(stored) {
        if let Ok(dummy) = PasswordHash::new(dummy) {
            matches(&dummy, password);
        }
        return Ok(Verified::No);
    }
    let Ok(parsed) = PasswordHash::new(stored) else {
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
        Some(hash_blocking(params, password)?)
    } else {
        None
    };
    Ok(Verified::Yes { rehashed })
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
                keep_blocks(params.block_count());
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
