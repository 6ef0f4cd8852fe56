//! What any endpoint does with input it cannot use.

use reqwest::Method;

use crate::both_backends;
use crate::helpers::{spawn_app, spawn_app_with, Backend, PASSWORD};

both_backends!(
    json_that_does_not_parse_is_malformed,
    a_wrong_content_type_is_malformed,
    an_oversize_body_is_413,
    unknown_paths_are_404_and_wrong_methods_405,
    get_routes_answer_head_with_headers_only,
);

async fn json_that_does_not_parse_is_malformed(backend: Backend) {
    let app = spawn_app(backend).await;
    for body in [
        "{",
        "{\"email\": }",
        "[1, 2",
        "nul",
        "{\"email\": \"a\"} trailing",
        "\u{0}\u{1}binary",
    ] {
        let request = app
            .client
            .post(app.url("/accounts/register"))
            .header("Content-Type", "application/json")
            .body(body.to_owned());
        app.send(request).await.problem(400, "malformed_request");
    }
    let empty = app
        .client
        .post(app.url("/accounts/login"))
        .header("Content-Type", "application/json");
    app.send(empty).await.problem(400, "malformed_request");
}

async fn a_wrong_content_type_is_malformed(backend: Backend) {
    let app = spawn_app(backend).await;
    let body = format!("{{\"email\": \"a@example.com\", \"password\": \"{PASSWORD}\"}}");
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
    ] {
        let mut request = app
            .client
            .post(app.url("/accounts/register"))
            .body(body.clone());
        if let Some(content_type) = content_type {
            request = request.header("Content-Type", content_type);
        }
        app.send(request).await.problem(400, "malformed_request");
    }
    // Nothing was registered by those.
    let ok = app
        .send(
            app.client
                .post(app.url("/accounts/register"))
                .header("Content-Type", "application/json; charset=utf-8")
                .body(body),
        )
        .await;
    assert_eq!(ok.status, 201, "{}", ok.text);
}

async fn an_oversize_body_is_413(backend: Backend) {
    let app = spawn_app(backend).await;
    // The default limit is 1 MiB.
    let padding = "x".repeat(1024 * 1024 + 1);
    let body = format!("{{\"email\": \"big@example.com\", \"password\": \"{padding}\"}}");
    let reply = app
        .send(
            app.client
                .post(app.url("/accounts/register"))
                .header("Content-Type", "application/json")
                .body(body),
        )
        .await;
    reply.problem(413, "payload_too_large");
    // Without a Content-Length (chunked), the limit holds while reading.
    let small = spawn_app_with(app.backend, &[("MAX_JSON_BODY_BYTES", "64")]).await;
    let chunks: Vec<Result<String, std::io::Error>> = (0..10)
        .map(|_| Ok("{\"email\": \"aaaaaaaaaaaaaaaa\",".to_owned()))
        .collect();
    let stream = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    let reply = small
        .send(
            small
                .client
                .post(small.url("/accounts/login"))
                .header("Content-Type", "application/json")
                .body(stream),
        )
        .await;
    reply.problem(413, "payload_too_large");
}

async fn unknown_paths_are_404_and_wrong_methods_405(backend: Backend) {
    let app = spawn_app(backend).await;
    for path in [
        "/nope",
        "/accounts",
        "/accounts/me/nope",
        "/accounts/../etc/passwd",
    ] {
        app.get(path).await.problem(404, "not_found");
    }
    // RFC 9110: a 405 names the methods the resource has.
    for (method, path, allow) in [
        (Method::PUT, "/accounts/me", "GET, HEAD, PATCH, DELETE"),
        (Method::POST, "/admin/users/1", "GET, HEAD, PATCH, DELETE"),
        (Method::GET, "/accounts/login", "POST"),
        (Method::HEAD, "/accounts/logout", "POST"),
        (Method::PUT, "/healthz", "GET, HEAD"),
        (Method::GET, "/accounts/me/profile/picture", "PUT, DELETE"),
        (
            Method::POST,
            "/accounts/sessions/0123456789abcdef",
            "DELETE",
        ),
    ] {
        let reply = app
            .send(app.client.request(method.clone(), app.url(path)))
            .await;
        if method != Method::HEAD {
            reply.problem(405, "method_not_allowed");
        }
        assert_eq!(reply.status, 405, "{method} {path}");
        assert_eq!(reply.headers["allow"], allow, "{method} {path}");
    }
}

async fn get_routes_answer_head_with_headers_only(backend: Backend) {
    let app = spawn_app(backend).await;
    let head = |path: &str| app.client.head(app.url(path));
    let healthz = app.send(head("/healthz")).await;
    assert_eq!(healthz.status, 200);
    assert_eq!(healthz.text, "", "HEAD answers without a body");
    assert_eq!(healthz.headers["content-type"], "application/json");
    // The same authentication as GET.
    let anonymous = app.send(head("/accounts/me")).await;
    assert_eq!(anonymous.status, 401);
    assert_eq!(anonymous.text, "");
    let (_, token) = app.register_app().await;
    let me = app.send(head("/accounts/me").bearer_auth(&token)).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.text, "");
    let get = app.bearer(&token).get("/accounts/me").await;
    assert_eq!(
        me.headers["content-length"],
        get.text.len().to_string().as_str(),
        "HEAD announces the length GET sends"
    );
}

// The documentation keeps the rule too: the page, every asset and the
// document answer HEAD with GET's headers and no body.
both_backends!(the_documentation_answers_head);

async fn the_documentation_answers_head(backend: Backend) {
    let app = spawn_app(backend).await;
    for path in [
        "/docs/",
        "/docs/index.html",
        "/docs/swagger-ui.css",
        "/docs/swagger-ui-bundle.js",
        "/docs/swagger-initializer.js",
        "/openapi.json",
    ] {
        let get = app.get(path).await;
        assert_eq!(get.status, 200, "GET {path}");
        let head = app.send(app.client.head(app.url(path))).await;
        assert_eq!(head.status, 200, "HEAD {path}");
        assert_eq!(head.text, "", "HEAD {path} has no body");
        assert_eq!(
            head.headers["content-type"], get.headers["content-type"],
            "{path}"
        );
        assert_eq!(
            head.headers["content-length"],
            get.text.len().to_string().as_str(),
            "HEAD {path} announces GET's length"
        );
    }
    let missing = app.get("/docs/no-such-asset.js").await;
    missing.problem(404, "not_found");
}
