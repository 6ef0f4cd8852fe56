//! Sessions in Redis, shared by every instance.
//!
//! `{prefix}session:{id}` holds the state (JSON) with the TTL as expiry;
//! `{prefix}sessions_of:{user}` is a sorted set of the user's session ids
//! scored by when each started (unix ms), so that the list shows the newest, a login
//! beyond `MAX_SESSIONS_PER_USER` ends the oldest, and a password change or
//! a revoke ends sessions by user. The set may hold ids that already
//! expired; the list and the cap drop those before they count.
//!
//! Before v2.2 the index was a plain set, `{prefix}user_sessions:{user}`:
//! every script below first folds such a set into the sorted one, so
//! sessions from before an upgrade are listed, capped and revoked too.

use std::time::Duration;

use actix_session::storage::{LoadError, SaveError, UpdateError};
use redis::aio::ConnectionManager;

use super::{info, storable, user_id, with_user, Lifetimes, SessionPage, SessionUser, State};
use crate::auth::tokens::session_id;
use crate::error::ApiError;
use crate::redis_pool::RedisPool;

/// Lua shared by the scripts that read a session's user: `user_of` gives
/// the user id of a raw state, or nil. The id is a JSON string inside the
/// JSON state (actix-identity's).
const USER_OF: &str = r#"
local function user_of(state)
    local ok, decoded = pcall(cjson.decode, state)
    if not ok or type(decoded) ~= 'table' then return nil end
    local raw_id = decoded['actix_identity.user_id']
    if type(raw_id) ~= 'string' then return nil end
    local parsed, id = pcall(cjson.decode, raw_id)
    if parsed and id then return tostring(id) end
    return nil
end
"#;

fn user_script(body: &str) -> redis::Script {
    redis::Script::new(&format!("{USER_OF}{body}"))
}

/// Reads a session and the cached copy of its user in one round trip.
static LOAD_SCRIPT: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
    user_script(
        r#"
        local state = redis.call('GET', KEYS[1])
        if not state then return nil end
        local id = user_of(state)
        if id then
            local user = redis.call('GET', ARGV[1] .. id)
            if user then return {state, user} end
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

/// Lua shared by the index scripts: `fold` moves a pre-v2.2 set into the
/// sorted set; `prune` drops ids whose session expired and returns how
/// many are left.
const INDEX_FUNCTIONS: &str = r#"
local function fold(index, legacy, sessions)
    if redis.call('EXISTS', legacy) == 0 then return end
    for _, id in ipairs(redis.call('SMEMBERS', legacy)) do
        local raw = redis.call('GET', sessions .. id)
        if raw then
            local ok, decoded = pcall(cjson.decode, raw)
            local started = ok and type(decoded) == 'table' and tonumber(decoded['created_at']) or 0
            redis.call('ZADD', index, 'NX', started * 1000, id)
        end
    end
    redis.call('DEL', legacy)
end
local function prune(index, sessions)
    local dead = {}
    for _, id in ipairs(redis.call('ZRANGE', index, 0, -1)) do
        if redis.call('EXISTS', sessions .. id) == 0 then dead[#dead + 1] = id end
    end
    for i = 1, #dead, 500 do
        redis.call('ZREM', index, unpack(dead, i, math.min(i + 499, #dead)))
    end
    return redis.call('ZCARD', index)
end
"#;

fn index_script(body: &str) -> redis::Script {
    redis::Script::new(&format!("{INDEX_FUNCTIONS}{body}"))
}

/// A new session of a user. KEYS: session, index, legacy index. ARGV:
/// state, TTL, id, started (unix ms), index TTL, cap, session key prefix.
/// -1 when the key exists, else how many old sessions the cap ended.
static SAVE: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
    index_script(
        r#"
        fold(KEYS[2], KEYS[3], ARGV[7])
        if not redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2], 'NX') then return -1 end
        redis.call('ZADD', KEYS[2], ARGV[4], ARGV[3])
        redis.call('EXPIRE', KEYS[2], ARGV[5])
        local cap = tonumber(ARGV[6])
        if redis.call('ZCARD', KEYS[2]) <= cap then return 0 end
        local live = prune(KEYS[2], ARGV[7])
        local ended = 0
        while live > cap do
            -- Never the new session, whatever its start says (another
            -- instance's clock may run behind).
            local two = redis.call('ZRANGE', KEYS[2], 0, 1)
            local oldest = two[1]
            if oldest == ARGV[3] then oldest = two[2] end
            if not oldest then break end
            redis.call('DEL', ARGV[7] .. oldest)
            redis.call('ZREM', KEYS[2], oldest)
            live = live - 1
            ended = ended + 1
        end
        return ended
        "#,
    )
});

/// KEYS: index, legacy index. ARGV: session key prefix, limit. Returns
/// the live count, then id and state of the newest `limit`.
static LIST: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
    index_script(
        r#"
        fold(KEYS[1], KEYS[2], ARGV[1])
        local out = {tostring(prune(KEYS[1], ARGV[1]))}
        for _, id in ipairs(redis.call('ZREVRANGE', KEYS[1], 0, tonumber(ARGV[2]) - 1)) do
            local raw = redis.call('GET', ARGV[1] .. id)
            if raw then
                out[#out + 1] = id
                out[#out + 1] = raw
            end
        end
        return out
        "#,
    )
});

/// KEYS: index, legacy index. ARGV: session key prefix, id. 1 when the
/// user's session `id` was live and has ended.
static REVOKE: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
    index_script(
        r#"
        fold(KEYS[1], KEYS[2], ARGV[1])
        if not redis.call('ZSCORE', KEYS[1], ARGV[2]) then return 0 end
        redis.call('ZREM', KEYS[1], ARGV[2])
        return redis.call('DEL', ARGV[1] .. ARGV[2])
        "#,
    )
});

/// Ends a session (logout) and takes it out of its user's index, so the
/// index does not fill with ended ids until a list or the cap prunes them.
/// KEYS: session. ARGV: index key prefix, id.
static DELETE: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
    user_script(
        r#"
        local state = redis.call('GET', KEYS[1])
        if not state then return 0 end
        local id = user_of(state)
        if id then redis.call('ZREM', ARGV[1] .. id, ARGV[2]) end
        return redis.call('DEL', KEYS[1])
        "#,
    )
});

/// KEYS: index, legacy index. ARGV: session key prefix, the id to keep
/// (empty: none). Ends the rest, 500 keys a command.
static REVOKE_OTHERS: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
    index_script(
        r#"
        fold(KEYS[1], KEYS[2], ARGV[1])
        local ended = {}
        for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
            if id ~= ARGV[2] then ended[#ended + 1] = id end
        end
        for i = 1, #ended, 500 do
            local last = math.min(i + 499, #ended)
            local keys = {}
            for j = i, last do keys[#keys + 1] = ARGV[1] .. ended[j] end
            redis.call('DEL', unpack(keys))
            redis.call('ZREM', KEYS[1], unpack(ended, i, last))
        end
        return #ended
        "#,
    )
});

#[derive(Clone)]
pub struct RedisStore {
    redis: RedisPool,
    prefix: String,
    lifetimes: Lifetimes,
    user_cache_ttl: Duration,
    max_per_user: usize,
}

impl RedisStore {
    pub fn new(
        redis: RedisPool,
        prefix: &str,
        lifetimes: Lifetimes,
        user_cache_ttl: Duration,
        max_per_user: usize,
    ) -> Self {
        RedisStore {
            redis,
            prefix: prefix.to_owned(),
            lifetimes,
            user_cache_ttl,
            max_per_user,
        }
    }

    async fn conn(&self) -> Result<ConnectionManager, redis::RedisError> {
        self.redis.get().await
    }

    fn session_key(&self, id: &str) -> String {
        format!("{}session:{id}", self.prefix)
    }

    fn session_prefix(&self) -> String {
        format!("{}session:", self.prefix)
    }

    /// The user's index is this followed by the user id.
    fn index_prefix(&self) -> String {
        format!("{}sessions_of:", self.prefix)
    }

    fn index_key(&self, user: i32) -> String {
        format!("{}{user}", self.index_prefix())
    }

    fn legacy_index_key(&self, user: i32) -> String {
        format!("{}user_sessions:{user}", self.prefix)
    }

    /// An index script's two keys and the session key prefix.
    fn index_invocation<'a>(
        &self,
        script: &'a redis::Script,
        user: i32,
    ) -> redis::ScriptInvocation<'a> {
        let mut invocation = script.prepare_invoke();
        invocation
            .key(self.index_key(user))
            .key(self.legacy_index_key(user))
            .arg(self.session_prefix());
        invocation
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

    /// A new session; a user's beyond `MAX_SESSIONS_PER_USER` ends their
    /// oldest, in the same script.
    pub(super) async fn save(&self, key: &str, state: State) -> Result<(), SaveError> {
        self.insert(key, &state).await.map_err(SaveError::Other)
    }

    async fn insert(&self, key: &str, state: &State) -> anyhow::Result<()> {
        let id = session_id(key);
        let ttl = self.lifetimes.ttl(state).as_secs().max(1);
        let raw = serde_json::to_string(&*storable(state))?;
        let mut conn = self.conn().await?;
        let Some(user) = user_id(state) else {
            let written: Option<String> = redis::cmd("SET")
                .arg(self.session_key(&id))
                .arg(raw)
                .arg("EX")
                .arg(ttl)
                .arg("NX")
                .query_async(&mut conn)
                .await?;
            anyhow::ensure!(written.is_some(), "session key collision");
            return Ok(());
        };
        // The index outlives every session it lists.
        let index_ttl = self.lifetimes.longest().as_secs().max(1);
        let ended: i64 = SAVE
            .key(self.session_key(&id))
            .key(self.index_key(user))
            .key(self.legacy_index_key(user))
            .arg(raw)
            .arg(ttl)
            .arg(&id)
            // Milliseconds: the cap must tell apart logins within a second.
            .arg(chrono::Utc::now().timestamp_millis())
            .arg(index_ttl)
            .arg(self.max_per_user)
            .arg(self.session_prefix())
            .invoke_async(&mut conn)
            .await?;
        anyhow::ensure!(ended >= 0, "session key collision");
        Ok(())
    }

    /// Rewrites a live session; never recreates one ended while the
    /// request ran.
    pub(super) async fn update(&self, key: &str, state: State) -> Result<(), UpdateError> {
        let write = async {
            let ttl = self.lifetimes.ttl(&state).as_secs().max(1);
            let raw = serde_json::to_string(&*storable(&state))?;
            let _: Option<String> = redis::cmd("SET")
                .arg(self.session_key(&session_id(key)))
                .arg(raw)
                .arg("EX")
                .arg(ttl)
                .arg("XX")
                .query_async(&mut self.conn().await?)
                .await?;
            anyhow::Ok(())
        };
        write.await.map_err(UpdateError::Other)
    }

    pub(super) async fn delete(&self, key: &str) -> anyhow::Result<()> {
        let id = session_id(key);
        let _: i64 = DELETE
            .key(self.session_key(&id))
            .arg(self.index_prefix())
            .arg(&id)
            .invoke_async(&mut self.conn().await?)
            .await?;
        Ok(())
    }

    pub(super) async fn list(&self, user: i32, limit: usize) -> Result<SessionPage, ApiError> {
        let found: Vec<String> = self
            .index_invocation(&LIST, user)
            .arg(limit)
            .invoke_async(&mut self.conn().await?)
            .await?;
        let mut found = found.into_iter();
        let count = found.next().and_then(|n| n.parse().ok()).unwrap_or(0);
        let mut sessions = Vec::new();
        while let (Some(id), Some(raw)) = (found.next(), found.next()) {
            if let Ok(state) = serde_json::from_str::<State>(&raw) {
                sessions.extend(info(id, &state, &self.lifetimes));
            }
        }
        Ok(SessionPage { sessions, count })
    }

    pub(super) async fn revoke(&self, user: i32, id: &str) -> Result<bool, ApiError> {
        let ended: i64 = self
            .index_invocation(&REVOKE, user)
            .arg(id)
            .invoke_async(&mut self.conn().await?)
            .await?;
        Ok(ended > 0)
    }

    pub(super) async fn revoke_others(&self, user: i32, keep: &str) -> Result<(), ApiError> {
        let _: i64 = self
            .index_invocation(&REVOKE_OTHERS, user)
            .arg(keep)
            .invoke_async(&mut self.conn().await?)
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
