//! What HTTP clients meet: the signing key, cookies, CORS, the metrics
//! token and the proxy in front.

use secrecy::{ExposeSecret, SecretString};

use super::env::Env;
use super::ConfigError;

/// The key material for signing cookies must be at least this long.
const MIN_SECRET_KEY_LEN: usize = 32;
/// Used only with the embedded database on loopback, with a warning:
/// sessions survive restarts in development without anybody having to
/// invent a secret.
const DEV_SECRET_KEY: &str = "insecure-development-key-do-not-use-in-production-0123456789";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SameSite {
    Lax,
    Strict,
    None,
}

#[derive(Clone, Debug)]
pub struct HttpSettings {
    pub secret_key: SecretString,
    pub cookie_secure: bool,
    pub cookie_same_site: SameSite,
    pub cors_allowed_origins: Vec<String>,
    /// When set, `/metrics` requires `Authorization: Bearer <token>`.
    pub metrics_token: Option<SecretString>,
    /// Read the client address from `X-Forwarded-For` (only behind a proxy
    /// that sets it).
    pub trust_forwarded_for: bool,
}

impl HttpSettings {
    pub(super) fn read(env: &Env) -> Result<Self, ConfigError> {
        let secret_key = match env.var("SECRET_KEY") {
            Some(key) if key.len() >= MIN_SECRET_KEY_LEN => key,
            Some(_) => {
                return Err(ConfigError(format!(
                    "SECRET_KEY must be at least {MIN_SECRET_KEY_LEN} characters"
                )))
            }
            None if env.loopback.get() && env.embedded_database.get() => DEV_SECRET_KEY.to_owned(),
            // PostgreSQL is a shared, long-lived database: its TOTP secrets
            // are sealed with a key derived from this one, and a key anyone
            // can read in the source would unseal them.
            None if env.loopback.get() => {
                return Err(ConfigError(
                    "SECRET_KEY is required with PostgreSQL (DATABASE_URL); the built-in development key is only for the embedded database on loopback".into(),
                ))
            }
            None => {
                return Err(ConfigError(
                    "SECRET_KEY is required when BIND_ADDRESS is not a loopback address".into(),
                ))
            }
        };
        let cookie_same_site = match env
            .var("COOKIE_SAMESITE")
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("lax") => SameSite::Lax,
            Some("strict") => SameSite::Strict,
            Some("none") => SameSite::None,
            Some(other) => {
                return Err(ConfigError(format!(
                    "COOKIE_SAMESITE={other:?} must be lax, strict or none"
                )))
            }
        };
        let settings = HttpSettings {
            secret_key: secret_key.into(),
            cookie_secure: env.parse("COOKIE_SECURE", !env.loopback.get())?,
            cookie_same_site,
            cors_allowed_origins: env
                .var("CORS_ALLOWED_ORIGINS")
                .map(|v| {
                    v.split(',')
                        .map(|o| o.trim().trim_end_matches('/').to_owned())
                        .filter(|o| !o.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            metrics_token: env.var("METRICS_TOKEN").map(Into::into),
            trust_forwarded_for: env.parse("TRUST_X_FORWARDED_FOR", false)?,
        };
        settings.check()?;
        Ok(settings)
    }

    /// Whether the built-in development key is in use.
    pub fn uses_development_key(&self) -> bool {
        self.secret_key.expose_secret() == DEV_SECRET_KEY
    }

    fn check(&self) -> Result<(), ConfigError> {
        if self.cookie_same_site == SameSite::None && !self.cookie_secure {
            return Err(ConfigError(
                "COOKIE_SAMESITE=none needs COOKIE_SECURE=true (browsers drop such cookies otherwise)".into(),
            ));
        }
        if self.cors_allowed_origins.iter().any(|o| o == "*") {
            return Err(ConfigError(
                "CORS_ALLOWED_ORIGINS cannot be * (credentials are allowed); list the origins"
                    .into(),
            ));
        }
        for origin in &self.cors_allowed_origins {
            let host = origin
                .strip_prefix("https://")
                .or_else(|| origin.strip_prefix("http://"));
            let valid = host.is_some_and(|h| {
                !h.is_empty()
                    && !h.contains(['/', '?', '#', ' ', '*'])
                    && h.parse::<actix_web::http::uri::Authority>().is_ok()
            });
            if !valid {
                return Err(ConfigError(format!(
                    "CORS_ALLOWED_ORIGINS: {origin:?} is not an origin like https://app.example.com"
                )));
            }
        }
        Ok(())
    }
}
