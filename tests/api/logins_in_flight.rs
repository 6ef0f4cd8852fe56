//! A password change ends the logins in flight too: a login whose check of
//! the old password passed just before the change must not keep a session
//! after it (the session generation moves on), while the session that
//! changed the password stays.

use std::time::Duration;

use futures_util::future::join_all;
use reqwest::Method;
use serde_json::json;

use crate::both_backends;
use crate::helpers::{spawn_app, Backend, Reply, PASSWORD};

both_backends!(no_login_in_flight_outlives_a_password_change);

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
