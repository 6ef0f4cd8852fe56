//! The `Authenticated` extractor: the logged-in user of this request, with
//! the session's idle and absolute timeouts enforced.

use std::future::{ready, Ready};
use std::time::Duration;

use actix_identity::Identity;
use actix_session::{Session, SessionExt};
use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use chrono::{DateTime, Utc};

use super::sessions::{
    ClientKind, Lifetimes, SessionUser, AUTHENTICATED_AT_KEY, CLIENT_KEY, CREATED_AT_KEY,
    GENERATION_KEY, LAST_SEEN_KEY, REMEMBER_KEY, USER_KEY,
};
use super::transport::Transport;
use crate::error::ApiError;

/// Session timing, from the settings.
#[derive(Clone, Copy, Debug)]
pub struct SessionPolicy {
    pub lifetimes: Lifetimes,
    /// `last_seen_at` is rewritten at most this often, so a busy client does
    /// not cost a store write per request.
    pub touch_interval: Duration,
}

/// Put into a request's extensions for a remembered browser session: the
/// transport middleware gives its cookie this Max-Age, so that it outlives
/// the browser (actix-session's own cookies are session cookies).
#[derive(Clone, Copy, Debug)]
pub struct PersistentCookie {
    pub max_age_secs: i64,
}

pub struct Authenticated {
    pub user_id: i32,
    /// The user's session generation when this session started.
    pub generation: i32,
    pub client: ClientKind,
    /// The public id of this session.
    pub session_id: Option<String>,
    /// The user as the store loaded it with the session, when it could.
    pub user: Option<SessionUser>,
    /// When this session's person last proved who they are.
    pub authenticated_at: Option<DateTime<Utc>>,
    pub session: Session,
}

impl Authenticated {
    /// Ends this session (logout, or a user who can no longer log in).
    pub fn end(self) {
        self.session.purge();
    }

    /// Records a re-authentication of this session (it belongs to the
    /// session, not to the user).
    pub fn mark_authenticated(&self, at: DateTime<Utc>) -> Result<(), ApiError> {
        self.session
            .insert(AUTHENTICATED_AT_KEY, at.timestamp())
            .map_err(|e| ApiError::internal(format!("session state: {e}")))
    }

    /// Keeps this session across a move of the user's generation (its own
    /// password change), which ends every other.
    pub fn move_to_generation(&self, generation: i32) -> Result<(), ApiError> {
        self.session
            .insert(GENERATION_KEY, generation)
            .map_err(|e| ApiError::internal(format!("session state: {e}")))
    }
}

fn check(req: &HttpRequest) -> Result<Authenticated, ApiError> {
    let policy = req
        .app_data::<web::Data<SessionPolicy>>()
        .ok_or_else(|| ApiError::internal("session policy not configured"))?;
    let identity = <Identity as FromRequest>::extract(req)
        .into_inner()
        .map_err(|_| ApiError::NotAuthenticated)?;
    let user_id = identity
        .id()
        .ok()
        .and_then(|id| id.parse::<i32>().ok())
        .ok_or(ApiError::NotAuthenticated)?;
    let session = req.get_session();
    let now = Utc::now().timestamp();
    let created: i64 = session.get(CREATED_AT_KEY).ok().flatten().unwrap_or(0);
    let last_seen: i64 = session.get(LAST_SEEN_KEY).ok().flatten().unwrap_or(created);
    let client: ClientKind = session.get(CLIENT_KEY).ok().flatten().unwrap_or_default();
    let remember = client == ClientKind::Browser
        && session
            .get::<bool>(REMEMBER_KEY)
            .ok()
            .flatten()
            .unwrap_or(false);
    let lifetime = policy.lifetimes.of_kind(client, remember);
    let secs = |d: Duration| i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
    // Timestamps are whole seconds: "more than" gives the benefit of the
    // doubt to the fraction lost, never less than the configured time.
    let age = now.saturating_sub(created);
    if age > secs(lifetime.absolute) || now.saturating_sub(last_seen) > secs(lifetime.idle) {
        session.purge();
        return Err(ApiError::NotAuthenticated);
    }
    if remember {
        req.extensions_mut().insert(PersistentCookie {
            max_age_secs: secs(lifetime.absolute).saturating_sub(age).max(1),
        });
    }
    if now.saturating_sub(last_seen) >= secs(policy.touch_interval) {
        session
            .insert(LAST_SEEN_KEY, now)
            .map_err(|e| ApiError::internal(format!("session state: {e}")))?;
    }
    let transport = req.extensions().get::<Transport>().cloned();
    Ok(Authenticated {
        user_id,
        generation: session.get(GENERATION_KEY).ok().flatten().unwrap_or(0),
        authenticated_at: session
            .get::<i64>(AUTHENTICATED_AT_KEY)
            .ok()
            .flatten()
            .and_then(|t| DateTime::from_timestamp(t, 0)),
        client: transport.as_ref().map_or(ClientKind::Browser, |t| t.client),
        session_id: transport.and_then(|t| t.session_id),
        user: session
            .get::<SessionUser>(USER_KEY)
            .ok()
            .flatten()
            .filter(|u| u.id == user_id),
        session,
    })
}

impl FromRequest for Authenticated {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(check(req))
    }
}
