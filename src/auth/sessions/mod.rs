//! Server-side sessions behind actix-session: one store for browser cookies
//! and app Bearer tokens, Redis when configured, the database otherwise.
//!
//! A session's state is actix-session's map of JSON-encoded values. Besides
//! actix-identity's user id it holds who the client is and when it was
//! created and last seen, which the timeouts and the session list read.
//! Stores key sessions by `tokens::session_id(key)`, never by the key.

mod db_store;
mod lifetimes;
mod load_cache;
mod redis_store;

use std::collections::HashMap;
use std::time::Instant;

use actix_session::storage::{LoadError, SaveError, SessionKey, SessionStore, UpdateError};
use actix_web::cookie::time::Duration as CookieDuration;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use db_store::DbStore;
pub use lifetimes::{Lifetime, Lifetimes};
pub use redis_store::RedisStore;

use crate::error::ApiError;
use crate::metrics::Metrics;

pub type State = HashMap<String, String>;

/// actix-identity's default key for the user id.
pub const USER_ID_KEY: &str = "actix_identity.user_id";
pub const CLIENT_KEY: &str = "client";
pub const CREATED_AT_KEY: &str = "created_at";
pub const LAST_SEEN_KEY: &str = "last_seen_at";
/// `true` for a browser session logged in with `"remember": true`.
pub const REMEMBER_KEY: &str = "remember";
/// The user's `session_generation` when the session started: once the
/// user's moves on (deactivation, staff ending their sessions), the
/// session is refused, whether or not the store still holds it.
pub const GENERATION_KEY: &str = "generation";
/// When the session's person last proved who they are (Unix seconds): the
/// login that started it, or a later re-authentication. A session from
/// before v3 has none, and counts as not recently authenticated.
pub const AUTHENTICATED_AT_KEY: &str = "authenticated_at";
/// The session's user, put into the state by the store when it loads the
/// session (the embedded store joins it in the same query; the Redis store
/// reads its cached copy in the same round trip). Never written back.
pub const USER_KEY: &str = "__user";

/// What a request needs to know of its user, without a password hash.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionUser {
    pub id: i32,
    pub email: String,
    pub username: String,
    pub first_name: String,
    pub last_name: String,
    pub is_staff: bool,
    pub is_active: bool,
    pub date_joined: chrono::NaiveDateTime,
    pub last_login: Option<chrono::NaiveDateTime>,
    /// Absent in a copy cached before v2: read as not verified.
    #[serde(default)]
    pub email_verified: bool,
    /// Absent in a copy cached before v2.1: generation 0, every user's
    /// before the first deactivation.
    #[serde(default)]
    pub session_generation: i32,
    /// Absent in a copy cached before v3: read as usable, which every
    /// account registered with a password is.
    #[serde(default = "usable_by_default")]
    pub has_usable_password: bool,
}

fn usable_by_default() -> bool {
    true
}

impl SessionUser {
    /// What the cache holds for a deleted user until the copy expires: an
    /// inactive user of a generation no session has, and no stale copy
    /// written by a request still in flight can replace (see `cache_user`).
    pub fn deleted(id: i32) -> Self {
        SessionUser {
            id,
            email: String::new(),
            username: String::new(),
            first_name: String::new(),
            last_name: String::new(),
            is_staff: false,
            is_active: false,
            date_joined: chrono::NaiveDateTime::default(),
            last_login: None,
            email_verified: false,
            session_generation: i32::MAX,
            has_usable_password: false,
        }
    }
}

impl From<&crate::db::models::User> for SessionUser {
    fn from(u: &crate::db::models::User) -> Self {
        SessionUser {
            id: u.id,
            email: u.email.clone(),
            username: u.username.clone(),
            first_name: u.first_name.clone(),
            last_name: u.last_name.clone(),
            is_staff: u.is_staff,
            is_active: u.is_active,
            date_joined: u.date_joined,
            last_login: u.last_login,
            email_verified: u.email_verified,
            session_generation: u.session_generation,
            has_usable_password: crate::auth::passwords::is_usable(&u.password),
        }
    }
}

/// Adds the loaded user (as JSON, like every session value) to a state.
fn with_user(mut state: State, user_json: Option<String>) -> State {
    if let Some(json) = user_json {
        state.insert(USER_KEY.to_owned(), json);
    }
    state
}

/// The state as stored: without what the store added at load.
fn storable(state: &State) -> std::borrow::Cow<'_, State> {
    if state.contains_key(USER_KEY) {
        let mut owned = state.clone();
        owned.remove(USER_KEY);
        std::borrow::Cow::Owned(owned)
    } else {
        std::borrow::Cow::Borrowed(state)
    }
}

/// The two kinds of client of the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ClientKind {
    #[default]
    Browser,
    App,
}

/// What the session list shows of one session.
#[derive(Debug, Clone)]
pub struct SessionInfo {
    pub id: String,
    pub client: ClientKind,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    /// When it ends at the latest (sooner without use).
    pub expires_at: DateTime<Utc>,
}

/// The newest of a user's live sessions, and how many there are.
#[derive(Debug, Clone, Default)]
pub struct SessionPage {
    /// Newest first, at most `SESSION_LIST_LIMIT`.
    pub sessions: Vec<SessionInfo>,
    pub count: u64,
}

/// The state of a freshly logged-in session.
pub fn new_state(user_id: i32, client: ClientKind, now: DateTime<Utc>) -> State {
    let json = |v: serde_json::Value| v.to_string();
    HashMap::from([
        (USER_ID_KEY.to_owned(), json(user_id.to_string().into())),
        (
            CLIENT_KEY.to_owned(),
            json(serde_json::to_value(client).unwrap_or_default()),
        ),
        (CREATED_AT_KEY.to_owned(), json(now.timestamp().into())),
        (LAST_SEEN_KEY.to_owned(), json(now.timestamp().into())),
        (
            AUTHENTICATED_AT_KEY.to_owned(),
            json(now.timestamp().into()),
        ),
    ])
}

fn get<T: serde::de::DeserializeOwned>(state: &State, key: &str) -> Option<T> {
    state
        .get(key)
        .and_then(|raw| serde_json::from_str(raw).ok())
}

/// `state` for a session of a user at `generation`.
pub fn with_generation(mut state: State, generation: i32) -> State {
    state.insert(GENERATION_KEY.to_owned(), generation.to_string());
    state
}

pub fn user_id(state: &State) -> Option<i32> {
    get::<String>(state, USER_ID_KEY).and_then(|id| id.parse().ok())
}

fn timestamp(state: &State, key: &str) -> Option<DateTime<Utc>> {
    get::<i64>(state, key).and_then(|t| DateTime::from_timestamp(t, 0))
}

pub fn info(id: String, state: &State, lifetimes: &Lifetimes) -> Option<SessionInfo> {
    let created_at = timestamp(state, CREATED_AT_KEY)?;
    Some(SessionInfo {
        id,
        client: get(state, CLIENT_KEY).unwrap_or_default(),
        created_at,
        last_seen_at: timestamp(state, LAST_SEEN_KEY).unwrap_or(created_at),
        expires_at: lifetimes.deadline(state, created_at),
    })
}

/// The configured store. actix-session's middleware is generic over one
/// store type, so the choice is an enum inside it.
#[derive(Clone)]
pub struct Sessions {
    backend: Backend,
    metrics: Metrics,
}

#[derive(Clone)]
enum Backend {
    Redis(RedisStore),
    Database(DbStore),
}

fn key_of(key: &SessionKey) -> &str {
    key.as_ref()
}

impl Sessions {
    pub fn redis(store: RedisStore, metrics: Metrics) -> Self {
        Sessions {
            backend: Backend::Redis(store),
            metrics,
        }
    }

    pub fn database(store: DbStore, metrics: Metrics) -> Self {
        Sessions {
            backend: Backend::Database(store),
            metrics,
        }
    }

    /// The embedded store, which needs its expired rows purged.
    pub fn database_store(&self) -> Option<DbStore> {
        match &self.backend {
            Backend::Database(store) => Some(store.clone()),
            Backend::Redis(_) => None,
        }
    }

    fn observe(&self, operation: &str, started: Instant) {
        self.metrics.observe_store(operation, started.elapsed());
    }

    /// Creates a session directly in the store (app clients: the key is the
    /// Bearer token) and returns its key. Its lifetime follows from its
    /// state, as every session's does.
    pub async fn create(&self, state: State) -> Result<String, ApiError> {
        let key = self
            .save(state, &CookieDuration::ZERO)
            .await
            .map_err(|e| ApiError::Unavailable(format!("session store: {e}")))?;
        Ok(key.into())
    }

    /// Ends the session whose key (a Bearer token) is `key`.
    pub async fn end(&self, key: &str) -> Result<(), ApiError> {
        let key = SessionKey::try_from(key.to_owned())
            .map_err(|e| ApiError::internal(format!("session key: {e}")))?;
        // The store's own delete, timed like every other.
        self.delete(&key)
            .await
            .map_err(|e| ApiError::Unavailable(format!("session store: {e}")))
    }

    /// The user's newest `limit` live sessions, newest first, and their
    /// number.
    pub async fn list(&self, user_id: i32, limit: usize) -> Result<SessionPage, ApiError> {
        match &self.backend {
            Backend::Redis(s) => s.list(user_id, limit).await,
            Backend::Database(s) => s.list(user_id, limit).await,
        }
    }

    /// Ends one of the user's sessions by its public id; false when the user
    /// has no such session.
    pub async fn revoke(&self, user_id: i32, session_id: &str) -> Result<bool, ApiError> {
        match &self.backend {
            Backend::Redis(s) => s.revoke(user_id, session_id).await,
            Backend::Database(s) => s.revoke(user_id, session_id).await,
        }
    }

    /// Ends every session of the user except `keep` (a public id).
    pub async fn revoke_others(&self, user_id: i32, keep: &str) -> Result<(), ApiError> {
        match &self.backend {
            Backend::Redis(s) => s.revoke_others(user_id, keep).await,
            Backend::Database(s) => s.revoke_others(user_id, keep).await,
        }
    }

    /// Ends every session of the user (a password reset).
    pub async fn revoke_all(&self, user_id: i32) -> Result<(), ApiError> {
        // No public id is empty, so none is kept.
        self.revoke_others(user_id, "").await
    }

    /// Refreshes the cached copy of the user that sessions are loaded with
    /// (Redis; the embedded store reads the user in the same query). A copy
    /// of an older generation than the cached one is not written: a request
    /// that read the user before a deactivation cannot put the active copy
    /// back after it.
    pub async fn cache_user(&self, user: &SessionUser) -> Result<(), ApiError> {
        match &self.backend {
            Backend::Redis(s) => s.cache_user(user).await,
            // The next load joins the fresh row.
            Backend::Database(s) => {
                s.forget_user(user.id, None);
                Ok(())
            }
        }
    }

    pub fn caches_users(&self) -> bool {
        matches!(self.backend, Backend::Redis(_))
    }

    pub async fn ping(&self) -> Result<(), ApiError> {
        match &self.backend {
            Backend::Redis(s) => s.ping().await,
            Backend::Database(s) => s.ping().await,
        }
    }
}

impl SessionStore for Sessions {
    async fn load(&self, key: &SessionKey) -> Result<Option<State>, LoadError> {
        let started = Instant::now();
        let result = match &self.backend {
            Backend::Redis(s) => s.load(key_of(key)).await,
            Backend::Database(s) => s.load(key_of(key)).await,
        };
        self.observe("load", started);
        result
    }

    /// The TTL actix-session passes is ignored: a session's lifetime
    /// follows from its kind (`Lifetimes`).
    async fn save(&self, state: State, _ttl: &CookieDuration) -> Result<SessionKey, SaveError> {
        let started = Instant::now();
        let key = super::tokens::session_key();
        let result = match &self.backend {
            Backend::Redis(s) => s.save(&key, state).await,
            Backend::Database(s) => s.save(&key, state).await,
        };
        self.observe("save", started);
        result?;
        SessionKey::try_from(key).map_err(|e| SaveError::Other(e.into()))
    }

    async fn update(
        &self,
        key: SessionKey,
        state: State,
        _ttl: &CookieDuration,
    ) -> Result<SessionKey, UpdateError> {
        let started = Instant::now();
        let result = match &self.backend {
            Backend::Redis(s) => s.update(key_of(&key), state).await,
            Backend::Database(s) => s.update(key_of(&key), state).await,
        };
        self.observe("update", started);
        result.map(|()| key)
    }

    /// Every write sets the TTL from the session's own lifetime; actix's
    /// TTL here is the browser's idle time whatever the session's kind, so
    /// it is not applied (the middleware's default policy never asks).
    async fn update_ttl(
        &self,
        _key: &SessionKey,
        _ttl: &CookieDuration,
    ) -> Result<(), anyhow::Error> {
        Ok(())
    }

    async fn delete(&self, key: &SessionKey) -> Result<(), anyhow::Error> {
        let started = Instant::now();
        let result = match &self.backend {
            Backend::Redis(s) => s.delete(key_of(key)).await,
            Backend::Database(s) => s.delete(key_of(key)).await,
        };
        self.observe("delete", started);
        result
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn lifetimes() -> Lifetimes {
        let lifetime = |idle, absolute| Lifetime {
            idle: Duration::from_secs(idle),
            absolute: Duration::from_secs(absolute),
        };
        Lifetimes {
            browser: lifetime(60, 100),
            remembered: lifetime(1000, 1000),
            app: lifetime(5000, 10_000),
        }
    }

    #[test]
    fn state_round_trips_through_the_helpers() {
        let now = Utc::now();
        let state = new_state(42, ClientKind::App, now);
        assert_eq!(user_id(&state), Some(42));
        let info = info("id".into(), &state, &lifetimes()).unwrap();
        assert_eq!(info.client, ClientKind::App);
        assert_eq!(info.created_at.timestamp(), now.timestamp());
        assert_eq!((info.expires_at - info.created_at).num_seconds(), 10_000);
        // actix-identity reads the id as a JSON string.
        assert_eq!(state[USER_ID_KEY], "\"42\"");
    }

    #[test]
    fn ttl_is_the_kinds_idle_time_and_never_outlives_its_deadline() {
        let lifetimes = lifetimes();
        let created = Utc::now() - chrono::Duration::seconds(90);
        let mut browser = new_state(1, ClientKind::Browser, created);
        let ttl = lifetimes.ttl(&browser);
        assert!(ttl <= Duration::from_secs(10), "{ttl:?}");
        let app = new_state(1, ClientKind::App, created);
        assert_eq!(lifetimes.ttl(&app), Duration::from_secs(5000));
        browser.insert(REMEMBER_KEY.into(), "true".into());
        let ttl = lifetimes.ttl(&browser);
        assert!(
            (Duration::from_secs(900)..=Duration::from_secs(910)).contains(&ttl),
            "{ttl:?}"
        );
    }
}
