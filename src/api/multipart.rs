//! Reading a picture upload's multipart body.

use actix_multipart::Multipart;
use actix_web::http::header::CONTENT_LENGTH;
use actix_web::{web, HttpMessage, HttpRequest};
use futures_util::StreamExt;

use crate::error::ApiError;

/// The multipart field that carries the picture.
const PICTURE_FIELD: &str = "profile_pic";
/// Room for the multipart framing around the picture's bytes.
const MULTIPART_OVERHEAD: usize = 16 * 1024;

/// Reads the `profile_pic` field, refusing more than `limit` bytes while
/// reading (nothing is buffered past the limit, nothing touches the disk).
pub async fn read_picture(
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
