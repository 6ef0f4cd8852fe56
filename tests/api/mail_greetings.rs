//! Mail carries no text that a stranger wrote: a user's names greet only
//! the account's own verified address. Mail to an unverified address (a
//! squatted one) or to a new address chosen by whoever holds the session
//! greets nobody by name.

use reqwest::Method;
use serde_json::json;

use crate::both_backends;
use crate::helpers::{Backend, PASSWORD};
use crate::smtp::{spawn_with_smtp, SmtpServer};

both_backends!(names_reach_only_the_accounts_own_verified_address);

const LURE: &str = "Security alert: re-verify at https://evil.example";

async fn names_reach_only_the_accounts_own_verified_address(backend: Backend) {
    let smtp = SmtpServer::start();
    let app = spawn_with_smtp(backend, &smtp, &[]).await;
    let email = app.unique_email();
    let registered = app
        .post_json(
            "/accounts/register",
            &json!({"email": email, "password": PASSWORD, "first_name": LURE, "client": "app"}),
        )
        .await;
    assert_eq!(registered.status, 201, "{}", registered.text);
    let token = registered.json()["token"].as_str().unwrap().to_owned();
    let me = app.bearer(&token);
    let clean = |mail: &crate::smtp::Mail| {
        assert!(!mail.text.contains("evil.example"), "{}", mail.text);
        assert!(!mail.html.contains("evil.example"), "{}", mail.html);
    };
    // The verification link, to an address nobody has proved yet.
    let verification = smtp.nth(&email, 1).await;
    clean(&verification);
    // An email change's confirmation, to an address of the user's choice.
    let chosen = app.unique_email();
    let asked = me
        .request(
            Method::POST,
            "/accounts/email/change",
            Some(&json!({"new_email": chosen, "password": PASSWORD})),
        )
        .await;
    assert_eq!(asked.status, 202, "{}", asked.text);
    clean(&smtp.nth(&chosen, 1).await);
    // Once the address is proved, the account's own mail greets it.
    let verified = app
        .post_json(
            "/accounts/email/verify",
            &json!({"token": verification.token()}),
        )
        .await;
    assert_eq!(verified.status, 200, "{}", verified.text);
    let changed = me
        .request(
            Method::POST,
            "/accounts/password/change",
            Some(&json!({"current_password": PASSWORD, "new_password": "another long passphrase"})),
        )
        .await;
    assert_eq!(changed.status, 204, "{}", changed.text);
    let notice = smtp
        .nth_with_subject(&email, "Your Accounts password", 1)
        .await;
    assert!(
        notice.text.contains(&format!("Hello {LURE},")),
        "{}",
        notice.text
    );
}
