//! `POST /accounts/password/reset` and `POST /accounts/password/reset/confirm`.

use actix_web::{web, HttpRequest, HttpResponse};

use super::json::ApiJson;
use super::responses::CsrfFailed;
use super::schemas::{Accepted, PasswordResetConfirm, PasswordResetRequest};
use super::AppState;
use crate::error::{ApiError, Problem};

/// The one answer to every reset request, whatever the email.
const SENT_IF_KNOWN: &str =
    "If an account uses that address, we have sent it a link to reset the password.";

/// Ask for a password reset link
///
/// Answers 202 with the same body, after the same work, for every email,
/// registered or not; only a known, active account is mailed a link (at
/// most one each `EMAIL_RESEND_INTERVAL_SECS`; the link lasts
/// `PASSWORD_RESET_TTL_SECS`). A newer link voids the older ones.
#[utoipa::path(
    post, path = "/accounts/password/reset", tag = "password reset",
    request_body = PasswordResetRequest,
    responses(
        (status = 202, description = "Accepted; a link is mailed if an active account has this address", body = Accepted),
        (status = 400, description = "`validation_failed`: `errors.email` (not an email address); or `malformed_request`", body = Problem, content_type = "application/problem+json"),
        CsrfFailed,
        (status = 429, description = "`too_many_attempts`: more than `PASSWORD_RESETS_PER_IP` requests from this address within `PASSWORD_RESET_WINDOW_SECS`; see `Retry-After`", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds until requests from this address are accepted again"))),
    )
)]
pub async fn request_reset(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: ApiJson<PasswordResetRequest>,
) -> Result<HttpResponse, ApiError> {
    state
        .accounts
        .request_password_reset(&body.0.email, &state.client_ip(&req))
        .await?;
    Ok(HttpResponse::Accepted().json(Accepted::new(SENT_IF_KNOWN)))
}

/// Set a new password with a reset token
///
/// Spends the token from the message. Every session of the user ends, the
/// account's failed logins are forgotten (a locked-out user can log in
/// again), a "your password was changed" notice is mailed, and nobody is
/// logged in. A new password that breaks a rule is refused without
/// spending the token.
#[utoipa::path(
    post, path = "/accounts/password/reset/confirm", tag = "password reset",
    request_body = PasswordResetConfirm,
    responses(
        (status = 204, description = "The password is changed; log in with it"),
        (status = 400, description = "`invalid_token`: unknown, already used, expired or for another purpose (all alike); or `validation_failed`: `errors.new_password` (a rule broken; the token is not spent); or `malformed_request`", body = Problem, content_type = "application/problem+json"),
        CsrfFailed,
    )
)]
pub async fn confirm_reset(
    state: web::Data<AppState>,
    body: ApiJson<PasswordResetConfirm>,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    state
        .accounts
        .confirm_password_reset(&body.token, body.new_password.into())
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
