//! The one error type of the HTTP layer, rendered as `application/problem+json`
//! (RFC 9457).
//!
//! Domain and storage code return `ApiError` (or something that converts into
//! it); handlers propagate it with `?`. The `code` values are the contract's
//! machine-readable names (the README's API section lists them). A 5xx body
//! is generic on purpose: the cause goes to the log, never to the client.

use std::collections::BTreeMap;

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

/// Field name -> human-readable messages, as in Django REST framework.
pub type FieldErrors = BTreeMap<String, Vec<String>>;

pub const PROBLEM_JSON: &str = "application/problem+json";

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("malformed request: {0}")]
    Malformed(String),
    #[error("validation failed")]
    Validation(FieldErrors),
    #[error("invalid image: {0}")]
    InvalidImage(String),
    #[error("invalid credentials")]
    InvalidCredentials,
    #[error("not authenticated")]
    NotAuthenticated,
    #[error("permission denied")]
    PermissionDenied,
    #[error("CSRF check failed: {0}")]
    CsrfFailed(&'static str),
    #[error("not found")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("email taken")]
    EmailTaken,
    #[error("invalid token")]
    InvalidToken,
    #[error("email already verified")]
    EmailAlreadyVerified,
    #[error("email not verified")]
    EmailNotVerified,
    #[error("payload too large (limit {limit} bytes)")]
    PayloadTooLarge { limit: usize },
    #[error("too many attempts, retry after {retry_after_secs}s")]
    TooManyAttempts { retry_after_secs: u64 },
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// The right password for a user with a second factor: the login goes
    /// on at `POST /accounts/login/mfa` with this token.
    #[error("second factor required")]
    MfaRequired {
        token: String,
        expires_at: chrono::DateTime<chrono::Utc>,
    },
    #[error("invalid code")]
    InvalidCode,
    /// An `mfa_token` that is unknown, expired, spent or dead.
    #[error("invalid mfa token")]
    MfaTokenInvalid,
    #[error("two-factor login already on")]
    MfaAlreadyEnabled,
    #[error("two-factor login not on")]
    MfaNotEnabled,
    /// A change to how one logs in, from a session that has not proved its
    /// person recently (and no password in the body).
    #[error("re-authentication required")]
    ReauthenticationRequired,
    #[error("not ready")]
    NotReady(BTreeMap<&'static str, &'static str>),
    #[error("internal error: {0:#}")]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    /// One message for one field: the common shape of a rule broken.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        let mut errors = FieldErrors::new();
        errors.insert(field.to_owned(), vec![message.into()]);
        ApiError::Validation(errors)
    }

    pub fn internal(context: impl std::fmt::Display) -> Self {
        ApiError::Internal(anyhow::anyhow!("{context}"))
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Malformed(_) => "malformed_request",
            ApiError::Validation(_) => "validation_failed",
            ApiError::InvalidImage(_) => "invalid_image",
            ApiError::InvalidCredentials => "invalid_credentials",
            ApiError::NotAuthenticated => "not_authenticated",
            ApiError::PermissionDenied => "permission_denied",
            ApiError::CsrfFailed(_) => "csrf_failed",
            ApiError::NotFound => "not_found",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::EmailTaken => "email_taken",
            ApiError::InvalidToken => "invalid_token",
            ApiError::EmailAlreadyVerified => "email_already_verified",
            ApiError::EmailNotVerified => "email_not_verified",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::TooManyAttempts { .. } => "too_many_attempts",
            ApiError::Unavailable(_) => "service_unavailable",
            ApiError::NotReady(_) => "not_ready",
            ApiError::ReauthenticationRequired => "reauthentication_required",
            ApiError::MfaRequired { .. } => "mfa_required",
            ApiError::InvalidCode => "invalid_code",
            ApiError::MfaTokenInvalid => "invalid_token",
            ApiError::MfaAlreadyEnabled => "mfa_already_enabled",
            ApiError::MfaNotEnabled => "mfa_not_enabled",
            ApiError::Internal(_) => "internal_error",
        }
    }

    fn detail(&self) -> String {
        match self {
            ApiError::Malformed(why) => why.clone(),
            ApiError::Validation(_) => "The request body has invalid fields.".into(),
            ApiError::InvalidImage(why) => why.clone(),
            ApiError::InvalidCredentials => "The email or password is not correct.".into(),
            ApiError::NotAuthenticated => {
                "Authentication credentials were not provided or have expired.".into()
            }
            ApiError::PermissionDenied => {
                "You do not have permission to perform this action.".into()
            }
            ApiError::CsrfFailed(why) => format!("CSRF check failed: {why}."),
            ApiError::NotFound => "The requested resource was not found.".into(),
            ApiError::MethodNotAllowed => "The method is not allowed for this resource.".into(),
            ApiError::EmailTaken => "An account with this email already exists.".into(),
            ApiError::InvalidToken => {
                "The link or code is invalid, expired or already used. Ask for a new one.".into()
            }
            ApiError::EmailAlreadyVerified => "This email address is already verified.".into(),
            ApiError::EmailNotVerified => {
                "Confirm your email address first: follow the link we sent to it.".into()
            }
            ApiError::PayloadTooLarge { limit } => {
                format!("The request body exceeds the limit of {limit} bytes.")
            }
            ApiError::TooManyAttempts { retry_after_secs } => {
                format!("Too many attempts. Try again in {retry_after_secs} seconds.")
            }
            ApiError::Unavailable(_) => {
                "A backing service is unavailable. Try again shortly.".into()
            }
            ApiError::NotReady(_) => "The service is not ready.".into(),
            ApiError::ReauthenticationRequired => "Confirm it is you first: send your password, or re-authenticate at POST /accounts/reauthenticate.".into(),
            ApiError::MfaRequired { .. } => "Enter a code from your authenticator app (or a recovery code) to finish logging in.".into(),
            ApiError::InvalidCode => "The code is not correct, or was used already.".into(),
            ApiError::MfaTokenInvalid => {
                "The login has expired or ended: log in with your password again.".into()
            }
            ApiError::MfaAlreadyEnabled => "Two-factor login is already on.".into(),
            ApiError::MfaNotEnabled => "Two-factor login is not on.".into(),
            ApiError::Internal(_) => "An unexpected error occurred.".into(),
        }
    }
}

/// The problem+json body. `errors` is present on every `validation_failed`.
#[derive(Debug, Serialize, serde::Deserialize, ToSchema)]
#[schema(example = json!({
    "type": "about:blank", "title": "Bad Request", "status": 400,
    "detail": "The request body has invalid fields.", "code": "validation_failed",
    "errors": {"password": ["This password is too short. It must contain at least 8 characters."]}
}))]
pub struct Problem {
    /// Always `about:blank`: the `code` member names the kind of problem.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Machine-readable error code, e.g. `validation_failed`.
    pub code: String,
    /// Field name -> messages; present on every `validation_failed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<FieldErrors>,
    /// Per-dependency status, on `not_ready` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checks: Option<BTreeMap<String, String>>,
    /// On `mfa_required` only: the token `POST /accounts/login/mfa` takes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mfa_token: Option<String>,
    /// On `mfa_required` only: when the token dies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Malformed(_)
            | ApiError::Validation(_)
            | ApiError::InvalidImage(_)
            | ApiError::InvalidToken
            | ApiError::InvalidCode => StatusCode::BAD_REQUEST,
            ApiError::InvalidCredentials
            | ApiError::NotAuthenticated
            | ApiError::MfaRequired { .. }
            | ApiError::MfaTokenInvalid => StatusCode::UNAUTHORIZED,
            ApiError::CsrfFailed(_)
            | ApiError::EmailNotVerified
            | ApiError::PermissionDenied
            | ApiError::ReauthenticationRequired => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::EmailTaken
            | ApiError::EmailAlreadyVerified
            | ApiError::MfaAlreadyEnabled
            | ApiError::MfaNotEnabled => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) | ApiError::NotReady(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        match self {
            ApiError::Internal(cause) => {
                tracing::error!(error = %format!("{cause:#}"), "internal error")
            }
            ApiError::Unavailable(cause) => tracing::warn!(%cause, "backing service unavailable"),
            _ => {}
        }
        let problem = Problem {
            kind: "about:blank".into(),
            title: status.canonical_reason().unwrap_or("Error").into(),
            status: status.as_u16(),
            detail: self.detail(),
            code: self.code().into(),
            errors: match self {
                ApiError::Validation(errors) => Some(errors.clone()),
                _ => None,
            },
            checks: match self {
                ApiError::NotReady(checks) => Some(
                    checks
                        .iter()
                        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                        .collect(),
                ),
                _ => None,
            },
            mfa_token: match self {
                ApiError::MfaRequired { token, .. } => Some(token.clone()),
                _ => None,
            },
            expires_at: match self {
                ApiError::MfaRequired { expires_at, .. } => Some(*expires_at),
                _ => None,
            },
        };
        let mut response = HttpResponse::build(status);
        response.insert_header((header::CONTENT_TYPE, PROBLEM_JSON));
        response.insert_header((header::CACHE_CONTROL, "no-store"));
        response.insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
        if let ApiError::TooManyAttempts { retry_after_secs } = self {
            response.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
        }
        response.body(serde_json::to_string(&problem).unwrap_or_default())
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(error: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match error {
            Error::NotFound => ApiError::NotFound,
            // A dropped connection is an outage, not a bug in the request.
            Error::DatabaseError(DatabaseErrorKind::ClosedConnection, info) => {
                ApiError::Unavailable(format!("database: {}", info.message()))
            }
            other => ApiError::Internal(anyhow::Error::new(other).context("database query")),
        }
    }
}

impl From<diesel::r2d2::PoolError> for ApiError {
    fn from(error: diesel::r2d2::PoolError) -> Self {
        ApiError::Unavailable(format!("database pool: {error}"))
    }
}

/// Redis holds sessions and login counters: when it fails, the request
/// waits for it to come back (503), it does not fail for good.
impl From<redis::RedisError> for ApiError {
    fn from(error: redis::RedisError) -> Self {
        crate::redis_pool::note_error(&error);
        ApiError::Unavailable(format!("redis: {error}"))
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(_: actix_web::error::BlockingError) -> Self {
        ApiError::internal("the blocking thread pool is shut down")
    }
}
