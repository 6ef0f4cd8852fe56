//! The OpenAPI document: served, committed, and in step with the routes.

use reqwest::Method;
use serde_json::Value;

use crate::helpers::{spawn_app, Backend};

const REGENERATE: &str = "cargo run -q -- openapi > openapi/openapi.json";

#[test]
fn the_committed_document_matches_the_code() {
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json"))
            .unwrap_or_default();
    let generated = accounts::openapi::document_json();
    assert!(
        committed == generated,
        "openapi/openapi.json differs from what the code generates; regenerate it with:\n    {REGENERATE}"
    );
}

#[actix_web::test]
async fn the_document_and_swagger_ui_are_served() {
    let app = spawn_app(Backend::Sqlite).await;
    let doc = app.get("/openapi.json").await;
    assert_eq!(doc.status, 200);
    let doc: Value = doc.json();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    assert_eq!(
        doc,
        serde_json::from_str::<Value>(&accounts::openapi::document_json()).unwrap()
    );

    let redirect = app.get("/docs").await;
    assert!(redirect.status.is_redirection(), "{}", redirect.status);
    assert_eq!(redirect.headers["location"], "/docs/");
    let ui = app.get("/docs/").await;
    assert_eq!(ui.status, 200);
    assert!(ui.text.contains("swagger-ui"), "{}", ui.text);
    // Every asset the page loads is served by the service itself.
    for asset in [
        "swagger-ui.css",
        "swagger-ui-bundle.js",
        "swagger-ui-standalone-preset.js",
        "swagger-initializer.js",
    ] {
        assert!(ui.text.contains(asset), "the page does not load {asset}");
        let reply = app.get(&format!("/docs/{asset}")).await;
        assert_eq!(reply.status, 200, "{asset}");
    }
    assert!(
        !ui.text.contains("//unpkg") && !ui.text.contains("cdn"),
        "no CDN"
    );
}

#[actix_web::test]
async fn every_documented_operation_is_routed() {
    let app = spawn_app(Backend::Sqlite).await;
    let doc: Value = serde_json::from_str(&accounts::openapi::document_json()).unwrap();
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 12, "{}", paths.len());
    let code = |reply: &crate::helpers::Reply| {
        serde_json::from_str::<Value>(&reply.text)
            .ok()
            .and_then(|v| v.get("code").and_then(Value::as_str).map(str::to_owned))
    };
    for (path, operations) in paths {
        let templated = path.contains('{');
        let concrete = path
            .replace("{id}", "0123456789abcdef0123456789abcdef")
            .replace("{path}", "x");
        for method in operations.as_object().unwrap().keys() {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let reply = app
                .send(app.client.request(method.clone(), app.url(&concrete)))
                .await;
            let code = code(&reply);
            assert_ne!(
                code.as_deref(),
                Some("method_not_allowed"),
                "{method} {path} is documented but not routed"
            );
            // A templated path may name nothing (404); a plain one must exist.
            assert!(
                templated || code.as_deref() != Some("not_found"),
                "{method} {path} is documented but not routed"
            );
        }
        // The resource itself exists: an undocumented method is 405, not 404.
        let reply = app
            .send(app.client.request(Method::OPTIONS, app.url(&concrete)))
            .await;
        assert_eq!(
            code(&reply).as_deref(),
            Some("method_not_allowed"),
            "{path} is not a route"
        );
    }
}
