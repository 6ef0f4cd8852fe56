//! Password change, and the session list with revocation.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{spawn_app, spawn_app_with, Backend, PASSWORD};

const NEW_PASSWORD: &str = "a brand new passphrase 2026";

both_backends!(
    a_password_change_keeps_this_session_and_ends_every_other,
    an_app_client_keeps_its_token_through_a_password_change,
    a_wrong_current_or_weak_new_password_changes_nothing,
    the_session_list_shows_every_session_once_with_the_current_marked,
    a_revoked_session_is_dead_at_once,
    another_users_session_cannot_be_revoked,
    last_seen_is_written_at_most_once_per_interval,
);

async fn a_password_change_keeps_this_session_and_ends_every_other(backend: Backend) {
    let app = spawn_app(backend).await;
    let first = app.browser();
    let email = first.register().await;
    let second = app.browser();
    second.csrf().await;
    assert_eq!(second.login(&email, PASSWORD).await.status, 200);
    let token = app.login_app(&email, PASSWORD).await.json()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let old_cookie = first.cookie("sessionid").unwrap();

    let reply = first
        .post(
            "/accounts/password/change",
            &json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(reply.status, 204, "{}", reply.text);
    let new_cookie = first.cookie("sessionid").unwrap();
    assert_ne!(new_cookie, old_cookie, "the browser session gets a new key");
    assert_eq!(
        first.get("/accounts/me").await.status,
        200,
        "this session stays"
    );

    second
        .get("/accounts/me")
        .await
        .problem(401, "not_authenticated");
    app.bearer(&token)
        .get("/accounts/me")
        .await
        .problem(401, "not_authenticated");
    let replay = app.browser();
    replay.set_cookie("sessionid", &old_cookie);
    replay
        .get("/accounts/me")
        .await
        .problem(401, "not_authenticated");

    app.login_app(&email, PASSWORD)
        .await
        .problem(401, "invalid_credentials");
    assert_eq!(app.login_app(&email, NEW_PASSWORD).await.status, 200);
}

async fn an_app_client_keeps_its_token_through_a_password_change(backend: Backend) {
    let app = spawn_app(backend).await;
    let (email, token) = app.register_app().await;
    let other = app.login_app(&email, PASSWORD).await.json()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD});
    let reply = app
        .bearer(&token)
        .request(Method::POST, "/accounts/password/change", Some(&body))
        .await;
    assert_eq!(reply.status, 204, "{}", reply.text);
    assert_eq!(app.bearer(&token).get("/accounts/me").await.status, 200);
    app.bearer(&other)
        .get("/accounts/me")
        .await
        .problem(401, "not_authenticated");
}

async fn a_wrong_current_or_weak_new_password_changes_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let (email, token) = app.register_app().await;
    let client = app.bearer(&token);
    let change =
        |current: &str, new: &str| json!({"current_password": current, "new_password": new});
    let wrong = client
        .request(
            Method::POST,
            "/accounts/password/change",
            Some(&change("nope nope nope", NEW_PASSWORD)),
        )
        .await;
    let problem = wrong.problem(400, "validation_failed");
    assert!(
        problem["errors"]["current_password"][0]
            .as_str()
            .unwrap()
            .contains("incorrectly"),
        "{problem}"
    );
    let weak = client
        .request(
            Method::POST,
            "/accounts/password/change",
            Some(&change(PASSWORD, "123")),
        )
        .await;
    let problem = weak.problem(400, "validation_failed");
    let messages = problem["errors"]["new_password"].as_array().unwrap();
    assert!(
        messages
            .iter()
            .any(|m| m.as_str().unwrap().contains("too short")),
        "{problem}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.as_str().unwrap().contains("entirely numeric")),
        "{problem}"
    );
    let missing = client
        .request(
            Method::POST,
            "/accounts/password/change",
            Some(&json!({"current_password": PASSWORD})),
        )
        .await;
    missing.problem(400, "validation_failed");
    assert_eq!(
        app.login_app(&email, PASSWORD).await.status,
        200,
        "the old password still works"
    );
    assert_eq!(client.get("/accounts/me").await.status, 200);
    app.post_json("/accounts/password/change", &change(PASSWORD, NEW_PASSWORD))
        .await
        .problem(401, "not_authenticated");
}

fn sessions_of(reply: &crate::helpers::Reply) -> Vec<Value> {
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json()["sessions"].as_array().unwrap().clone()
}

async fn the_session_list_shows_every_session_once_with_the_current_marked(backend: Backend) {
    let app = spawn_app(backend).await;
    let browser = app.browser();
    let email = browser.register().await;
    let token = app.login_app(&email, PASSWORD).await.json()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, stranger) = app.register_app().await;

    let listed = sessions_of(&browser.get("/accounts/sessions").await);
    assert_eq!(listed.len(), 2, "{listed:?}");
    let current: Vec<&Value> = listed.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["client"], "browser");
    let app_session = listed
        .iter()
        .find(|s| s["client"] == "app")
        .expect("the app session");
    assert_eq!(app_session["current"], false);
    for session in &listed {
        let id = session["id"].as_str().unwrap();
        assert_eq!(id.len(), 32);
        assert!(
            !token.contains(id) && !browser.cookie("sessionid").unwrap().contains(id),
            "ids are not keys"
        );
        assert!(session["created_at"].is_string() && session["last_seen_at"].is_string());
    }
    // The app sees the same two, with itself as current.
    let from_app = sessions_of(&app.bearer(&token).get("/accounts/sessions").await);
    assert_eq!(from_app.len(), 2);
    let mine = from_app.iter().find(|s| s["current"] == true).unwrap();
    assert_eq!(mine["id"], app_session["id"]);
    // Another user sees only their own.
    assert_eq!(
        sessions_of(&app.bearer(&stranger).get("/accounts/sessions").await).len(),
        1
    );
    app.get("/accounts/sessions")
        .await
        .problem(401, "not_authenticated");
}

async fn a_revoked_session_is_dead_at_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let browser = app.browser();
    let email = browser.register().await;
    let token = app.login_app(&email, PASSWORD).await.json()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let listed = sessions_of(&browser.get("/accounts/sessions").await);
    let app_id = listed.iter().find(|s| s["client"] == "app").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let browser_id = listed.iter().find(|s| s["current"] == true).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // The browser ends the app's session: the token is dead at once.
    let path = format!("/accounts/sessions/{app_id}");
    let revoke = browser.request(Method::DELETE, &path, None, false).await;
    revoke.problem(403, "csrf_failed");
    assert_eq!(
        browser
            .request(Method::DELETE, &path, None, true)
            .await
            .status,
        204
    );
    app.bearer(&token)
        .get("/accounts/me")
        .await
        .problem(401, "not_authenticated");
    browser
        .request(Method::DELETE, &path, None, true)
        .await
        .problem(404, "not_found");
    assert_eq!(
        sessions_of(&browser.get("/accounts/sessions").await).len(),
        1
    );

    // An app ends the browser's session (cookie dead), then its own (a logout).
    let token = app.login_app(&email, PASSWORD).await.json()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let client = app.bearer(&token);
    let reply = client
        .request(
            Method::DELETE,
            &format!("/accounts/sessions/{browser_id}"),
            None,
        )
        .await;
    assert_eq!(reply.status, 204, "{}", reply.text);
    browser
        .get("/accounts/me")
        .await
        .problem(401, "not_authenticated");
    let own = sessions_of(&client.get("/accounts/sessions").await);
    let own_id = own[0]["id"].as_str().unwrap();
    assert_eq!(
        client
            .request(
                Method::DELETE,
                &format!("/accounts/sessions/{own_id}"),
                None
            )
            .await
            .status,
        204
    );
    client
        .get("/accounts/me")
        .await
        .problem(401, "not_authenticated");
}

async fn another_users_session_cannot_be_revoked(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, victim) = app.register_app().await;
    let (_, attacker) = app.register_app().await;
    let victim_id = sessions_of(&app.bearer(&victim).get("/accounts/sessions").await)[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let attack = app.bearer(&attacker);
    attack
        .request(
            Method::DELETE,
            &format!("/accounts/sessions/{victim_id}"),
            None,
        )
        .await
        .problem(404, "not_found");
    for bogus in ["nope", "../../etc", "0123456789abcdef0123456789abcdef"] {
        attack
            .request(Method::DELETE, &format!("/accounts/sessions/{bogus}"), None)
            .await
            .problem(404, "not_found");
    }
    assert_eq!(app.bearer(&victim).get("/accounts/me").await.status, 200);
}

async fn last_seen_is_written_at_most_once_per_interval(backend: Backend) {
    let app = spawn_app_with(backend, &[("SESSION_TOUCH_INTERVAL_SECS", "2")]).await;
    let (_, token) = app.register_app().await;
    let client = app.bearer(&token);
    let first = sessions_of(&client.get("/accounts/sessions").await)[0].clone();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let soon = sessions_of(&client.get("/accounts/sessions").await)[0].clone();
    assert_eq!(
        soon["last_seen_at"], first["last_seen_at"],
        "not rewritten within the interval"
    );
    tokio::time::sleep(Duration::from_millis(2100)).await;
    client.get("/accounts/me").await;
    let later = sessions_of(&client.get("/accounts/sessions").await)[0].clone();
    assert_ne!(
        later["last_seen_at"], first["last_seen_at"],
        "rewritten after it"
    );
    assert_eq!(later["created_at"], first["created_at"]);
}
