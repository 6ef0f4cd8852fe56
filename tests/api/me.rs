use reqwest::Method;
use serde_json::json;

use crate::both_backends;
use crate::helpers::{spawn_app, Backend};

both_backends!(
    me_needs_a_session,
    patch_changes_only_the_fields_sent,
    patch_validates_and_keeps_usernames_unique,
    patch_cannot_touch_other_fields,
    racing_edits_all_succeed,
);

async fn me_needs_a_session(backend: Backend) {
    let app = spawn_app(backend).await;
    app.get("/accounts/me")
        .await
        .problem(401, "not_authenticated");
    let reply = app
        .send(
            app.client
                .patch(app.url("/accounts/me"))
                .json(&json!({"first_name": "x"})),
        )
        .await;
    reply.problem(401, "not_authenticated");
}

async fn patch_changes_only_the_fields_sent(backend: Backend) {
    let app = spawn_app(backend).await;
    let browser = app.browser();
    let email = browser.register().await;
    // Another session of the same user, loaded (and cached) before the edit.
    let token = app.login_app(&email, crate::helpers::PASSWORD).await.json()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        app.bearer(&token).get("/accounts/me").await.json()["user"]["first_name"],
        ""
    );
    let reply = browser
        .patch(
            "/accounts/me",
            &json!({"first_name": "  Grace ", "username": "ghopper"}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json()["user"]["first_name"], "Grace");
    assert_eq!(reply.json()["user"]["username"], "ghopper");
    let reply = browser
        .patch("/accounts/me", &json!({"last_name": "Hopper"}))
        .await;
    let user = &reply.json()["user"];
    assert_eq!(user["first_name"], "Grace");
    assert_eq!(user["last_name"], "Hopper");
    let unchanged = browser.patch("/accounts/me", &json!({})).await;
    assert_eq!(unchanged.json()["user"], *user);
    assert_eq!(browser.get("/accounts/me").await.json()["user"], *user);
    // The other session sees the change at once.
    assert_eq!(
        app.bearer(&token).get("/accounts/me").await.json()["user"],
        *user
    );
}

async fn patch_validates_and_keeps_usernames_unique(backend: Backend) {
    let app = spawn_app(backend).await;
    let first = app.browser();
    first.register().await;
    assert_eq!(
        first
            .patch("/accounts/me", &json!({"username": "taken"}))
            .await
            .status,
        200
    );
    let second = app.browser();
    second.register().await;
    let reply = second
        .patch("/accounts/me", &json!({"username": "taken"}))
        .await;
    assert_eq!(
        reply.problem(400, "validation_failed")["errors"]["username"][0],
        "A user with that username already exists."
    );
    let reply = second
        .patch(
            "/accounts/me",
            &json!({"username": "no spaces", "last_name": "x".repeat(200)}),
        )
        .await;
    let problem = reply.problem(400, "validation_failed");
    assert!(
        problem["errors"]["username"].is_array() && problem["errors"]["last_name"].is_array(),
        "{problem}"
    );
    let reply = second
        .patch("/accounts/me", &json!({"first_name": null}))
        .await;
    reply.problem(400, "validation_failed");
}

async fn patch_cannot_touch_other_fields(backend: Backend) {
    let app = spawn_app(backend).await;
    let browser = app.browser();
    browser.register().await;
    for field in ["email", "is_staff", "password", "id"] {
        let reply = browser.patch("/accounts/me", &json!({ field: "x" })).await;
        let problem = reply.problem(400, "validation_failed");
        assert_eq!(problem["errors"][field][0], "Unknown field.", "{problem}");
    }
    assert_eq!(
        browser.get("/accounts/me").await.json()["user"]["is_staff"],
        false
    );
}

/// Edits of several users (account and profile) at once all succeed. On
/// SQLite an edit takes the write lock up front (db::write_transaction)
/// and waits for it (busy_timeout), instead of failing at once ("database
/// is locked") when another write commits while its transaction began.
async fn racing_edits_all_succeed(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut tokens = Vec::new();
    for _ in 0..4 {
        tokens.push(app.register_app().await.1);
    }
    let clients: Vec<_> = tokens.iter().map(|t| app.bearer(t)).collect();
    let edits = (0..48).map(|i| {
        let client = &clients[(i / 2) % clients.len()];
        async move {
            let reply = if i % 2 == 0 {
                let body = json!({"first_name": format!("n{i}")});
                client
                    .request(Method::PATCH, "/accounts/me", Some(&body))
                    .await
            } else {
                let body = json!({"bio": format!("b{i}")});
                client
                    .request(Method::PATCH, "/accounts/me/profile", Some(&body))
                    .await
            };
            (reply.status, reply.text)
        }
    });
    let replies = futures_util::future::join_all(edits).await;
    let failed: Vec<_> = replies
        .iter()
        .filter(|(status, _)| *status != 200)
        .collect();
    assert!(failed.is_empty(), "{failed:?}");
    // Each user kept one of the values sent to it.
    for (k, client) in clients.iter().enumerate() {
        let me = client.get("/accounts/me").await.json();
        let name = me["user"]["first_name"].as_str().unwrap().to_owned();
        let i: usize = name.trim_start_matches('n').parse().expect(&name);
        assert_eq!((i / 2) % clients.len(), k, "{name}");
    }
}
