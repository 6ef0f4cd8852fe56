//! A wrong password takes as long for an account still holding the hash
//! Django made as for any other account, or an unknown email: the answer
//! does not tell which users moved from Django have not logged in since.

use std::time::{Duration, Instant};

use base64::Engine;

use crate::both_backends;
use crate::helpers::{spawn_app_with, Backend, TestApp};

both_backends!(a_refused_login_takes_as_long_whatever_the_stored_hash);

/// The quickest of three refused logins for `email` (the quickest: noise
/// from a busy machine only ever adds).
async fn refused(app: &TestApp, email: &str) -> Duration {
    let mut quickest = Duration::MAX;
    for _ in 0..3 {
        let started = Instant::now();
        app.login_app(email, "not the password at all")
            .await
            .problem(401, "invalid_credentials");
        quickest = quickest.min(started.elapsed());
    }
    quickest
}

async fn a_refused_login_takes_as_long_whatever_the_stored_hash(backend: Backend) {
    let first = spawn_app_with(backend, &[]).await;
    let (imported, _) = first.register_app().await;
    let (native, _) = first.register_app().await;
    // 40,000 PBKDF2 rounds: several Argon2id checks' time in a debug build
    // (a million, Django 5.2's, are seconds there). Only wrong passwords
    // are tried, so any 32 bytes will do for the hash.
    let encoded = format!(
        "pbkdf2_sha256$40000$saltsaltsalt${}",
        base64::engine::general_purpose::STANDARD.encode([7u8; 32])
    );
    first
        .execute_sql(&format!(
            "UPDATE users SET password = '{encoded}' WHERE email_canonical = '{}'",
            imported.to_lowercase()
        ))
        .await;
    // The service started on a database holding a Django hash.
    let url = secrecy::ExposeSecret::expose_secret(&first.settings.stores.database_url).to_owned();
    let app = spawn_app_with(backend, &[("DATABASE_URL", &url)]).await;

    let django = refused(&app, &imported).await;
    let argon2id = refused(&app, &native).await;
    let unknown = refused(&app, "nobody-at-all@example.com").await;
    for (what, took) in [
        ("an Argon2id account", argon2id),
        ("an unknown email", unknown),
    ] {
        assert!(
            took * 2 >= django,
            "{what} is refused in {took:?}, an account with Django's hash in {django:?}"
        );
    }
}
