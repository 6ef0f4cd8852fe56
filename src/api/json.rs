//! `ApiJson<T>`: a JSON body extractor whose every failure is the contract's
//! problem: a wrong content type or unparsable JSON is `malformed_request`,
//! a body over `MAX_JSON_BODY_BYTES` is `payload_too_large`, and JSON of the
//! wrong shape (unknown, missing or repeated field, wrong type) is
//! `validation_failed` with the field named in `errors`: every missing
//! required field at once (from the type's OpenAPI schema, so the document
//! and the check cannot disagree). No string may hold U+0000 (PostgreSQL
//! text cannot store it): this one check keeps it from every query.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header::CONTENT_LENGTH;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use serde_json::Value;
use utoipa::openapi::{RefOr, Schema};
use utoipa::PartialSchema;

use crate::error::{ApiError, FieldErrors};

/// The body limit, from the settings (app data).
#[derive(Clone, Copy, Debug)]
pub struct JsonLimit(pub usize);

pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned + PartialSchema + 'static> FromRequest for ApiJson<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = json_body::<T>(req, payload, false);
        Box::pin(async move { body.await?.map(ApiJson).ok_or_else(not_json) })
    }
}

/// A JSON body that may be left out: an operation that had none before
/// and now takes one (`{"password"}` where a recent authentication would
/// do). No body at all is `None`; anything sent is read as `ApiJson` reads it.
pub struct OptionalJson<T>(pub Option<T>);

impl<T: DeserializeOwned + PartialSchema + 'static> FromRequest for OptionalJson<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = json_body::<T>(req, payload, true);
        Box::pin(async move { body.await.map(OptionalJson) })
    }
}

/// The body as `T`. Without a JSON content type it is `malformed_request`,
/// found before a byte is read; unless `may_be_absent`, where an empty
/// body without one is `None`.
fn json_body<T: DeserializeOwned + PartialSchema + 'static>(
    req: &HttpRequest,
    payload: &mut Payload,
    may_be_absent: bool,
) -> impl Future<Output = Result<Option<T>, ApiError>> {
    let content_type_ok = is_json(req);
    let body = read_body(req, payload);
    async move {
        if !content_type_ok && !may_be_absent {
            return Err(not_json());
        }
        let body = body.await?;
        if !content_type_ok {
            return if body.is_empty() {
                Ok(None)
            } else {
                Err(not_json())
            };
        }
        parse(&body, required_fields::<T>).map(Some)
    }
}

fn not_json() -> ApiError {
    ApiError::Malformed(
        "The request body must be JSON, sent with Content-Type: application/json.".into(),
    )
}

/// The whole body, refused as soon as it is over `MAX_JSON_BODY_BYTES`
/// (declared or read).
fn read_body(
    req: &HttpRequest,
    payload: &mut Payload,
) -> impl Future<Output = Result<web::BytesMut, ApiError>> {
    let limit = req
        .app_data::<web::Data<JsonLimit>>()
        .map_or(1 << 20, |l| l.0);
    let declared: Option<usize> = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let mut payload = payload.take();
    async move {
        if declared.is_some_and(|n| n > limit) {
            return Err(ApiError::PayloadTooLarge { limit });
        }
        let mut body = web::BytesMut::new();
        while let Some(chunk) = payload.next().await {
            let chunk = chunk
                .map_err(|_| ApiError::Malformed("The request body could not be read.".into()))?;
            if body.len() + chunk.len() > limit {
                return Err(ApiError::PayloadTooLarge { limit });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

fn is_json(req: &HttpRequest) -> bool {
    match req.mime_type() {
        Ok(Some(mime)) => {
            mime.type_() == "application"
                && (mime.subtype() == "json" || mime.suffix().is_some_and(|s| s == "json"))
        }
        _ => false,
    }
}

/// The members a body of type `T` must have, as its schema says.
fn required_fields<T: PartialSchema>() -> Vec<String> {
    match T::schema() {
        RefOr::T(Schema::Object(object)) => object.required,
        _ => Vec::new(),
    }
}

const NUL_MESSAGE: &str = "Null characters are not allowed.";
const REQUIRED_MESSAGE: &str = "This field is required.";

/// Deserialises, turning serde's error into the contract's shape.
/// `required` names the members that must be present; it is asked only
/// when the body is wrong, to report every missing one at once.
pub fn parse<T: DeserializeOwned>(
    body: &[u8],
    required: impl FnOnce() -> Vec<String>,
) -> Result<T, ApiError> {
    // Every body of this API is an object; serde would also fill a struct
    // from an array, with confusing messages.
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_some_and(|b| *b != b'{')
        && serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok()
    {
        let mut errors = FieldErrors::new();
        errors.insert(
            "non_field_errors".into(),
            vec!["Expected a JSON object.".into()],
        );
        return Err(ApiError::Validation(errors));
    }
    // JSON cannot hold a raw NUL inside a string, only the escape: a body
    // without one needs no further look.
    if body.windows(6).any(|w| w.eq_ignore_ascii_case(b"\\u0000")) {
        let value: Value = serde_json::from_slice(body).map_err(|e| malformed(&e))?;
        let mut errors = FieldErrors::new();
        nul_paths(&value, ".", &mut errors);
        if !errors.is_empty() {
            add_missing(&mut errors, &value, required());
            return Err(ApiError::Validation(errors));
        }
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let error = match serde_path_to_error::deserialize::<_, T>(&mut de) {
        // Trailing characters after the JSON value are a syntax error.
        Ok(value) => match de.end() {
            Ok(()) => return Ok(value),
            Err(e) => return Err(malformed(&e)),
        },
        Err(error) => error,
    };
    let inner = error.inner();
    if !inner.is_data() {
        return Err(malformed(inner));
    }
    // A shape error reported before a later syntax error: the body is
    // still not JSON, and that is the problem to report.
    if let Err(syntax) = serde_json::from_slice::<serde::de::IgnoredAny>(body) {
        return Err(malformed(&syntax));
    }
    let message = inner.to_string();
    // serde's message ends with " at line L column C": not for people.
    let message = message.split(" at line ").next().unwrap_or_default();
    let path = error.path().to_string();
    let (field, text) = if let Some(name) = between_backticks(message, "unknown field `") {
        // The path already ends at the unknown field.
        (
            if path == "." { name } else { path },
            "Unknown field.".to_owned(),
        )
    } else if let Some(name) = between_backticks(message, "missing field `") {
        (join(&path, &name), REQUIRED_MESSAGE.to_owned())
    } else if let Some(name) = between_backticks(message, "duplicate field `") {
        // The path may already end at the repeated field, or at its object.
        let field = if path == name || path.ends_with(&format!(".{name}")) {
            path
        } else {
            join(&path, &name)
        };
        (field, "This field appears more than once.".to_owned())
    } else if message.starts_with("invalid type: null") {
        (
            field_or_body(&path),
            "This field may not be null.".to_owned(),
        )
    } else {
        (field_or_body(&path), capitalise(message))
    };
    let mut errors = FieldErrors::new();
    errors.insert(field, vec![text]);
    if let Ok(value) = serde_json::from_slice::<Value>(body) {
        add_missing(&mut errors, &value, required());
    }
    Err(ApiError::Validation(errors))
}

/// Names every required member the body lacks (serde stops at the first
/// problem; a client should learn of all of them at once).
fn add_missing(errors: &mut FieldErrors, value: &Value, required: Vec<String>) {
    let Value::Object(members) = value else {
        return;
    };
    for name in required {
        if !members.contains_key(&name) {
            errors
                .entry(name)
                .or_insert_with(|| vec![REQUIRED_MESSAGE.to_owned()]);
        }
    }
}

/// Every string (and member name) holding U+0000, by its path.
fn nul_paths(value: &Value, path: &str, errors: &mut FieldErrors) {
    fn flag(errors: &mut FieldErrors, path: &str) {
        errors
            .entry(field_or_body(path))
            .or_insert_with(|| vec![NUL_MESSAGE.to_owned()]);
    }
    match value {
        Value::String(s) if s.contains('\0') => flag(errors, path),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let inner = if path == "." {
                    format!("[{i}]")
                } else {
                    format!("{path}[{i}]")
                };
                nul_paths(item, &inner, errors);
            }
        }
        Value::Object(members) => {
            for (name, member) in members {
                let inner = join(path, name);
                if name.contains('\0') {
                    flag(errors, &inner);
                } else {
                    nul_paths(member, &inner, errors);
                }
            }
        }
        _ => {}
    }
}

fn malformed(error: &serde_json::Error) -> ApiError {
    ApiError::Malformed(format!(
        "The request body is not valid JSON (line {}, column {}).",
        error.line(),
        error.column()
    ))
}

fn between_backticks(message: &str, prefix: &str) -> Option<String> {
    let rest = message.strip_prefix(prefix)?;
    rest.split('`').next().map(str::to_owned)
}

fn join(path: &str, name: &str) -> String {
    if path == "." || path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

/// A problem with the whole body (say, an array instead of an object) is
/// reported under `non_field_errors`, as Django REST framework does.
fn field_or_body(path: &str) -> String {
    if path == "." || path.is_empty() {
        "non_field_errors".into()
    } else {
        path.to_owned()
    }
}

fn capitalise(message: &str) -> String {
    let mut chars = message.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().collect::<String>() + chars.as_str() + ".")
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Login {
        email: String,
        password: String,
    }

    fn required() -> Vec<String> {
        vec!["email".into(), "password".into()]
    }

    fn errors(body: &str) -> FieldErrors {
        match parse::<Login>(body.as_bytes(), required) {
            Err(ApiError::Validation(e)) => e,
            other => panic!("expected validation_failed, got {other:?}"),
        }
    }

    #[test]
    fn shapes_name_the_field() {
        assert_eq!(
            errors(r#"{"email":"a@b.co"}"#)["password"],
            ["This field is required."]
        );
        assert_eq!(
            errors(r#"{"email":"a","password":"b","x":1}"#)["x"],
            ["Unknown field."]
        );
        assert_eq!(
            errors(r#"{"email":5,"password":"b"}"#)["email"],
            ["Invalid type: integer `5`, expected a string."]
        );
        assert_eq!(
            errors(r#"{"email":null,"password":"b"}"#)["email"],
            ["This field may not be null."]
        );
        assert!(errors("[1]").contains_key("non_field_errors"));
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let all = errors("{}");
        assert_eq!(all["email"], ["This field is required."]);
        assert_eq!(all["password"], ["This field is required."]);
        let both = errors(r#"{"email": 5}"#);
        assert_eq!(
            both["email"],
            ["Invalid type: integer `5`, expected a string."]
        );
        assert_eq!(both["password"], ["This field is required."]);
    }

    #[test]
    fn nul_characters_are_refused_by_field() {
        let nul = errors(r#"{"email": "a\u0000b@example.com", "password": "x"}"#);
        assert_eq!(nul.len(), 1, "{nul:?}");
        assert_eq!(nul["email"], ["Null characters are not allowed."]);
        let nul = errors(r#"{"email": "a@example.com", "password": "\u0000"}"#);
        assert_eq!(nul["password"], ["Null characters are not allowed."]);
        let nested = errors(r#"{"email": ["\u0000"]}"#);
        assert_eq!(nested["email[0]"], ["Null characters are not allowed."]);
        assert_eq!(nested["password"], ["This field is required."]);
        // An escaped backslash before "u0000" is no NUL.
        assert!(parse::<Login>(br#"{"email": "\\u0000", "password": "x"}"#, required).is_ok());
    }

    #[test]
    fn syntax_errors_are_malformed() {
        for body in ["{", "", "{\"email\": }", "{} trailing", "nul"] {
            assert!(
                matches!(
                    parse::<Login>(body.as_bytes(), required),
                    Err(ApiError::Malformed(_))
                ),
                "{body:?}"
            );
        }
    }
}
