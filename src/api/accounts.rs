//! CSRF token, register, login, logout.

use actix_identity::Identity;
use actix_session::Session;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use chrono::Utc;

use super::json::ApiJson;
use super::schemas::{AuthResponse, CsrfResponse, LoginRequest, RegisterRequest};
use super::AppState;
use crate::accounts::Registration;
use crate::auth::current::Authenticated;
use crate::auth::sessions::{
    new_state, ClientKind, SessionUser, CLIENT_KEY, CREATED_AT_KEY, LAST_SEEN_KEY,
};
use crate::auth::tokens::csrf_token;
use crate::auth::transport::{Transport, CSRF_COOKIE};
use crate::config::SameSite as SameSiteSetting;
use crate::db::models::User;
use crate::error::{ApiError, Problem};
use crate::foreground;
use crate::metrics::{LoginOutcome, Metrics};

/// Issue a CSRF token
///
/// Sets the `csrftoken` cookie (readable by scripts, `SameSite=Lax`) and
/// returns the same value. Browser clients send it back as `X-CSRFToken` on
/// every POST, PUT, PATCH and DELETE that carries the session cookie.
#[utoipa::path(
    get, path = "/accounts/csrf", tag = "accounts",
    responses((status = 200, description = "The CSRF token, also set as the `csrftoken` cookie", body = CsrfResponse))
)]
pub async fn get_csrf(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let token = req
        .cookie(CSRF_COOKIE)
        .map(|c| c.value().to_owned())
        .filter(|v| {
            v.len() == 43
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .unwrap_or_else(csrf_token);
    let cookie = Cookie::build(CSRF_COOKIE, token.clone())
        .path("/")
        .http_only(false)
        .secure(state.settings.cookie_secure)
        .same_site(match state.settings.cookie_same_site {
            SameSiteSetting::None => SameSite::None,
            _ => SameSite::Lax,
        })
        .max_age(actix_web::cookie::time::Duration::days(365))
        .finish();
    HttpResponse::Ok()
        .cookie(cookie)
        .json(CsrfResponse { csrf_token: token })
}

/// Register
///
/// Creates the account (with an empty profile) and logs it in: browser
/// clients get the session cookie, app clients a Bearer token.
#[utoipa::path(
    post, path = "/accounts/register", tag = "accounts",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "Registered and logged in", body = AuthResponse),
        (status = 400, description = "`validation_failed` or `malformed_request`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`csrf_failed`: a session cookie was sent without a matching `X-CSRFToken`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`email_taken`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn register(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    body: ApiJson<RegisterRequest>,
) -> Result<HttpResponse, ApiError> {
    let _password_work = foreground::PasswordWork::begin();
    let body = body.0;
    check_client(&req, body.client.unwrap_or_default())?;
    let user = state
        .accounts
        .register(Registration {
            email: body.email,
            password: body.password.into(),
            username: body.username.unwrap_or_default(),
            first_name: body.first_name.unwrap_or_default(),
            last_name: body.last_name.unwrap_or_default(),
            is_staff: false,
            is_superuser: false,
            logs_in: true,
        })
        .await?;
    let response = log_in(
        &req,
        &state,
        &session,
        &user,
        body.client.unwrap_or_default(),
    )
    .await?;
    Ok(HttpResponse::Created().json(response))
}

/// Log in
///
/// Browser clients get a new session cookie (the session key is renewed:
/// no fixation); app clients get a Bearer token and its expiry.
#[utoipa::path(
    post, path = "/accounts/login", tag = "accounts",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in", body = AuthResponse),
        (status = 400, description = "`validation_failed` or `malformed_request`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`invalid_credentials`: unknown email, wrong password and inactive account alike", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`csrf_failed`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`too_many_attempts`; see the `Retry-After` header", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds until attempts for this email are accepted again"))),
    )
)]
pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    body: ApiJson<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let _password_work = foreground::PasswordWork::begin();
    let body = body.0;
    if body.email.trim().is_empty() || body.password.is_empty() {
        let mut errors = crate::error::FieldErrors::new();
        for (field, value) in [
            ("email", body.email.trim()),
            ("password", body.password.as_str()),
        ] {
            if value.is_empty() {
                errors.insert(field.into(), vec!["This field may not be blank.".into()]);
            }
        }
        return Err(ApiError::Validation(errors));
    }
    check_client(&req, body.client.unwrap_or_default())?;
    let ip = state.client_ip(&req);
    let result = state
        .accounts
        .authenticate(&body.email, body.password.into(), &ip)
        .await;
    if let Some(metrics) = req.app_data::<web::Data<Metrics>>() {
        match &result {
            Ok(_) => metrics.login(LoginOutcome::Success),
            Err(ApiError::TooManyAttempts { .. }) => metrics.login(LoginOutcome::Throttled),
            Err(ApiError::InvalidCredentials) => metrics.login(LoginOutcome::Failure),
            Err(_) => {}
        }
    }
    let user = result?;
    let response = log_in(
        &req,
        &state,
        &session,
        &user,
        body.client.unwrap_or_default(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(response))
}

/// A browser session lives in a cookie, which a request carrying a Bearer
/// token neither reads nor receives: refuse the mix rather than start a
/// session nobody holds (and renew away the token's).
fn check_client(req: &HttpRequest, client: ClientKind) -> Result<(), ApiError> {
    let bearer = req
        .extensions()
        .get::<Transport>()
        .is_some_and(|t| t.client == ClientKind::App);
    if bearer && client == ClientKind::Browser {
        return Err(ApiError::field(
            "client",
            "A request with an Authorization header cannot start a browser session; send \"client\": \"app\".",
        ));
    }
    Ok(())
}

/// Starts a session for `user`: in the request's cookie session for
/// browsers, or directly in the store for apps (the key is the token).
async fn log_in(
    req: &HttpRequest,
    state: &AppState,
    session: &Session,
    user: &User,
    client: ClientKind,
) -> Result<AuthResponse, ApiError> {
    let now = Utc::now();
    state.sessions.cache_user(&SessionUser::from(user)).await?;
    let user_out = user.into();
    match client {
        ClientKind::Browser => {
            // Nothing from before the login survives it, and the key is new.
            session.clear();
            let state_error = |e: actix_session::SessionInsertError| {
                ApiError::internal(format!("session state: {e}"))
            };
            session
                .insert(CLIENT_KEY, ClientKind::Browser)
                .map_err(state_error)?;
            session
                .insert(CREATED_AT_KEY, now.timestamp())
                .map_err(state_error)?;
            session
                .insert(LAST_SEEN_KEY, now.timestamp())
                .map_err(state_error)?;
            Identity::login(&req.extensions(), user.id.to_string())
                .map_err(|e| ApiError::internal(format!("identity: {e}")))?;
            Ok(AuthResponse {
                user: user_out,
                token: None,
                expires_at: None,
            })
        }
        ClientKind::App => {
            let token = state
                .sessions
                .create(
                    new_state(user.id, ClientKind::App, now),
                    state.policy.idle_timeout,
                )
                .await?;
            let lifetime = chrono::Duration::from_std(state.policy.absolute_timeout)
                .unwrap_or(chrono::Duration::MAX);
            Ok(AuthResponse {
                user: user_out,
                token: Some(token),
                expires_at: Some(now + lifetime),
            })
        }
    }
}

/// Log out
///
/// Deletes the session server-side: the cookie or token is useless at once,
/// on every instance.
#[utoipa::path(
    post, path = "/accounts/logout", tag = "accounts",
    responses(
        (status = 204, description = "Logged out"),
        (status = 401, description = "`not_authenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`csrf_failed`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session_cookie" = []), ("bearer" = []))
)]
pub async fn logout(auth: Authenticated) -> HttpResponse {
    auth.end();
    HttpResponse::NoContent().finish()
}
