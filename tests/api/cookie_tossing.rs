//! Two session cookies in one request (a stale one, or one planted for a
//! parent domain by a sibling subdomain): whatever their order, the one
//! that verifies and is live wins. Names count as actix reads them,
//! percent-decoded; with `COOKIE_SECURE=true` the cookie is
//! `__Host-sessionid`, which no sibling subdomain can set.

use reqwest::header::COOKIE;
use serde_json::json;

use crate::both_backends;
use crate::helpers::{spawn_app, spawn_app_with, Backend, TestApp};

both_backends!(
    a_valid_session_cookie_wins_over_one_that_does_not_verify,
    two_live_session_cookies_are_ambiguous_and_neither_counts,
    an_encoded_name_is_the_session_cookie_too,
    with_cookie_secure_the_session_cookie_is_host_prefixed,
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

/// `GET /accounts/me` with exactly this `Cookie` header.
async fn me_with(app: &TestApp, cookies: &str) -> crate::helpers::Reply {
    let request = app
        .client
        .get(app.url("/accounts/me"))
        .header(COOKIE, cookies);
    app.send(request).await
}

/// `%73essionid` decodes to `sessionid`: planted beside the user's cookie,
/// in either order, it makes the pair ambiguous instead of logging the
/// user into the planter's account (or being overlooked).
async fn an_encoded_name_is_the_session_cookie_too(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.browser();
    let email = user.register().await;
    let mine = user.cookie("sessionid").unwrap();
    let attacker = app.browser();
    attacker.register().await;
    let planted = attacker.cookie("sessionid").unwrap();
    for name in [
        "%73essionid",
        "%73%65%73%73%69%6F%6E%69%64",
        "s%65ssion%69d",
    ] {
        for cookies in [
            format!("{name}={planted}; sessionid={mine}"),
            format!("sessionid={mine}; {name}={planted}"),
        ] {
            let reply = me_with(&app, &cookies).await;
            assert_eq!(reply.status, 401, "{cookies}: {}", reply.text);
        }
    }
    // Alone, an encoded name is the session cookie (as actix reads it),
    // and a stale or forged one beside the live one is no ambiguity.
    let reply = me_with(&app, &format!("%73essionid={mine}")).await;
    assert_eq!(reply.json()["user"]["email"], email.as_str());
    let reply = me_with(&app, &format!("%73essionid=forged; sessionid={mine}")).await;
    assert_eq!(
        reply.json()["user"]["email"],
        email.as_str(),
        "{}",
        reply.text
    );
}

async fn with_cookie_secure_the_session_cookie_is_host_prefixed(backend: Backend) {
    let app = spawn_app_with(backend, &[("COOKIE_SECURE", "true")]).await;
    let user = app.browser();
    user.csrf().await;
    let reply = user
        .post(
            "/accounts/register",
            &json!({"email": app.unique_email(), "password": crate::helpers::PASSWORD}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let line = reply
        .set_cookies()
        .into_iter()
        .find(|c| c.contains("sessionid="))
        .unwrap();
    assert!(line.starts_with("__Host-sessionid="), "{line}");
    assert!(
        line.contains("Secure") && line.contains("Path=/") && !line.contains("Domain"),
        "{line}"
    );
    assert!(user.cookie("sessionid").is_none());
    let mine = user.cookie("__Host-sessionid").unwrap();
    assert_eq!(user.get("/accounts/me").await.status, 200);
    // Remember-me rewrites the same cookie.
    let login = user
        .post(
            "/accounts/login",
            &json!({"email": reply.json()["user"]["email"], "password": crate::helpers::PASSWORD, "remember": true}),
        )
        .await;
    let line = login
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("__Host-sessionid="))
        .unwrap();
    assert!(line.contains("Max-Age"), "{line}");
    let mine_now = user.cookie("__Host-sessionid").unwrap();
    assert_ne!(mine, mine_now);

    let attacker = app.browser();
    attacker.register().await;
    let planted = attacker.cookie("__Host-sessionid").unwrap();
    // A plain `sessionid` (all a sibling subdomain could set) is no
    // session; an encoded `__Host-` name counts and is ambiguous.
    let reply = me_with(&app, &format!("sessionid={planted}")).await;
    reply.problem(401, "not_authenticated");
    for name in ["%5F%5FHost-sessionid", "__Host%2Dsessionid"] {
        for cookies in [
            format!("{name}={planted}; __Host-sessionid={mine_now}"),
            format!("__Host-sessionid={mine_now}; {name}={planted}"),
        ] {
            let reply = me_with(&app, &cookies).await;
            assert_eq!(reply.status, 401, "{cookies}: {}", reply.text);
        }
    }
}
