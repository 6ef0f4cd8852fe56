//! The user's sessions: list and revoke.

use actix_web::{web, HttpResponse};

use super::current_user::CurrentUser;
use super::responses::{CsrfFailed, NotAuthenticated};
use super::schemas::SessionsResponse;
use super::AppState;
use crate::error::{ApiError, Problem};

/// My sessions
///
/// The user's live sessions, browsers and apps alike, newest first: at
/// most `SESSION_LIST_LIMIT` (default 100) of them, with `count`, the
/// number of live sessions. A user has at most `MAX_SESSIONS_PER_USER`
/// (default 1000) at once: a login beyond it ends the oldest. `current`
/// marks the one making this request. Ids are public identifiers, never
/// session keys or tokens.
#[utoipa::path(
    get, path = "/accounts/sessions", tag = "sessions",
    responses(
        (status = 200, description = "The user's newest live sessions (at most `SESSION_LIST_LIMIT`), newest first, and `count`, the number of live sessions", body = SessionsResponse),
        NotAuthenticated,
    ),
    security(("session_cookie" = []), ("bearer" = []))
)]
pub async fn list_sessions(
    state: web::Data<AppState>,
    me: CurrentUser,
) -> Result<HttpResponse, ApiError> {
    let current = me.auth.session_id.as_deref();
    let sessions = state.accounts.list_sessions(me.user.id, current).await?;
    Ok(HttpResponse::Ok().json(SessionsResponse::from(sessions)))
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
        NotAuthenticated,
        CsrfFailed,
        (status = 404, description = "`not_found`: no such session among the user's", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session_cookie" = []), ("bearer" = []))
)]
pub async fn revoke_session(
    state: web::Data<AppState>,
    me: CurrentUser,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    state.accounts.revoke_session(me.user.id, &id).await?;
    if me.auth.session_id.as_deref() == Some(id.as_str()) {
        // The store no longer has it; this also drops the cookie.
        me.auth.end();
    }
    Ok(HttpResponse::NoContent().finish())
}
