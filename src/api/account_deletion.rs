//! Leaving: `DELETE /accounts/me`.

use actix_web::{web, HttpRequest, HttpResponse};

use super::admin_schemas::DeleteAccountRequest;
use super::current_user::CurrentUser;
use super::json::ApiJson;
use super::reauthentication::consent;
use super::responses::{CsrfOrReauthentication, NotAuthenticated};
use super::AppState;
use crate::error::{ApiError, Problem};

/// Delete my account
///
/// Needs the password (`{"password"}`), or a session re-authenticated
/// within `REAUTHENTICATION_WINDOW_SECS` (then `{}`). Everything of the account goes at once: the user,
/// the profile and its picture, every session (cookies and tokens, on
/// every instance), every mailed link and pending message. A notice goes
/// to the address, which can register again at once.
#[utoipa::path(
    delete, path = "/accounts/me", tag = "me",
    request_body = DeleteAccountRequest,
    responses(
        (status = 204, description = "The account is deleted; this session has ended too"),
        (status = 400, description = "`validation_failed` (a wrong password, which counts toward the login throttle) or `malformed_request`", body = Problem, content_type = "application/problem+json"),
        NotAuthenticated,
        CsrfOrReauthentication,
        (status = 429, description = "`too_many_attempts`: too many wrong passwords for this account; see `Retry-After`", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds until attempts are accepted again"))),
    ),
    security(("session_cookie" = []), ("bearer" = []))
)]
pub async fn delete_me(
    req: HttpRequest,
    state: web::Data<AppState>,
    me: CurrentUser,
    body: ApiJson<DeleteAccountRequest>,
) -> Result<HttpResponse, ApiError> {
    let consent = consent(&req, &state, &me, body.0.password);
    state
        .accounts
        .delete_own_account(me.user.id, consent)
        .await?;
    // The store has no session left; this drops the cookie too.
    me.auth.end();
    Ok(HttpResponse::NoContent().finish())
}
