//! Attempts per client address in a fixed window, for the unauthenticated
//! requests that cost us work or mail: registrations (`REGISTRATIONS_PER_IP`
//! per `REGISTRATION_WINDOW_SECS`, so one client can neither create accounts
//! without end nor probe which emails exist through 409) and password-reset
//! requests (`PASSWORD_RESETS_PER_IP` per `PASSWORD_RESET_WINDOW_SECS`).
//! Counters live in Redis when configured (every instance sees them), in
//! the database otherwise.

use std::time::Duration;

use chrono::Utc;

use super::throttle::ceil_secs;
use super::tokens::counter_key;
use crate::config::Settings;
use crate::db::{login_failures as rows, Db};
use crate::error::ApiError;
use crate::redis_pool::RedisPool;

#[derive(Clone)]
enum Counters {
    Redis { redis: RedisPool, prefix: String },
    Database(Db),
}

#[derive(Clone)]
pub struct AddressLimit {
    counters: Counters,
    /// Keeps each limit's counters apart.
    scope: &'static str,
    per_ip: u32,
    window: Duration,
}

/// Which limit: each has its own counters and settings.
#[derive(Clone, Copy)]
pub enum Limited {
    Registration,
    PasswordReset,
}

/// Counts one attempt, opening the window with the first. KEYS[1]: the
/// address's counter. ARGV: the limit, the window (ms). Returns -1 to go
/// ahead, or the milliseconds left in a window over its limit.
static COUNT: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
    redis::Script::new(
        r"
        local n = redis.call('INCR', KEYS[1])
        if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
        if n > tonumber(ARGV[1]) then return math.max(redis.call('PTTL', KEYS[1]), 0) end
        return -1
        ",
    )
});

impl AddressLimit {
    pub fn redis(redis: RedisPool, settings: &Settings, which: Limited) -> Self {
        let prefix = settings.stores.redis_key_prefix.clone();
        Self::with(Counters::Redis { redis, prefix }, settings, which)
    }

    pub fn database(db: Db, settings: &Settings, which: Limited) -> Self {
        Self::with(Counters::Database(db), settings, which)
    }

    fn with(counters: Counters, settings: &Settings, which: Limited) -> Self {
        let t = &settings.throttle;
        let (scope, per_ip, window) = match which {
            Limited::Registration => ("register-ip", t.registrations_per_ip, t.registration_window),
            Limited::PasswordReset => (
                "reset-ip",
                t.password_resets_per_ip,
                t.password_reset_window,
            ),
        };
        AddressLimit {
            counters,
            scope,
            per_ip,
            window,
        }
    }

    /// Counts an attempt from `ip`; `TooManyAttempts` (with the seconds
    /// until the window ends) once the address is over its limit.
    pub async fn count(&self, ip: &str) -> Result<(), ApiError> {
        let key = counter_key(self.scope, ip);
        let limit = self.per_ip;
        let window = self.window;
        let left_ms: i64 = match &self.counters {
            Counters::Redis { redis, prefix } => {
                COUNT
                    .key(format!("{prefix}limits:{key}"))
                    .arg(limit)
                    .arg(u64::try_from(window.as_millis()).unwrap_or(u64::MAX))
                    .invoke_async(&mut redis.get().await?)
                    .await?
            }
            Counters::Database(db) => {
                db.run(move |conn| {
                    let now = Utc::now().naive_utc();
                    let ends = now + chrono::Duration::from_std(window).unwrap_or_default();
                    let (count, ends) = rows::record(conn, &key, now, ends)?;
                    let over = i64::from(count) > i64::from(limit);
                    Ok(if over {
                        (ends - now).num_milliseconds()
                    } else {
                        -1
                    })
                })
                .await?
            }
        };
        if left_ms < 0 {
            return Ok(());
        }
        Err(ApiError::TooManyAttempts {
            retry_after_secs: ceil_secs(left_ms).max(1),
        })
    }
}
