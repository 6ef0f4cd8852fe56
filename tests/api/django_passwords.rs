//! Passwords hashed by Django keep working: a user whose stored hash is one
//! Django 5.2 made (`tests/django/hash_vectors.json`) logs in with the old
//! password, and from then on has our Argon2id hash. Unusable and legacy
//! hashes never log in.

use serde_json::Value;

use accounts::auth::django_hashes::{kind, verify, Kind};

use crate::both_backends;
use crate::helpers::{spawn_app_with, Backend, PASSWORD};

both_backends!(a_django_hash_logs_in_once_and_is_replaced_by_argon2id);

const VECTORS: &str = include_str!("../django/hash_vectors.json");

async fn a_django_hash_logs_in_once_and_is_replaced_by_argon2id(backend: Backend) {
    let app = spawn_app_with(backend, &[]).await;
    let vectors: Value = serde_json::from_str(VECTORS).unwrap();
    let pick = |algorithm: &str, prefix: &str| -> (String, String) {
        let v = vectors["vectors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| {
                v["algorithm"] == algorithm && v["encoded"].as_str().unwrap().starts_with(prefix)
            })
            .unwrap_or_else(|| panic!("no {prefix} vector"));
        (
            v["encoded"].as_str().unwrap().to_owned(),
            v["password"].as_str().unwrap().to_owned(),
        )
    };
    let formats = [
        pick("pbkdf2_sha256", "pbkdf2_sha256$1000$"),
        pick("pbkdf2_sha1", "pbkdf2_sha1$1000$"),
        pick("argon2", "argon2$argon2id$"),
        pick("argon2", "argon2$argon2i$"),
        pick("bcrypt_sha256", "bcrypt_sha256$"),
        pick("bcrypt", "bcrypt$"),
        pick("scrypt", "scrypt$"),
    ];
    for (encoded, password) in formats {
        let (email, _) = app.register_app().await;
        let canonical = email.to_lowercase();
        app.execute_sql(&format!(
            "UPDATE users SET password = '{encoded}' WHERE email_canonical = '{canonical}'"
        ))
        .await;
        let stored = app
            .count_sql(&format!(
                "SELECT count(*) AS n FROM users WHERE email_canonical = '{canonical}' AND password = '{encoded}'"
            ))
            .await;
        assert_eq!(stored, 1, "{encoded} is stored");
        app.login_app(&email, &format!("{password}!"))
            .await
            .problem(401, "invalid_credentials");
        let login = app.login_app(&email, &password).await;
        assert_eq!(login.status, 200, "{encoded}: {}", login.text);
        let rehashed = app
            .count_sql(&format!(
                "SELECT count(*) AS n FROM users WHERE email_canonical = '{canonical}' AND password LIKE '$argon2id$%'"
            ))
            .await;
        assert_eq!(rehashed, 1, "{encoded} was not replaced by Argon2id");
        assert_eq!(app.login_app(&email, &password).await.status, 200);
    }
    for (encoded, password) in [
        (pick("unusable", "!").0, String::new()),
        pick("md5", "md5$"),
    ] {
        let (email, _) = app.register_app().await;
        let canonical = email.to_lowercase();
        app.execute_sql(&format!(
            "UPDATE users SET password = '{encoded}' WHERE email_canonical = '{canonical}'"
        ))
        .await;
        let guess = if password.is_empty() {
            PASSWORD.to_owned()
        } else {
            password
        };
        app.login_app(&email, &guess)
            .await
            .problem(401, "invalid_credentials");
    }
}

/// Every vector, straight through the verifier: the right password, and a
/// wrong one per format and parameters.
#[test]
fn every_vector_verifies_as_django_says() {
    let vectors: serde_json::Value = serde_json::from_str(VECTORS).unwrap();
    let mut seen = std::collections::BTreeSet::new();
    for v in vectors["vectors"].as_array().unwrap() {
        let (algorithm, password, encoded) = (
            v["algorithm"].as_str().unwrap(),
            v["password"].as_str().unwrap(),
            v["encoded"].as_str().unwrap(),
        );
        let check = |guess: &str| verify(encoded, guess);
        match algorithm {
            "md5" | "unusable" => {
                assert!(matches!(kind(encoded), Kind::Unusable(_)), "{encoded}");
                assert_eq!(check(password), None, "{encoded}");
            }
            _ => {
                assert_eq!(v["django_accepts"], true);
                assert_eq!(check(password), Some(true), "{algorithm}: {encoded}");
                // One wrong guess per format and parameters is enough
                // (a million PBKDF2 rounds are seconds in a debug build).
                if seen.insert(format!(
                    "wrong:{}",
                    encoded.rsplitn(3, '$').last().unwrap_or("")
                )) {
                    let wrong = format!("{password}!");
                    assert_eq!(check(&wrong), Some(false), "{algorithm}: {encoded}");
                }
            }
        }
        seen.insert(format!(
            "{algorithm}:{}",
            encoded.split('$').nth(1).unwrap_or("")
        ));
    }
    for must in [
        "argon2:argon2id",
        "argon2:argon2i",
        "bcrypt:",
        "bcrypt_sha256:",
        "scrypt:16384",
    ] {
        assert!(seen.contains(must), "no {must} vector: {seen:?}");
    }
}
