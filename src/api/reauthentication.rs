//! `POST /accounts/reauthenticate`, and what every sensitive action's
//! handler hands its use case: the password of its body, if any, and when
//! the session last proved its person (`consent`).

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::current_user::CurrentUser;
use super::json::ApiJson;
use super::responses::{CsrfFailed, NotAuthenticated};
use super::AppState;
use crate::accounts::{Consent, Proof};
use crate::error::{ApiError, FieldErrors, Problem};

/// Exactly one answer.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"password": "correct horse battery staple"}))]
pub struct ReauthenticateRequest {
    /// The account's password.
    pub password: Option<String>,
    /// With TOTP on: a 6-digit code from the authenticator app, or a
    /// recovery code.
    pub code: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"reauthenticated_until": "2026-12-08T10:05:00Z"}))]
pub struct ReauthenticateResponse {
    /// Until then this session may change how its user logs in without
    /// sending the password (`REAUTHENTICATION_WINDOW_SECS` from now).
    pub reauthenticated_until: DateTime<Utc>,
}

/// What a sensitive action's use case needs to decide whether the session
/// may do it: the body's password, if any, and the session's last proof.
pub(super) fn consent(
    req: &HttpRequest,
    state: &AppState,
    me: &CurrentUser,
    password: Option<String>,
) -> Consent {
    Consent {
        password: password.map(Into::into),
        authenticated_at: me.auth.authenticated_at,
        client_ip: state.client_ip(req),
    }
}

/// Re-authenticate
///
/// Proves that the person at the keyboard is the account's owner, not just
/// someone holding its session: for `REAUTHENTICATION_WINDOW_SECS` this
/// session may then change the email, set up or turn off TOTP, make new
/// recovery codes, set a first password or delete the account without
/// sending the password. A login of any kind counts the same from its
/// start. The body holds exactly one answer: `{"password"}`, or `{"code"}`
/// (a TOTP or recovery code, when TOTP is on). Wrong answers count toward
/// the login throttle.
#[utoipa::path(
    post, path = "/accounts/reauthenticate", tag = "me",
    request_body = ReauthenticateRequest,
    responses(
        (status = 200, description = "This session is re-authenticated", body = ReauthenticateResponse),
        (status = 400, description = "`validation_failed`: a wrong password (`errors.password`), no answer, two answers or an unknown member; `invalid_code`: a wrong or used TOTP or recovery code; or `malformed_request`", body = Problem, content_type = "application/problem+json"),
        NotAuthenticated,
        CsrfFailed,
        (status = 429, description = "`too_many_attempts`: the account's login throttle; see `Retry-After`", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds until attempts are accepted again"))),
    ),
    security(("session_cookie" = []), ("bearer" = []))
)]
pub async fn reauthenticate(
    req: HttpRequest,
    state: web::Data<AppState>,
    me: CurrentUser,
    body: ApiJson<ReauthenticateRequest>,
) -> Result<HttpResponse, ApiError> {
    let proof = match body.0 {
        ReauthenticateRequest {
            password: Some(password),
            code: None,
        } => Proof::Password(password.into()),
        ReauthenticateRequest {
            password: None,
            code: Some(code),
        } => Proof::Code(code),
        _ => {
            const ONE: &str = "Send exactly one of password and code.";
            let mut errors = FieldErrors::new();
            errors.insert("non_field_errors".into(), vec![ONE.into()]);
            return Err(ApiError::Validation(errors));
        }
    };
    let ip = state.client_ip(&req);
    let at = state
        .accounts
        .reauthenticate(me.user.id, proof, &ip)
        .await?;
    me.auth.mark_authenticated(at)?;
    Ok(HttpResponse::Ok().json(ReauthenticateResponse {
        reauthenticated_until: state.accounts.reauthenticated_until(at),
    }))
}
