//! Login throttling, as the contract says: after `LOGIN_FAILURES_PER_ACCOUNT`
//! failures for one email within `LOGIN_FAILURE_WINDOW_SECS`, every further
//! attempt for that email gets 429 until the window ends; a per-address
//! limit stops spraying across accounts. Fixed windows from the first
//! failure, never a permanent lock. Counters live in Redis when configured
//! (every instance sees them), in the database otherwise.

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

fn unavailable(e: redis::RedisError) -> ApiError {
    ApiError::Unavailable(format!("redis: {e}"))
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

    fn keys(email_canonical: &str, ip: &str) -> [String; 2] {
        [counter_key("email", email_canonical), counter_key("ip", ip)]
    }

    /// `Err(TooManyAttempts)` while the email or the address is over its
    /// limit; otherwise whether the email has failures counted (so that a
    /// successful login clears them only when there is something to clear).
    pub async fn check(&self, email_canonical: &str, ip: &str) -> Result<bool, ApiError> {
        let [account, address] = Self::keys(email_canonical, ip);
        let counts = self.read(&[account, address]).await?;
        let limits = [self.limits.per_account, self.limits.per_ip];
        let retry_after = counts
            .iter()
            .zip(limits)
            .filter(|((failures, _), limit)| *failures >= u64::from(*limit))
            .map(|((_, secs_left), _)| *secs_left)
            .max();
        match retry_after {
            Some(secs) => Err(ApiError::TooManyAttempts {
                retry_after_secs: secs.max(1),
            }),
            None => Ok(counts.first().is_some_and(|(failures, _)| *failures > 0)),
        }
    }

    pub async fn record_failure(&self, email_canonical: &str, ip: &str) -> Result<(), ApiError> {
        let keys = Self::keys(email_canonical, ip);
        let window = self.limits.window;
        match &self.counters {
            Counters::Redis { conn, prefix } => {
                let mut pipe = redis::pipe();
                pipe.atomic();
                for key in &keys {
                    let key = format!("{prefix}login_failures:{key}");
                    // Opens the window at the first failure; INCR keeps the TTL.
                    pipe.cmd("SET")
                        .arg(&key)
                        .arg(0)
                        .arg("EX")
                        .arg(window.as_secs().max(1))
                        .arg("NX")
                        .ignore();
                    pipe.incr(&key, 1).ignore();
                }
                pipe.query_async::<()>(&mut conn.clone())
                    .await
                    .map_err(unavailable)
            }
            Counters::Database(db) => {
                db.run(move |conn| {
                    let now = Utc::now();
                    let ends = (now
                        + chrono::Duration::from_std(window).unwrap_or(chrono::Duration::MAX))
                    .naive_utc();
                    for key in &keys {
                        rows::record(conn, key, now.naive_utc(), ends)?;
                    }
                    Ok(())
                })
                .await
            }
        }
    }

    /// A successful login clears the account's count (not the address's).
    pub async fn record_success(&self, email_canonical: &str) -> Result<(), ApiError> {
        let key = counter_key("email", email_canonical);
        match &self.counters {
            Counters::Redis { conn, prefix } => redis::cmd("DEL")
                .arg(format!("{prefix}login_failures:{key}"))
                .query_async::<()>(&mut conn.clone())
                .await
                .map_err(unavailable),
            Counters::Database(db) => db.run(move |conn| rows::clear(conn, &key)).await,
        }
    }

    /// `(failures, seconds until the window ends)` for each key.
    async fn read(&self, keys: &[String; 2]) -> Result<Vec<(u64, u64)>, ApiError> {
        match &self.counters {
            Counters::Redis { conn, prefix } => {
                let mut pipe = redis::pipe();
                for key in keys {
                    let key = format!("{prefix}login_failures:{key}");
                    pipe.get(&key).pttl(&key);
                }
                let raw: Vec<(Option<u64>, i64)> = {
                    let flat: Vec<redis::Value> = pipe
                        .query_async(&mut conn.clone())
                        .await
                        .map_err(unavailable)?;
                    flat.chunks(2)
                        .map(|pair| {
                            let count = redis::from_redis_value::<Option<u64>>(&pair[0])
                                .ok()
                                .flatten();
                            let ttl_ms = redis::from_redis_value::<i64>(&pair[1]).unwrap_or(-2);
                            (count, ttl_ms)
                        })
                        .collect()
                };
                Ok(raw
                    .into_iter()
                    .map(|(count, ttl_ms)| (count.unwrap_or(0), ceil_secs(ttl_ms)))
                    .collect())
            }
            Counters::Database(db) => {
                let keys = keys.clone();
                db.run(move |conn| {
                    let now = Utc::now().naive_utc();
                    keys.iter()
                        .map(|key| {
                            Ok(
                                rows::current(conn, key, now)?.map_or(
                                    (0, 0),
                                    |(failures, ends)| {
                                        (
                                            u64::try_from(failures).unwrap_or(0),
                                            ceil_secs((ends - now).num_milliseconds()),
                                        )
                                    },
                                ),
                            )
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

/// Whole seconds left, rounded up: a client that waits `Retry-After` is
/// never early.
fn ceil_secs(millis: i64) -> u64 {
    u64::try_from(millis.max(0)).unwrap_or(0).div_ceil(1000)
}
