//! Sessions that fit their clients: a browser's ends with the browser
//! unless it asked to be remembered; an app's lasts weeks.

use std::time::Duration;

use serde_json::json;

use crate::both_backends;
use crate::helpers::{spawn_app, spawn_app_with, Backend, Reply, PASSWORD};

both_backends!(
    remember_gives_a_persistent_cookie_and_others_get_a_session_cookie,
    a_remembered_session_outlives_the_browser_timeouts_and_then_ends,
    app_sessions_have_their_own_long_lifetime,
);

fn session_cookie(reply: &Reply) -> String {
    reply
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("sessionid="))
        .unwrap_or_else(|| panic!("no session cookie set: {reply:?}"))
}

fn max_age(cookie: &str) -> Option<i64> {
    cookie
        .split(';')
        .map(str::trim)
        .find_map(|part| part.strip_prefix("Max-Age="))
        .map(|v| v.parse().unwrap())
}

async fn remember_gives_a_persistent_cookie_and_others_get_a_session_cookie(backend: Backend) {
    let app = spawn_app(backend).await;
    let plain = app.browser();
    let email = plain.register().await;
    let cookie = session_cookie(&plain.login(&email, PASSWORD).await);
    assert_eq!(max_age(&cookie), None, "ends with the browser: {cookie}");
    assert!(!cookie.to_lowercase().contains("expires="), "{cookie}");

    let remembered = app.browser();
    remembered.csrf().await;
    let body = json!({"email": email, "password": PASSWORD, "remember": true});
    let reply = remembered.post("/accounts/login", &body).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let cookie = session_cookie(&reply);
    let age = max_age(&cookie).expect("a persistent cookie");
    assert!((1_209_590..=1_209_600).contains(&age), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");

    // Registering with it too.
    let newcomer = app.browser();
    newcomer.csrf().await;
    let body = json!({"email": app.unique_email(), "password": PASSWORD, "remember": true});
    let reply = newcomer.post("/accounts/register", &body).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert!(max_age(&session_cookie(&reply)).is_some());

    // The session list tells each session's end.
    let listed = remembered.get("/accounts/sessions").await.json();
    for session in listed["sessions"].as_array().unwrap() {
        let created =
            chrono::DateTime::parse_from_rfc3339(session["created_at"].as_str().unwrap()).unwrap();
        let ends =
            chrono::DateTime::parse_from_rfc3339(session["expires_at"].as_str().unwrap()).unwrap();
        let lifetime = (ends - created).num_seconds();
        let expected = if session["current"] == true {
            1_209_600
        } else {
            28_800
        };
        assert_eq!(lifetime, expected, "{session}");
    }
    // "remember" is a boolean, like every other field checked by type.
    let wrong = json!({"email": email, "password": PASSWORD, "remember": "yes"});
    app.post_json("/accounts/login", &wrong)
        .await
        .problem(400, "validation_failed");
}

async fn a_remembered_session_outlives_the_browser_timeouts_and_then_ends(backend: Backend) {
    let settings = [
        ("SESSION_IDLE_TIMEOUT_SECS", "1"),
        ("SESSION_ABSOLUTE_TIMEOUT_SECS", "2"),
        ("REMEMBER_ME_TIMEOUT_SECS", "5"),
        ("SESSION_TOUCH_INTERVAL_SECS", "0"),
    ];
    let app = spawn_app_with(backend, &settings).await;
    let plain = app.browser();
    let email = plain.register().await;
    let remembered = app.browser();
    remembered.csrf().await;
    let body = json!({"email": email, "password": PASSWORD, "remember": true});
    assert_eq!(remembered.post("/accounts/login", &body).await.status, 200);

    tokio::time::sleep(Duration::from_millis(2500)).await;
    plain
        .get("/accounts/me")
        .await
        .problem(401, "not_authenticated");
    // Idle past the browser timeouts, still in.
    let reply = remembered.get("/accounts/me").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    // Each touch re-sets the cookie; it stays persistent, counting down.
    let age = max_age(&session_cookie(&reply)).expect("still persistent");
    assert!((1..=3).contains(&age), "Max-Age {age}");

    // However active, it ends at REMEMBER_ME_TIMEOUT_SECS.
    let mut ended = false;
    for _ in 0..8 {
        tokio::time::sleep(Duration::from_millis(700)).await;
        if remembered.get("/accounts/me").await.status == 401 {
            ended = true;
            break;
        }
    }
    assert!(ended, "a remembered session still ends");
}

async fn app_sessions_have_their_own_long_lifetime(backend: Backend) {
    let settings = [
        ("SESSION_IDLE_TIMEOUT_SECS", "1"),
        ("SESSION_ABSOLUTE_TIMEOUT_SECS", "1"),
    ];
    let app = spawn_app_with(backend, &settings).await;
    let (email, token) = app.register_app().await;
    let reply = app.login_app(&email, PASSWORD).await;
    let body = reply.json();
    let expires =
        chrono::DateTime::parse_from_rfc3339(body["expires_at"].as_str().unwrap()).unwrap();
    let days = (expires.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_hours() / 24;
    assert!((89..=90).contains(&days), "90 days by default: {days}");
    tokio::time::sleep(Duration::from_millis(2200)).await;
    // The browser timeouts do not apply to apps.
    let me = app.bearer(&token).get("/accounts/me").await;
    assert_eq!(me.status, 200, "{}", me.text);
}
