//! `GET /media/...`: stored pictures, served with their real type and a
//! long cache lifetime (names are never reused).

use actix_web::http::header;
use actix_web::{web, HttpResponse};

use super::responses::NotFound;
use super::AppState;
use crate::error::ApiError;

/// A stored file
#[utoipa::path(
    get, path = "/media/{path}", tag = "profile",
    params(("path" = String, Path, description = "The rest of a `profile_pic` URL, e.g. `profile_pics/3f9c….png`")),
    responses(
        (status = 200, description = "The file: PNG, or JPEG for photographs", content(("image/png"), ("image/jpeg"))),
        NotFound,
    )
)]
pub async fn get_media(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let file = state
        .accounts
        .media_file(path.into_inner())
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, file.content_type))
        .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
        .insert_header((header::CONTENT_DISPOSITION, "inline"))
        .body(file.bytes))
}
