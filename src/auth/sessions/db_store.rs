//! The embedded session store: a table in the application's database.

use std::sync::Arc;
use std::time::Duration;

use actix_session::storage::{LoadError, SaveError, UpdateError};
use chrono::Utc;

use super::load_cache::LoadCache;
use super::{info, storable, user_id, with_user, Lifetimes, SessionPage, SessionUser, State};
use crate::auth::tokens::session_id;
use crate::db::{sessions as rows, Db};
use crate::error::ApiError;

#[derive(Clone)]
pub struct DbStore {
    db: Db,
    lifetimes: Lifetimes,
    /// SQLite only (see `load_cache`).
    cache: Option<Arc<LoadCache>>,
    /// `MAX_SESSIONS_PER_USER`.
    max_per_user: i64,
}

fn expiry(ttl: Duration) -> chrono::NaiveDateTime {
    (Utc::now() + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::MAX)).naive_utc()
}

fn store_error(e: ApiError) -> anyhow::Error {
    anyhow::anyhow!("session table: {e}")
}

impl DbStore {
    /// `cache_ttl`: keep loaded sessions that long in this process (only
    /// when this process is the database's only writer: SQLite).
    pub fn new(
        db: Db,
        lifetimes: Lifetimes,
        cache_ttl: Option<Duration>,
        max_per_user: usize,
    ) -> Self {
        let cache = cache_ttl
            .filter(|ttl| !ttl.is_zero())
            .map(|ttl| Arc::new(LoadCache::new(ttl)));
        DbStore {
            db,
            lifetimes,
            cache,
            max_per_user: i64::try_from(max_per_user).unwrap_or(i64::MAX),
        }
    }

    fn forget(&self, id: &str) {
        if let Some(cache) = &self.cache {
            cache.forget(id);
        }
    }

    /// The user changed (or their sessions did): reload them from the table.
    pub(super) fn forget_user(&self, user: i32, keep: Option<&str>) {
        if let Some(cache) = &self.cache {
            cache.forget_user(user, keep);
        }
    }

    pub(super) async fn load(&self, key: &str) -> Result<Option<State>, LoadError> {
        let id = session_id(key);
        if let Some(state) = self.cache.as_ref().and_then(|c| c.get(&id)) {
            return Ok(Some(state));
        }
        let cache_id = id.clone();
        let generation = self.cache.as_ref().map_or(0, |c| c.generation());
        let found = self
            .db
            .run(move |conn| rows::load_with_user(conn, &id, Utc::now().naive_utc()))
            .await
            .map_err(|e| LoadError::Other(store_error(e)))?;
        let Some((raw, user)) = found else {
            return Ok(None);
        };
        let state: State =
            serde_json::from_str(&raw).map_err(|e| LoadError::Deserialization(e.into()))?;
        let user_json = user.and_then(|u| serde_json::to_string(&SessionUser::from(&u)).ok());
        let state = with_user(state, user_json);
        if let Some(cache) = &self.cache {
            cache.put(cache_id, state.clone(), generation);
        }
        Ok(Some(state))
    }

    /// Stores a new session; a user's beyond `MAX_SESSIONS_PER_USER` ends
    /// their oldest.
    pub(super) async fn save(&self, key: &str, state: State) -> Result<(), SaveError> {
        let id = session_id(key);
        let expires_at = expiry(self.lifetimes.ttl(&state));
        // Written now, to the microsecond: the cap must tell apart logins
        // within one second (the state keeps whole seconds).
        let created_at = Utc::now().naive_utc();
        let raw = serde_json::to_string(&*storable(&state))
            .map_err(|e| SaveError::Serialization(e.into()))?;
        let user = user_id(&state);
        let keep = self.max_per_user;
        let ended = self
            .db
            .run(move |conn| {
                rows::insert(conn, &id, user, &raw, expires_at, created_at)?;
                match user {
                    Some(user) => rows::trim(conn, user, &id, keep, Utc::now().naive_utc()),
                    None => Ok(Vec::new()),
                }
            })
            .await
            .map_err(|e| SaveError::Other(store_error(e)))?;
        for id in &ended {
            self.forget(id);
        }
        Ok(())
    }

    pub(super) async fn update(&self, key: &str, state: State) -> Result<(), UpdateError> {
        let id = session_id(key);
        // Forgotten before the write and again after it: a load running
        // alongside can store neither the old state nor a half-seen one.
        self.forget(&id);
        let cached_id = id.clone();
        let expires_at = expiry(self.lifetimes.ttl(&state));
        let raw = serde_json::to_string(&*storable(&state))
            .map_err(|e| UpdateError::Serialization(e.into()))?;
        let user = user_id(&state);
        // A session ended while this request ran stays ended.
        let result = self
            .db
            .run(move |conn| {
                rows::update(conn, &id, user, &raw, expires_at, Utc::now().naive_utc())
            })
            .await
            .map(drop)
            .map_err(|e| UpdateError::Other(store_error(e)));
        self.forget(&cached_id);
        result
    }

    pub(super) async fn delete(&self, key: &str) -> anyhow::Result<()> {
        let id = session_id(key);
        self.forget(&id);
        let cached_id = id.clone();
        let result = self
            .db
            .run(move |conn| rows::delete(conn, &id))
            .await
            .map_err(store_error);
        self.forget(&cached_id);
        result
    }

    pub(super) async fn list(&self, user: i32, limit: usize) -> Result<SessionPage, ApiError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let (found, count) = self
            .db
            .run(move |conn| rows::for_user(conn, user, Utc::now().naive_utc(), limit))
            .await?;
        Ok(SessionPage {
            sessions: found
                .into_iter()
                .filter_map(|(id, raw)| {
                    info(id, &serde_json::from_str(&raw).ok()?, &self.lifetimes)
                })
                .collect(),
            count: u64::try_from(count).unwrap_or_default(),
        })
    }

    pub(super) async fn revoke(&self, user: i32, id: &str) -> Result<bool, ApiError> {
        self.forget(id);
        let owned = id.to_owned();
        let result = self
            .db
            .run(move |conn| rows::delete_for_user(conn, user, &owned))
            .await;
        self.forget(id);
        result
    }

    pub(super) async fn revoke_others(&self, user: i32, keep: &str) -> Result<(), ApiError> {
        self.forget_user(user, Some(keep));
        let owned = keep.to_owned();
        let result = self
            .db
            .run(move |conn| rows::delete_others(conn, user, &owned))
            .await
            .map(drop);
        self.forget_user(user, Some(keep));
        result
    }

    pub(super) async fn ping(&self) -> Result<(), ApiError> {
        self.db.ping().await
    }

    /// Deletes expired rows; run periodically by the server.
    pub async fn purge_expired(&self, batch_size: usize) -> Result<usize, ApiError> {
        let now = Utc::now().naive_utc();
        self.db
            .delete_in_batches(batch_size, move |conn, limit| {
                rows::delete_expired(conn, now, limit)
            })
            .await
    }
}
