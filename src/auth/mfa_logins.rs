//! Logins waiting for their second step (`mfa_token`), where sessions
//! live: in Redis when it is configured (so any instance can finish a
//! login another started), else in the database. A token is stored under
//! a hash of itself, lives `MFA_LOGIN_TTL_SECS`, is spent by exactly one
//! successful second step (an atomic delete decides a race), and dies
//! after `MFA_CODE_ATTEMPTS` wrong codes.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::sessions::ClientKind;
use super::tokens::{session_id, session_key};
use crate::db::schema::mfa_logins;
use crate::db::Db;
use crate::error::ApiError;
use crate::redis_pool::RedisPool;

/// What the first step asked for, kept for the second.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingLogin {
    pub user_id: i32,
    /// The user's session generation at the first step: a deactivation
    /// in between refuses the second.
    pub generation: i32,
    /// A fingerprint of the password hash the first step checked: a
    /// password set in between refuses the second.
    #[serde(default)]
    pub password: String,
    pub client: ClientKind,
    pub remember: bool,
    pub expires_at: DateTime<Utc>,
}

#[derive(Clone)]
enum Store {
    Redis { pool: RedisPool, prefix: String },
    Database(Db),
}

#[derive(Clone)]
pub struct MfaLogins {
    store: Store,
    attempts: i32,
}

/// Reserves one code attempt; deletes the login past the limit. KEYS[1]:
/// the login; ARGV[1]: the limit. Returns the attempts so far, -1 if gone.
static RESERVE: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
    redis::Script::new(
        r"
        if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
        local n = redis.call('HINCRBY', KEYS[1], 'failures', 1)
        if n > tonumber(ARGV[1]) then
            redis.call('DEL', KEYS[1])
            return -1
        end
        return n
        ",
    )
});

impl MfaLogins {
    pub fn redis(pool: RedisPool, prefix: &str, attempts: i32) -> Self {
        MfaLogins {
            store: Store::Redis {
                pool,
                prefix: format!("{prefix}mfa:"),
            },
            attempts,
        }
    }

    pub fn database(db: Db, attempts: i32) -> Self {
        MfaLogins {
            store: Store::Database(db),
            attempts,
        }
    }

    /// Stores `login` and returns its token (shown once, to the client).
    pub async fn create(&self, login: &PendingLogin) -> Result<String, ApiError> {
        let token = session_key();
        let id = session_id(&token);
        let state = serde_json::to_string(login)
            .map_err(|e| ApiError::internal(format!("mfa login state: {e}")))?;
        let ttl = (login.expires_at - Utc::now()).num_seconds().max(1);
        match &self.store {
            Store::Redis { pool, prefix } => {
                let key = format!("{prefix}{id}");
                let () = redis::pipe()
                    .atomic()
                    .hset_multiple(&key, &[("state", state.as_str()), ("failures", "0")])
                    .ignore()
                    .expire(&key, ttl)
                    .ignore()
                    .query_async(&mut pool.get().await?)
                    .await?;
            }
            Store::Database(db) => {
                let (user_id, expires) = (login.user_id, login.expires_at.naive_utc());
                db.run(move |conn| {
                    diesel::insert_into(mfa_logins::table)
                        .values((
                            mfa_logins::id.eq(id),
                            mfa_logins::user_id.eq(user_id),
                            mfa_logins::state.eq(state),
                            mfa_logins::expires_at.eq(expires),
                        ))
                        .execute(conn)?;
                    Ok(())
                })
                .await?;
            }
        }
        Ok(token)
    }

    /// The login `token` stands for, if it is live.
    pub async fn find(&self, token: &str) -> Result<Option<PendingLogin>, ApiError> {
        let id = session_id(token);
        let state: Option<String> = match &self.store {
            Store::Redis { pool, prefix } => {
                redis::cmd("HGET")
                    .arg(format!("{prefix}{id}"))
                    .arg("state")
                    .query_async(&mut pool.get().await?)
                    .await?
            }
            Store::Database(db) => {
                let now = crate::db::now();
                db.run(move |conn| {
                    Ok(mfa_logins::table
                        .find(id)
                        .filter(mfa_logins::expires_at.gt(now))
                        .select(mfa_logins::state)
                        .first::<String>(conn)
                        .optional()?)
                })
                .await?
            }
        };
        Ok(state
            .and_then(|s| serde_json::from_str::<PendingLogin>(&s).ok())
            .filter(|l| l.expires_at > Utc::now()))
    }

    /// Reserves one code attempt of `token` before the code is checked, so
    /// that parallel second steps cannot try more than `MFA_CODE_ATTEMPTS`
    /// codes between them. `Some(true)` for the last attempt (a wrong code
    /// then ends the login), `None` when the token is gone or spent out.
    pub async fn reserve(&self, token: &str) -> Result<Option<bool>, ApiError> {
        let id = session_id(token);
        let limit = self.attempts;
        let used: i64 = match &self.store {
            Store::Redis { pool, prefix } => {
                RESERVE
                    .key(format!("{prefix}{id}"))
                    .arg(limit)
                    .invoke_async(&mut pool.get().await?)
                    .await?
            }
            Store::Database(db) => {
                let now = crate::db::now();
                db.run(move |conn| {
                    crate::db::write_transaction(conn, |conn| {
                        let target = mfa_logins::table.find(&id);
                        let used: Option<i32> =
                            diesel::update(target.filter(mfa_logins::expires_at.gt(now)))
                                .set(mfa_logins::failures.eq(mfa_logins::failures + 1))
                                .returning(mfa_logins::failures)
                                .get_result(conn)
                                .optional()?;
                        match used {
                            Some(n) if n <= limit => Ok(i64::from(n)),
                            Some(_) => {
                                diesel::delete(target).execute(conn)?;
                                Ok(-1)
                            }
                            None => Ok(-1),
                        }
                    })
                })
                .await?
            }
        };
        Ok((used > 0).then_some(used >= i64::from(limit)))
    }

    /// Spends `token`: true for exactly one caller, however many race.
    pub async fn spend(&self, token: &str) -> Result<bool, ApiError> {
        let id = session_id(token);
        let removed: i64 = match &self.store {
            Store::Redis { pool, prefix } => {
                redis::cmd("DEL")
                    .arg(format!("{prefix}{id}"))
                    .query_async(&mut pool.get().await?)
                    .await?
            }
            Store::Database(db) => {
                db.run(move |conn| {
                    Ok(diesel::delete(mfa_logins::table.find(id)).execute(conn)? as i64)
                })
                .await?
            }
        };
        Ok(removed == 1)
    }

    /// Removes expired logins from the database (Redis expires its own).
    pub async fn purge_expired(&self, batch_size: usize) -> Result<usize, ApiError> {
        let Store::Database(db) = &self.store else {
            return Ok(0);
        };
        let now = crate::db::now();
        db.delete_in_batches(batch_size, move |conn, limit| {
            let batch: Vec<String> = mfa_logins::table
                .select(mfa_logins::id)
                .filter(mfa_logins::expires_at.le(now))
                .limit(limit)
                .load(conn)?;
            if batch.is_empty() {
                return Ok(0);
            }
            Ok(
                diesel::delete(mfa_logins::table.filter(mfa_logins::id.eq_any(&batch)))
                    .execute(conn)?,
            )
        })
        .await
    }
}
