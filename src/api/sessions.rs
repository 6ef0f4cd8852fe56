//! The user's sessions: list and revoke.

use actix_web::{web, HttpResponse};

use super::schemas::{SessionOut, SessionsResponse};
use super::AppState;
use crate::auth::current::Authenticated;
use crate::error::{ApiError, Problem};

/// My sessions
///
/// Every live session of the user, browsers and apps alike; `current`
/// marks the one making this request. Ids are public identifiers, never
/// session keys or tokens.
#[utoipa::path(
    get, path = "/accounts/sessions", tag = "sessions",
    responses(
        (status = 200, description = "The user's live sessions, most recently seen first", body = SessionsResponse),
        (status = 401, description = "`not_authenticated`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session_cookie" = []), ("bearer" = []))
)]
pub async fn list_sessions(
    state: web::Data<AppState>,
    auth: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let (user, auth) = super::me::current_user(&state, auth).await?;
    let mut sessions = state.sessions.list(user.id).await?;
    sessions.sort_by(|a, b| {
        b.last_seen_at
            .cmp(&a.last_seen_at)
            .then(b.created_at.cmp(&a.created_at))
    });
    let current = auth.session_id.as_deref();
    let sessions = sessions
        .into_iter()
        .map(|s| SessionOut {
            current: current == Some(s.id.as_str()),
            id: s.id,
            client: s.client,
            created_at: s.created_at,
            last_seen_at: s.last_seen_at,
        })
        .collect();
    Ok(HttpResponse::Ok().json(SessionsResponse { sessions }))
}

/// End a session
///
/// Ends one of the user's sessions at once, everywhere. Ending the current
/// one is a logout.
#[utoipa::path(
    delete, path = "/accounts/sessions/{id}", tag = "sessions",
    params(("id" = String, Path, description = "A session id from `GET /accounts/sessions`")),
    responses(
        (status = 204, description = "The session has ended"),
        (status = 401, description = "`not_authenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`csrf_failed`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: no such session among the user's", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session_cookie" = []), ("bearer" = []))
)]
pub async fn revoke_session(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (user, auth) = super::me::current_user(&state, auth).await?;
    let id = id.into_inner();
    let well_formed = id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit());
    if !well_formed || !state.sessions.revoke(user.id, &id).await? {
        return Err(ApiError::NotFound);
    }
    if auth.session_id.as_deref() == Some(id.as_str()) {
        auth.end();
    }
    Ok(HttpResponse::NoContent().finish())
}
