//! Two `sessionid` cookies in one request (a stale one, or one planted for
//! a parent domain by a sibling subdomain): whatever their order, the one
//! that verifies and is live wins.

use reqwest::header::COOKIE;
use serde_json::json;

use crate::both_backends;
use crate::helpers::{spawn_app, Backend};

both_backends!(
    a_valid_session_cookie_wins_over_one_that_does_not_verify,
    two_live_session_cookies_are_ambiguous_and_neither_counts,
);

async fn a_valid_session_cookie_wins_over_one_that_does_not_verify(backend: Backend) {
    let app = spawn_app(backend).await;
    let browser = app.browser();
    browser.register().await;
    let live = browser.cookie("sessionid").expect("a session cookie");
    let csrf = browser.cookie("csrftoken").expect("a CSRF cookie");

    // A cookie this service signed once, whose session has ended.
    let other = app.browser();
    other.register().await;
    let stale = other.cookie("sessionid").unwrap();
    assert_eq!(other.post_empty("/accounts/logout").await.status, 204);

    let forged = "forged-by-a-sibling-subdomain";
    for planted in [forged, stale.as_str()] {
        for cookies in [
            format!("sessionid={planted}; sessionid={live}"),
            format!("sessionid={live}; sessionid={planted}"),
        ] {
            let request = app
                .client
                .get(app.url("/accounts/me"))
                .header(COOKIE, &cookies);
            let reply = app.send(request).await;
            assert_eq!(reply.status, 200, "{cookies}: {}", reply.text);

            // Unsafe methods too, with the CSRF pair beside them.
            let request = app
                .client
                .patch(app.url("/accounts/me"))
                .header(COOKIE, format!("csrftoken={csrf}; {cookies}"))
                .header("X-CSRFToken", &csrf)
                .json(&json!({"first_name": "Tossed"}));
            let reply = app.send(request).await;
            assert_eq!(reply.status, 200, "{cookies}: {}", reply.text);
            assert_eq!(reply.json()["user"]["first_name"], "Tossed");
        }
    }
    // Each cookie alone still means what it did.
    let request = app
        .client
        .get(app.url("/accounts/me"))
        .header(COOKIE, format!("sessionid={stale}"));
    app.send(request).await.problem(401, "not_authenticated");
}

/// An attacker's own live session planted beside the user's must not swap
/// accounts under them: with two live sessions, neither is used.
async fn two_live_session_cookies_are_ambiguous_and_neither_counts(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.browser();
    user.register().await;
    let mine = user.cookie("sessionid").unwrap();
    let attacker = app.browser();
    attacker.register().await;
    let planted = attacker.cookie("sessionid").unwrap();
    for cookies in [
        format!("sessionid={planted}; sessionid={mine}"),
        format!("sessionid={mine}; sessionid={planted}"),
    ] {
        let request = app
            .client
            .get(app.url("/accounts/me"))
            .header(COOKIE, &cookies);
        app.send(request).await.problem(401, "not_authenticated");
        // Unsafe requests still need their CSRF header.
        let request = app
            .client
            .post(app.url("/accounts/logout"))
            .header(COOKIE, &cookies);
        app.send(request).await.problem(403, "csrf_failed");
    }
    // Both sessions are untouched by it.
    assert_eq!(user.get("/accounts/me").await.status, 200);
    assert_eq!(attacker.get("/accounts/me").await.status, 200);
    // Many copies of a cookie are no way to make the server work.
    let many = (0..50)
        .map(|_| format!("sessionid={mine}"))
        .collect::<Vec<_>>()
        .join("; ");
    let request = app.client.get(app.url("/accounts/me")).header(COOKIE, many);
    assert_eq!(app.send(request).await.status, 200, "one value, repeated");
}
