//! Liveness and readiness probes.

use std::collections::BTreeMap;

use actix_web::{web, HttpResponse};

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
    let (db, sessions) =
        futures_util::future::join(state.accounts.db.ping(), state.sessions.ping()).await;
    let verdict = |r: &Result<(), ApiError>| if r.is_ok() { "ok" } else { "unavailable" };
    if db.is_ok() && sessions.is_ok() {
        return Ok(HttpResponse::Ok().json(HealthResponse {
            status: "ready".into(),
        }));
    }
    for failure in [db.as_ref().err(), sessions.as_ref().err()]
        .into_iter()
        .flatten()
    {
        tracing::warn!(error = %failure, "readiness check failed");
    }
    Err(ApiError::NotReady(BTreeMap::from([
        ("database", verdict(&db)),
        ("session_store", verdict(&sessions)),
    ])))
}
