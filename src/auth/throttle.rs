//! Login throttling, as the contract says: after `LOGIN_FAILURES_PER_ACCOUNT`
//! failures for one email within `LOGIN_FAILURE_WINDOW_SECS`, every further
//! attempt for that email gets 429 until the window ends; a per-address
//! limit stops spraying across accounts. Fixed windows from the first
//! failure, never a permanent lock. Counters live in Redis when configured
//! (every instance sees them), in the database otherwise.
//!
//! Every attempt is counted *before* the password is checked, atomically,
//! and taken back when it succeeds. Checking first and counting after the
//! (slow) hash would let a burst of parallel guesses all pass the check.

use std::time::Duration;

use chrono::Utc;
use redis::aio::ConnectionManager;

use super::tokens::counter_key;
use crate::config::Settings;
use crate::db::{login_failures as rows, Db};
use crate::error::ApiError;

#[derive(Clone, Copy)]
struct Limits {
    per_account: u32,
    per_ip: u32,
    window: Duration,
}

#[derive(Clone)]
enum Counters {
    Redis {
        conn: ConnectionManager,
        prefix: String,
    },
    Database(Db),
}

#[derive(Clone)]
pub struct LoginThrottle {
    counters: Counters,
    limits: Limits,
}

/// An attempt already counted as a failure; `LoginThrottle::succeeded`
/// takes it back.
#[must_use = "an attempt stays counted as a failure unless it is settled"]
pub struct Attempt {
    account: String,
    address: String,
}

/// Takes one back from a counter, never below zero and never creating one.
static DECREMENT: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
    redis::Script::new(
        r"
        local n = tonumber(redis.call('GET', KEYS[1]) or '0')
        if n > 0 then return redis.call('DECR', KEYS[1]) end
        return 0
        ",
    )
});

fn unavailable(e: redis::RedisError) -> ApiError {
    ApiError::Unavailable(format!("redis: {e}"))
}

/// Whole seconds left, rounded up: a client that waits `Retry-After` is
/// never early.
fn ceil_secs(millis: i64) -> u64 {
    u64::try_from(millis.max(0)).unwrap_or(0).div_ceil(1000)
}

impl LoginThrottle {
    pub fn redis(conn: ConnectionManager, settings: &Settings) -> Self {
        Self::with(
            Counters::Redis {
                conn,
                prefix: settings.redis_key_prefix.clone(),
            },
            settings,
        )
    }

    pub fn database(db: Db, settings: &Settings) -> Self {
        Self::with(Counters::Database(db), settings)
    }

    fn with(counters: Counters, settings: &Settings) -> Self {
        LoginThrottle {
            counters,
            limits: Limits {
                per_account: settings.login_failures_per_account,
                per_ip: settings.login_failures_per_ip,
                window: settings.login_failure_window,
            },
        }
    }

    fn redis_key(prefix: &str, key: &str) -> String {
        format!("{prefix}login_failures:{key}")
    }

    /// Counts an attempt for the email and the address; `Err(TooManyAttempts)`
    /// when either is then over its limit.
    pub async fn begin(&self, email_canonical: &str, ip: &str) -> Result<Attempt, ApiError> {
        let attempt = Attempt {
            account: counter_key("email", email_canonical),
            address: counter_key("ip", ip),
        };
        let counts = self
            .increment([attempt.account.clone(), attempt.address.clone()])
            .await?;
        let limits = [self.limits.per_account, self.limits.per_ip];
        let retry_after = counts
            .iter()
            .zip(limits)
            .filter(|((failures, _), limit)| *failures > u64::from(*limit))
            .map(|((_, secs_left), _)| *secs_left)
            .max();
        match retry_after {
            Some(secs) => Err(ApiError::TooManyAttempts {
                retry_after_secs: secs.max(1),
            }),
            None => Ok(attempt),
        }
    }

    /// The attempt succeeded: the email's failures are forgotten and the
    /// address's count is taken back.
    pub async fn succeeded(&self, attempt: Attempt) -> Result<(), ApiError> {
        match &self.counters {
            Counters::Redis { conn, prefix } => {
                let mut conn = conn.clone();
                let _: () = redis::cmd("DEL")
                    .arg(Self::redis_key(prefix, &attempt.account))
                    .query_async(&mut conn)
                    .await
                    .map_err(unavailable)?;
                let _: i64 = DECREMENT
                    .key(Self::redis_key(prefix, &attempt.address))
                    .invoke_async(&mut conn)
                    .await
                    .map_err(unavailable)?;
                Ok(())
            }
            Counters::Database(db) => {
                db.run(move |conn| {
                    rows::clear(conn, &attempt.account)?;
                    rows::take_back(conn, &attempt.address)
                })
                .await
            }
        }
    }

    /// Adds one to each counter (opening its window if none is open) and
    /// returns `(count, seconds until the window ends)` for each.
    async fn increment(&self, keys: [String; 2]) -> Result<Vec<(u64, u64)>, ApiError> {
        let window = self.limits.window;
        match &self.counters {
            Counters::Redis { conn, prefix } => {
                let mut pipe = redis::pipe();
                pipe.atomic();
                for key in &keys {
                    let key = Self::redis_key(prefix, key);
                    // Opens the window at the first attempt; INCR keeps the TTL.
                    pipe.cmd("SET")
                        .arg(&key)
                        .arg(0)
                        .arg("EX")
                        .arg(window.as_secs().max(1))
                        .arg("NX")
                        .ignore();
                    pipe.incr(&key, 1).pttl(&key);
                }
                let flat: Vec<i64> = pipe
                    .query_async(&mut conn.clone())
                    .await
                    .map_err(unavailable)?;
                Ok(flat
                    .chunks(2)
                    .map(|pair| {
                        (
                            u64::try_from(pair[0]).unwrap_or(0),
                            ceil_secs(pair.get(1).copied().unwrap_or(0)),
                        )
                    })
                    .collect())
            }
            Counters::Database(db) => {
                db.run(move |conn| {
                    let now = Utc::now().naive_utc();
                    let ends =
                        now + chrono::Duration::from_std(window).unwrap_or(chrono::Duration::MAX);
                    keys.iter()
                        .map(|key| {
                            let (failures, window_ends_at) = rows::record(conn, key, now, ends)?;
                            Ok((
                                u64::try_from(failures).unwrap_or(0),
                                ceil_secs((window_ends_at - now).num_milliseconds()),
                            ))
                        })
                        .collect()
                })
                .await
            }
        }
    }

    /// Deletes expired database counters; run periodically by the server.
    pub async fn purge_expired(&self) -> Result<usize, ApiError> {
        match &self.counters {
            Counters::Redis { .. } => Ok(0),
            Counters::Database(db) => {
                db.run(|conn| rows::delete_expired(conn, Utc::now().naive_utc()))
                    .await
            }
        }
    }
}
