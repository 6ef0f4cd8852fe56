//! Look-alike and case-variant addresses (API v3): an address is
//! NFKC-normalised before anything else, stored and mailed in that form,
//! and every rule (uniqueness, look-ups, the resend interval, per-address
//! limits) compares its case-folded form.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::admin::{call, staff};
use crate::both_backends;
use crate::helpers::{Backend, TestApp, PASSWORD};
use crate::smtp::{spawn_with_smtp, SmtpServer};

both_backends!(
    a_lookalike_is_stored_and_mailed_as_its_plain_form,
    variants_share_the_resend_interval_and_uniqueness_on_email_change,
    variants_share_the_per_address_login_limit,
    staff_and_operator_lookups_find_the_plain_address,
    addresses_stored_before_normalisation_are_rekeyed_at_migration,
);

/// `email` with the letters and digits of its local part in fullwidth
/// forms (U+FF10..): a different string, the same address after NFKC.
fn fullwidth(email: &str) -> String {
    let (local, domain) = email.split_once('@').unwrap();
    let wide: String = local
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                char::from_u32(c as u32 - 0x21 + 0xFF01).unwrap()
            } else {
                c
            }
        })
        .collect();
    format!("{wide}@{domain}")
}

/// A fresh address whose first letter is `K`, and the same address with
/// U+212A KELVIN SIGN in its place.
fn kate(app: &TestApp) -> (String, String) {
    let plain = format!("Kate.{}", app.unique_email());
    let kelvin = plain.replacen('K', "\u{212A}", 1);
    (plain, kelvin)
}

async fn register(app: &TestApp, email: &str) -> crate::helpers::Reply {
    app.post_json(
        "/accounts/register",
        &json!({"email": email, "password": PASSWORD, "client": "app"}),
    )
    .await
}

async fn a_lookalike_is_stored_and_mailed_as_its_plain_form(backend: Backend) {
    let smtp = SmtpServer::start();
    let app = spawn_with_smtp(backend, &smtp, &[]).await;
    let (plain, kelvin) = kate(&app);
    let reply = register(&app, &kelvin).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(
        reply.json()["user"]["email"],
        plain.as_str(),
        "stored plain"
    );
    // The verification link went to the plain address.
    smtp.nth(&plain, 1).await;

    // Every spelling of it is that one account.
    for taken in [
        plain.to_lowercase(),
        fullwidth(&plain),
        plain.to_uppercase(),
    ] {
        register(&app, &taken).await.problem(409, "email_taken");
    }
    for variant in [fullwidth(&plain), kelvin.clone(), plain.to_lowercase()] {
        let login = app.login_app(&variant, PASSWORD).await;
        assert_eq!(login.status, 200, "{variant}: {}", login.text);
        assert_eq!(login.json()["user"]["email"], plain.as_str());
    }
    // A reset asked for under a look-alike goes to the plain address.
    let reply = app
        .post_json(
            "/accounts/password/reset",
            &json!({"email": fullwidth(&plain)}),
        )
        .await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    let reset = smtp.nth_with_subject(&plain, "Reset your", 1).await;
    assert_eq!(reset.to, vec![plain.clone()]);
    assert!(smtp
        .messages()
        .iter()
        .all(|m| m.to.iter().all(|t| t.is_ascii())));
}

async fn variants_share_the_resend_interval_and_uniqueness_on_email_change(backend: Backend) {
    let smtp = SmtpServer::start();
    let app = spawn_with_smtp(backend, &smtp, &[]).await;
    let (old, session) = app.register_app().await;
    smtp.nth(&old, 1).await;
    let victim = format!("Victim.{}", app.unique_email());
    let change = |to: String| {
        let app = &app;
        let session = &session;
        async move {
            app.bearer(session)
                .request(
                    Method::POST,
                    "/accounts/email/change",
                    Some(&json!({"new_email": to, "password": PASSWORD})),
                )
                .await
        }
    };
    assert_eq!(change(victim.clone()).await.status, 202);
    smtp.nth(&victim, 1).await;
    // The same address in other spellings, within the resend interval:
    // answered the same, and nothing more is mailed to it or to `old`.
    let upper_i = victim.replacen("Victim", "vICTIM", 1);
    for variant in [upper_i, fullwidth(&victim), victim.to_uppercase()] {
        let reply = change(variant.clone()).await;
        assert_eq!(reply.status, 202, "{variant}: {}", reply.text);
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        smtp.messages_to(&victim).len(),
        1,
        "one per resend interval"
    );
    assert_eq!(
        smtp.messages_to(&old).len(),
        2,
        "one notice to the old address"
    );

    // A look-alike of a taken address is that address: 409.
    let (taken, _) = app.register_app().await;
    for variant in [fullwidth(&taken), taken.to_uppercase()] {
        change(variant).await.problem(409, "email_taken");
    }
}

async fn variants_share_the_per_address_login_limit(backend: Backend) {
    let smtp = SmtpServer::start();
    let app = spawn_with_smtp(
        backend,
        &smtp,
        &[
            ("LOGIN_FAILURES_PER_ACCOUNT", "3"),
            ("LOGIN_FAILURES_PER_IP", "1000"),
        ],
    )
    .await;
    let (plain, kelvin) = kate(&app);
    assert_eq!(register(&app, &plain).await.status, 201);
    for variant in [fullwidth(&plain), kelvin, fullwidth(&plain.to_uppercase())] {
        app.login_app(&variant, "not the password")
            .await
            .problem(401, "invalid_credentials");
    }
    // Three failures under three spellings lock the one address.
    app.login_app(&plain, PASSWORD)
        .await
        .problem(429, "too_many_attempts");
}

async fn staff_and_operator_lookups_find_the_plain_address(backend: Backend) {
    let smtp = SmtpServer::start();
    let app = spawn_with_smtp(backend, &smtp, &[]).await;
    let (_, _, token) = staff(&app, false).await;
    let (plain, kelvin) = kate(&app);
    let id = register(&app, &plain).await.json()["user"]["id"]
        .as_i64()
        .unwrap();
    for term in [fullwidth(&plain), kelvin.clone(), plain.to_uppercase()] {
        let encoded: String = url::form_urlencoded::byte_serialize(term.as_bytes()).collect();
        let reply = call(
            &app,
            &token,
            Method::GET,
            &format!("/admin/users?search={encoded}"),
            None,
        )
        .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        let found: Vec<i64> = reply.json()["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["id"].as_i64().unwrap())
            .collect();
        assert_eq!(found, vec![id], "search {term:?}");
    }
    let accounts = accounts::startup::accounts_for_cli(&app.settings)
        .await
        .unwrap();
    for email in [fullwidth(&plain), kelvin] {
        let user = accounts.user_by_email(&email).await.unwrap();
        assert_eq!(user.map(|u| i64::from(u.id)), Some(id), "{email}");
    }
}

/// Rows written before v3 hold an address as typed and its lower-cased
/// key. The migration lists those with a character beyond ASCII, and the
/// application re-keys them; a row whose normalised key is already another
/// account's is left as it was.
async fn addresses_stored_before_normalisation_are_rekeyed_at_migration(backend: Backend) {
    let smtp = SmtpServer::start();
    let app = spawn_with_smtp(backend, &smtp, &[]).await;
    let (plain, kelvin) = kate(&app);
    let wide = format!("wide.{}", app.unique_email());
    let owner = format!("owner.{}", app.unique_email());
    let squatter = format!("squatter.{}", app.unique_email());
    for email in [&plain, &wide, &owner, &squatter] {
        assert_eq!(register(&app, email).await.status, 201);
    }
    // As the code before v3 stored them: the text as typed, lower-cased.
    let legacy = |stored: &str, as_typed: &str| {
        format!(
            "UPDATE users SET email = '{as_typed}', email_canonical = '{}' WHERE email = '{stored}';",
            as_typed.to_lowercase()
        )
    };
    let squatted = fullwidth(&owner);
    let sql = [
        legacy(&plain, &kelvin),
        legacy(&wide, &fullwidth(&wide)),
        legacy(&squatter, &squatted),
    ]
    .concat();
    app.execute_sql(&sql).await;
    app.login_app(&wide, PASSWORD)
        .await
        .problem(401, "invalid_credentials");

    // The migration undone by hand (its down.sql), then applied again.
    let dir = match backend {
        Backend::Sqlite => "sqlite",
        Backend::PostgresRedis => "postgres",
    };
    let down = std::fs::read_to_string(format!(
        "{}/migrations/{dir}/2026-12-07-000001_email_keys/down.sql",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    app.execute_sql(&format!(
        "{down} DELETE FROM __diesel_schema_migrations WHERE version = '20261207000001';"
    ))
    .await;
    let applied = accounts::startup::migrate(&app.settings).await.unwrap();
    assert_eq!(applied, vec!["20261207000001".to_owned()]);

    let emails = |like: &str| {
        let app = &app;
        let sql = format!(
            "SELECT email || ' ' || email_canonical AS s FROM users WHERE email_canonical LIKE '{like}%'"
        );
        async move { app.strings_sql(&sql).await }
    };
    assert_eq!(
        emails("kate.").await,
        vec![format!("{plain} {}", plain.to_lowercase())]
    );
    assert_eq!(emails("wide.").await, vec![format!("{wide} {wide}")]);
    for email in [&plain, &wide, &fullwidth(&wide)] {
        let login = app.login_app(email, PASSWORD).await;
        assert_eq!(login.status, 200, "{email}: {}", login.text);
    }
    // The owner keeps the address; the squatting row is left as it was.
    let login = app.login_app(&squatted, PASSWORD).await;
    assert_eq!(login.json()["user"]["email"], owner.as_str());
    assert_eq!(
        app.count_sql(&format!(
            "SELECT COUNT(*) AS n FROM users WHERE email = '{squatted}' AND email_canonical = '{}'",
            squatted.to_lowercase()
        ))
        .await,
        1
    );
    assert_eq!(
        app.count_sql("SELECT COUNT(*) AS n FROM email_rekey_pending")
            .await,
        0
    );
}
