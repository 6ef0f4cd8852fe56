//! Sessions in Redis, shared by every instance.
//!
//! `{prefix}session:{id}` holds the state (JSON) with the TTL as expiry;
//! `{prefix}user_sessions:{user}` is the set of the user's session ids, so
//! that a password change or a revoke can end sessions by user. The set may
//! hold ids that already expired; readers drop those as they meet them.

use std::time::Duration;

use actix_session::storage::{LoadError, SaveError, UpdateError};
use redis::aio::ConnectionManager;
use redis::AsyncCommands;

use super::{info, storable, user_id, with_user, Lifetimes, SessionInfo, SessionUser, State};
use crate::auth::tokens::session_id;
use crate::error::ApiError;
use crate::redis_pool::RedisPool;

/// Reads a session and the cached copy of its user in one round trip.
/// The user id is a JSON string inside the JSON state (actix-identity's).
static LOAD_SCRIPT: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
    redis::Script::new(
        r#"
        local state = redis.call('GET', KEYS[1])
        if not state then return nil end
        local ok, decoded = pcall(cjson.decode, state)
        if ok and type(decoded) == 'table' then
            local raw_id = decoded['actix_identity.user_id']
            if type(raw_id) == 'string' then
                local parsed, id = pcall(cjson.decode, raw_id)
                if parsed and id then
                    local user = redis.call('GET', ARGV[1] .. tostring(id))
                    if user then return {state, user} end
                end
            end
        end
        return {state}
        "#,
    )
});

/// Writes a user's cached copy unless the cached one is of a newer
/// `session_generation` (ARGV: copy, its generation, TTL).
static CACHE_USER_SCRIPT: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
    redis::Script::new(
        r#"
        local current = redis.call('GET', KEYS[1])
        if current then
            local ok, decoded = pcall(cjson.decode, current)
            if ok and type(decoded) == 'table' then
                local generation = tonumber(decoded['session_generation']) or 0
                if generation > tonumber(ARGV[2]) then return 0 end
            end
        end
        redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
        return 1
        "#,
    )
});

#[derive(Clone)]
pub struct RedisStore {
    redis: RedisPool,
    prefix: String,
    lifetimes: Lifetimes,
    user_cache_ttl: Duration,
}

impl RedisStore {
    pub fn new(
        redis: RedisPool,
        prefix: &str,
        lifetimes: Lifetimes,
        user_cache_ttl: Duration,
    ) -> Self {
        RedisStore {
            redis,
            prefix: prefix.to_owned(),
            lifetimes,
            user_cache_ttl,
        }
    }

    async fn conn(&self) -> Result<ConnectionManager, redis::RedisError> {
        self.redis.get().await
    }

    fn session_key(&self, id: &str) -> String {
        format!("{}session:{id}", self.prefix)
    }

    fn user_key(&self, user: i32) -> String {
        format!("{}user_sessions:{user}", self.prefix)
    }

    /// The state and, in the same round trip, the cached copy of its user.
    pub(super) async fn load(&self, key: &str) -> Result<Option<State>, LoadError> {
        // [state] or [state, user].
        let found: Option<Vec<String>> = LOAD_SCRIPT
            .key(self.session_key(&session_id(key)))
            .arg(format!("{}user:", self.prefix))
            .invoke_async(&mut self.conn().await.map_err(|e| LoadError::Other(e.into()))?)
            .await
            .map_err(|e| {
                crate::redis_pool::note_error(&e);
                LoadError::Other(e.into())
            })?;
        let Some(mut found) = found.filter(|f| !f.is_empty()) else {
            return Ok(None);
        };
        let user_json = (found.len() > 1).then(|| found.swap_remove(1));
        let raw = found.swap_remove(0);
        let state: State =
            serde_json::from_str(&raw).map_err(|e| LoadError::Deserialization(e.into()))?;
        Ok(Some(with_user(state, user_json)))
    }

    /// Caches the user's public fields for `USER_CACHE_TTL_SECS`.
    pub(super) async fn cache_user(&self, user: &SessionUser) -> Result<(), ApiError> {
        let json = serde_json::to_string(user).map_err(ApiError::internal)?;
        let ttl = self.user_cache_ttl.as_secs().max(1);
        let _: i64 = CACHE_USER_SCRIPT
            .key(format!("{}user:{}", self.prefix, user.id))
            .arg(json)
            .arg(user.session_generation)
            .arg(ttl)
            .invoke_async(&mut self.conn().await?)
            .await?;
        Ok(())
    }

    /// Writes the state; `only_existing` makes it an update that never
    /// recreates a session ended while the request ran.
    async fn write(&self, key: &str, state: &State, only_existing: bool) -> anyhow::Result<()> {
        let id = session_id(key);
        let ttl = self.lifetimes.ttl(state).as_secs().max(1);
        let raw = serde_json::to_string(&*storable(state))?;
        let mut set = redis::cmd("SET");
        set.arg(self.session_key(&id)).arg(raw).arg("EX").arg(ttl);
        set.arg(if only_existing { "XX" } else { "NX" });
        let mut pipe = redis::pipe();
        pipe.atomic().add_command(set);
        if let Some(user) = user_id(state) {
            let index = self.user_key(user);
            pipe.sadd(&index, &id).ignore();
            // The index outlives every session it lists.
            pipe.expire(
                &index,
                i64::try_from(self.lifetimes.longest().as_secs()).unwrap_or(i64::MAX),
            )
            .ignore();
        }
        let (written,): (Option<String>,) = pipe.query_async(&mut self.conn().await?).await?;
        if written.is_none() && !only_existing {
            anyhow::bail!("session key collision");
        }
        Ok(())
    }

    pub(super) async fn save(&self, key: &str, state: State) -> Result<(), SaveError> {
        self.write(key, &state, false)
            .await
            .map_err(SaveError::Other)
    }

    pub(super) async fn update(&self, key: &str, state: State) -> Result<(), UpdateError> {
        self.write(key, &state, true)
            .await
            .map_err(UpdateError::Other)
    }

    pub(super) async fn delete(&self, key: &str) -> anyhow::Result<()> {
        let _: i64 = self
            .conn()
            .await?
            .del(self.session_key(&session_id(key)))
            .await?;
        Ok(())
    }

    pub(super) async fn list(&self, user: i32) -> Result<Vec<SessionInfo>, ApiError> {
        let mut conn = self.conn().await?;
        let index = self.user_key(user);
        let ids: Vec<String> = conn.smembers(&index).await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = ids.iter().map(|id| self.session_key(id)).collect();
        let states: Vec<Option<String>> =
            redis::cmd("MGET").arg(&keys).query_async(&mut conn).await?;
        let mut live = Vec::new();
        let mut expired = Vec::new();
        for (id, raw) in ids.into_iter().zip(states) {
            match raw.and_then(|raw| serde_json::from_str::<State>(&raw).ok()) {
                Some(state) => live.extend(info(id, &state, &self.lifetimes)),
                None => expired.push(id),
            }
        }
        if !expired.is_empty() {
            let _: i64 = conn.srem(&index, expired).await?;
        }
        Ok(live)
    }

    pub(super) async fn revoke(&self, user: i32, id: &str) -> Result<bool, ApiError> {
        let mut conn = self.conn().await?;
        let index = self.user_key(user);
        let member: bool = conn.sismember(&index, id).await?;
        if !member {
            return Ok(false);
        }
        let (deleted, _): (i64, i64) = redis::pipe()
            .atomic()
            .del(self.session_key(id))
            .srem(&index, id)
            .query_async(&mut conn)
            .await?;
        Ok(deleted > 0)
    }

    pub(super) async fn revoke_others(&self, user: i32, keep: &str) -> Result<(), ApiError> {
        let mut conn = self.conn().await?;
        let index = self.user_key(user);
        let ids: Vec<String> = conn.smembers(&index).await?;
        let others: Vec<&String> = ids.iter().filter(|id| id.as_str() != keep).collect();
        if others.is_empty() {
            return Ok(());
        }
        let keys: Vec<String> = others.iter().map(|id| self.session_key(id)).collect();
        let _: (i64, i64) = redis::pipe()
            .atomic()
            .del(keys)
            .srem(&index, others)
            .query_async(&mut conn)
            .await?;
        Ok(())
    }

    pub(super) async fn ping(&self) -> Result<(), ApiError> {
        let _: String = redis::cmd("PING")
            .query_async(&mut self.conn().await?)
            .await?;
        Ok(())
    }
}
