//! CSRF token, register, login, logout.

use actix_identity::Identity;
use actix_session::Session;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};

use super::json::ApiJson;
use super::responses::{CsrfFailed, InvalidBody, NotAuthenticated, PayloadTooLarge};
use super::schemas::{Accepted, AuthResponse, CsrfResponse, LoginRequest, RegisterRequest};
use super::AppState;
use crate::accounts::{Client, Credentials, LoggedIn, NewSession, Registration, SignedUp};
use crate::auth::current::{Authenticated, PersistentCookie};
use crate::auth::sessions::{
    ClientKind, AUTHENTICATED_AT_KEY, CLIENT_KEY, CREATED_AT_KEY, GENERATION_KEY, LAST_SEEN_KEY,
    REMEMBER_KEY,
};
use crate::auth::tokens::csrf_token;
use crate::auth::transport::{Transport, CSRF_COOKIE};
use crate::config::SameSite as SameSiteSetting;
use crate::error::{ApiError, Problem};

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
        .secure(state.settings.http.cookie_secure)
        .same_site(match state.settings.http.cookie_same_site {
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
/// Creates the account (with an empty profile), mails a verification link
/// to its address, and logs it in: browser clients get the session cookie,
/// app clients a Bearer token. With `REQUIRE_EMAIL_VERIFICATION=true` it
/// answers 202 instead, with no user, session or token, whether the email
/// was new or already registered (its owner is told by mail), so
/// registration reveals nothing.
#[utoipa::path(
    post, path = "/accounts/register", tag = "accounts",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "Registered and logged in; a verification link was mailed", body = AuthResponse),
        (status = 202, description = "`REQUIRE_EMAIL_VERIFICATION=true`: the same answer for a new and a registered email; the link (or a notice to the owner) was mailed", body = Accepted),
        InvalidBody,
        (status = 403, description = "`csrf_failed`: a session cookie was sent without a matching `X-CSRFToken`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`email_taken`", body = Problem, content_type = "application/problem+json"),
        PayloadTooLarge,
        (status = 429, description = "`too_many_attempts`: more than `REGISTRATIONS_PER_IP` registrations (409s included) from this address within `REGISTRATION_WINDOW_SECS`; see `Retry-After`", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds until registrations from this address are accepted again"))),
    )
)]
pub async fn register(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    body: ApiJson<RegisterRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    let client = client_of(&req, &state, body.client, body.remember);
    let registration = Registration {
        email: body.email,
        password: body.password.into(),
        username: body.username.unwrap_or_default(),
        first_name: body.first_name.unwrap_or_default(),
        last_name: body.last_name.unwrap_or_default(),
        is_staff: false,
        is_superuser: false,
        logs_in: true,
    };
    match state.accounts.sign_up(registration, client).await? {
        SignedUp::LoggedIn(logged_in) => {
            Ok(HttpResponse::Created().json(respond(&req, &session, *logged_in)?))
        }
        SignedUp::CheckYourEmail => Ok(HttpResponse::Accepted().json(Accepted::new(
            "Check your email: we sent a message to the address you entered.",
        ))),
    }
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
        InvalidBody,
        (status = 401, description = "`invalid_credentials`: unknown email, wrong password and inactive account alike; or `mfa_required`: the right password of a user with two-factor login on, no session yet; the body also has `mfa_token` and `expires_at`: finish at `POST /accounts/login/mfa`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`csrf_failed`; or `email_not_verified`: `REQUIRE_EMAIL_VERIFICATION=true` and the right password for an account whose address is not verified yet", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`too_many_attempts`: `LOGIN_FAILURES_PER_ACCOUNT` failures for this email, or `LOGIN_FAILURES_PER_IP` from this address, within `LOGIN_FAILURE_WINDOW_SECS` (or, rarely, attempts for this email still in flight after `LOGIN_IN_FLIGHT_WAIT_SECS`: retry in a second); see `Retry-After`", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds until attempts are accepted again"))),
    )
)]
pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    body: ApiJson<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    let client = client_of(&req, &state, body.client, body.remember);
    let credentials = Credentials {
        email: body.email,
        password: body.password.into(),
    };
    let logged_in = state.accounts.log_in(credentials, client).await?;
    Ok(HttpResponse::Ok().json(respond(&req, &session, logged_in)?))
}

/// Who is asking for a session, as the request says.
pub(super) fn client_of(
    req: &HttpRequest,
    state: &AppState,
    kind: Option<ClientKind>,
    remember: Option<bool>,
) -> Client {
    Client {
        kind: kind.unwrap_or_default(),
        remember: remember.unwrap_or(false),
        sent_bearer: req
            .extensions()
            .get::<Transport>()
            .is_some_and(|t| t.client == ClientKind::App),
        ip: state.client_ip(req),
    }
}

/// The response to a login or registration. A browser's session goes into
/// the request's cookie session, which the middleware stores with a new
/// key; an app's token is already in the store.
pub(super) fn respond(
    req: &HttpRequest,
    session: &Session,
    logged_in: LoggedIn,
) -> Result<AuthResponse, ApiError> {
    let LoggedIn { user, session: new } = logged_in;
    let user_out = (&user).into();
    match new {
        NewSession::Browser {
            created_at,
            persistent_max_age_secs,
        } => {
            // Nothing from before the login survives it.
            session.clear();
            let state_error = |e: actix_session::SessionInsertError| {
                ApiError::internal(format!("session state: {e}"))
            };
            session
                .insert(CLIENT_KEY, ClientKind::Browser)
                .map_err(state_error)?;
            session
                .insert(CREATED_AT_KEY, created_at.timestamp())
                .map_err(state_error)?;
            session
                .insert(LAST_SEEN_KEY, created_at.timestamp())
                .map_err(state_error)?;
            session
                .insert(AUTHENTICATED_AT_KEY, created_at.timestamp())
                .map_err(state_error)?;
            session
                .insert(GENERATION_KEY, user.session_generation)
                .map_err(state_error)?;
            if let Some(max_age_secs) = persistent_max_age_secs {
                session.insert(REMEMBER_KEY, true).map_err(state_error)?;
                req.extensions_mut()
                    .insert(PersistentCookie { max_age_secs });
            }
            Identity::login(&req.extensions(), user.id.to_string())
                .map_err(|e| ApiError::internal(format!("identity: {e}")))?;
            Ok(AuthResponse {
                user: user_out,
                token: None,
                expires_at: None,
            })
        }
        NewSession::App { token, expires_at } => Ok(AuthResponse {
            user: user_out,
            token: Some(token),
            expires_at: Some(expires_at),
        }),
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
        NotAuthenticated,
        CsrfFailed,
    ),
    security(("session_cookie" = []), ("bearer" = []))
)]
pub async fn logout(auth: Authenticated) -> HttpResponse {
    auth.end();
    HttpResponse::NoContent().finish()
}
