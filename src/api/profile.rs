//! The logged-in user's profile and its picture.

use actix_multipart::Multipart;
use actix_web::http::header::CONTENT_LENGTH;
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use futures_util::StreamExt;

use super::json::ApiJson;
use super::me::current_user;
use super::schemas::{PictureUpload, ProfileOut, ProfileResponse, UpdateProfileRequest};
use super::AppState;
use crate::auth::current::Authenticated;
use crate::db::profiles::{self, ProfileChanges};
use crate::domain::{parse_bio, parse_portfolio_site};
use crate::error::{ApiError, FieldErrors, Problem};
use crate::media;
use crate::telemetry::spawn_blocking_in_span;

/// The multipart field that carries the picture.
const PICTURE_FIELD: &str = "profile_pic";
/// Room for the multipart framing around the picture's bytes.
const MULTIPART_OVERHEAD: usize = 16 * 1024;

fn respond(profile: &crate::db::models::Profile) -> HttpResponse {
    HttpResponse::Ok().json(ProfileResponse {
        profile: ProfileOut::from(profile),
    })
}

/// My profile
#[utoipa::path(
    get, path = "/accounts/me/profile", tag = "profile",
    responses(
        (status = 200, description = "The profile", body = ProfileResponse),
        (status = 401, description = "`not_authenticated`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session_cookie" = []), ("bearer" = []))
)]
pub async fn get_profile(
    state: web::Data<AppState>,
    auth: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let (user, _) = current_user(&state, auth).await?;
    let id = user.id;
    let profile = state
        .accounts
        .db
        .run(move |conn| profiles::find(conn, id))
        .await?;
    Ok(respond(&profile))
}

/// Edit my profile
///
/// Only the fields present change. `portfolio_site` is an `http(s)` URL or
/// `""`.
#[utoipa::path(
    patch, path = "/accounts/me/profile", tag = "profile",
    request_body = UpdateProfileRequest,
    responses(
        (status = 200, description = "The updated profile", body = ProfileResponse),
        (status = 400, description = "`validation_failed` or `malformed_request`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`not_authenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`csrf_failed`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session_cookie" = []), ("bearer" = []))
)]
pub async fn patch_profile(
    state: web::Data<AppState>,
    auth: Authenticated,
    body: ApiJson<UpdateProfileRequest>,
) -> Result<HttpResponse, ApiError> {
    let (user, _) = current_user(&state, auth).await?;
    let body = body.0;
    let mut errors = FieldErrors::new();
    let mut changes = ProfileChanges::default();
    if let Some(raw) = body.portfolio_site {
        changes.portfolio_site = parse_portfolio_site(&raw)
            .map_err(|e| errors.insert("portfolio_site".into(), vec![e]))
            .ok();
    }
    if let Some(raw) = body.bio {
        changes.bio = parse_bio(&raw, state.settings.max_bio_chars)
            .map_err(|e| errors.insert("bio".into(), vec![e]))
            .ok();
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let id = user.id;
    let profile = state
        .accounts
        .db
        .run(move |conn| profiles::update(conn, id, changes))
        .await?;
    Ok(respond(&profile))
}

/// Reads the `profile_pic` field, refusing more than `limit` bytes while
/// reading (nothing is buffered past the limit, nothing touches the disk).
async fn read_picture(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<Vec<u8>, ApiError> {
    let multipart_form = req
        .mime_type()
        .ok()
        .flatten()
        .is_some_and(|m| m.essence_str() == "multipart/form-data");
    if !multipart_form {
        return Err(ApiError::Malformed(
            "The picture must be sent as multipart/form-data with a `profile_pic` file field."
                .into(),
        ));
    }
    let declared: Option<usize> = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    if declared.is_some_and(|n| n > limit + MULTIPART_OVERHEAD) {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    let malformed = |_| ApiError::Malformed("The multipart body could not be parsed.".into());
    let mut multipart = Multipart::new(req.headers(), payload);
    let mut picture: Option<Vec<u8>> = None;
    let mut read = 0usize;
    while let Some(field) = multipart.next().await {
        let mut field = field.map_err(malformed)?;
        let name = field.name().map(str::to_owned);
        let mut bytes = Vec::new();
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(malformed)?;
            read += chunk.len();
            if read > limit {
                return Err(ApiError::PayloadTooLarge { limit });
            }
            bytes.extend_from_slice(&chunk);
        }
        match name.as_deref() {
            Some(PICTURE_FIELD) if picture.is_none() => picture = Some(bytes),
            Some(PICTURE_FIELD) => {
                return Err(ApiError::field(PICTURE_FIELD, "Send one file only."))
            }
            other => {
                return Err(ApiError::field(
                    other.unwrap_or("non_field_errors"),
                    "Unknown field.",
                ));
            }
        }
    }
    picture
        .filter(|p| !p.is_empty())
        .ok_or_else(|| ApiError::field(PICTURE_FIELD, "No file was submitted."))
}

/// Upload my profile picture
///
/// A PNG, JPEG, GIF or WebP image in the multipart field `profile_pic`. It
/// is checked by content (never by name or declared type), re-encoded
/// without metadata, scaled down to fit `PICTURE_STORED_EDGE`, and stored
/// under a new random name; the previous picture is deleted.
#[utoipa::path(
    put, path = "/accounts/me/profile/picture", tag = "profile",
    request_body(content = PictureUpload, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "The profile with its new picture", body = ProfileResponse),
        (status = 400, description = "`invalid_image` (not a PNG/JPEG/GIF/WebP image, or too many pixels), `validation_failed` (no `profile_pic` field) or `malformed_request` (not multipart)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`not_authenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`csrf_failed`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`: more than `MAX_PICTURE_BYTES`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session_cookie" = []), ("bearer" = []))
)]
pub async fn put_picture(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Authenticated,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (user, _) = current_user(&state, auth).await?;
    let upload = read_picture(&req, payload, state.settings.max_picture_bytes).await?;
    let rules = state.picture_rules;
    let store = state.media.clone();
    let stored = spawn_blocking_in_span(move || {
        let encoded = media::process(&upload, rules)?;
        store
            .store(&encoded)
            .map_err(|e| ApiError::internal(format!("storing a picture: {e}")))
    })
    .await??;

    let id = user.id;
    let new = stored.clone();
    let swapped = state
        .accounts
        .db
        .run(move |conn| profiles::swap_picture(conn, id, Some(&new)))
        .await;
    let store = state.media.clone();
    let outcome = match swapped {
        Ok(old) => {
            // The row points at the new file now; the old one can go.
            spawn_blocking_in_span(move || old.map(|old| store.remove(&old)).transpose()).await?
        }
        Err(error) => {
            if let Err(e) = spawn_blocking_in_span(move || store.remove(&stored)).await? {
                tracing::warn!(error = %e, "could not delete an unreferenced picture");
            }
            return Err(error);
        }
    };
    if let Err(e) = outcome {
        tracing::warn!(error = %e, "could not delete a replaced picture");
    }
    let profile = state
        .accounts
        .db
        .run(move |conn| profiles::find(conn, id))
        .await?;
    Ok(respond(&profile))
}

/// Delete my profile picture
#[utoipa::path(
    delete, path = "/accounts/me/profile/picture", tag = "profile",
    responses(
        (status = 204, description = "The picture and its file are gone (also when there was none)"),
        (status = 401, description = "`not_authenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`csrf_failed`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session_cookie" = []), ("bearer" = []))
)]
pub async fn delete_picture(
    state: web::Data<AppState>,
    auth: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let (user, _) = current_user(&state, auth).await?;
    let id = user.id;
    let old = state
        .accounts
        .db
        .run(move |conn| profiles::swap_picture(conn, id, None))
        .await?;
    if let Some(old) = old {
        let store = state.media.clone();
        spawn_blocking_in_span(move || store.remove(&old))
            .await?
            .map_err(|e| ApiError::internal(format!("deleting a picture: {e}")))?;
    }
    Ok(HttpResponse::NoContent().finish())
}
