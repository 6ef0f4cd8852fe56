//! `POST /accounts/email/change` and `POST /accounts/email/change/confirm`.

use actix_web::{web, HttpRequest, HttpResponse};

use super::current_user::CurrentUser;
use super::json::ApiJson;
use super::reauthentication::consent;
use super::responses::{CsrfFailed, CsrfOrReauthentication, InvalidToken, NotAuthenticated};
use super::schemas::{Accepted, EmailChangeRequest, TokenRequest, UserResponse};
use super::AppState;
use crate::accounts::EmailChange;
use crate::error::{ApiError, Problem};

/// Change my email address
///
/// Mails a confirmation link to the new address and a notice to the
/// current one; nothing changes until the link is used (it lasts
/// `EMAIL_CHANGE_TTL_SECS`). Needs the password, or a session
/// re-authenticated within `REAUTHENTICATION_WINDOW_SECS`; a wrong
/// password counts toward the login throttle. With
/// `REQUIRE_EMAIL_VERIFICATION=true` a new address that another account
/// has gets the same 202 (its owner is told, and nothing changes).
#[utoipa::path(
    post, path = "/accounts/email/change", tag = "email",
    request_body = EmailChangeRequest,
    responses(
        (status = 202, description = "A confirmation link is on its way to the new address", body = Accepted),
        (status = 400, description = "`validation_failed`: `errors.new_email` (not an email, or the current one) or `errors.password` (wrong); or `malformed_request`", body = Problem, content_type = "application/problem+json"),
        NotAuthenticated,
        CsrfOrReauthentication,
        (status = 409, description = "`email_taken`: another account has the new address (only with `REQUIRE_EMAIL_VERIFICATION=false`; with `true` the answer is 202)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`too_many_attempts`: too many wrong passwords; see `Retry-After`", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds until attempts for this account are accepted again"))),
    ),
    security(("session_cookie" = []), ("bearer" = []))
)]
pub async fn request_change(
    req: HttpRequest,
    state: web::Data<AppState>,
    me: CurrentUser,
    body: ApiJson<EmailChangeRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    let change = EmailChange {
        new_email: body.new_email,
        consent: consent(&req, &state, &me, body.password),
    };
    state
        .accounts
        .request_email_change(me.user.id, change)
        .await?;
    Ok(HttpResponse::Accepted().json(Accepted::new(
        "We have sent a confirmation link to the new address.",
    )))
}

/// Confirm an email change with a token
///
/// Spends the token from the confirmation message; needs no session. The
/// account takes the new address, verified; the old address gets a notice.
#[utoipa::path(
    post, path = "/accounts/email/change/confirm", tag = "email",
    request_body = TokenRequest,
    responses(
        (status = 200, description = "Changed", body = UserResponse),
        InvalidToken,
        CsrfFailed,
        (status = 409, description = "`email_taken`: another account took the address meanwhile", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn confirm_change(
    state: web::Data<AppState>,
    body: ApiJson<TokenRequest>,
) -> Result<HttpResponse, ApiError> {
    let user = state.accounts.confirm_email_change(&body.0.token).await?;
    Ok(HttpResponse::Ok().json(UserResponse {
        user: (&user).into(),
    }))
}
