//! Probes and the headers every response carries.

use crate::both_backends;
use crate::helpers::{spawn_app, Backend};

both_backends!(
    health_and_readiness,
    every_response_has_security_headers_and_a_request_id
);

async fn health_and_readiness(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let health = app.get("/healthz").await;
    assert_eq!(health.status, 200);
    assert_eq!(health.json()["status"], "ok");
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status, 200, "{}", ready.text);
    assert_eq!(ready.json()["status"], "ready");
}

async fn every_response_has_security_headers_and_a_request_id(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (_, token) = app.register_app().await;
    let me = app.bearer(&token).get("/accounts/me").await;
    let missing = app.get("/missing").await;
    for reply in [&me, &missing] {
        assert_eq!(reply.headers["x-content-type-options"], "nosniff");
        assert_eq!(reply.headers["cache-control"], "no-store");
        assert!(reply.headers.contains_key("content-security-policy"));
        assert!(reply.headers.contains_key("referrer-policy"));
        assert!(!reply.headers["x-request-id"].is_empty());
    }
    assert_ne!(me.headers["x-request-id"], missing.headers["x-request-id"]);
    let traced = app
        .send(
            app.client
                .get(app.url("/healthz"))
                .header("X-Request-Id", "abc-123"),
        )
        .await;
    assert_eq!(
        traced.headers["x-request-id"], "abc-123",
        "a caller's id is kept"
    );
}
