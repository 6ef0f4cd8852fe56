//! A password change ends the logins in flight too: a login whose check of
//! the old password passed just before the change must not keep a session
//! after it (the session generation moves on), while the session that
//! changed the password stays; nor may its upgrade of the old hash
//! overwrite the new one.

use std::time::Duration;

use futures_util::future::join_all;
use reqwest::Method;
use serde_json::json;

use crate::both_backends;
use crate::helpers::{spawn_app, Backend, Reply, PASSWORD};
use crate::smtp::{spawn_with_smtp, SmtpServer};

both_backends!(
    no_login_in_flight_outlives_a_password_change,
    an_upgrade_in_flight_does_not_bring_the_old_password_back,
);

const NEW_PASSWORD: &str = "a changed passphrase for flights";

async fn no_login_in_flight_outlives_a_password_change(backend: Backend) {
    let app = spawn_app(backend).await;
    let (email, token) = app.register_app().await;
    // Logins with the old password start one after another while the
    // change runs: they queue for the hashing pool, so several read the
    // old hash before the change and finish after it.
    let logins = join_all((0..16u64).map(|i| {
        let (app, email) = (&app, email.clone());
        async move {
            tokio::time::sleep(Duration::from_millis(i * 10)).await;
            app.login_app(&email, PASSWORD).await
        }
    }));
    let change = async {
        tokio::time::sleep(Duration::from_millis(20)).await;
        app.bearer(&token)
            .request(
                Method::POST,
                "/accounts/password/change",
                Some(&json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD})),
            )
            .await
    };
    let (replies, changed): (Vec<Reply>, Reply) = tokio::join!(logins, change);
    assert_eq!(changed.status, 204, "{}", changed.text);
    let mut answered = 0;
    for reply in &replies {
        match reply.status.as_u16() {
            200 => {
                answered += 1;
                let token = reply.json()["token"].as_str().unwrap().to_owned();
                app.bearer(&token)
                    .get("/accounts/me")
                    .await
                    .problem(401, "not_authenticated");
            }
            // Wrong once the change is in; failures add up to the throttle.
            401 | 429 => {}
            other => panic!("a login answered {other}: {}", reply.text),
        }
    }
    eprintln!("{answered} of 16 logins answered 200 around the change");
    // The session that changed it stays, and the new password works.
    assert_eq!(app.bearer(&token).get("/accounts/me").await.status, 200);
    assert_eq!(app.login_app(&email, NEW_PASSWORD).await.status, 200);
}

/// A login with the old password whose check ran while a reset set a new
/// one must not store its stronger hash of the old password over the new
/// one (the upgrade from Django's format is the slow case).
async fn an_upgrade_in_flight_does_not_bring_the_old_password_back(backend: Backend) {
    let smtp = SmtpServer::start();
    let app = spawn_with_smtp(backend, &smtp, &[("PASSWORD_HASH_CONCURRENCY", "4")]).await;
    let vectors: serde_json::Value =
        serde_json::from_str(include_str!("../django/hash_vectors.json")).unwrap();
    let slow = vectors["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| {
            v["encoded"]
                .as_str()
                .unwrap()
                .starts_with("pbkdf2_sha256$1000000$")
        })
        .expect("a million-round vector");
    let (encoded, old) = (
        slow["encoded"].as_str().unwrap(),
        slow["password"].as_str().unwrap(),
    );
    let (email, _) = app.register_app().await;
    app.execute_sql(&format!(
        "UPDATE users SET password = '{encoded}' WHERE email_canonical = '{email}'"
    ))
    .await;
    let asked = app
        .post_json("/accounts/password/reset", &json!({"email": email}))
        .await;
    assert_eq!(asked.status, 202, "{}", asked.text);
    let token = smtp.nth_with_subject(&email, "Reset your", 1).await.token();
    let login = app.login_app(&email, old);
    let reset = async {
        // While the million rounds run.
        tokio::time::sleep(Duration::from_millis(30)).await;
        app.post_json(
            "/accounts/password/reset/confirm",
            &json!({"token": token, "new_password": NEW_PASSWORD}),
        )
        .await
    };
    let (_, reset) = tokio::join!(login, reset);
    assert_eq!(reset.status, 204, "{}", reset.text);
    app.login_app(&email, old)
        .await
        .problem(401, "invalid_credentials");
    let new = app.login_app(&email, NEW_PASSWORD).await;
    assert_eq!(new.status, 200, "{}", new.text);
}
