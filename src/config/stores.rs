//! Where data lives: the database, Redis (optional) and the media
//! directory.

use std::path::PathBuf;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use super::env::{Env, DAY};
use super::ConfigError;

#[derive(Clone, Debug)]
pub struct StoreSettings {
    pub database_url: SecretString,
    pub database_pool_size: u32,
    pub database_connect_timeout: Duration,

    /// Unset: sessions and login counters live in the database.
    pub redis_url: Option<SecretString>,
    /// Prepended to every Redis key, so instances of other services (or
    /// parallel test runs) can share one Redis.
    pub redis_key_prefix: String,

    pub media_root: PathBuf,
    /// How often picture files no profile points at are looked for and
    /// removed (a crash between a deletion's commit and the file's removal).
    pub media_sweep_interval: Duration,
    /// Files younger than this are left alone by the sweep (an upload
    /// about to be swapped into its profile).
    pub media_sweep_grace: Duration,

    /// How often expired rows (sessions, counters, tokens, sent mail) are
    /// deleted; the first purge runs one interval after start-up.
    pub purge_interval: Duration,
    /// Rows the purge deletes per statement (each kind in turn).
    pub purge_batch_size: usize,
}

impl StoreSettings {
    pub(super) fn read(env: &Env) -> Result<Self, ConfigError> {
        let database_url = env
            .var("DATABASE_URL")
            .unwrap_or_else(|| "sqlite://./data/accounts.sqlite3".into());
        if !(database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://")
            || database_url.starts_with("sqlite://"))
        {
            return Err(ConfigError(
                "DATABASE_URL must start with postgres://, postgresql:// or sqlite://".into(),
            ));
        }
        let redis_url = env.var("REDIS_URL");
        if let Some(url) = &redis_url {
            // This build has no TLS client for Redis: rediss:// would fail at
            // connect time, so it is refused here.
            if !url.starts_with("redis://") {
                return Err(ConfigError(
                    "REDIS_URL must start with redis:// (TLS to Redis is not supported)".into(),
                ));
            }
        }
        let settings = StoreSettings {
            database_url: database_url.into(),
            database_pool_size: env.int("DATABASE_POOL_SIZE", 10, 1..=1000)?,
            database_connect_timeout: env.secs("DATABASE_CONNECT_TIMEOUT_SECS", 2, 1..=300)?,
            redis_url: redis_url.map(Into::into),
            redis_key_prefix: env
                .var("REDIS_KEY_PREFIX")
                .unwrap_or_else(|| "accounts:".into()),
            media_root: env
                .var("MEDIA_ROOT")
                .map_or_else(|| PathBuf::from("./data/media"), PathBuf::from),
            media_sweep_interval: env.secs("MEDIA_SWEEP_INTERVAL_SECS", 3600, 1..=30 * DAY)?,
            media_sweep_grace: env.secs("MEDIA_SWEEP_GRACE_SECS", 600, 0..=30 * DAY)?,
            purge_interval: env.secs("PURGE_INTERVAL_SECS", 300, 1..=DAY)?,
            // A batch's ids are bound one parameter each (SQLite allows 32766).
            purge_batch_size: env.int("PURGE_BATCH_SIZE", 1000, 1..=10_000)?,
        };
        Ok(settings)
    }

    pub fn is_postgres(&self) -> bool {
        !self.database_url.expose_secret().starts_with("sqlite://")
    }
}
