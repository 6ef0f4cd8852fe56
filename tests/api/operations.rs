//! Probes and the headers every response carries.

use crate::both_backends;
use crate::helpers::{spawn_app, Backend};

both_backends!(
    health_and_readiness,
    every_response_has_security_headers_and_a_request_id
);

async fn health_and_readiness(backend: Backend) {
    let app = spawn_app(backend).await;
    let health = app.get("/healthz").await;
    assert_eq!(health.status, 200);
    assert_eq!(health.json()["status"], "ok");
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status, 200, "{}", ready.text);
    assert_eq!(ready.json()["status"], "ready");
}

async fn every_response_has_security_headers_and_a_request_id(backend: Backend) {
    let app = spawn_app(backend).await;
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

both_backends!(metrics_count_requests_logins_and_store_latency);

async fn metrics_count_requests_logins_and_store_latency(backend: Backend) {
    let app = crate::helpers::spawn_app_with(backend, &[("METRICS_TOKEN", "scrape-secret")]).await;
    let (email, token) = app.register_app().await;
    assert_eq!(app.bearer(&token).get("/accounts/me").await.status, 200);
    app.login_app(&email, "wrong password here")
        .await
        .problem(401, "invalid_credentials");
    assert_eq!(
        app.login_app(&email, crate::helpers::PASSWORD).await.status,
        200
    );
    app.get("/nowhere").await.problem(404, "not_found");

    app.get("/metrics").await.problem(401, "not_authenticated");
    app.bearer("wrong")
        .get("/metrics")
        .await
        .problem(401, "not_authenticated");
    let reply = app.bearer("scrape-secret").get("/metrics").await;
    assert_eq!(reply.status, 200);
    assert!(reply.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = reply.text;
    for expected in [
        r#"accounts_http_requests_total{method="GET",route="/accounts/me",status="200"} 1"#,
        r#"accounts_http_requests_total{method="GET",route="unmatched",status="404"} 1"#,
        r#"accounts_logins_total{outcome="success"} 1"#,
        r#"accounts_logins_total{outcome="failure"} 1"#,
        r#"accounts_session_store_duration_seconds_count{operation="load"}"#,
        "accounts_database_duration_seconds_count",
        r#"accounts_http_request_duration_seconds_bucket{method="POST",route="/accounts/login""#,
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    assert!(
        !text.contains(&token) && !text.contains(&email),
        "no secrets or addresses in metrics"
    );
}

/// PostgreSQL over TLS with the libpq and OpenSSL built into the binary
/// (no system libpq): the service runs on `sslmode=require`, and the
/// connection really is encrypted.
#[actix_web::test]
#[cfg_attr(
    not(postgres_redis_tests),
    ignore = "set TEST_DATABASE_URL and TEST_REDIS_URL to run on PostgreSQL + Redis"
)]
async fn postgres_connections_can_require_tls() {
    use diesel::prelude::*;
    let base = std::env::var("TEST_DATABASE_URL").expect(crate::helpers::NOT_CONFIGURED);
    let joiner = |url: &str| if url.contains('?') { '&' } else { '?' };
    let schema = crate::helpers::fresh_schema(&base).await;
    let url = format!("{schema}{}sslmode=require", joiner(&schema));
    let app =
        crate::helpers::spawn_app_with(Backend::PostgresRedis, &[("DATABASE_URL", &url)]).await;
    let (_, token) = app.register_app().await;
    assert_eq!(app.bearer(&token).get("/accounts/me").await.status, 200);
    assert_eq!(app.get("/readyz").await.status, 200);

    #[derive(QueryableByName)]
    struct Ssl {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        ssl: bool,
    }
    let tls = format!("{base}{}sslmode=require", joiner(&base));
    let encrypted = tokio::task::spawn_blocking(move || {
        let mut conn = diesel::PgConnection::establish(&tls).expect("a TLS connection");
        diesel::sql_query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            .get_result::<Ssl>(&mut conn)
            .expect("pg_stat_ssl")
            .ssl
    })
    .await
    .unwrap();
    assert!(encrypted, "the connection is encrypted");
}
