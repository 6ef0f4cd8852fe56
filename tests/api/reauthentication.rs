//! Re-authentication: a session that has not proved its person within
//! `REAUTHENTICATION_WINDOW_SECS` may not change how its user logs in
//! without the password; `POST /accounts/reauthenticate` (a password, a
//! TOTP or a recovery code) makes it recent again, for that session only.
//! Both clients, and the throttle counting wrong answers.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use accounts::auth::totp;

use crate::authenticator::{enrolled, steady_step};
use crate::both_backends;
use crate::helpers::{spawn_app_with, Backend, Reply, TestApp, PASSWORD};

both_backends!(
    a_stale_session_must_reauthenticate_before_each_sensitive_action,
    a_browser_reauthenticates_and_the_proof_is_its_own,
    each_answer_is_accepted_and_wrong_ones_are_throttled,
    the_body_holds_exactly_one_answer,
    an_account_without_a_password_sets_one_from_a_recent_session,
);

/// The window, short enough to wait out.
const WINDOW: &str = "3";

async fn stale_app(backend: Backend, extra: &[(&str, &str)]) -> TestApp {
    let mut settings = vec![("REAUTHENTICATION_WINDOW_SECS", WINDOW)];
    settings.extend_from_slice(extra);
    spawn_app_with(backend, &settings).await
}

async fn wait_out_the_window() {
    tokio::time::sleep(Duration::from_millis(3100)).await;
}

fn until(reply: &Reply) -> chrono::DateTime<chrono::Utc> {
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json()["reauthenticated_until"]
        .as_str()
        .expect("reauthenticated_until")
        .parse()
        .expect("RFC 3339")
}

async fn a_stale_session_must_reauthenticate_before_each_sensitive_action(backend: Backend) {
    let app = stale_app(backend, &[]).await;
    let (email, token) = app.register_app().await;
    app.mark_email_verified(&email).await;
    let me = app.bearer(&token);
    // A registration counts as a login: recent at first.
    let setup = me
        .request(Method::POST, "/accounts/mfa/totp/setup", None)
        .await;
    assert_eq!(setup.status, 200, "{}", setup.text);
    wait_out_the_window().await;
    let refused: [(Method, &str, Value); 4] = [
        (
            Method::POST,
            "/accounts/email/change",
            json!({"new_email": app.unique_email()}),
        ),
        (Method::DELETE, "/accounts/me", json!({})),
        (Method::POST, "/accounts/mfa/totp/setup", json!({})),
        (Method::DELETE, "/accounts/mfa/totp", json!({})),
    ];
    for (method, path, body) in &refused {
        me.request(method.clone(), path, Some(body))
            .await
            .problem(403, "reauthentication_required");
    }
    // No body at all, where the operation had none before.
    me.request(Method::POST, "/accounts/mfa/totp/setup", None)
        .await
        .problem(403, "reauthentication_required");
    // The password in the body still does, as before.
    let with_password = me
        .request(
            Method::POST,
            "/accounts/mfa/totp/setup",
            Some(&json!({"password": PASSWORD})),
        )
        .await;
    assert_eq!(with_password.status, 200, "{}", with_password.text);
    me.request(
        Method::POST,
        "/accounts/mfa/totp/setup",
        Some(&json!({"password": "not the password"})),
    )
    .await
    .problem(400, "validation_failed");

    let before = chrono::Utc::now();
    let reply = me
        .request(
            Method::POST,
            "/accounts/reauthenticate",
            Some(&json!({"password": PASSWORD})),
        )
        .await;
    let until = until(&reply);
    let window = (until - before).num_milliseconds();
    assert!((2000..=4000).contains(&window), "{window} ms");
    // Recent again: the change goes through without the password.
    let moved = me
        .request(
            Method::POST,
            "/accounts/email/change",
            Some(&json!({"new_email": app.unique_email()})),
        )
        .await;
    assert_eq!(moved.status, 202, "{}", moved.text);
    let gone = me
        .request(Method::DELETE, "/accounts/me", Some(&json!({})))
        .await;
    assert_eq!(gone.status, 204, "{}", gone.text);
}

async fn a_browser_reauthenticates_and_the_proof_is_its_own(backend: Backend) {
    let app = stale_app(backend, &[]).await;
    let browser = app.browser();
    let email = browser.register().await;
    let other = app.browser();
    other.csrf().await;
    assert_eq!(other.login(&email, PASSWORD).await.status, 200);
    wait_out_the_window().await;
    let change = |b: &'static str| json!({"new_email": format!("{b}-{}", app.unique_email())});
    browser
        .post("/accounts/email/change", &change("a"))
        .await
        .problem(403, "reauthentication_required");
    // The CSRF rule holds here as everywhere.
    browser
        .request(
            Method::POST,
            "/accounts/reauthenticate",
            Some(&json!({"password": PASSWORD})),
            false,
        )
        .await
        .problem(403, "csrf_failed");
    let reply = browser
        .post("/accounts/reauthenticate", &json!({"password": PASSWORD}))
        .await;
    until(&reply);
    let moved = browser.post("/accounts/email/change", &change("b")).await;
    assert_eq!(moved.status, 202, "{}", moved.text);
    // The other session of the same user proved nothing.
    other
        .post("/accounts/email/change", &change("c"))
        .await
        .problem(403, "reauthentication_required");
    // A session that is not there cannot re-authenticate.
    app.post_json("/accounts/reauthenticate", &json!({"password": PASSWORD}))
        .await
        .problem(401, "not_authenticated");
}

async fn each_answer_is_accepted_and_wrong_ones_are_throttled(backend: Backend) {
    let app = stale_app(backend, &[("LOGIN_FAILURES_PER_ACCOUNT", "4")]).await;
    let (email, token, secret, codes) = enrolled(&app).await;
    let me = app.bearer(&token);
    let reauthenticate = |body: Value| {
        let me = &me;
        async move {
            me.request(Method::POST, "/accounts/reauthenticate", Some(&body))
                .await
        }
    };
    let recovery = json!({});
    wait_out_the_window().await;
    me.request(
        Method::POST,
        "/accounts/mfa/recovery-codes",
        Some(&recovery),
    )
    .await
    .problem(403, "reauthentication_required");
    // A TOTP code of a later step than the enrolment's.
    let step = steady_step().await + 1;
    until(&reauthenticate(json!({"code": totp::code_at(&secret, step)})).await);
    let fresh = me
        .request(
            Method::POST,
            "/accounts/mfa/recovery-codes",
            Some(&recovery),
        )
        .await;
    assert_eq!(fresh.status, 200, "{}", fresh.text);
    let codes_now: Vec<String> = fresh.json()["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    // One of the new set works, once; the old set is void.
    until(&reauthenticate(json!({"code": codes_now[0]})).await);
    // Wrong answers count toward the account's login throttle: 4 close
    // the account to logins too.
    reauthenticate(json!({"code": codes[0]}))
        .await
        .problem(400, "invalid_code");
    reauthenticate(json!({"code": codes_now[0]}))
        .await
        .problem(400, "invalid_code");
    let wrong = reauthenticate(json!({"password": "not the password"}))
        .await
        .problem(400, "validation_failed");
    assert!(wrong["errors"]["password"].is_array(), "{wrong}");
    reauthenticate(json!({"code": "000000"}))
        .await
        .problem(400, "invalid_code");
    reauthenticate(json!({"password": PASSWORD}))
        .await
        .problem(429, "too_many_attempts");
    app.login_app(&email, PASSWORD)
        .await
        .problem(429, "too_many_attempts");
}

async fn the_body_holds_exactly_one_answer(backend: Backend) {
    let app = stale_app(backend, &[]).await;
    let (_, token) = app.register_app().await;
    let me = app.bearer(&token);
    for body in [
        json!({}),
        json!({"password": PASSWORD, "code": "123456"}),
        json!({"password": PASSWORD, "unknown": 1}),
        json!({"password": 5}),
    ] {
        me.request(Method::POST, "/accounts/reauthenticate", Some(&body))
            .await
            .problem(400, "validation_failed");
    }
    me.request(Method::POST, "/accounts/reauthenticate", None)
        .await
        .problem(400, "malformed_request");
    // TOTP is off: no code is right.
    me.request(
        Method::POST,
        "/accounts/reauthenticate",
        Some(&json!({"code": "123456"})),
    )
    .await
    .problem(400, "invalid_code");
}

async fn an_account_without_a_password_sets_one_from_a_recent_session(backend: Backend) {
    let app = stale_app(backend, &[("USER_CACHE_TTL_SECS", "1")]).await;
    let (email, token) = app.register_app().await;
    let me = app.bearer(&token);
    let user = me.get("/accounts/me").await.json();
    assert_eq!(user["user"]["has_usable_password"], true, "{user}");
    // As a login by code or a provider will make it: no usable password.
    app.execute_sql(&format!(
        "UPDATE users SET password = '!unusable' WHERE email_canonical = '{email}'"
    ))
    .await;
    wait_out_the_window().await;
    let user = me.get("/accounts/me").await.json();
    assert_eq!(user["user"]["has_usable_password"], false, "{user}");
    let first = json!({"new_password": "a first and long passphrase"});
    me.request(Method::POST, "/accounts/password/change", Some(&first))
        .await
        .problem(403, "reauthentication_required");
    // With nothing to send, a stale session of such an account cannot set
    // one (an emailed code or a passkey will re-authenticate it).
    me.request(
        Method::POST,
        "/accounts/reauthenticate",
        Some(&json!({"password": PASSWORD})),
    )
    .await
    .problem(400, "validation_failed");

    // A fresh session (a registration counts as a login) may.
    let (email, token) = app.register_app().await;
    app.execute_sql(&format!(
        "UPDATE users SET password = '!unusable' WHERE email_canonical = '{email}'"
    ))
    .await;
    let me = app.bearer(&token);
    let set = me
        .request(Method::POST, "/accounts/password/change", Some(&first))
        .await;
    assert_eq!(set.status, 204, "{}", set.text);
    let login = app.login_app(&email, "a first and long passphrase").await;
    assert_eq!(login.status, 200, "{}", login.text);
    assert_eq!(login.json()["user"]["has_usable_password"], true);
    assert_eq!(
        me.get("/accounts/me").await.status,
        200,
        "the session stays"
    );
}
