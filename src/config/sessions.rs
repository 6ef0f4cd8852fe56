//! Session lifetimes and the caches in front of the session store.

use std::time::Duration;

use super::env::Env;
use super::ConfigError;

#[derive(Clone, Debug)]
pub struct SessionSettings {
    /// A session ends after this long without a request.
    pub idle_timeout: Duration,
    /// A session ends this long after login, however active.
    pub absolute_timeout: Duration,
    /// `last_seen_at` (and the idle deadline) is written at most this often.
    pub touch_interval: Duration,
    /// With Redis: how long a session's user is served from its cached
    /// copy. Changes made through the API refresh it at once; changes made
    /// straight in the database are seen within this time.
    pub user_cache_ttl: Duration,
    /// With SQLite: how long a loaded session is reused in this process
    /// (every write through the service drops it at once). 0 turns it off.
    pub load_cache_ttl: Duration,
}

impl SessionSettings {
    pub(super) fn read(env: &Env) -> Result<Self, ConfigError> {
        let settings = SessionSettings {
            idle_timeout: env.secs("SESSION_IDLE_TIMEOUT_SECS", 30 * 60)?,
            absolute_timeout: env.secs("SESSION_ABSOLUTE_TIMEOUT_SECS", 8 * 60 * 60)?,
            touch_interval: env.secs("SESSION_TOUCH_INTERVAL_SECS", 60)?,
            user_cache_ttl: env.secs("USER_CACHE_TTL_SECS", 60)?,
            load_cache_ttl: Duration::from_millis(env.parse("SESSION_CACHE_MILLIS", 1000)?),
        };
        if settings.idle_timeout.is_zero() || settings.absolute_timeout.is_zero() {
            return Err(ConfigError(
                "SESSION_IDLE_TIMEOUT_SECS and SESSION_ABSOLUTE_TIMEOUT_SECS must be positive"
                    .into(),
            ));
        }
        Ok(settings)
    }
}
