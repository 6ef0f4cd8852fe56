//! `POST /accounts/password/change`.

use actix_web::{web, HttpRequest, HttpResponse};

use super::current_user::CurrentUser;
use super::json::ApiJson;
use super::responses::{CsrfOrReauthentication, NotAuthenticated};
use super::schemas::PasswordChangeRequest;
use super::AppState;
use crate::accounts::PasswordChange;
use crate::auth::sessions::ClientKind;
use crate::error::{ApiError, Problem};

/// Change my password
///
/// Keeps this session (a browser gets a new session key) and ends every
/// other session of the user, on every instance, and any login in flight.
/// An account without a usable password leaves `current_password` out to
/// set its first one, from a session re-authenticated within
/// `REAUTHENTICATION_WINDOW_SECS`.
#[utoipa::path(
    post, path = "/accounts/password/change", tag = "me",
    request_body = PasswordChangeRequest,
    responses(
        (status = 204, description = "Changed; every other session has ended"),
        (status = 400, description = "`validation_failed`: `errors.current_password` (wrong) or `errors.new_password` (a rule broken); or `malformed_request`", body = Problem, content_type = "application/problem+json"),
        NotAuthenticated,
        CsrfOrReauthentication,
        (status = 429, description = "`too_many_attempts`: too many wrong current passwords; see `Retry-After`", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds until attempts for this account are accepted again"))),
    ),
    security(("session_cookie" = []), ("bearer" = []))
)]
pub async fn change_password(
    req: HttpRequest,
    state: web::Data<AppState>,
    me: CurrentUser,
    body: ApiJson<PasswordChangeRequest>,
) -> Result<HttpResponse, ApiError> {
    let change = PasswordChange {
        current: body.0.current_password.map(Into::into),
        new: body.0.new_password.into(),
        authenticated_at: me.auth.authenticated_at,
        client_ip: state.client_ip(&req),
        keep_session: me.auth.session_id.clone(),
    };
    let generation = state.accounts.change_password(me.user.id, change).await?;
    me.auth.move_to_generation(generation)?;
    if me.auth.client == ClientKind::Browser {
        me.auth.session.renew();
    }
    Ok(HttpResponse::NoContent().finish())
}
