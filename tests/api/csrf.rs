use reqwest::Method;
use serde_json::json;

use crate::both_backends;
use crate::helpers::{spawn_app, Backend, PASSWORD};

both_backends!(
    the_csrf_endpoint_sets_a_readable_cookie,
    unsafe_cookie_requests_need_the_matching_header,
    login_with_a_stale_session_cookie_needs_csrf,
    bearer_and_cookieless_requests_are_not_checked,
);

async fn the_csrf_endpoint_sets_a_readable_cookie(backend: Backend) {
    let app = spawn_app(backend).await;
    let reply = app.get("/accounts/csrf").await;
    assert_eq!(reply.status, 200);
    let token = reply.json()["csrf_token"].as_str().unwrap().to_owned();
    let cookie = reply
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("csrftoken="))
        .expect("csrftoken cookie");
    assert!(
        cookie.starts_with(&format!("csrftoken={token};")),
        "{cookie}"
    );
    assert!(
        !cookie.contains("HttpOnly"),
        "scripts must read it: {cookie}"
    );
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    // A browser that has one keeps it.
    let browser = app.browser();
    let first = browser.csrf().await;
    assert_eq!(browser.csrf().await, first);
}

async fn unsafe_cookie_requests_need_the_matching_header(backend: Backend) {
    let app = spawn_app(backend).await;
    let browser = app.browser();
    browser.register().await;
    let body = json!({"first_name": "Mallory"});
    let missing = browser
        .request(Method::PATCH, "/accounts/me", Some(&body), false)
        .await;
    missing.problem(403, "csrf_failed");
    let real = browser.cookie("csrftoken").unwrap();
    browser.set_cookie("csrftoken", "attacker-chosen-value-that-does-not-match");
    let request = app
        .client
        .patch(app.url("/accounts/me"))
        .header(
            "Cookie",
            format!(
                "sessionid={}; csrftoken={real}",
                browser.cookie("sessionid").unwrap()
            ),
        )
        .header("X-CSRFToken", "a-different-value")
        .json(&body);
    app.send(request).await.problem(403, "csrf_failed");
    browser.set_cookie("csrftoken", &real);
    for method in [Method::POST, Method::DELETE] {
        let reply = browser
            .request(method, "/accounts/logout", None, false)
            .await;
        reply.problem(403, "csrf_failed");
    }
    // Nothing changed, and the session still works.
    let me = browser.get("/accounts/me").await;
    assert_eq!(me.json()["user"]["first_name"], "");
    let ok = browser.patch("/accounts/me", &body).await;
    assert_eq!(ok.status, 200, "{}", ok.text);
}

async fn login_with_a_stale_session_cookie_needs_csrf(backend: Backend) {
    let app = spawn_app(backend).await;
    let browser = app.browser();
    let email = browser.register().await;
    let body = json!({"email": email, "password": PASSWORD});
    browser
        .request(Method::POST, "/accounts/login", Some(&body), false)
        .await
        .problem(403, "csrf_failed");
    browser
        .request(Method::POST, "/accounts/register", Some(&body), false)
        .await
        .problem(403, "csrf_failed");
    assert_eq!(
        browser
            .request(Method::POST, "/accounts/login", Some(&body), true)
            .await
            .status,
        200
    );
}

async fn bearer_and_cookieless_requests_are_not_checked(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, token) = app.register_app().await;
    let reply = app
        .bearer(&token)
        .request(
            Method::PATCH,
            "/accounts/me",
            Some(&json!({"last_name": "Token"})),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    // A Bearer request ignores any cookies sent along (no CSRF, no cookie session).
    let browser = app.browser();
    browser.register().await;
    let mixed = app
        .client
        .patch(app.url("/accounts/me"))
        .bearer_auth(&token)
        .header(
            "Cookie",
            format!("sessionid={}", browser.cookie("sessionid").unwrap()),
        )
        .json(&json!({"first_name": "Bearer"}));
    let reply = app.send(mixed).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        reply.json()["user"]["last_name"],
        "Token",
        "the token's user, not the cookie's"
    );
}
