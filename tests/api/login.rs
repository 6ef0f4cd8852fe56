use std::time::Duration;

use serde_json::json;

use crate::both_backends;
use crate::helpers::{spawn_app, spawn_app_with, Backend, PASSWORD};

both_backends!(
    browser_login_sets_a_new_session_cookie,
    app_login_returns_a_token,
    unknown_email_and_wrong_password_get_the_same_401,
    blank_and_malformed_logins_are_400,
    too_many_failures_lock_one_email_for_the_window,
    the_per_address_limit_stops_spraying,
    a_deactivated_account_cannot_log_in,
);

async fn browser_login_sets_a_new_session_cookie(backend: Backend) {
    let app = spawn_app(backend).await;
    let (email, _) = app.register_app().await;
    let browser = app.browser();
    let reply = browser.login(&email.to_uppercase(), PASSWORD).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let body = reply.json();
    assert_eq!(body["user"]["email"], email);
    assert!(body["user"]["last_login"].is_string());
    assert!(body.get("token").is_none());
    assert!(browser.cookie("sessionid").is_some());
    assert_eq!(browser.get("/accounts/me").await.status, 200);
}

async fn app_login_returns_a_token(backend: Backend) {
    let app = spawn_app(backend).await;
    let (email, first_token) = app.register_app().await;
    let reply = app.login_app(&email, PASSWORD).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(reply.set_cookies().is_empty());
    let token = reply.json()["token"].as_str().unwrap().to_owned();
    assert_ne!(token, first_token, "each login is its own session");
    for token in [&token, &first_token] {
        assert_eq!(app.bearer(token).get("/accounts/me").await.status, 200);
    }
}

async fn unknown_email_and_wrong_password_get_the_same_401(backend: Backend) {
    let app = spawn_app(backend).await;
    let (email, _) = app.register_app().await;
    let wrong = app.login_app(&email, "not the password at all").await;
    let unknown = app.login_app("nobody@example.com", PASSWORD).await;
    let a = wrong.problem(401, "invalid_credentials");
    let b = unknown.problem(401, "invalid_credentials");
    assert_eq!(a, b, "indistinguishable bodies");
}

async fn blank_and_malformed_logins_are_400(backend: Backend) {
    let app = spawn_app(backend).await;
    let blank = app
        .post_json("/accounts/login", &json!({"email": " ", "password": ""}))
        .await;
    let problem = blank.problem(400, "validation_failed");
    assert_eq!(
        problem["errors"]["email"][0],
        "This field may not be blank."
    );
    assert_eq!(
        problem["errors"]["password"][0],
        "This field may not be blank."
    );
    let missing = app
        .post_json("/accounts/login", &json!({"email": "a@example.com"}))
        .await;
    missing.problem(400, "validation_failed");
}

async fn too_many_failures_lock_one_email_for_the_window(backend: Backend) {
    let app = spawn_app_with(backend, &[("LOGIN_FAILURE_WINDOW_SECS", "3")]).await;
    let (email, _) = app.register_app().await;
    let (other, _) = app.register_app().await;
    for _ in 0..5 {
        app.login_app(&email, "wrong password, again")
            .await
            .problem(401, "invalid_credentials");
    }
    // Locked even with the right password, and in any letter case.
    let locked = app.login_app(&email.to_uppercase(), PASSWORD).await;
    locked.problem(429, "too_many_attempts");
    let retry: u64 = locked.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=3).contains(&retry), "Retry-After {retry}");
    // Another account is unaffected.
    assert_eq!(app.login_app(&other, PASSWORD).await.status, 200);
    // The window ends; the right password works again.
    tokio::time::sleep(Duration::from_secs(retry) + Duration::from_millis(300)).await;
    let after = app.login_app(&email, PASSWORD).await;
    assert_eq!(after.status, 200, "{}", after.text);
}

async fn the_per_address_limit_stops_spraying(backend: Backend) {
    let app = spawn_app_with(backend, &[("LOGIN_FAILURES_PER_IP", "3")]).await;
    let (email, _) = app.register_app().await;
    for n in 0..3 {
        app.login_app(&format!("sprayed-{n}@example.com"), "Winter2026!")
            .await
            .problem(401, "invalid_credentials");
    }
    app.login_app(&email, PASSWORD)
        .await
        .problem(429, "too_many_attempts");
}

async fn a_deactivated_account_cannot_log_in(backend: Backend) {
    let app = spawn_app_with(backend, &[("USER_CACHE_TTL_SECS", "1")]).await;
    let (email, token) = app.register_app().await;
    assert_eq!(app.bearer(&token).get("/accounts/me").await.status, 200);
    deactivate(&app, &email).await;
    // A change made straight in the database (not through the API) reaches
    // sessions within USER_CACHE_TTL_SECS.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let reply = app.login_app(&email, PASSWORD).await;
    let unknown = app.login_app("nobody-at-all@example.com", PASSWORD).await;
    assert_eq!(
        reply.problem(401, "invalid_credentials"),
        unknown.problem(401, "invalid_credentials")
    );
    // Its live session stops working too.
    app.bearer(&token)
        .get("/accounts/me")
        .await
        .problem(401, "not_authenticated");
}

/// Flips `is_active` straight in the database, as an operator would.
async fn deactivate(app: &crate::helpers::TestApp, email: &str) {
    use accounts::db::schema::users;
    use diesel::prelude::*;
    let db = accounts::db::Db::new(&app.settings).unwrap();
    let email = email.to_lowercase();
    db.run(move |conn| {
        diesel::update(users::table.filter(users::email_canonical.eq(email)))
            .set(users::is_active.eq(false))
            .execute(conn)?;
        Ok(())
    })
    .await
    .unwrap();
}

both_backends!(
    a_burst_of_parallel_guesses_is_throttled_too,
    successful_logins_do_not_use_up_the_address_limit,
);

async fn a_burst_of_parallel_guesses_is_throttled_too(backend: Backend) {
    let app = spawn_app(backend).await;
    let (email, _) = app.register_app().await;
    let guesses = (0..20).map(|n| {
        let request = app
            .client
            .post(app.url("/accounts/login"))
            .json(&json!({"email": email, "password": format!("guess number {n}")}));
        async move { request.send().await.map(|r| r.status().as_u16()) }
    });
    let statuses: Vec<u16> = futures_util::future::join_all(guesses)
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    let checked = statuses.iter().filter(|s| **s == 401).count();
    assert_eq!(
        checked, 5,
        "exactly the limit's worth of guesses is checked: {statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        15,
        "{statuses:?}"
    );
    app.login_app(&email, PASSWORD)
        .await
        .problem(429, "too_many_attempts");
}

async fn successful_logins_do_not_use_up_the_address_limit(backend: Backend) {
    let app = spawn_app_with(
        backend,
        &[
            ("LOGIN_FAILURES_PER_IP", "3"),
            ("LOGIN_FAILURES_PER_ACCOUNT", "3"),
        ],
    )
    .await;
    let (email, _) = app.register_app().await;
    for _ in 0..6 {
        assert_eq!(app.login_app(&email, PASSWORD).await.status, 200);
    }
    // Two failures, then a success: the success clears the account's count.
    let app = spawn_app_with(backend, &[("LOGIN_FAILURES_PER_ACCOUNT", "3")]).await;
    let (email, _) = app.register_app().await;
    for _ in 0..2 {
        app.login_app(&email, "not it at all")
            .await
            .problem(401, "invalid_credentials");
    }
    assert_eq!(app.login_app(&email, PASSWORD).await.status, 200);
    for _ in 0..2 {
        app.login_app(&email, "not it at all")
            .await
            .problem(401, "invalid_credentials");
    }
    assert_eq!(
        app.login_app(&email, PASSWORD).await.status,
        200,
        "2 + 2 failures, not 4 in a row"
    );
}

both_backends!(
    a_bearer_request_cannot_start_a_browser_session,
    behind_a_proxy_the_address_is_the_one_it_added,
);

async fn a_bearer_request_cannot_start_a_browser_session(backend: Backend) {
    let app = spawn_app(backend).await;
    let (email, token) = app.register_app().await;
    let body = json!({"email": email, "password": PASSWORD});
    let reply = app
        .send(
            app.client
                .post(app.url("/accounts/login"))
                .bearer_auth(&token)
                .json(&body),
        )
        .await;
    assert!(reply.problem(400, "validation_failed")["errors"]["client"].is_array());
    let reply = app
        .send(
            app.client
                .post(app.url("/accounts/register"))
                .bearer_auth(&token)
                .json(&json!({"email": "other@example.com", "password": PASSWORD})),
        )
        .await;
    reply.problem(400, "validation_failed");
    // The token's own session was left alone.
    assert_eq!(app.bearer(&token).get("/accounts/me").await.status, 200);
    let app_login = app
        .send(
            app.client
                .post(app.url("/accounts/login"))
                .bearer_auth(&token)
                .json(&json!({"email": email, "password": PASSWORD, "client": "app"})),
        )
        .await;
    assert_eq!(app_login.status, 200, "{}", app_login.text);
}

async fn behind_a_proxy_the_address_is_the_one_it_added(backend: Backend) {
    let app = spawn_app_with(
        backend,
        &[
            ("TRUST_X_FORWARDED_FOR", "true"),
            ("LOGIN_FAILURES_PER_IP", "3"),
        ],
    )
    .await;
    let attempt = |spoofed: String, email: String| {
        let request = app
            .client
            .post(app.url("/accounts/login"))
            .header("X-Forwarded-For", format!("{spoofed}, 203.0.113.7"))
            .json(&json!({"email": email, "password": "Winter2026!"}));
        app.send(request)
    };
    for n in 0..3 {
        attempt(format!("198.51.100.{n}"), format!("victim{n}@example.com"))
            .await
            .problem(401, "invalid_credentials");
    }
    // A new made-up first entry does not make a new address.
    attempt("192.0.2.99".into(), "victim9@example.com".into())
        .await
        .problem(429, "too_many_attempts");
    // Another client behind the proxy is unaffected.
    let other = app
        .client
        .post(app.url("/accounts/login"))
        .header("X-Forwarded-For", "203.0.113.8")
        .json(&json!({"email": "someone@example.com", "password": "Winter2026!"}));
    app.send(other).await.problem(401, "invalid_credentials");
}

both_backends!(unknown_email_and_wrong_password_take_about_the_same_time);

/// Medians over repeated calls, against a generous bound: each answer costs
/// one Argon2 verification, so the two must be close (the load test prints
/// the measured medians).
async fn unknown_email_and_wrong_password_take_about_the_same_time(backend: Backend) {
    let app = spawn_app_with(
        backend,
        &[
            ("LOGIN_FAILURES_PER_ACCOUNT", "1000"),
            ("LOGIN_FAILURES_PER_IP", "1000"),
        ],
    )
    .await;
    let (email, _) = app.register_app().await;
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for n in 0..10 {
        // Alternate which goes first: the first of a pair is slower for
        // reasons of its own (a thread waking up), whatever it asks.
        let mut pair = [
            (format!("nobody{n}@example.com"), &mut unknown),
            (email.clone(), &mut known),
        ];
        if n % 2 == 1 {
            pair.reverse();
        }
        for (target, samples) in pair {
            let started = std::time::Instant::now();
            app.login_app(&target, "wrong password entirely")
                .await
                .problem(401, "invalid_credentials");
            samples.push(started.elapsed().as_secs_f64());
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (known, unknown) = (median(&mut known), median(&mut unknown));
    let ratio = known / unknown;
    eprintln!(
        "login medians: wrong password {:.1} ms, unknown email {:.1} ms",
        known * 1e3,
        unknown * 1e3
    );
    assert!(
        (0.5..2.0).contains(&ratio),
        "wrong password {known:.4}s vs unknown email {unknown:.4}s"
    );
}

both_backends!(parallel_logins_with_the_right_password_all_succeed);

/// An app, a browser and a script logging in at once (or a client that
/// retries) are not guesses: attempts in flight wait for each other instead
/// of being refused.
async fn parallel_logins_with_the_right_password_all_succeed(backend: Backend) {
    let app = spawn_app(backend).await;
    let (email, token) = app.register_app().await;
    let logins = (0..10).map(|_| app.login_app(&email, PASSWORD));
    let replies = futures_util::future::join_all(logins).await;
    let mut tokens = std::collections::BTreeSet::new();
    for reply in &replies {
        assert_eq!(reply.status, 200, "{}", reply.text);
        tokens.insert(reply.json()["token"].as_str().unwrap().to_owned());
    }
    assert_eq!(tokens.len(), 10, "ten distinct sessions");
    let sessions = app.bearer(&token).get("/accounts/sessions").await.json();
    assert_eq!(sessions["sessions"].as_array().unwrap().len(), 11);
    // Nothing was counted as a failure: five wrong guesses still lock.
    for n in 0..5 {
        let wrong = app.login_app(&email, &format!("wrong {n}")).await;
        wrong.problem(401, "invalid_credentials");
    }
    app.login_app(&email, PASSWORD)
        .await
        .problem(429, "too_many_attempts");
}
