//! Running the service: readiness (`GET /readyz`) and the metrics
//! exposition (`GET /metrics`).

use std::collections::BTreeMap;

use secrecy::ExposeSecret;

use super::Accounts;
use crate::auth::tokens::constant_time_eq;
use crate::error::ApiError;

impl Accounts {
    /// Asks both at once; `Err(NotReady)` names the one that failed (the
    /// cause goes to the log, not to the client).
    pub async fn readiness(&self) -> Result<(), ApiError> {
        let (database, session_store) =
            futures_util::future::join(self.db.ping(), self.sessions.ping()).await;
        if database.is_ok() && session_store.is_ok() {
            return Ok(());
        }
        for failure in [database.as_ref().err(), session_store.as_ref().err()]
            .into_iter()
            .flatten()
        {
            tracing::warn!(error = %failure, "readiness check failed");
        }
        let verdict = |r: &Result<(), ApiError>| if r.is_ok() { "ok" } else { "unavailable" };
        Err(ApiError::NotReady(BTreeMap::from([
            ("database", verdict(&database)),
            ("session_store", verdict(&session_store)),
        ])))
    }

    /// The Prometheus text exposition. When `METRICS_TOKEN` is set, `sent`
    /// (the request's Bearer value) must be it.
    pub fn metrics_text(&self, sent: Option<&str>) -> Result<String, ApiError> {
        if let Some(expected) = &self.settings.http.metrics_token {
            let sent = sent.unwrap_or_default();
            if !constant_time_eq(sent.as_bytes(), expected.expose_secret().as_bytes()) {
                return Err(ApiError::NotAuthenticated);
            }
        }
        Ok(self.metrics.render())
    }
}
