//! Password reset over a real SMTP server: the link, the token's life, no
//! enumeration, the limits, and what a reset ends.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::both_backends;
use crate::helpers::{Backend, PASSWORD};
use crate::smtp::{spawn_with_smtp, SmtpServer};

const NEW_PASSWORD: &str = "an entirely new passphrase 42";

both_backends!(
    a_reset_link_sets_a_new_password_ends_every_session_and_sends_a_notice,
    known_and_unknown_emails_get_the_same_answer_and_only_known_ones_get_mail,
    a_weak_password_does_not_spend_the_token,
    tokens_are_single_use_expire_and_are_voided_by_newer_ones_and_password_changes,
    a_reset_clears_the_login_lockout,
    the_resend_interval_and_the_per_address_limit,
    bad_reset_requests_are_validation_errors,
);

async fn reset_token(
    smtp: &SmtpServer,
    app: &crate::helpers::TestApp,
    email: &str,
    nth: usize,
) -> String {
    let reply = app
        .post_json("/accounts/password/reset", &json!({"email": email}))
        .await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    // The `nth` reset message (mail is not ordered: a notice written
    // earlier may arrive later).
    smtp.nth_with_subject(email, "Reset your", nth)
        .await
        .token()
}

async fn a_reset_link_sets_a_new_password_ends_every_session_and_sends_a_notice(backend: Backend) {
    let smtp = SmtpServer::start();
    let app = spawn_with_smtp(backend, &smtp, &[("EMAIL_PRODUCT_NAME", "Example Shop")]).await;
    let (email, token) = app.register_app().await;
    let verification = smtp.nth(&email, 1).await;
    assert!(
        verification.subject.contains("Confirm your email"),
        "{}",
        verification.subject
    );

    let reply = app
        .post_json(
            "/accounts/password/reset",
            &json!({"email": email.to_uppercase()}),
        )
        .await;
    assert_eq!(reply.status, 202);
    let mail = smtp.nth(&email, 2).await;
    assert_eq!(mail.subject, "Reset your Example Shop password");
    assert_eq!(mail.from, "noreply@example.com");
    assert!(mail.message_id.contains('@'));
    let reset = mail.token();
    let link = format!("https://app.example.com/reset-password?token={reset}");
    assert!(mail.text.contains(&link), "{}", mail.text);
    assert!(
        mail.html.contains(&format!("reset-password?token={reset}"))
            || mail.html.contains("reset-password"),
        "{}",
        mail.html
    );
    assert!(
        mail.text.contains("1 hour"),
        "the expiry in words: {}",
        mail.text
    );
    assert!(!mail.text.contains(PASSWORD) && !mail.html.contains(PASSWORD));

    // A second session, a browser's, also ends.
    let browser = app.browser();
    let login = browser
        .post(
            "/accounts/login",
            &json!({"email": email, "password": PASSWORD}),
        )
        .await;
    assert_eq!(login.status, 200);

    let reply = app
        .post_json(
            "/accounts/password/reset/confirm",
            &json!({"token": reset, "new_password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(reply.status, 204, "{}", reply.text);
    assert!(reply.set_cookies().is_empty(), "a reset logs nobody in");
    app.bearer(&token)
        .get("/accounts/me")
        .await
        .problem(401, "not_authenticated");
    browser
        .get("/accounts/me")
        .await
        .problem(401, "not_authenticated");
    app.login_app(&email, PASSWORD)
        .await
        .problem(401, "invalid_credentials");
    let login = app.login_app(&email, NEW_PASSWORD).await;
    assert_eq!(login.status, 200);
    assert_eq!(
        login.json()["user"]["email_verified"],
        true,
        "the link proved the address"
    );
    app.post_json(
        "/accounts/email/verify",
        &json!({"token": verification.token()}),
    )
    .await
    .problem(400, "invalid_token");

    let notice = smtp.nth(&email, 3).await;
    assert_eq!(notice.subject, "Your Example Shop password was changed");
    assert!(!notice.has_token_line(), "a notice carries no token");
    assert!(!notice.text.contains(NEW_PASSWORD) && !notice.html.contains(NEW_PASSWORD));
}

async fn known_and_unknown_emails_get_the_same_answer_and_only_known_ones_get_mail(
    backend: Backend,
) {
    let smtp = SmtpServer::start();
    let app = spawn_with_smtp(backend, &smtp, &[]).await;
    let (known, _) = app.register_app().await;
    smtp.nth(&known, 1).await;
    let unknown = app.unique_email();
    let a = app
        .post_json("/accounts/password/reset", &json!({"email": known}))
        .await;
    let b = app
        .post_json("/accounts/password/reset", &json!({"email": unknown}))
        .await;
    assert_eq!(
        (a.status, b.status),
        (202.try_into().unwrap(), 202.try_into().unwrap())
    );
    assert_eq!(a.text, b.text, "the same body");
    let strip = |h: &reqwest::header::HeaderMap| {
        let mut names: Vec<String> = h
            .keys()
            .map(|k| k.to_string())
            .filter(|k| k != "date" && k != "x-request-id")
            .collect();
        names.sort();
        names
    };
    assert_eq!(strip(&a.headers), strip(&b.headers), "the same headers");
    smtp.nth(&known, 2).await;
    // The unknown request was handled with the known one (same round).
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        smtp.messages_to(&unknown).is_empty(),
        "nothing is sent to an address without an account"
    );
    assert_eq!(smtp.messages().len(), 2);
}

async fn a_weak_password_does_not_spend_the_token(backend: Backend) {
    let smtp = SmtpServer::start();
    let app = spawn_with_smtp(backend, &smtp, &[]).await;
    let (email, _) = app.register_app().await;
    smtp.nth(&email, 1).await;
    let reset = reset_token(&smtp, &app, &email, 1).await;
    for weak in ["short", "12345678901", email.as_str()] {
        let reply = app
            .post_json(
                "/accounts/password/reset/confirm",
                &json!({"token": reset, "new_password": weak}),
            )
            .await;
        let problem = reply.problem(400, "validation_failed");
        assert!(problem["errors"]["new_password"].is_array(), "{problem}");
    }
    let reply = app
        .post_json(
            "/accounts/password/reset/confirm",
            &json!({"token": reset, "new_password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(reply.status, 204, "{}", reply.text);
}

async fn tokens_are_single_use_expire_and_are_voided_by_newer_ones_and_password_changes(
    backend: Backend,
) {
    let smtp = SmtpServer::start();
    let app = spawn_with_smtp(
        backend,
        &smtp,
        &[
            ("EMAIL_RESEND_INTERVAL_SECS", "0"),
            ("PASSWORD_RESET_TTL_SECS", "2"),
        ],
    )
    .await;
    let confirm = |token: String, password: &'static str| {
        let app = &app;
        async move {
            app.post_json(
                "/accounts/password/reset/confirm",
                &json!({"token": token, "new_password": password}),
            )
            .await
        }
    };
    let (email, token) = app.register_app().await;
    let verification = smtp.nth(&email, 1).await.token();

    // Single use.
    let first = reset_token(&smtp, &app, &email, 1).await;
    assert_eq!(confirm(first.clone(), NEW_PASSWORD).await.status, 204);
    confirm(first, "yet another passphrase 7")
        .await
        .problem(400, "invalid_token");

    // A newer token voids the older one.
    let older = reset_token(&smtp, &app, &email, 2).await;
    let newer = reset_token(&smtp, &app, &email, 3).await;
    confirm(older, "yet another passphrase 7")
        .await
        .problem(400, "invalid_token");

    // A password change voids them all.
    let session = app.login_app(&email, NEW_PASSWORD).await.json()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let change = app
        .bearer(&session)
        .request(
            Method::POST,
            "/accounts/password/change",
            Some(&json!({"current_password": NEW_PASSWORD, "new_password": "a changed passphrase 99"})),
        )
        .await;
    assert_eq!(change.status, 204, "{}", change.text);
    confirm(newer, "yet another passphrase 7")
        .await
        .problem(400, "invalid_token");
    let _ = token;

    // Another purpose's token, garbage and nothing are the same 400.
    for bad in [
        verification,
        "x".repeat(43),
        "not a token".into(),
        String::new(),
    ] {
        confirm(bad, "yet another passphrase 7")
            .await
            .problem(400, "invalid_token");
    }

    // Expired.
    let expiring = reset_token(&smtp, &app, &email, 4).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    confirm(expiring, "yet another passphrase 7")
        .await
        .problem(400, "invalid_token");
}

async fn a_reset_clears_the_login_lockout(backend: Backend) {
    let smtp = SmtpServer::start();
    let app = spawn_with_smtp(backend, &smtp, &[]).await;
    let (email, _) = app.register_app().await;
    smtp.nth(&email, 1).await;
    for _ in 0..5 {
        app.login_app(&email, "a wrong password here")
            .await
            .problem(401, "invalid_credentials");
    }
    app.login_app(&email, PASSWORD)
        .await
        .problem(429, "too_many_attempts");
    let reset = reset_token(&smtp, &app, &email, 1).await;
    let reply = app
        .post_json(
            "/accounts/password/reset/confirm",
            &json!({"token": reset, "new_password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(reply.status, 204);
    assert_eq!(app.login_app(&email, NEW_PASSWORD).await.status, 200);
}

async fn the_resend_interval_and_the_per_address_limit(backend: Backend) {
    let smtp = SmtpServer::start();
    let app = spawn_with_smtp(backend, &smtp, &[("PASSWORD_RESETS_PER_IP", "3")]).await;
    let (email, _) = app.register_app().await;
    smtp.nth(&email, 1).await;
    for _ in 0..3 {
        let reply = app
            .post_json("/accounts/password/reset", &json!({"email": email}))
            .await;
        assert_eq!(reply.status, 202);
    }
    smtp.nth(&email, 2).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        smtp.messages_to(&email).len(),
        2,
        "one reset message per EMAIL_RESEND_INTERVAL_SECS"
    );
    let reply = app
        .post_json("/accounts/password/reset", &json!({"email": email}))
        .await;
    reply.problem(429, "too_many_attempts");
    let retry: u64 = reply.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=3600).contains(&retry), "{retry}");
}

async fn bad_reset_requests_are_validation_errors(backend: Backend) {
    let smtp = SmtpServer::start();
    let app = spawn_with_smtp(backend, &smtp, &[]).await;
    let problem = app
        .post_json(
            "/accounts/password/reset",
            &json!({"email": "not an email"}),
        )
        .await
        .problem(400, "validation_failed");
    assert!(problem["errors"]["email"].is_array(), "{problem}");
    let problem = app
        .post_json("/accounts/password/reset", &json!({}))
        .await
        .problem(400, "validation_failed");
    assert!(problem["errors"]["email"].is_array(), "{problem}");
    let problem = app
        .post_json("/accounts/password/reset/confirm", &json!({"token": "abc"}))
        .await
        .problem(400, "validation_failed");
    assert!(problem["errors"]["new_password"].is_array(), "{problem}");
    let problem = app
        .post_json(
            "/accounts/password/reset/confirm",
            &json!({"token": "a\u{0}b", "new_password": NEW_PASSWORD}),
        )
        .await
        .problem(400, "validation_failed");
    assert!(problem["errors"]["token"].is_array(), "{problem}");
}
