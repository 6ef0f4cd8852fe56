//! The use cases called as plain Rust, without HTTP, against a real
//! database (and Redis): the rules live there, not in the handlers.

use std::collections::HashMap;

use accounts::accounts::{Accounts, MeEdit, ProfileEdit, Registration};
use accounts::config::Settings;
use accounts::error::ApiError;
use accounts::startup::accounts_for_cli;

use crate::both_backends;
use crate::helpers::{fresh_database, Backend, PASSWORD};

both_backends!(
    registration_reports_every_broken_rule_at_once,
    edits_report_every_broken_rule_and_change_nothing,
    revoking_an_unknown_or_malformed_session_id_is_not_found,
);

async fn accounts_on(backend: Backend) -> (Accounts, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database(backend, dir.path()).await;
    let mut env = HashMap::from([
        ("DATABASE_URL".to_owned(), url),
        ("PASSWORD_HASH_CONCURRENCY".to_owned(), "2".to_owned()),
    ]);
    if backend == Backend::PostgresRedis {
        let redis = std::env::var("TEST_REDIS_URL").expect(crate::helpers::NOT_CONFIGURED);
        env.insert("REDIS_URL".into(), redis);
        let prefix = format!("test:use-cases:{}:", std::process::id());
        env.insert("REDIS_KEY_PREFIX".into(), prefix);
        // The development key is only for the embedded database.
        env.insert(
            "SECRET_KEY".into(),
            "use-cases-test-key-0123456789-abcdefghijkl".into(),
        );
    }
    let settings = Settings::from_lookup(|k| env.get(k).cloned()).unwrap();
    (accounts_for_cli(&settings).await.unwrap(), dir)
}

fn registration(email: &str, password: &str, username: &str) -> Registration {
    Registration {
        email: email.into(),
        password: password.to_owned().into(),
        username: username.into(),
        first_name: String::new(),
        last_name: String::new(),
        is_staff: false,
        is_superuser: false,
        logs_in: false,
    }
}

fn fields(error: ApiError) -> Vec<String> {
    match error {
        ApiError::Validation(errors) => errors.into_keys().collect(),
        other => panic!("expected validation_failed, got {other:?}"),
    }
}

async fn registration_reports_every_broken_rule_at_once(backend: Backend) {
    let (accounts, _dir) = accounts_on(backend).await;
    let error = accounts
        .register(registration("not an email", "short", "no spaces allowed"))
        .await
        .unwrap_err();
    assert_eq!(fields(error), ["email", "password", "username"]);

    let user = accounts
        .register(registration("ada@example.com", PASSWORD, "ada"))
        .await
        .unwrap();
    assert_eq!(user.email, "ada@example.com");
    assert!(user.last_login.is_none(), "registering is not logging in");
    let again = accounts
        .register(registration("ADA@example.com", PASSWORD, ""))
        .await
        .unwrap_err();
    assert!(matches!(again, ApiError::EmailTaken), "{again:?}");
}

async fn edits_report_every_broken_rule_and_change_nothing(backend: Backend) {
    let (accounts, _dir) = accounts_on(backend).await;
    let user = accounts
        .register(registration("grace@example.com", PASSWORD, "grace"))
        .await
        .unwrap();
    let edit = MeEdit {
        username: Some("has space".into()),
        first_name: Some("x".repeat(151)),
        last_name: Some("Hopper".into()),
    };
    let error = accounts.update_me(user.id, edit).await.unwrap_err();
    assert_eq!(fields(error), ["first_name", "username"]);
    let current = accounts
        .current_user(user.id, 0, None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(current.last_name, "", "nothing changed");

    let edit = ProfileEdit {
        portfolio_site: Some("javascript:alert(1)".into()),
        bio: Some("b".repeat(2001)),
    };
    let error = accounts.update_profile(user.id, edit).await.unwrap_err();
    assert_eq!(fields(error), ["bio", "portfolio_site"]);
    let edit = ProfileEdit {
        portfolio_site: Some("https://grace.example.com".into()),
        bio: None,
    };
    let profile = accounts.update_profile(user.id, edit).await.unwrap();
    assert_eq!(profile.portfolio_site, "https://grace.example.com");
    assert_eq!(profile.bio, "");
}

async fn revoking_an_unknown_or_malformed_session_id_is_not_found(backend: Backend) {
    let (accounts, _dir) = accounts_on(backend).await;
    let user = accounts
        .register(registration("kay@example.com", PASSWORD, ""))
        .await
        .unwrap();
    let list = accounts.list_sessions(user.id, None).await.unwrap();
    assert!(list.sessions.is_empty() && list.count == 0);
    for id in ["0".repeat(32), "not-an-id".into(), "../../etc".into()] {
        let error = accounts.revoke_session(user.id, &id).await.unwrap_err();
        assert!(matches!(error, ApiError::NotFound), "{id}: {error:?}");
    }
}
