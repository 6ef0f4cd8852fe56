//! Settings, read once from the environment (and an optional `.env`) into
//! typed structs, one per concern, that are passed down; nothing else reads
//! the environment.
//!
//! Every limit is a named setting with a safe default. A bad value fails at
//! start-up with one line naming the variable, never later.

mod env;
mod http;
mod limits;
mod mail;
mod mfa;
mod passwords;
mod server;
mod sessions;
mod stores;
mod throttle;

pub use http::{HttpSettings, SameSite};
pub use limits::{Limits, MULTIPART_OVERHEAD};
pub use mail::{Links, MailSettings, MailTransport, SmtpRelay, SmtpSecurity};
pub use mfa::MfaSettings;
pub use passwords::{
    PasswordSettings, ARGON2_MAX_ITERATIONS, ARGON2_MAX_MEMORY_KIB, ARGON2_MAX_PARALLELISM,
};
pub use server::{LogFormat, ServerSettings};
pub use sessions::SessionSettings;
pub use stores::StoreSettings;
pub use throttle::ThrottleSettings;

pub use env::Bound;
use env::Env;

#[derive(Clone, Debug)]
pub struct Settings {
    pub server: ServerSettings,
    pub stores: StoreSettings,
    pub http: HttpSettings,
    pub sessions: SessionSettings,
    pub limits: Limits,
    pub passwords: PasswordSettings,
    pub throttle: ThrottleSettings,
    pub mail: MailSettings,
    pub mfa: MfaSettings,
}

#[derive(Debug, thiserror::Error)]
#[error("configuration error: {0}")]
pub struct ConfigError(String);

impl Settings {
    /// Reads `.env` (when present) and then the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        let _ = dotenvy::dotenv();
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// The whole parsing, over any source of variables: tests use a map.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let settings = Self::read(&Env::new(&get))?;
        if settings.http.uses_development_key() {
            eprintln!(
                "WARNING: SECRET_KEY is not set; using the built-in development key. \
                 Anyone can forge session cookies. Set SECRET_KEY before exposing this service."
            );
        }
        Ok(settings)
    }

    /// Every numeric setting and its range, as the defaults read them: what
    /// README's table must show and a test tries one past each bound.
    pub fn numeric_settings() -> Vec<Bound> {
        let get = |_: &str| None;
        let env = Env::new(&get);
        let _ = Self::read(&env);
        env.bounds.into_inner()
    }

    fn read(env: &Env) -> Result<Self, ConfigError> {
        let (server, loopback) = ServerSettings::read(env)?;
        let stores = StoreSettings::read(env)?;
        env.loopback.set(loopback);
        env.embedded_database.set(!stores.is_postgres());
        let settings = Settings {
            http: HttpSettings::read(env)?,
            stores,
            sessions: SessionSettings::read(env)?,
            limits: Limits::read(env)?,
            passwords: PasswordSettings::read(env)?,
            throttle: ThrottleSettings::read(env)?,
            mail: MailSettings::read(env)?,
            mfa: MfaSettings::read(env)?,
            server,
        };
        Ok(settings)
    }

    pub fn is_postgres(&self) -> bool {
        self.stores.is_postgres()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_are_the_embedded_development_setup() {
        let s = from(&[]).unwrap();
        assert_eq!(s.server.bind_address, "127.0.0.1:8000");
        assert!(!s.is_postgres());
        assert!(s.stores.redis_url.is_none());
        assert!(!s.http.cookie_secure);
        assert_eq!(s.throttle.login_failures_per_account, 5);
        assert_eq!(s.limits.max_json_body_bytes, 1 << 20);
    }

    #[test]
    fn secret_key_is_required_off_loopback() {
        let err = from(&[("BIND_ADDRESS", "0.0.0.0:8000")]).unwrap_err();
        assert!(err.to_string().contains("SECRET_KEY is required"), "{err}");
        let ok = from(&[
            ("BIND_ADDRESS", "0.0.0.0:8000"),
            ("SECRET_KEY", &"k".repeat(64)),
        ])
        .unwrap();
        assert!(
            ok.http.cookie_secure,
            "Secure cookies by default off loopback"
        );
        assert_eq!(ok.server.log_format, LogFormat::Json);
    }

    #[test]
    fn the_development_key_is_only_for_the_embedded_database_on_loopback() {
        let postgres = [("DATABASE_URL", "postgres://127.0.0.1:5432/accounts")];
        let err = from(&postgres).unwrap_err().to_string();
        assert!(
            err.contains("SECRET_KEY is required with PostgreSQL"),
            "{err}"
        );
        assert!(!err.contains('\n'), "one line: {err}");
        let key = "k".repeat(64);
        assert!(from(&[postgres[0], ("SECRET_KEY", &key)]).is_ok());
        assert!(from(&[]).unwrap().http.uses_development_key());
    }

    #[test]
    fn bad_values_name_the_variable() {
        for (name, value, says) in [
            (
                "LOGIN_FAILURES_PER_ACCOUNT",
                "many",
                "LOGIN_FAILURES_PER_ACCOUNT",
            ),
            (
                "ARGON2_MEMORY_KIB",
                "1024",
                "ARGON2_MEMORY_KIB must be from 19456",
            ),
            ("DATABASE_URL", "mysql://x", "DATABASE_URL"),
            (
                "CORS_ALLOWED_ORIGINS",
                "https://ok.example.com, ftp://x",
                "CORS_ALLOWED_ORIGINS",
            ),
            ("CORS_ALLOWED_ORIGINS", "*", "CORS_ALLOWED_ORIGINS"),
            ("WORKERS", "0", "WORKERS"),
            ("WORKERS", "100000", "WORKERS"),
            (
                "SESSION_IDLE_TIMEOUT_SECS",
                "99999999999",
                "SESSION_IDLE_TIMEOUT_SECS",
            ),
            (
                "MAX_PICTURE_BYTES",
                "18446744073709551616",
                "MAX_PICTURE_BYTES must be",
            ),
            (
                "LOGIN_IN_FLIGHT_WAIT_SECS",
                "120",
                "LOGIN_IN_FLIGHT_WAIT_SECS",
            ),
            ("REGISTRATIONS_PER_IP", "0", "REGISTRATIONS_PER_IP"),
            ("DATABASE_POOL_SIZE", "0", "DATABASE_POOL_SIZE"),
            (
                "PASSWORD_HASH_CONCURRENCY",
                "0",
                "PASSWORD_HASH_CONCURRENCY",
            ),
            (
                "SESSION_IDLE_TIMEOUT_SECS",
                "0",
                "SESSION_IDLE_TIMEOUT_SECS",
            ),
            ("MAX_PICTURE_PIXELS", "0", "MAX_PICTURE_PIXELS"),
            (
                "MAX_PICTURE_METADATA_BYTES",
                "100",
                "MAX_PICTURE_METADATA_BYTES",
            ),
            (
                "PICTURE_UPLOAD_BUFFER_BYTES",
                "1048576",
                "PICTURE_UPLOAD_BUFFER_BYTES",
            ),
            (
                "PICTURE_UPLOAD_BUFFER_BYTES",
                "99999999999999",
                "PICTURE_UPLOAD_BUFFER_BYTES",
            ),
            ("COOKIE_SAMESITE", "none", "COOKIE_SECURE"),
            ("EMAIL_URL", "http://mail", "EMAIL_URL"),
            ("EMAIL_FROM", "not a mailbox", "EMAIL_FROM"),
            ("PASSWORD_RESET_URL", "https://x/reset", "{token}"),
            ("PASSWORD_RESETS_PER_IP", "0", "PASSWORD_RESETS_PER_IP"),
            (
                "REQUIRE_EMAIL_VERIFICATION",
                "maybe",
                "REQUIRE_EMAIL_VERIFICATION",
            ),
        ] {
            let err = from(&[(name, value)]).unwrap_err();
            assert!(err.to_string().contains(says), "{name}={value}: {err}");
        }
        let ok = from(&[(
            "CORS_ALLOWED_ORIGINS",
            "https://app.example.com/, http://localhost:5173",
        )])
        .unwrap();
        assert_eq!(
            ok.http.cors_allowed_origins,
            ["https://app.example.com", "http://localhost:5173"]
        );
    }
}
