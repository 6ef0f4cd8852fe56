//! How a session reaches the server: a cookie (browsers) or a Bearer token
//! (apps). Both are the same server-side session in the same store.
//!
//! actix-session reads only its cookie, so for a Bearer request this
//! middleware (in front of it) presents the token as that cookie and drops
//! every `Set-Cookie` from the answer: app clients never get cookies. For
//! cookie requests it enforces CSRF (Django's double submit: the
//! `X-CSRFToken` header must equal the `csrftoken` cookie on every unsafe
//! method that carries the session cookie).
//!
//! The session cookie is `__Host-sessionid` with `COOKIE_SECURE=true`
//! (browsers accept that name only from the host itself, over HTTPS, with
//! `Path=/` and no `Domain`: no sibling subdomain can plant one) and
//! `sessionid` over plain HTTP (development).
//!
//! A request may carry several session cookies (a stale one, or one
//! planted for a parent domain by a sibling subdomain: cookie tossing).
//! Names are compared as actix reads them, percent-decoded, so
//! `%73essionid` is one of them too. Whatever their order, the one that
//! verifies and is live is the one actix-session is shown; two live ones
//! are ambiguous, and neither is.

use actix_session::storage::{SessionKey, SessionStore};
use actix_web::body::MessageBody;
use actix_web::cookie::time::Duration as CookieDuration;
use actix_web::cookie::{Cookie, CookieJar, Key};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderMap, HeaderValue, AUTHORIZATION, COOKIE, SET_COOKIE};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage};

use super::current::PersistentCookie;
use super::sessions::{ClientKind, Sessions};
use super::tokens::{constant_time_eq, session_id};
use crate::error::ApiError;

/// The session cookie over plain HTTP.
pub const SESSION_COOKIE: &str = "sessionid";
/// The session cookie with `COOKIE_SECURE=true`.
pub const SECURE_SESSION_COOKIE: &str = "__Host-sessionid";
pub const CSRF_COOKIE: &str = "csrftoken";
pub const CSRF_HEADER: &str = "x-csrftoken";

/// The key that signs session cookies, derived from `SECRET_KEY`, and
/// the session cookie's name.
#[derive(Clone)]
pub struct CookieKey {
    pub key: Key,
    pub session_cookie: &'static str,
}

/// The session cookie's name: `__Host-` only where the cookie is `Secure`
/// (browsers refuse a `__Host-` cookie that is not).
pub fn session_cookie_name(cookie_secure: bool) -> &'static str {
    if cookie_secure {
        SECURE_SESSION_COOKIE
    } else {
        SESSION_COOKIE
    }
}

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
    let (key, name) = req
        .app_data::<web::Data<CookieKey>>()
        .map(|k| (k.key.clone(), k.session_cookie))
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
            jar.signed_mut(&key).add(Cookie::new(name, token.clone()));
            if let Some(signed) = jar.get(name) {
                let header = format!("{name}={}", signed.value());
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

    keep_one_session_cookie(&mut req, &key, name).await;
    let session_cookie = req.cookie(name);
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
        jar.signed(&key).get(name).map(|c| session_id(c.value()))
    });
    req.extensions_mut().insert(Transport {
        client: ClientKind::Browser,
        session_id,
    });
    let mut res = next.call(req).await?;
    let persistent = res
        .request()
        .extensions()
        .get::<PersistentCookie>()
        .copied();
    if let Some(persistent) = persistent {
        make_persistent(res.headers_mut(), name, persistent.max_age_secs);
    }
    Ok(res)
}

/// Gives the session cookie being set (not one being removed) a Max-Age:
/// a remembered session outlives the browser.
fn make_persistent(headers: &mut HeaderMap, name: &str, max_age_secs: i64) {
    let cookies: Vec<HeaderValue> = headers.get_all(SET_COOKIE).cloned().collect();
    if cookies.is_empty() {
        return;
    }
    headers.remove(SET_COOKIE);
    for value in cookies {
        let rewritten = value
            .to_str()
            .ok()
            .and_then(|v| Cookie::parse(v.to_owned()).ok())
            .filter(|c| c.name() == name && !c.value().is_empty())
            .and_then(|mut c| {
                c.set_max_age(CookieDuration::seconds(max_age_secs));
                HeaderValue::from_str(&c.to_string()).ok()
            });
        headers.append(SET_COOKIE, rewritten.unwrap_or(value));
    }
}

/// The session key a session cookie's value carries, if its signature
/// verifies (the name is part of what is signed).
fn verified_key(value: &str, key: &Key, name: &str) -> Option<String> {
    let mut jar = CookieJar::new();
    jar.add_original(Cookie::new(name.to_owned(), value.to_owned()));
    jar.signed(key).get(name).map(|c| c.value().to_owned())
}

/// At most this many session cookies are looked at (each costs a
/// signature check, and a verified one a store load); a request with more
/// is answered as if it had none that verifies.
const MAX_SESSION_COOKIES: usize = 4;

/// When the request carries more than one session cookie (by decoded
/// name, as actix reads them), rewrites its
/// `Cookie` header to hold only the one that verifies and is live. When
/// none does, or when two live sessions compete (an attacker's own session
/// planted beside the user's would otherwise swap accounts under them),
/// the request keeps a session cookie that verifies as nothing: no
/// session, and the CSRF rule still applies. Runs before anything reads the
/// request's cookies, which actix caches at the first read.
async fn keep_one_session_cookie(req: &mut ServiceRequest, key: &Key, name: &str) {
    // The common case, one session cookie or none and no encoded name,
    // costs a substring count. A `%` may hide a name (`%73essionid`):
    // then every name is decoded and compared.
    let (mentions, encoded) = req
        .headers()
        .get_all(COOKIE)
        .filter_map(|v| v.to_str().ok())
        .fold((0, false), |(n, encoded), v| {
            (n + v.matches(name).count(), encoded || v.contains('%'))
        });
    if mentions < 2 && !encoded {
        return;
    }
    let pieces: Vec<String> = req
        .headers()
        .get_all(COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect();
    let session_value = |piece: &str| {
        Cookie::parse_encoded(piece.to_owned())
            .ok()
            .filter(|c| c.name() == name)
            .map(|c| c.value().to_owned())
    };
    let mut candidates: Vec<String> = Vec::new();
    let mut count = 0;
    for value in pieces.iter().filter_map(|p| session_value(p)) {
        count += 1;
        if !candidates.contains(&value) {
            candidates.push(value);
        }
    }
    if count < 2 {
        return;
    }
    let mut live = Vec::new();
    if candidates.len() <= MAX_SESSION_COOKIES {
        let sessions = req.app_data::<web::Data<Sessions>>().cloned();
        for value in &candidates {
            let Some(session_key) = verified_key(value, key, name) else {
                continue;
            };
            let Ok(session_key) = SessionKey::try_from(session_key) else {
                continue;
            };
            let loaded = match &sessions {
                Some(sessions) => matches!(sessions.load(&session_key).await, Ok(Some(_))),
                None => true,
            };
            if loaded {
                live.push(value.clone());
            }
        }
    }
    let chosen = match live.as_slice() {
        [one] => one.clone(),
        [] => "none".to_owned(),
        _ => {
            tracing::warn!(
                cookies = count,
                "several live session cookies in one request (cookie tossing?): none is used"
            );
            "ambiguous".to_owned()
        }
    };
    let mut kept: Vec<String> = pieces
        .into_iter()
        .filter(|p| session_value(p).is_none())
        .collect();
    kept.push(Cookie::new(name, chosen).encoded().to_string());
    if let Ok(value) = HeaderValue::from_str(&kept.join("; ")) {
        req.headers_mut().remove(COOKIE);
        req.headers_mut().insert(COOKIE, value);
    }
}
