//! Session lifetimes and the caches in front of the session store.

use std::time::Duration;

use super::env::{Env, DAY, TEN_YEARS};
use super::ConfigError;

#[derive(Clone, Debug)]
pub struct SessionSettings {
    /// A browser session ends after this long without a request.
    pub idle_timeout: Duration,
    /// A browser session ends this long after login, however active.
    pub absolute_timeout: Duration,
    /// A browser session logged in with `"remember": true` lasts this long,
    /// idle or not, in a persistent cookie.
    pub remember_me_timeout: Duration,
    /// An app session ends after this long without a request...
    pub app_idle_timeout: Duration,
    /// ...and this long after login in all (its `expires_at`).
    pub app_absolute_timeout: Duration,
    /// `last_seen_at` (and the idle deadline) is written at most this often.
    pub touch_interval: Duration,
    /// With Redis: how long a session's user is served from its cached
    /// copy. Changes made through the API refresh it at once; changes made
    /// straight in the database are seen within this time.
    pub user_cache_ttl: Duration,
    /// With SQLite: how long a loaded session is reused in this process
    /// (every write through the service drops it at once). 0 turns it off.
    pub load_cache_ttl: Duration,
    /// Live sessions a user may have at once; a login beyond it ends the
    /// user's oldest session.
    pub max_per_user: usize,
    /// `GET /accounts/sessions` lists at most this many (the newest).
    pub list_limit: usize,
    /// A session may change how its user logs in (email, password, second
    /// factor, deletion) this long after a login or re-authentication.
    pub reauthentication_window: Duration,
}

impl SessionSettings {
    pub(super) fn read(env: &Env) -> Result<Self, ConfigError> {
        let settings = SessionSettings {
            idle_timeout: env.secs("SESSION_IDLE_TIMEOUT_SECS", 30 * 60, 1..=TEN_YEARS)?,
            absolute_timeout: env.secs(
                "SESSION_ABSOLUTE_TIMEOUT_SECS",
                8 * 60 * 60,
                1..=TEN_YEARS,
            )?,
            remember_me_timeout: env.secs("REMEMBER_ME_TIMEOUT_SECS", 14 * DAY, 1..=TEN_YEARS)?,
            app_idle_timeout: env.secs("APP_SESSION_IDLE_TIMEOUT_SECS", 30 * DAY, 1..=TEN_YEARS)?,
            app_absolute_timeout: env.secs(
                "APP_SESSION_ABSOLUTE_TIMEOUT_SECS",
                90 * DAY,
                1..=TEN_YEARS,
            )?,
            touch_interval: env.secs("SESSION_TOUCH_INTERVAL_SECS", 60, 0..=DAY)?,
            user_cache_ttl: env.secs("USER_CACHE_TTL_SECS", 60, 0..=DAY)?,
            load_cache_ttl: Duration::from_millis(env.int(
                "SESSION_CACHE_MILLIS",
                1000,
                0..=60_000,
            )?),
            // A cap of 0 would end each session as it starts.
            max_per_user: env.int("MAX_SESSIONS_PER_USER", 1000, 1..=100_000)?,
            list_limit: env.int("SESSION_LIST_LIMIT", 100, 1..=10_000)?,
            reauthentication_window: env.secs("REAUTHENTICATION_WINDOW_SECS", 300, 0..=DAY)?,
        };
        Ok(settings)
    }
}
