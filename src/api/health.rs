//! Liveness and readiness probes.

use actix_web::http::header::AUTHORIZATION;
use actix_web::{web, HttpRequest, HttpResponse};

use super::schemas::HealthResponse;
use super::AppState;
use crate::error::{ApiError, Problem};

/// Liveness
///
/// 200 while the process runs; touches no dependency.
#[utoipa::path(
    get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "The process is running", body = HealthResponse))
)]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(HealthResponse {
        status: "ok".into(),
    })
}

/// Readiness
///
/// 200 when the database and the session store both answer; 503
/// `not_ready` (with which one failed) otherwise.
#[utoipa::path(
    get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "Ready to serve", body = HealthResponse),
        (status = 503, description = "`not_ready`; `checks` says which dependency failed", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    state.accounts.readiness().await?;
    Ok(HttpResponse::Ok().json(HealthResponse {
        status: "ready".into(),
    }))
}

/// Prometheus metrics
///
/// The text exposition format. When `METRICS_TOKEN` is set, it must come as
/// `Authorization: Bearer <METRICS_TOKEN>`; otherwise restrict `/metrics` at
/// the proxy.
#[utoipa::path(
    get, path = "/metrics", tag = "operations",
    responses(
        (status = 200, description = "Metrics", content_type = "text/plain; version=0.0.4"),
        (status = 401, description = "`not_authenticated`: `METRICS_TOKEN` is set and was not sent", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn metrics(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let sent = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let text = state.accounts.metrics_text(sent)?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(text))
}
