//! What browsers need: CORS for SPAs on other origins, cookie attributes,
//! and Swagger UI's request interceptor.

use reqwest::Method;
use serde_json::json;

use crate::both_backends;
use crate::helpers::{spawn_app, spawn_app_with, Backend, PASSWORD};

const SPA: &str = "http://localhost:5173";

both_backends!(
    cors_allows_the_configured_origins_with_credentials,
    samesite_none_cookies_are_secure,
    swagger_ui_sends_credentials_and_the_csrf_header,
);

async fn cors_allows_the_configured_origins_with_credentials(backend: Backend) {
    let app = spawn_app_with(
        backend,
        &[(
            "CORS_ALLOWED_ORIGINS",
            "http://localhost:5173, https://app.example.com",
        )],
    )
    .await;
    let preflight = app
        .send(
            app.client
                .request(Method::OPTIONS, app.url("/accounts/login"))
                .header("Origin", SPA)
                .header("Access-Control-Request-Method", "POST")
                .header(
                    "Access-Control-Request-Headers",
                    "content-type, x-csrftoken",
                ),
        )
        .await;
    assert!(
        preflight.status.is_success(),
        "{} {}",
        preflight.status,
        preflight.text
    );
    let h = &preflight.headers;
    assert_eq!(h["access-control-allow-origin"], SPA, "never *");
    assert_eq!(h["access-control-allow-credentials"], "true");
    assert_eq!(h["access-control-max-age"], "3600");
    let allowed = h["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(
        allowed.contains("x-csrftoken") && allowed.contains("content-type"),
        "{allowed}"
    );

    let login = app
        .send(
            app.client
                .post(app.url("/accounts/register"))
                .header("Origin", SPA)
                .json(&json!({"email": "spa@example.com", "password": PASSWORD})),
        )
        .await;
    assert_eq!(login.status, 201, "{}", login.text);
    assert_eq!(login.headers["access-control-allow-origin"], SPA);
    assert_eq!(login.headers["access-control-allow-credentials"], "true");
    let exposed = login.headers["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(exposed.contains("x-request-id"), "{exposed}");

    // Another origin gets no CORS headers: the browser keeps the answer from it.
    let other = app
        .send(
            app.client
                .get(app.url("/accounts/csrf"))
                .header("Origin", "https://evil.example"),
        )
        .await;
    assert!(!other.headers.contains_key("access-control-allow-origin"));
    let preflight = app
        .send(
            app.client
                .request(Method::OPTIONS, app.url("/accounts/login"))
                .header("Origin", "https://evil.example")
                .header("Access-Control-Request-Method", "POST"),
        )
        .await;
    assert!(!preflight
        .headers
        .contains_key("access-control-allow-origin"));
}

async fn samesite_none_cookies_are_secure(backend: Backend) {
    let app = spawn_app_with(
        backend,
        &[("COOKIE_SAMESITE", "none"), ("COOKIE_SECURE", "true")],
    )
    .await;
    let reply = app
        .post_json(
            "/accounts/register",
            &json!({"email": "cross@example.com", "password": PASSWORD}),
        )
        .await;
    let session = reply
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("__Host-sessionid="))
        .unwrap();
    assert!(
        session.contains("SameSite=None")
            && session.contains("Secure")
            && session.contains("HttpOnly"),
        "{session}"
    );
    let csrf = app
        .get("/accounts/csrf")
        .await
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("csrftoken="))
        .unwrap();
    assert!(
        csrf.contains("SameSite=None") && csrf.contains("Secure"),
        "{csrf}"
    );
}

async fn swagger_ui_sends_credentials_and_the_csrf_header(backend: Backend) {
    let app = spawn_app(backend).await;
    let script = app.get("/docs/swagger-initializer.js").await;
    assert_eq!(script.status, 200);
    assert!(script.headers["content-type"]
        .to_str()
        .unwrap()
        .contains("javascript"));
    for needle in [
        "requestInterceptor",
        "X-CSRFToken",
        "csrftoken",
        "withCredentials",
        "/openapi.json",
        "/accounts/csrf",
    ] {
        assert!(
            script.text.contains(needle),
            "the initializer lacks {needle}"
        );
    }
    let page = app.get("/docs/").await;
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
}
