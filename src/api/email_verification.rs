//! `POST /accounts/email/verification` and `POST /accounts/email/verify`.

use actix_web::{web, HttpResponse};

use super::current_user::CurrentUser;
use super::json::ApiJson;
use super::responses::{CsrfFailed, InvalidToken, NotAuthenticated};
use super::schemas::{Accepted, TokenRequest, UserResponse};
use super::AppState;
use crate::error::{ApiError, Problem};

/// Send me a new verification link
///
/// Mails a verification link to the account's current address (at most
/// one each `EMAIL_RESEND_INTERVAL_SECS`: a request within it is answered
/// the same and sends nothing). The link lasts `EMAIL_VERIFY_TTL_SECS`.
#[utoipa::path(
    post, path = "/accounts/email/verification", tag = "email",
    responses(
        (status = 202, description = "A link is on its way", body = Accepted),
        NotAuthenticated,
        CsrfFailed,
        (status = 409, description = "`email_already_verified`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session_cookie" = []), ("bearer" = []))
)]
pub async fn send_verification(
    state: web::Data<AppState>,
    me: CurrentUser,
) -> Result<HttpResponse, ApiError> {
    state.accounts.resend_verification(me.user.id).await?;
    Ok(HttpResponse::Accepted().json(Accepted::new(
        "We have sent a verification link to your address.",
    )))
}

/// Verify my email address with a token
///
/// Spends the token from the verification message; needs no session (the
/// link may be opened on another device). Answers the user, now with
/// `email_verified: true`.
#[utoipa::path(
    post, path = "/accounts/email/verify", tag = "email",
    request_body = TokenRequest,
    responses(
        (status = 200, description = "Verified", body = UserResponse),
        InvalidToken,
        CsrfFailed,
    )
)]
pub async fn verify(
    state: web::Data<AppState>,
    body: ApiJson<TokenRequest>,
) -> Result<HttpResponse, ApiError> {
    let user = state.accounts.verify_email(&body.0.token).await?;
    Ok(HttpResponse::Ok().json(UserResponse {
        user: (&user).into(),
    }))
}
