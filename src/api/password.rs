//! `POST /accounts/password/change`.

use actix_web::{web, HttpRequest, HttpResponse};

use super::json::ApiJson;
use super::me::current_user;
use super::schemas::PasswordChangeRequest;
use super::AppState;
use crate::auth::current::Authenticated;
use crate::auth::sessions::ClientKind;
use crate::error::{ApiError, Problem};
use crate::foreground;

/// Change my password
///
/// Keeps this session (a browser gets a new session key) and ends every
/// other session of the user, on every instance.
#[utoipa::path(
    post, path = "/accounts/password/change", tag = "me",
    request_body = PasswordChangeRequest,
    responses(
        (status = 204, description = "Changed; every other session has ended"),
        (status = 400, description = "`validation_failed`: `errors.current_password` (wrong) or `errors.new_password` (a rule broken); or `malformed_request`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`not_authenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`csrf_failed`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`too_many_attempts`: too many wrong current passwords; see `Retry-After`", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds until attempts for this account are accepted again"))),
    ),
    security(("session_cookie" = []), ("bearer" = []))
)]
pub async fn change_password(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Authenticated,
    body: ApiJson<PasswordChangeRequest>,
) -> Result<HttpResponse, ApiError> {
    let _password_work = foreground::PasswordWork::begin();
    let (user, auth) = current_user(&state, auth).await?;
    // The stored hash is needed here, so the full row.
    let user = state
        .accounts
        .active_user(user.id)
        .await?
        .ok_or(ApiError::NotAuthenticated)?;
    let body = body.0;
    let ip = state.client_ip(&req);
    state
        .accounts
        .change_password(
            &user,
            body.current_password.into(),
            body.new_password.into(),
            &ip,
        )
        .await?;
    let keep = auth.session_id.clone().unwrap_or_default();
    state.sessions.revoke_others(user.id, &keep).await?;
    if auth.client == ClientKind::Browser {
        auth.session.renew();
    }
    Ok(HttpResponse::NoContent().finish())
}
