use reqwest::Method;
use serde_json::json;

use crate::both_backends;
use crate::helpers::{spawn_app, Backend, PASSWORD};

both_backends!(
    logout_ends_the_cookie_session_server_side,
    logout_ends_the_token_session_server_side,
    logout_without_a_session_is_401,
    login_renews_the_session_key,
    a_forged_session_cookie_is_ignored,
);

async fn logout_ends_the_cookie_session_server_side(backend: Backend) {
    let app = spawn_app(backend).await;
    let browser = app.browser();
    browser.register().await;
    let stolen = browser.cookie("sessionid").unwrap();
    let reply = browser.post_empty("/accounts/logout").await;
    assert_eq!(reply.status, 204, "{}", reply.text);
    assert!(
        browser.cookie("sessionid").is_none(),
        "the cookie is cleared"
    );
    // Replaying the old cookie (with a valid CSRF pair) gets nothing.
    browser.set_cookie("sessionid", &stolen);
    browser
        .get("/accounts/me")
        .await
        .problem(401, "not_authenticated");
    browser
        .post_empty("/accounts/logout")
        .await
        .problem(401, "not_authenticated");
}

async fn logout_ends_the_token_session_server_side(backend: Backend) {
    let app = spawn_app(backend).await;
    let (email, token) = app.register_app().await;
    let other = app.login_app(&email, PASSWORD).await.json()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let client = app.bearer(&token);
    assert_eq!(client.post_empty("/accounts/logout").await.status, 204);
    client
        .get("/accounts/me")
        .await
        .problem(401, "not_authenticated");
    client
        .post_empty("/accounts/logout")
        .await
        .problem(401, "not_authenticated");
    // Only that session ended.
    assert_eq!(app.bearer(&other).get("/accounts/me").await.status, 200);
}

async fn logout_without_a_session_is_401(backend: Backend) {
    let app = spawn_app(backend).await;
    app.post_json("/accounts/logout", &json!({}))
        .await
        .problem(401, "not_authenticated");
    let garbage = app.bearer("not-a-token");
    garbage
        .request(Method::POST, "/accounts/logout", None)
        .await
        .problem(401, "not_authenticated");
    garbage
        .get("/accounts/me")
        .await
        .problem(401, "not_authenticated");
}

async fn login_renews_the_session_key(backend: Backend) {
    let app = spawn_app(backend).await;
    let (email, _) = app.register_app().await;
    let browser = app.browser();
    let first_email = browser.register().await;
    let before = browser.cookie("sessionid").unwrap();
    // Logging in over an existing session (say, one an attacker planted)
    // yields a new key, and the old key is dead.
    let reply = browser.login(&email, PASSWORD).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let after = browser.cookie("sessionid").unwrap();
    assert_ne!(before, after);
    assert_eq!(
        browser.get("/accounts/me").await.json()["user"]["email"],
        email
    );
    let planted = app.browser();
    planted.set_cookie("sessionid", &before);
    planted
        .get("/accounts/me")
        .await
        .problem(401, "not_authenticated");
    assert_ne!(first_email, email);
}

async fn a_forged_session_cookie_is_ignored(backend: Backend) {
    let app = spawn_app(backend).await;
    let browser = app.browser();
    browser.register().await;
    let genuine = browser.cookie("sessionid").unwrap();
    let forged = app.browser();
    // Same key, signature broken: rejected.
    let mut tampered = genuine.clone();
    let flipped = if tampered.starts_with('A') { "B" } else { "A" };
    tampered.replace_range(0..1, flipped);
    forged.set_cookie("sessionid", &tampered);
    forged
        .get("/accounts/me")
        .await
        .problem(401, "not_authenticated");
    forged.set_cookie("sessionid", "anything-at-all");
    forged
        .get("/accounts/me")
        .await
        .problem(401, "not_authenticated");
}
