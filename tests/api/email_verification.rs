//! Email verification over a real SMTP server: the message registration
//! sends, resending, spending the token, and `REQUIRE_EMAIL_VERIFICATION`.

use std::time::Duration;

use serde_json::json;

use crate::both_backends;
use crate::helpers::{Backend, PASSWORD};
use crate::smtp::{spawn_with_smtp, SmtpServer};

both_backends!(
    registration_mails_a_link_that_verifies_the_address_once,
    a_resend_voids_the_older_link_and_respects_the_interval,
    a_verification_link_expires,
    required_verification_makes_registration_reveal_nothing_and_gates_login,
    an_unverified_login_is_mailed_a_fresh_link,
);

async fn an_unverified_login_is_mailed_a_fresh_link(backend: Backend) {
    let smtp = SmtpServer::start();
    let app = spawn_with_smtp(
        backend,
        &smtp,
        &[
            ("REQUIRE_EMAIL_VERIFICATION", "true"),
            ("EMAIL_RESEND_INTERVAL_SECS", "1"),
            ("EMAIL_VERIFY_TTL_SECS", "1"),
        ],
    )
    .await;
    let email = app.unique_email();
    let reply = app
        .post_json(
            "/accounts/register",
            &json!({"email": email, "password": PASSWORD}),
        )
        .await;
    assert_eq!(reply.status, 202);
    let expired = smtp.nth(&email, 1).await.token();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    app.post_json("/accounts/email/verify", &json!({"token": expired}))
        .await
        .problem(400, "invalid_token");
    // The link expired and there is no session to ask for another: the
    // right password at login mails one.
    app.login_app(&email, PASSWORD)
        .await
        .problem(403, "email_not_verified");
    let fresh = smtp.nth(&email, 2).await;
    assert!(
        fresh.subject.starts_with("Confirm your email"),
        "{}",
        fresh.subject
    );
    app.login_app(&email, "a wrong password 123")
        .await
        .problem(401, "invalid_credentials");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        smtp.messages_to(&email).len(),
        2,
        "a wrong password mails nothing"
    );
}

async fn registration_mails_a_link_that_verifies_the_address_once(backend: Backend) {
    let smtp = SmtpServer::start();
    let app = spawn_with_smtp(backend, &smtp, &[]).await;
    let (email, session) = app.register_app().await;
    let me = app.bearer(&session).get("/accounts/me").await.json();
    assert_eq!(me["user"]["email_verified"], false);
    let mail = smtp.nth(&email, 1).await;
    assert_eq!(mail.subject, "Confirm your email address for Accounts");
    let token = mail.token();
    assert!(
        mail.text.contains(&format!(
            "https://app.example.com/verify-email?token={token}"
        )),
        "{}",
        mail.text
    );
    assert!(mail.text.contains("3 days"), "{}", mail.text);

    // No session needed: the link may be opened on another device.
    let reply = app
        .post_json("/accounts/email/verify", &json!({"token": token}))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json()["user"]["email_verified"], true);
    assert_eq!(reply.json()["user"]["email"], email.as_str());
    let me = app.bearer(&session).get("/accounts/me").await.json();
    assert_eq!(
        me["user"]["email_verified"], true,
        "the session sees it at once"
    );

    app.post_json("/accounts/email/verify", &json!({"token": token}))
        .await
        .problem(400, "invalid_token");
    app.bearer(&session)
        .post_empty("/accounts/email/verification")
        .await
        .problem(409, "email_already_verified");
    app.send(app.client.post(app.url("/accounts/email/verification")))
        .await
        .problem(401, "not_authenticated");
    for bad in [json!({"token": "x".repeat(43)}), json!({"token": ""})] {
        app.post_json("/accounts/email/verify", &bad)
            .await
            .problem(400, "invalid_token");
    }
    app.post_json("/accounts/email/verify", &json!({}))
        .await
        .problem(400, "validation_failed");
}

async fn a_resend_voids_the_older_link_and_respects_the_interval(backend: Backend) {
    let smtp = SmtpServer::start();
    let app = spawn_with_smtp(backend, &smtp, &[("EMAIL_RESEND_INTERVAL_SECS", "2")]).await;
    let (email, session) = app.register_app().await;
    let first = smtp.nth(&email, 1).await.token();
    // Within the interval: answered the same, nothing sent.
    let reply = app
        .bearer(&session)
        .post_empty("/accounts/email/verification")
        .await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(
        smtp.messages_to(&email).len(),
        1,
        "one message per EMAIL_RESEND_INTERVAL_SECS"
    );
    let reply = app
        .bearer(&session)
        .post_empty("/accounts/email/verification")
        .await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    let second = smtp.nth(&email, 2).await.token();
    assert_ne!(first, second);
    app.post_json("/accounts/email/verify", &json!({"token": first}))
        .await
        .problem(400, "invalid_token");
    assert_eq!(
        app.post_json("/accounts/email/verify", &json!({"token": second}))
            .await
            .status,
        200
    );
}

async fn a_verification_link_expires(backend: Backend) {
    let smtp = SmtpServer::start();
    let app = spawn_with_smtp(backend, &smtp, &[("EMAIL_VERIFY_TTL_SECS", "1")]).await;
    let (email, _) = app.register_app().await;
    let token = smtp.nth(&email, 1).await.token();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    app.post_json("/accounts/email/verify", &json!({"token": token}))
        .await
        .problem(400, "invalid_token");
}

async fn required_verification_makes_registration_reveal_nothing_and_gates_login(backend: Backend) {
    let smtp = SmtpServer::start();
    let app = spawn_with_smtp(backend, &smtp, &[("REQUIRE_EMAIL_VERIFICATION", "true")]).await;
    let email = app.unique_email();
    let register = |client: &'static str| {
        let (app, email) = (&app, email.clone());
        async move {
            app.post_json(
                "/accounts/register",
                &json!({"email": email, "password": PASSWORD, "client": client}),
            )
            .await
        }
    };
    let new = register("app").await;
    assert_eq!(new.status, 202, "{}", new.text);
    assert!(
        new.json().get("user").is_none() && new.json().get("token").is_none(),
        "{}",
        new.text
    );
    assert!(new.set_cookies().is_empty());
    let browser_new = app
        .browser()
        .post(
            "/accounts/register",
            &json!({"email": app.unique_email(), "password": PASSWORD}),
        )
        .await;
    assert_eq!(browser_new.status, 202);
    assert!(
        !browser_new
            .set_cookies()
            .iter()
            .any(|c| c.starts_with("sessionid=")),
        "no session cookie: {:?}",
        browser_new.set_cookies()
    );
    let verification = smtp.nth(&email, 1).await;

    // Unverified: the right password is 403, a wrong one the usual 401.
    app.login_app(&email, PASSWORD)
        .await
        .problem(403, "email_not_verified");
    app.login_app(&email, "not the password at all")
        .await
        .problem(401, "invalid_credentials");

    // The same email again: the same answer; the owner gets a notice, not
    // a link (which would verify the first registrant's password).
    let again = register("app").await;
    assert_eq!(
        (again.status, again.text.clone()),
        (new.status, new.text.clone())
    );
    let notice = smtp.nth(&email, 2).await;
    assert!(
        notice.subject.starts_with("Someone tried to sign up"),
        "{}",
        notice.subject
    );
    assert!(!notice.has_token_line());
    // A taken username is the same 400 whether the email is new or taken.
    let named = app
        .post_json(
            "/accounts/register",
            &json!({"email": app.unique_email(), "password": PASSWORD, "username": "owner1"}),
        )
        .await;
    assert_eq!(named.status, 202, "{}", named.text);
    for address in [email.clone(), app.unique_email()] {
        let problem = app
            .post_json(
                "/accounts/register",
                &json!({"email": address, "password": PASSWORD, "username": "owner1"}),
            )
            .await
            .problem(400, "validation_failed");
        assert!(problem["errors"]["username"].is_array(), "{problem}");
    }
    let reply = app
        .post_json(
            "/accounts/email/verify",
            &json!({"token": verification.token()}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(app.login_app(&email, PASSWORD).await.status, 200);

    // Verified now: a sign-up attempt gets the same answer (its notice
    // waits for the resend interval).
    let attempt = register("app").await;
    assert_eq!(
        (attempt.status, attempt.text.clone()),
        (new.status, new.text.clone())
    );
    // Validation still says what is wrong (it reveals nothing).
    app.post_json(
        "/accounts/register",
        &json!({"email": "nope", "password": "short"}),
    )
    .await
    .problem(400, "validation_failed");
}
