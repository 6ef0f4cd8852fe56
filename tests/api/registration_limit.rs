//! `REGISTRATIONS_PER_IP` per `REGISTRATION_WINDOW_SECS`: one client can
//! neither create accounts without end nor probe emails through 409.

use serde_json::json;

use crate::both_backends;
use crate::helpers::{spawn_app_with, Backend, TestApp, PASSWORD};

both_backends!(registrations_are_limited_per_address);

async fn register_from(app: &TestApp, address: &str, email: &str) -> crate::helpers::Reply {
    let request = app
        .client
        .post(app.url("/accounts/register"))
        .header("X-Forwarded-For", address)
        .json(&json!({"email": email, "password": PASSWORD, "client": "app"}));
    app.send(request).await
}

async fn registrations_are_limited_per_address(backend: Backend) {
    let overrides = [
        ("REGISTRATIONS_PER_IP", "3"),
        ("REGISTRATION_WINDOW_SECS", "120"),
        ("TRUST_X_FORWARDED_FOR", "true"),
    ];
    let app = spawn_app_with(backend, &overrides).await;
    let taken = app.unique_email();
    assert_eq!(register_from(&app, "192.0.2.1", &taken).await.status, 201);
    // Bodies that break a rule probe nothing and are not counted.
    for _ in 0..5 {
        let bad = app
            .send(
                app.client
                    .post(app.url("/accounts/register"))
                    .header("X-Forwarded-For", "192.0.2.1")
                    .json(&json!({"email": "not an email", "password": PASSWORD})),
            )
            .await;
        bad.problem(400, "validation_failed");
    }
    // A 409 is counted: it tells whether an email exists.
    register_from(&app, "192.0.2.1", &taken)
        .await
        .problem(409, "email_taken");
    let third = register_from(&app, "192.0.2.1", &app.unique_email()).await;
    assert_eq!(third.status, 201, "{}", third.text);

    let refused = register_from(&app, "192.0.2.1", &app.unique_email()).await;
    refused.problem(429, "too_many_attempts");
    let retry: u64 = refused.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=120).contains(&retry), "Retry-After {retry}");
    // Refused, even for a taken email: no more probing.
    register_from(&app, "192.0.2.1", &taken)
        .await
        .problem(429, "too_many_attempts");

    // Another address is not affected, and logins are not limited by it.
    let other = register_from(&app, "198.51.100.7", &app.unique_email()).await;
    assert_eq!(other.status, 201, "{}", other.text);
    assert_eq!(app.login_app(&taken, PASSWORD).await.status, 200);
}
