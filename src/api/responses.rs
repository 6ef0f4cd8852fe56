//! Answers that many operations give, said once for the OpenAPI document:
//! an operation's `responses(...)` lists these by name beside what is
//! particular to it. (503, and 413 where there is a body, are added to
//! every operation by `openapi::CommonResponses`.)
//!
//! The types only describe; handlers answer with `ApiError`, whose `code`
//! is what each description names.

// The fields are read by the OpenAPI derive alone.
#![allow(dead_code)]

use utoipa::IntoResponses;

use crate::error::Problem;

/// A session is needed and the request has none that is live.
#[derive(IntoResponses)]
#[response(
    status = 401,
    description = "`not_authenticated`",
    content_type = "application/problem+json"
)]
pub struct NotAuthenticated(Problem);

/// A browser request with the session cookie and an unsafe method, without
/// the matching `X-CSRFToken`.
#[derive(IntoResponses)]
#[response(
    status = 403,
    description = "`csrf_failed`",
    content_type = "application/problem+json"
)]
pub struct CsrfFailed(Problem);

/// A change to how the user logs in, from a session that has not proved its
/// person within `REAUTHENTICATION_WINDOW_SECS` and without the password in
/// the body; or the CSRF check.
#[derive(IntoResponses)]
#[response(
    status = 403,
    description = "`reauthentication_required`: send the password, or re-authenticate first (`POST /accounts/reauthenticate`); or `csrf_failed`",
    content_type = "application/problem+json"
)]
pub struct CsrfOrReauthentication(Problem);

/// A JSON body that does not parse, or whose fields break a rule.
#[derive(IntoResponses)]
#[response(
    status = 400,
    description = "`validation_failed` or `malformed_request`",
    content_type = "application/problem+json"
)]
pub struct InvalidBody(Problem);

#[derive(IntoResponses)]
#[response(
    status = 404,
    description = "`not_found`",
    content_type = "application/problem+json"
)]
pub struct NotFound(Problem);

#[derive(IntoResponses)]
#[response(
    status = 413,
    description = "`payload_too_large`",
    content_type = "application/problem+json"
)]
pub struct PayloadTooLarge(Problem);

/// A mailed token that is unknown, spent, expired or for another purpose:
/// all the same answer.
#[derive(IntoResponses)]
#[response(
    status = 400,
    description = "`invalid_token`: unknown, already used, expired or for another purpose (all alike); or `validation_failed`, `malformed_request`",
    content_type = "application/problem+json"
)]
pub struct InvalidToken(Problem);
