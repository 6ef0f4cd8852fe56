//! The logged-in user's profile and its picture: `/accounts/me/profile`
//! and `/accounts/me/profile/picture`.

use actix_web::{web, HttpRequest, HttpResponse};

use super::current_user::CurrentUser;
use super::json::ApiJson;
use super::multipart::read_picture;
use super::responses::{CsrfFailed, InvalidBody, NotAuthenticated};
use super::schemas::{PictureUpload, ProfileOut, ProfileResponse, UpdateProfileRequest};
use super::AppState;
use crate::db::models::Profile;
use crate::error::{ApiError, Problem};

fn respond(profile: &Profile) -> HttpResponse {
    HttpResponse::Ok().json(ProfileResponse {
        profile: ProfileOut::from(profile),
    })
}

/// My profile
#[utoipa::path(
    get, path = "/accounts/me/profile", tag = "profile",
    responses(
        (status = 200, description = "The profile", body = ProfileResponse),
        NotAuthenticated,
    ),
    security(("session_cookie" = []), ("bearer" = []))
)]
pub async fn get_profile(
    state: web::Data<AppState>,
    me: CurrentUser,
) -> Result<HttpResponse, ApiError> {
    let profile = state.accounts.profile(me.user.id).await?;
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
        InvalidBody,
        NotAuthenticated,
        CsrfFailed,
    ),
    security(("session_cookie" = []), ("bearer" = []))
)]
pub async fn patch_profile(
    state: web::Data<AppState>,
    me: CurrentUser,
    body: ApiJson<UpdateProfileRequest>,
) -> Result<HttpResponse, ApiError> {
    let profile = state
        .accounts
        .update_profile(me.user.id, body.0.into())
        .await?;
    Ok(respond(&profile))
}

/// Upload my profile picture
///
/// A PNG, JPEG, GIF or WebP image in the multipart field `profile_pic`, up
/// to `MAX_PICTURE_PIXELS` (40 megapixels) with no side over
/// `MAX_PICTURE_DIMENSION` (10,000), with at most
/// `MAX_PICTURE_METADATA_BYTES` (1 MiB) of EXIF, ICC, text and XMP,
/// compressed ones counted inflated. It is checked by content
/// (never by name or declared type: any file name is fine), re-encoded
/// without metadata, scaled down to fit `PICTURE_STORED_EDGE`, and stored under a
/// new random name; the previous picture is deleted.
#[utoipa::path(
    put, path = "/accounts/me/profile/picture", tag = "profile",
    request_body(content = PictureUpload, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "The profile with its new picture", body = ProfileResponse),
        (status = 400, description = "`invalid_image` (an empty file, not a PNG/JPEG/GIF/WebP image, too many pixels, a side too long or too much metadata), `validation_failed` (no `profile_pic` field, or another field) or `malformed_request` (not multipart)", body = Problem, content_type = "application/problem+json"),
        NotAuthenticated,
        CsrfFailed,
        (status = 413, description = "`payload_too_large`: more than `MAX_PICTURE_BYTES`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session_cookie" = []), ("bearer" = []))
)]
pub async fn put_picture(
    req: HttpRequest,
    state: web::Data<AppState>,
    me: CurrentUser,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let limit = state.settings.limits.max_picture_bytes;
    let upload = read_picture(&req, payload, limit, &state.accounts).await?;
    let profile = state.accounts.replace_picture(me.user.id, upload).await?;
    Ok(respond(&profile))
}

/// Delete my profile picture
#[utoipa::path(
    delete, path = "/accounts/me/profile/picture", tag = "profile",
    responses(
        (status = 204, description = "The picture and its file are gone (also when there was none)"),
        NotAuthenticated,
        CsrfFailed,
    ),
    security(("session_cookie" = []), ("bearer" = []))
)]
pub async fn delete_picture(
    state: web::Data<AppState>,
    me: CurrentUser,
) -> Result<HttpResponse, ApiError> {
    state.accounts.delete_picture(me.user.id).await?;
    Ok(HttpResponse::NoContent().finish())
}
