//! The last word on every response: errors that did not come from our own
//! handlers (the router's 404 and 405, actix's own limits, a session store
//! that failed inside actix-session) become problem+json too, and every
//! response gets the security headers.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{HttpResponse, ResponseError};

use crate::error::{ApiError, PROBLEM_JSON};

/// The default service: no route matched.
pub async fn not_found() -> HttpResponse {
    ApiError::NotFound.error_response()
}

/// A route matched, but not its method: `allow` lists the methods it has.
pub fn method_not_allowed(allow: &str) -> HttpResponse {
    let mut response = ApiError::MethodNotAllowed.error_response();
    if let Ok(value) = HeaderValue::from_str(allow) {
        response.headers_mut().insert(header::ALLOW, value);
    }
    response
}

const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'";
/// Swagger UI needs its own scripts, styles and inline SVG images.
const DOCS_CSP: &str =
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; \
                        script-src 'self'; connect-src 'self'; frame-ancestors 'none'";

pub async fn finish_responses(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let path = req.path().to_owned();
    let mut res = match next.call(req).await {
        Ok(res) if needs_problem_body(&res) => {
            let error = match res.status() {
                StatusCode::NOT_FOUND => ApiError::NotFound,
                StatusCode::METHOD_NOT_ALLOWED => ApiError::MethodNotAllowed,
                StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge { limit: 0 },
                status if status.is_server_error() => {
                    ApiError::internal(format!("{status} without a problem body"))
                }
                _ => ApiError::Malformed("The request could not be understood.".into()),
            };
            let allow = res.headers().get(header::ALLOW).cloned();
            let mut res = res
                .into_response(error.error_response())
                .map_into_right_body();
            if let Some(allow) = allow {
                res.headers_mut().insert(header::ALLOW, allow);
            }
            res
        }
        Ok(res) => res.map_into_left_body(),
        // No response to decorate: the error is rendered by actix from its
        // ResponseError (still problem+json, with the basic headers).
        Err(error) if error.as_error::<ApiError>().is_some() => return Err(error),
        // Only actix-session's middleware fails this way: the store could
        // not load or save the session. The session is intact; the client
        // should retry, not log in again.
        Err(error) => return Err(ApiError::Unavailable(format!("session store: {error}")).into()),
    };
    let headers = res.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    let docs = path.starts_with("/docs");
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(if docs { DOCS_CSP } else { API_CSP }),
    );
    if !docs && !path.starts_with("/media/") && !headers.contains_key(header::CACHE_CONTROL) {
        // Answers about accounts are personal: no cache may keep them.
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    Ok(res)
}

fn needs_problem_body<B>(res: &ServiceResponse<B>) -> bool {
    let status = res.status();
    (status.is_client_error() || status.is_server_error())
        && !res
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(PROBLEM_JSON.as_bytes()))
}
