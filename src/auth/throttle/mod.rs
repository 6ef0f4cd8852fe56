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
//! An attempt that would pass the limit only because others are in flight
//! waits for them to settle (up to `LOGIN_IN_FLIGHT_WAIT_SECS`) instead of
//! being refused: ten parallel logins with the right password all succeed,
//! while parallel wrong guesses are still held to the limit.

use std::time::{Duration, Instant};

use chrono::Utc;
use rand::Rng;

mod scripts;

use scripts::{BEGIN, RELEASE, SETTLE};

use super::tokens::counter_key;
use crate::config::Settings;
use crate::db::{login_failures as rows, Db};
use crate::error::ApiError;
use crate::redis_pool::RedisPool;

#[derive(Clone, Copy)]
struct Limits {
    per_account: u32,
    per_ip: u32,
    window: Duration,
    /// How long an attempt waits for those in flight before it is refused.
    in_flight_wait: Duration,
}

/// What `BEGIN` says of an attempt.
enum Verdict {
    Go,
    /// A window is at its limit: refused for this many seconds.
    Over(u64),
    /// Failures plus attempts in flight would pass a limit: wait and ask
    /// again.
    Crowded,
}

#[derive(Clone)]
enum Counters {
    Redis { redis: RedisPool, prefix: String },
    Database(Db),
}

#[derive(Clone)]
pub struct LoginThrottle {
    counters: Counters,
    limits: Limits,
}

/// An attempt in progress: counted as in flight until it is settled with
/// `failed` or `succeeded` (or, if the process dies, until the in-flight
/// count expires).
#[must_use = "an attempt stays in flight until it is settled"]
pub struct Attempt {
    account: String,
    address: String,
}

/// How long an in-flight mark lasts if its attempt is never settled.
const IN_FLIGHT_TTL: Duration = Duration::from_secs(60);

/// Whole seconds left, rounded up: a client that waits `Retry-After` is
/// never early.
pub(super) fn ceil_secs(millis: i64) -> u64 {
    u64::try_from(millis.max(0)).unwrap_or(0).div_ceil(1000)
}

fn in_flight_key(key: &str) -> String {
    format!("inflight:{key}")
}

impl LoginThrottle {
    pub fn redis(redis: RedisPool, settings: &Settings) -> Self {
        Self::with(
            Counters::Redis {
                redis,
                prefix: settings.stores.redis_key_prefix.clone(),
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
                per_account: settings.throttle.login_failures_per_account,
                per_ip: settings.throttle.login_failures_per_ip,
                window: settings.throttle.login_failure_window,
                in_flight_wait: settings.throttle.login_in_flight_wait,
            },
        }
    }

    fn redis_keys(prefix: &str, attempt: &Attempt) -> [String; 4] {
        let key = |k: &str| format!("{prefix}login_failures:{k}");
        [
            key(&attempt.account),
            key(&in_flight_key(&attempt.account)),
            key(&attempt.address),
            key(&in_flight_key(&attempt.address)),
        ]
    }

    /// Starts an attempt for the email from the address. While a window
    /// holds as many failures as its limit: `TooManyAttempts` until the
    /// window ends. While failures plus attempts already in progress would
    /// pass the limit (a burst of parallel attempts): waits for those to
    /// settle, then decides on the failures they left; refused (retry in a
    /// second) only if they are still in flight after `in_flight_wait`.
    pub async fn begin(&self, email_canonical: &str, ip: &str) -> Result<Attempt, ApiError> {
        let attempt = Attempt {
            account: counter_key("email", email_canonical),
            address: counter_key("ip", ip),
        };
        let deadline = Instant::now() + self.limits.in_flight_wait;
        let mut pause = Duration::from_millis(5);
        loop {
            match self.try_begin(&attempt).await? {
                Verdict::Go => return Ok(attempt),
                Verdict::Over(secs) => {
                    return Err(ApiError::TooManyAttempts {
                        retry_after_secs: secs.max(1),
                    })
                }
                Verdict::Crowded if Instant::now() >= deadline => {
                    return Err(ApiError::TooManyAttempts {
                        retry_after_secs: 1,
                    })
                }
                Verdict::Crowded => {
                    // A login settles within a hash or two; jitter keeps
                    // the waiters from asking in lockstep.
                    let jitter = Duration::from_millis(rand::rng().random_range(0..5));
                    tokio::time::sleep(pause + jitter).await;
                    pause = (pause * 2).min(Duration::from_millis(100));
                }
            }
        }
    }

    /// One atomic look at the counters, marking the attempt in flight when
    /// it may go ahead.
    async fn try_begin(&self, attempt: &Attempt) -> Result<Verdict, ApiError> {
        let limits = [self.limits.per_account, self.limits.per_ip];
        let verdict: (u8, u64) = match &self.counters {
            Counters::Redis { redis, prefix } => {
                let mut script = BEGIN.prepare_invoke();
                for key in Self::redis_keys(prefix, attempt) {
                    script.key(key);
                }
                script
                    .arg(limits[0])
                    .arg(limits[1])
                    .arg(IN_FLIGHT_TTL.as_millis().to_string());
                let reply: Vec<i64> = script.invoke_async(&mut redis.get().await?).await?;
                match reply.as_slice() {
                    [1, ms, ..] => (1, ceil_secs(*ms)),
                    [2, ..] => (2, 1),
                    _ => (0, 0),
                }
            }
            Counters::Database(db) => {
                let keys = [attempt.account.clone(), attempt.address.clone()];
                db.run(move |conn| {
                    let now = Utc::now().naive_utc();
                    for (n, key) in keys.iter().enumerate() {
                        if let Some((count, ends)) = rows::current(conn, key, now)? {
                            if count >= i32::try_from(limits[n]).unwrap_or(i32::MAX) {
                                return Ok((1, ceil_secs((ends - now).num_milliseconds())));
                            }
                        }
                    }
                    // Marked in flight first, the failures read after: a
                    // settle turns "in flight" into "failed" in one
                    // transaction, so between the two reads an attempt may
                    // be counted twice (it waits once more), never missed.
                    let in_flight_ends =
                        now + chrono::Duration::from_std(IN_FLIGHT_TTL).unwrap_or_default();
                    let mut over = false;
                    for (n, key) in keys.iter().enumerate() {
                        let (in_flight, _) =
                            rows::record(conn, &in_flight_key(key), now, in_flight_ends)?;
                        let failures = rows::current(conn, key, now)?.map_or(0, |(count, _)| count);
                        over |= i64::from(failures) + i64::from(in_flight) > i64::from(limits[n]);
                    }
                    if over {
                        for key in &keys {
                            rows::take_back(conn, &in_flight_key(key))?;
                        }
                        return Ok((2, 1));
                    }
                    Ok((0, 0))
                })
                .await?
            }
        };
        Ok(match verdict {
            (0, _) => Verdict::Go,
            (1, secs) => Verdict::Over(secs),
            _ => Verdict::Crowded,
        })
    }

    /// The password was wrong: one more failure for the email and the address.
    pub async fn failed(&self, attempt: Attempt) -> Result<(), ApiError> {
        self.settle(attempt, true).await
    }

    /// The password was right: the email's failures are forgotten (the
    /// address's stay: they were other people's guesses).
    pub async fn succeeded(&self, attempt: Attempt) -> Result<(), ApiError> {
        self.settle(attempt, false).await
    }

    /// The attempt could not be checked (a backing service failed): it is
    /// neither a failure nor a success, and is no longer in flight. Best
    /// effort: if the store is down too, the mark expires by itself.
    pub async fn abandon(&self, attempt: Attempt) {
        let result = match &self.counters {
            Counters::Redis { redis, prefix } => {
                let keys = Self::redis_keys(prefix, &attempt);
                let mut outcome = Ok(());
                let mut conn = match redis.get().await {
                    Ok(conn) => conn,
                    Err(e) => {
                        tracing::debug!(error = %e, "an abandoned login attempt stays marked until its mark expires");
                        return;
                    }
                };
                for key in [&keys[1], &keys[3]] {
                    if let Err(e) = RELEASE.key(key).invoke_async::<i64>(&mut conn).await {
                        outcome = Err(ApiError::from(e));
                    }
                }
                outcome
            }
            Counters::Database(db) => {
                db.run(move |conn| {
                    for key in [&attempt.account, &attempt.address] {
                        rows::take_back(conn, &in_flight_key(key))?;
                    }
                    Ok(())
                })
                .await
            }
        };
        if let Err(e) = result {
            tracing::debug!(error = %e, "an abandoned login attempt stays marked until its mark expires");
        }
    }

    async fn settle(&self, attempt: Attempt, failure: bool) -> Result<(), ApiError> {
        let window = self.limits.window;
        match &self.counters {
            Counters::Redis { redis, prefix } => {
                let mut script = SETTLE.prepare_invoke();
                for key in Self::redis_keys(prefix, &attempt) {
                    script.key(key);
                }
                script
                    .arg(if failure { "1" } else { "0" })
                    .arg(window.as_secs().max(1));
                let _: i64 = script.invoke_async(&mut redis.get().await?).await?;
                Ok(())
            }
            Counters::Database(db) => {
                // One transaction: no attempt that begins meanwhile sees
                // this one neither in flight nor failed.
                db.run(move |conn| {
                    crate::db::write_transaction(conn, |conn| {
                        let now = Utc::now().naive_utc();
                        let ends = now
                            + chrono::Duration::from_std(window).unwrap_or(chrono::Duration::MAX);
                        for key in [&attempt.account, &attempt.address] {
                            rows::take_back(conn, &in_flight_key(key))?;
                        }
                        if failure {
                            for key in [&attempt.account, &attempt.address] {
                                rows::record(conn, key, now, ends)?;
                            }
                        } else {
                            rows::clear(conn, &attempt.account)?;
                        }
                        Ok(())
                    })
                })
                .await
            }
        }
    }

    /// Forgets the account's failures (a password reset: its owner proved
    /// control of the address, so a lockout must not keep them out). The
    /// addresses' counts stay.
    pub async fn clear_account(&self, email_canonical: &str) -> Result<(), ApiError> {
        let account = counter_key("email", email_canonical);
        match &self.counters {
            Counters::Redis { redis, prefix } => {
                let _: i64 = redis::cmd("DEL")
                    .arg(format!("{prefix}login_failures:{account}"))
                    .query_async(&mut redis.get().await?)
                    .await?;
                Ok(())
            }
            Counters::Database(db) => db.run(move |conn| rows::clear(conn, &account)).await,
        }
    }

    /// Deletes expired database counters; run periodically by the server.
    pub async fn purge_expired(&self, batch_size: usize) -> Result<usize, ApiError> {
        match &self.counters {
            Counters::Redis { .. } => Ok(0),
            Counters::Database(db) => {
                let now = Utc::now().naive_utc();
                db.delete_in_batches(batch_size, move |conn, limit| {
                    rows::delete_expired(conn, now, limit)
                })
                .await
            }
        }
    }
}
