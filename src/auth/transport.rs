//! How a session reaches the server: a cookie (browsers) or a Bearer token
//! (apps). Both are the same server-side session in the same store.
//!
//! actix-session reads only its cookie, so for a Bearer request this
//! middleware (in front of it) presents the token as that cookie and drops
//! every `Set-Cookie` from the answer: app clients never get cookies. For
//! cookie requests it enforces CSRF (Django's double submit: the
//! `X-CSRFToken` header must equal the `csrftoken` cookie on every unsafe
//! method that carries the session cookie).

use actix_web::body::MessageBody;
use actix_web::cookie::{Cookie, CookieJar, Key};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderMap, HeaderValue, AUTHORIZATION, COOKIE, SET_COOKIE};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage};

use super::sessions::ClientKind;
use super::tokens::{constant_time_eq, session_id};
use crate::error::ApiError;

pub const SESSION_COOKIE: &str = "sessionid";
pub const CSRF_COOKIE: &str = "csrftoken";
pub const CSRF_HEADER: &str = "x-csrftoken";

/// The key that signs session cookies, derived from `SECRET_KEY`.
#[derive(Clone)]
pub struct CookieKey(pub Key);

/// The request's transport, put into the request's extensions.
#[derive(Clone, Debug)]
pub struct Transport {
    pub client: ClientKind,
    /// The public id of the session the request presented, if any.
    pub session_id: Option<String>,
}

fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Session keys are 64 alphanumerics; anything else cannot be one.
fn plausible_key(token: &str) -> bool {
    token.len() == 64 && token.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn is_unsafe(method: &Method) -> bool {
    !matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

pub async fn session_transport(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let key = req
        .app_data::<web::Data<CookieKey>>()
        .map(|k| k.0.clone())
        .ok_or_else(|| ApiError::internal("cookie key not configured"))?;

    if let Some(token) = bearer_token(req.headers()).map(str::to_owned) {
        // The Bearer token alone authenticates: browser cookies are ignored.
        req.headers_mut().remove(COOKIE);
        let mut transport = Transport {
            client: ClientKind::App,
            session_id: None,
        };
        if plausible_key(&token) {
            let mut jar = CookieJar::new();
            jar.signed_mut(&key)
                .add(Cookie::new(SESSION_COOKIE, token.clone()));
            if let Some(signed) = jar.get(SESSION_COOKIE) {
                let header = format!("{SESSION_COOKIE}={}", signed.value());
                if let Ok(value) = HeaderValue::from_str(&header) {
                    req.headers_mut().insert(COOKIE, value);
                    transport.session_id = Some(session_id(&token));
                }
            }
        }
        req.extensions_mut().insert(transport);
        let mut res = next.call(req).await?;
        res.headers_mut().remove(SET_COOKIE);
        return Ok(res);
    }

    let session_cookie = req.cookie(SESSION_COOKIE);
    if is_unsafe(req.method()) && session_cookie.is_some() {
        let cookie = req.cookie(CSRF_COOKIE).map(|c| c.value().to_owned());
        let header = req.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok());
        match (cookie, header) {
            (None, _) => return Err(ApiError::CsrfFailed("CSRF cookie not set").into()),
            (_, None) => return Err(ApiError::CsrfFailed("X-CSRFToken header missing").into()),
            (Some(c), Some(h)) if c.is_empty() || !constant_time_eq(c.as_bytes(), h.as_bytes()) => {
                return Err(
                    ApiError::CsrfFailed("X-CSRFToken does not match the csrftoken cookie").into(),
                )
            }
            _ => {}
        }
    }
    let session_id = session_cookie.and_then(|cookie| {
        let mut jar = CookieJar::new();
        jar.add_original(cookie);
        jar.signed(&key)
            .get(SESSION_COOKIE)
            .map(|c| session_id(c.value()))
    });
    req.extensions_mut().insert(Transport {
        client: ClientKind::Browser,
        session_id,
    });
    next.call(req).await
}
