//! The OpenAPI document (`/openapi.json`) and Swagger UI (`/docs/`), from
//! the vendored assets: no CDN, no download. Served through the route
//! table like every other GET, so they answer HEAD too.

use std::sync::{Arc, LazyLock};

use actix_web::http::header::{self, ContentEncoding};
use actix_web::{web, HttpResponse};
use utoipa::OpenApi;
use utoipa_swagger_ui::Config;

use crate::error::ApiError;
use crate::openapi::ApiDoc;

/// Swagger UI's start-up script, replacing the generated one: it adds what
/// "Try it out" needs for cookie sessions (credentials, and the CSRF header
/// on unsafe methods), which the generated configuration cannot express.
const INITIALIZER: &str = include_str!("../../static/swagger-initializer.js");

/// The document as clients fetch it, made once.
static DOCUMENT: LazyLock<Result<String, String>> =
    LazyLock::new(|| ApiDoc::openapi().to_json().map_err(|e| e.to_string()));

static CONFIG: LazyLock<Arc<Config<'static>>> =
    LazyLock::new(|| Arc::new(Config::new(["/openapi.json"])));

pub async fn openapi_json() -> Result<HttpResponse, ApiError> {
    let document = DOCUMENT
        .as_ref()
        .map_err(|e| ApiError::internal(format!("the OpenAPI document: {e}")))?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(document.as_str()))
}

pub async fn swagger_initializer() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/javascript; charset=utf-8")
        .insert_header(("Cache-Control", "no-cache"))
        .body(INITIALIZER)
}

/// A file of Swagger UI: `/docs/` is its page, `/docs/{file}` its assets.
pub async fn swagger_ui(tail: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let file = utoipa_swagger_ui::serve(&tail.into_inner(), CONFIG.clone())
        .map_err(|e| ApiError::internal(format!("swagger ui: {e}")))?
        .ok_or(ApiError::NotFound)?;
    let mut response = HttpResponse::Ok();
    if file.gzpipped {
        response.insert_header((header::CONTENT_ENCODING, ContentEncoding::Gzip));
    }
    Ok(response
        .content_type(file.content_type)
        .body(file.bytes.into_owned()))
}
