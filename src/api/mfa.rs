//! Two-factor login: `/accounts/mfa...` (the user's settings) and `POST
//! /accounts/login/mfa` (the second step of a login).

use actix_session::Session;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::accounts::{client_of, respond};
use super::current_user::CurrentUser;
use super::json::{ApiJson, OptionalJson};
use super::reauthentication::consent;
use super::responses::{CsrfFailed, CsrfOrReauthentication, NotAuthenticated};
use super::schemas::AuthResponse;
use super::AppState;
use crate::error::{ApiError, Problem};

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"totp_enabled": true, "recovery_codes_remaining": 9}))]
pub struct MfaStatusResponse {
    pub totp_enabled: bool,
    /// Unused recovery codes (0 while TOTP is off).
    pub recovery_codes_remaining: i64,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"secret": "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", "otpauth_url": "otpauth://totp/accounts:ada%40example.com?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=accounts"}))]
pub struct TotpSetupResponse {
    /// The secret in base32, for typing into an authenticator app.
    pub secret: String,
    /// The same secret as a URL authenticator apps read (show it as a QR
    /// code): SHA-1, 6 digits, 30 s, `MFA_ISSUER` and the account's email.
    pub otpauth_url: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"code": "123456"}))]
pub struct CodeRequest {
    /// A 6-digit code from the authenticator app.
    pub code: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"recovery_codes": ["ABCD-EFGH-IJKL-MNOP"]}))]
pub struct RecoveryCodesResponse {
    /// 10 codes, each accepted once in place of a TOTP code. Shown only
    /// now: the service keeps their hashes.
    pub recovery_codes: Vec<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"password": "correct horse battery staple"}))]
pub struct PasswordRequest {
    /// The account's current password. It may be left out by a session
    /// re-authenticated within `REAUTHENTICATION_WINDOW_SECS` (`POST
    /// /accounts/reauthenticate`, or a login that recent); otherwise it is
    /// `403 reauthentication_required`.
    pub password: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"mfa_token": "from the 401 mfa_required of POST /accounts/login", "code": "123456"}))]
pub struct MfaLoginRequest {
    /// The `mfa_token` of the first step's `401 mfa_required`.
    pub mfa_token: String,
    /// A 6-digit TOTP code, or a recovery code.
    pub code: String,
}

/// My second factor
#[utoipa::path(
    get, path = "/accounts/mfa", tag = "mfa",
    responses(
        (status = 200, description = "Whether TOTP is on, and the recovery codes left", body = MfaStatusResponse),
        NotAuthenticated,
    ),
    security(("session_cookie" = []), ("bearer" = []))
)]
pub async fn get_mfa(
    state: web::Data<AppState>,
    me: CurrentUser,
) -> Result<HttpResponse, ApiError> {
    let status = state.accounts.mfa_status(me.user.id).await?;
    Ok(HttpResponse::Ok().json(MfaStatusResponse {
        totp_enabled: status.totp_enabled,
        recovery_codes_remaining: status.recovery_codes_remaining,
    }))
}

/// Start TOTP setup
///
/// A new secret, pending (replacing any earlier pending one): nothing is on
/// until `POST /accounts/mfa/totp/confirm` gets a code from it. Needs a
/// verified address, and the password (`{"password"}`) or a session
/// re-authenticated within `REAUTHENTICATION_WINDOW_SECS` (then no body,
/// or `{}`).
#[utoipa::path(
    post, path = "/accounts/mfa/totp/setup", tag = "mfa",
    request_body(content = Option<PasswordRequest>, description = "Optional: the password, unless the session was re-authenticated recently"),
    responses(
        (status = 200, description = "The pending secret", body = TotpSetupResponse),
        (status = 400, description = "`validation_failed`: `errors.password` (wrong; counts toward the login throttle); or `malformed_request`", body = Problem, content_type = "application/problem+json"),
        NotAuthenticated,
        (status = 403, description = "`email_not_verified`: the account's address is not verified; `reauthentication_required`: send the password, or re-authenticate first (`POST /accounts/reauthenticate`); or `csrf_failed`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`mfa_already_enabled`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session_cookie" = []), ("bearer" = []))
)]
pub async fn setup_totp(
    req: HttpRequest,
    state: web::Data<AppState>,
    me: CurrentUser,
    body: OptionalJson<PasswordRequest>,
) -> Result<HttpResponse, ApiError> {
    let password = body.0.and_then(|b| b.password);
    let consent = consent(&req, &state, &me, password);
    let enrolment = state.accounts.begin_totp_setup(me.user.id, consent).await?;
    Ok(HttpResponse::Ok().json(TotpSetupResponse {
        secret: enrolment.secret,
        otpauth_url: enrolment.otpauth_url,
    }))
}

/// Confirm TOTP setup
///
/// With a code from the pending secret, TOTP is on; the answer carries the
/// recovery codes, this once. A notice goes to the account's address.
#[utoipa::path(
    post, path = "/accounts/mfa/totp/confirm", tag = "mfa",
    request_body = CodeRequest,
    responses(
        (status = 200, description = "TOTP is on", body = RecoveryCodesResponse),
        (status = 400, description = "`invalid_code`: not a code of the pending secret (or no setup was started); or `malformed_request`", body = Problem, content_type = "application/problem+json"),
        NotAuthenticated,
        CsrfFailed,
        (status = 409, description = "`mfa_already_enabled`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session_cookie" = []), ("bearer" = []))
)]
pub async fn confirm_totp(
    state: web::Data<AppState>,
    me: CurrentUser,
    body: ApiJson<CodeRequest>,
) -> Result<HttpResponse, ApiError> {
    let codes = state
        .accounts
        .confirm_totp(me.user.id, &body.0.code)
        .await?;
    Ok(HttpResponse::Ok().json(RecoveryCodesResponse {
        recovery_codes: codes,
    }))
}

/// Turn TOTP off
///
/// Needs the password, or a session re-authenticated within
/// `REAUTHENTICATION_WINDOW_SECS` (then `{}`). TOTP and the recovery codes
/// are gone; a notice goes to the account's address. The user's sessions
/// stay.
#[utoipa::path(
    delete, path = "/accounts/mfa/totp", tag = "mfa",
    request_body = PasswordRequest,
    responses(
        (status = 204, description = "TOTP is off (or was)"),
        (status = 400, description = "`validation_failed`: `errors.password` (wrong; counts toward the login throttle); or `malformed_request`", body = Problem, content_type = "application/problem+json"),
        NotAuthenticated,
        CsrfOrReauthentication,
        (status = 429, description = "`too_many_attempts`: too many wrong passwords; see `Retry-After`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session_cookie" = []), ("bearer" = []))
)]
pub async fn disable_totp(
    req: HttpRequest,
    state: web::Data<AppState>,
    me: CurrentUser,
    body: ApiJson<PasswordRequest>,
) -> Result<HttpResponse, ApiError> {
    let consent = consent(&req, &state, &me, body.0.password);
    state.accounts.disable_totp(me.user.id, consent).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// New recovery codes
///
/// Needs the password, or a session re-authenticated within
/// `REAUTHENTICATION_WINDOW_SECS` (then `{}`). A new set of 10; the old set
/// no longer works.
#[utoipa::path(
    post, path = "/accounts/mfa/recovery-codes", tag = "mfa",
    request_body = PasswordRequest,
    responses(
        (status = 200, description = "The new set, shown this once", body = RecoveryCodesResponse),
        (status = 400, description = "`validation_failed`: `errors.password` (wrong); or `malformed_request`", body = Problem, content_type = "application/problem+json"),
        NotAuthenticated,
        CsrfOrReauthentication,
        (status = 409, description = "`mfa_not_enabled`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`too_many_attempts`; see `Retry-After`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session_cookie" = []), ("bearer" = []))
)]
pub async fn regenerate_recovery_codes(
    req: HttpRequest,
    state: web::Data<AppState>,
    me: CurrentUser,
    body: ApiJson<PasswordRequest>,
) -> Result<HttpResponse, ApiError> {
    let consent = consent(&req, &state, &me, body.0.password);
    let codes = state
        .accounts
        .regenerate_recovery_codes(me.user.id, consent)
        .await?;
    Ok(HttpResponse::Ok().json(RecoveryCodesResponse {
        recovery_codes: codes,
    }))
}

/// Log in: the second step
///
/// For a user with TOTP on, `POST /accounts/login` with the right password
/// answers `401 mfa_required` with an `mfa_token`; this takes that token
/// and a TOTP or recovery code and answers as login does, for the client
/// the first step named (a cookie for a browser, a Bearer token for an
/// app). The token lives `MFA_LOGIN_TTL_SECS`, works once, and dies after
/// `MFA_CODE_ATTEMPTS` wrong codes; wrong codes count toward the account's
/// login throttle.
#[utoipa::path(
    post, path = "/accounts/login/mfa", tag = "accounts",
    request_body = MfaLoginRequest,
    responses(
        (status = 200, description = "Logged in", body = AuthResponse),
        (status = 400, description = "`invalid_code`: not a fresh code of the user (a TOTP code is accepted once); or `malformed_request`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`invalid_token`: the `mfa_token` is unknown, expired, spent, or dead after too many wrong codes: log in again", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`csrf_failed`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`too_many_attempts`: the account's login throttle; see `Retry-After`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn login_mfa(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    body: ApiJson<MfaLoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let MfaLoginRequest { mfa_token, code } = body.0;
    let client = client_of(&req, &state, None, None);
    let logged_in = state.accounts.log_in_mfa(&mfa_token, &code, client).await?;
    Ok(HttpResponse::Ok().json(respond(&req, &session, logged_in)?))
}
