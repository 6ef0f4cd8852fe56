//! Input no client should send, answered as the contract says: every
//! problem at once, and never a 500 (PostgreSQL cannot store U+0000).

use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{spawn_app, Backend, PASSWORD};

both_backends!(
    every_missing_required_field_is_named,
    a_nul_character_is_refused_by_field_before_any_query,
);

async fn every_missing_required_field_is_named(backend: Backend) {
    let app = spawn_app(backend).await;
    let required = "This field is required.";
    for path in ["/accounts/register", "/accounts/login"] {
        let body = app.post_json(path, &json!({})).await;
        let body = body.problem(400, "validation_failed");
        assert_eq!(body["errors"]["email"][0], required, "{path}: {body}");
        assert_eq!(body["errors"]["password"][0], required, "{path}: {body}");
    }
    // A wrong type and a missing field, both at once.
    let body = app
        .post_json("/accounts/register", &json!({"email": 5}))
        .await
        .problem(400, "validation_failed");
    assert!(body["errors"]["email"].is_array(), "{body}");
    assert_eq!(body["errors"]["password"][0], required, "{body}");

    let (_, token) = app.register_app().await;
    let reply = app
        .bearer(&token)
        .request(
            reqwest::Method::POST,
            "/accounts/password/change",
            Some(&json!({})),
        )
        .await;
    let body = reply.problem(400, "validation_failed");
    assert_eq!(body["errors"]["new_password"][0], required, "{body}");
    // `current_password` may be left out only by an account without a
    // usable password (which sets its first one).
    let reply = app
        .bearer(&token)
        .request(
            reqwest::Method::POST,
            "/accounts/password/change",
            Some(&json!({"new_password": "a new and longer passphrase"})),
        )
        .await;
    let body = reply.problem(400, "validation_failed");
    assert_eq!(body["errors"]["current_password"][0], required, "{body}");
}

async fn a_nul_character_is_refused_by_field_before_any_query(backend: Backend) {
    let app = spawn_app(backend).await;
    let nul = "Null characters are not allowed.";
    let check = |reply: crate::helpers::Reply, field: &str| {
        let body = reply.problem(400, "validation_failed");
        assert_eq!(body["errors"][field][0], nul, "{body}");
    };
    let login = |email: &str, password: &str| json!({"email": email, "password": password});
    check(
        app.post_json("/accounts/login", &login("a\u{0}b@example.com", PASSWORD))
            .await,
        "email",
    );
    check(
        app.post_json("/accounts/login", &login("a@example.com", "pass\u{0}word"))
            .await,
        "password",
    );
    let register = json!({"email": "nul@example.com", "password": PASSWORD, "username": "a\u{0}"});
    check(
        app.post_json("/accounts/register", &register).await,
        "username",
    );
    for field in ["email", "first_name", "last_name"] {
        let mut body = json!({"email": "nul@example.com", "password": PASSWORD});
        body[field] = Value::from("x\u{0}y");
        check(app.post_json("/accounts/register", &body).await, field);
    }
    // Nothing was created by any of them.
    let fresh = app
        .post_json(
            "/accounts/register",
            &json!({"email": "nul@example.com", "password": PASSWORD, "client": "app"}),
        )
        .await;
    assert_eq!(fresh.status, 201, "{}", fresh.text);
    let token = fresh.json()["token"].as_str().unwrap().to_owned();
    let me = app.bearer(&token);
    for (path, field) in [
        ("/accounts/me", "username"),
        ("/accounts/me", "first_name"),
        ("/accounts/me/profile", "portfolio_site"),
        ("/accounts/me/profile", "bio"),
    ] {
        let body = json!({ field: "a\u{0}b" });
        check(
            me.request(reqwest::Method::PATCH, path, Some(&body)).await,
            field,
        );
    }
    let change = json!({"current_password": "\u{0}", "new_password": PASSWORD});
    check(
        me.request(
            reqwest::Method::POST,
            "/accounts/password/change",
            Some(&change),
        )
        .await,
        "current_password",
    );
    // A path segment with NUL is an unknown session, as any other.
    let reply = me
        .request(reqwest::Method::DELETE, "/accounts/sessions/a%00b", None)
        .await;
    reply.problem(404, "not_found");
    // A Bearer token with NUL cannot even be sent as a header; an escaped
    // one is just an unknown token.
    app.bearer("a%00b")
        .get("/accounts/me")
        .await
        .problem(401, "not_authenticated");
    assert_eq!(me.get("/accounts/me").await.json()["user"]["username"], "");
}
