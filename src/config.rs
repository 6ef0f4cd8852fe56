//! Settings, read once from the environment (and an optional `.env`) into a
//! typed struct that is passed down; nothing else reads the environment.
//!
//! Every limit is a named setting with a safe default. A bad value fails at
//! start-up with one line naming the variable, never later.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

/// The key material for signing cookies must be at least this long.
const MIN_SECRET_KEY_LEN: usize = 32;
/// Used only on loopback, with a warning: sessions survive restarts in
/// development without anybody having to invent a secret.
const DEV_SECRET_KEY: &str = "insecure-development-key-do-not-use-in-production-0123456789";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SameSite {
    Lax,
    Strict,
    None,
}

#[derive(Clone, Debug)]
pub struct Settings {
    pub bind_address: String,
    pub workers: usize,
    pub shutdown_timeout: Duration,
    pub log_format: LogFormat,

    pub database_url: SecretString,
    pub database_pool_size: u32,
    pub database_connect_timeout: Duration,

    /// Unset: sessions and login counters live in the database.
    pub redis_url: Option<SecretString>,
    /// Prepended to every Redis key, so instances of other services (or
    /// parallel test runs) can share one Redis.
    pub redis_key_prefix: String,

    pub media_root: PathBuf,

    pub secret_key: SecretString,
    pub cookie_secure: bool,
    pub cookie_same_site: SameSite,
    pub cors_allowed_origins: Vec<String>,
    /// When set, `/metrics` requires `Authorization: Bearer <token>`.
    pub metrics_token: Option<SecretString>,

    /// A session ends after this long without a request.
    pub session_idle_timeout: Duration,
    /// A session ends this long after login, however active.
    pub session_absolute_timeout: Duration,
    /// `last_seen_at` (and the idle deadline) is written at most this often.
    pub session_touch_interval: Duration,
    /// With Redis: how long a session's user is served from its cached
    /// copy. Changes made through the API refresh it at once; changes made
    /// straight in the database are seen within this time.
    pub user_cache_ttl: Duration,
    /// With SQLite: how long a loaded session is reused in this process
    /// (every write through the service drops it at once). 0 turns it off.
    pub session_cache_ttl: Duration,

    pub max_json_body_bytes: usize,
    pub max_picture_bytes: usize,
    pub max_picture_pixels: u64,
    pub max_picture_dimension: u32,
    /// Stored pictures are scaled down to fit this many pixels a side.
    pub picture_stored_edge: u32,
    pub max_bio_chars: usize,

    pub login_failures_per_account: u32,
    pub login_failures_per_ip: u32,
    pub login_failure_window: Duration,
    /// Read the client address from `X-Forwarded-For` (only behind a proxy
    /// that sets it).
    pub trust_forwarded_for: bool,

    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    pub argon2_parallelism: u32,
    /// How many hashes may run at once; more wait their turn.
    pub password_hash_concurrency: usize,
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
        let var = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());

        let bind_address = var("BIND_ADDRESS").unwrap_or_else(|| "127.0.0.1:8000".into());
        let socket: SocketAddr = bind_address.parse().map_err(|_| {
            ConfigError(format!(
                "BIND_ADDRESS={bind_address:?} is not an address like 127.0.0.1:8000"
            ))
        })?;
        let loopback = socket.ip().is_loopback();

        let secret_key = match var("SECRET_KEY") {
            Some(key) if key.len() >= MIN_SECRET_KEY_LEN => key,
            Some(_) => {
                return Err(ConfigError(format!(
                    "SECRET_KEY must be at least {MIN_SECRET_KEY_LEN} characters"
                )))
            }
            None if loopback => DEV_SECRET_KEY.to_owned(),
            None => {
                return Err(ConfigError(
                    "SECRET_KEY is required when BIND_ADDRESS is not a loopback address".into(),
                ))
            }
        };

        let database_url =
            var("DATABASE_URL").unwrap_or_else(|| "sqlite://./data/accounts.sqlite3".into());
        if !(database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://")
            || database_url.starts_with("sqlite://"))
        {
            return Err(ConfigError(
                "DATABASE_URL must start with postgres://, postgresql:// or sqlite://".into(),
            ));
        }
        let redis_url = var("REDIS_URL");
        if let Some(url) = &redis_url {
            // This build has no TLS client for Redis: rediss:// would fail at
            // connect time, so it is refused here.
            if !url.starts_with("redis://") {
                return Err(ConfigError(
                    "REDIS_URL must start with redis:// (TLS to Redis is not supported)".into(),
                ));
            }
        }

        let settings = Settings {
            workers: parse(&var, "WORKERS", cores)?,
            shutdown_timeout: secs(&var, "SHUTDOWN_TIMEOUT_SECS", 30)?,
            log_format: match var("LOG_FORMAT").as_deref() {
                None => {
                    if loopback {
                        LogFormat::Pretty
                    } else {
                        LogFormat::Json
                    }
                }
                Some("json") => LogFormat::Json,
                Some("pretty") => LogFormat::Pretty,
                Some(other) => {
                    return Err(ConfigError(format!(
                        "LOG_FORMAT={other:?} must be json or pretty"
                    )))
                }
            },
            database_url: database_url.into(),
            database_pool_size: parse(&var, "DATABASE_POOL_SIZE", 10)?,
            database_connect_timeout: secs(&var, "DATABASE_CONNECT_TIMEOUT_SECS", 2)?,
            redis_url: redis_url.map(Into::into),
            redis_key_prefix: var("REDIS_KEY_PREFIX").unwrap_or_else(|| "accounts:".into()),
            media_root: var("MEDIA_ROOT")
                .map_or_else(|| PathBuf::from("./data/media"), PathBuf::from),
            secret_key: secret_key.into(),
            cookie_secure: parse(&var, "COOKIE_SECURE", !loopback)?,
            cookie_same_site: match var("COOKIE_SAMESITE")
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
            },
            cors_allowed_origins: var("CORS_ALLOWED_ORIGINS")
                .map(|v| {
                    v.split(',')
                        .map(|o| o.trim().trim_end_matches('/').to_owned())
                        .filter(|o| !o.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            metrics_token: var("METRICS_TOKEN").map(Into::into),
            session_idle_timeout: secs(&var, "SESSION_IDLE_TIMEOUT_SECS", 30 * 60)?,
            session_absolute_timeout: secs(&var, "SESSION_ABSOLUTE_TIMEOUT_SECS", 8 * 60 * 60)?,
            session_touch_interval: secs(&var, "SESSION_TOUCH_INTERVAL_SECS", 60)?,
            user_cache_ttl: secs(&var, "USER_CACHE_TTL_SECS", 60)?,
            session_cache_ttl: Duration::from_millis(parse(&var, "SESSION_CACHE_MILLIS", 1000)?),
            max_json_body_bytes: parse(&var, "MAX_JSON_BODY_BYTES", 1024 * 1024)?,
            max_picture_bytes: parse(&var, "MAX_PICTURE_BYTES", 5 * 1024 * 1024)?,
            max_picture_pixels: parse(&var, "MAX_PICTURE_PIXELS", 40_000_000)?,
            max_picture_dimension: parse(&var, "MAX_PICTURE_DIMENSION", 4096)?,
            picture_stored_edge: parse(&var, "PICTURE_STORED_EDGE", 1024)?,
            max_bio_chars: parse(&var, "MAX_BIO_CHARS", 2000)?,
            login_failures_per_account: parse(&var, "LOGIN_FAILURES_PER_ACCOUNT", 5)?,
            login_failures_per_ip: parse(&var, "LOGIN_FAILURES_PER_IP", 100)?,
            login_failure_window: secs(&var, "LOGIN_FAILURE_WINDOW_SECS", 900)?,
            trust_forwarded_for: parse(&var, "TRUST_X_FORWARDED_FOR", false)?,
            argon2_memory_kib: parse(&var, "ARGON2_MEMORY_KIB", 19_456)?,
            argon2_iterations: parse(&var, "ARGON2_ITERATIONS", 2)?,
            argon2_parallelism: parse(&var, "ARGON2_PARALLELISM", 1)?,
            password_hash_concurrency: parse(&var, "PASSWORD_HASH_CONCURRENCY", cores)?,
            bind_address,
        };
        settings.check()?;
        if settings.secret_key.expose_secret() == DEV_SECRET_KEY {
            eprintln!(
                "WARNING: SECRET_KEY is not set; using the built-in development key. \
                 Anyone can forge session cookies. Set SECRET_KEY before exposing this service."
            );
        }
        Ok(settings)
    }

    fn check(&self) -> Result<(), ConfigError> {
        let fail = |msg: &str| Err(ConfigError(msg.to_owned()));
        if self.argon2_memory_kib < 19_456
            || self.argon2_iterations < 2
            || self.argon2_parallelism < 1
        {
            return fail("Argon2 parameters must be at least OWASP's: ARGON2_MEMORY_KIB>=19456, ARGON2_ITERATIONS>=2, ARGON2_PARALLELISM>=1");
        }
        if self.workers == 0 || self.password_hash_concurrency == 0 || self.database_pool_size == 0
        {
            return fail(
                "WORKERS, PASSWORD_HASH_CONCURRENCY and DATABASE_POOL_SIZE must be at least 1",
            );
        }
        if self.session_idle_timeout.is_zero() || self.session_absolute_timeout.is_zero() {
            return fail(
                "SESSION_IDLE_TIMEOUT_SECS and SESSION_ABSOLUTE_TIMEOUT_SECS must be positive",
            );
        }
        if self.login_failure_window.is_zero()
            || self.login_failures_per_account == 0
            || self.login_failures_per_ip == 0
        {
            return fail("LOGIN_FAILURE_WINDOW_SECS, LOGIN_FAILURES_PER_ACCOUNT and LOGIN_FAILURES_PER_IP must be positive");
        }
        if self.max_json_body_bytes == 0 || self.max_picture_bytes == 0 {
            return fail("MAX_JSON_BODY_BYTES and MAX_PICTURE_BYTES must be positive");
        }
        if self.max_picture_pixels == 0
            || self.max_picture_dimension == 0
            || self.picture_stored_edge == 0
        {
            return fail("MAX_PICTURE_PIXELS, MAX_PICTURE_DIMENSION and PICTURE_STORED_EDGE must be positive");
        }
        if self.cookie_same_site == SameSite::None && !self.cookie_secure {
            return fail("COOKIE_SAMESITE=none needs COOKIE_SECURE=true (browsers drop such cookies otherwise)");
        }
        if self.cors_allowed_origins.iter().any(|o| o == "*") {
            return fail(
                "CORS_ALLOWED_ORIGINS cannot be * (credentials are allowed); list the origins",
            );
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

    pub fn is_postgres(&self) -> bool {
        !self.database_url.expose_secret().starts_with("sqlite://")
    }
}

fn parse<T: FromStr>(
    var: &impl Fn(&str) -> Option<String>,
    name: &str,
    default: T,
) -> Result<T, ConfigError> {
    match var(name) {
        None => Ok(default),
        Some(raw) => raw.trim().parse().map_err(|_| {
            ConfigError(format!(
                "{name}={raw:?} is not a valid {}",
                std::any::type_name::<T>()
            ))
        }),
    }
}

fn secs(
    var: &impl Fn(&str) -> Option<String>,
    name: &str,
    default: u64,
) -> Result<Duration, ConfigError> {
    parse(var, name, default).map(Duration::from_secs)
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
        assert_eq!(s.bind_address, "127.0.0.1:8000");
        assert!(!s.is_postgres());
        assert!(s.redis_url.is_none());
        assert!(!s.cookie_secure);
        assert_eq!(s.login_failures_per_account, 5);
        assert_eq!(s.max_json_body_bytes, 1 << 20);
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
        assert!(ok.cookie_secure, "Secure cookies by default off loopback");
    }

    #[test]
    fn bad_values_name_the_variable() {
        let err = from(&[("LOGIN_FAILURES_PER_ACCOUNT", "many")]).unwrap_err();
        assert!(
            err.to_string().contains("LOGIN_FAILURES_PER_ACCOUNT"),
            "{err}"
        );
        let err = from(&[("ARGON2_MEMORY_KIB", "1024")]).unwrap_err();
        assert!(err.to_string().contains("OWASP"), "{err}");
        let err = from(&[("DATABASE_URL", "mysql://x")]).unwrap_err();
        assert!(err.to_string().contains("DATABASE_URL"), "{err}");
        let err = from(&[("CORS_ALLOWED_ORIGINS", "https://ok.example.com, ftp://x")]).unwrap_err();
        assert!(err.to_string().contains("CORS_ALLOWED_ORIGINS"), "{err}");
        let err = from(&[("CORS_ALLOWED_ORIGINS", "*")]).unwrap_err();
        assert!(err.to_string().contains("CORS_ALLOWED_ORIGINS"), "{err}");
        let ok = from(&[(
            "CORS_ALLOWED_ORIGINS",
            "https://app.example.com/, http://localhost:5173",
        )])
        .unwrap();
        assert_eq!(
            ok.cors_allowed_origins,
            ["https://app.example.com", "http://localhost:5173"]
        );
        let err = from(&[("DATABASE_URL", "mysql://x")]).unwrap_err();
        assert!(err.to_string().contains("DATABASE_URL"), "{err}");
    }
}
