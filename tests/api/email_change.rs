//! Changing the email over a real SMTP server: the confirmation to the
//! new address, the notices to the old one, and every refusal.

use reqwest::Method;
use serde_json::json;

use crate::both_backends;
use crate::helpers::{Backend, PASSWORD};
use crate::smtp::{spawn_with_smtp, SmtpServer};

both_backends!(
    a_change_is_confirmed_by_the_new_address_and_told_to_the_old,
    wrong_passwords_bad_and_taken_emails_are_refused,
    an_address_taken_meanwhile_is_409_at_confirmation,
    a_confirmed_change_voids_the_old_address_tokens,
    a_password_change_voids_a_pending_email_change,
    a_taken_address_is_not_revealed_when_verification_is_required,
);

async fn a_password_change_voids_a_pending_email_change(backend: Backend) {
    let smtp = SmtpServer::start();
    let app = spawn_with_smtp(backend, &smtp, &[]).await;
    let (_, session) = app.register_app().await;
    // Someone who knew the password asks for their own address...
    let theirs = app.unique_email();
    app.bearer(&session)
        .request(
            Method::POST,
            "/accounts/email/change",
            Some(&json!({"new_email": theirs, "password": PASSWORD})),
        )
        .await;
    let token = smtp.nth(&theirs, 1).await.token();
    // ...and the owner, warned, changes the password.
    let change = app
        .bearer(&session)
        .request(
            Method::POST,
            "/accounts/password/change",
            Some(&json!({"current_password": PASSWORD, "new_password": "the owner's new passphrase"})),
        )
        .await;
    assert_eq!(change.status, 204);
    app.post_json("/accounts/email/change/confirm", &json!({"token": token}))
        .await
        .problem(400, "invalid_token");
}

async fn a_change_is_confirmed_by_the_new_address_and_told_to_the_old(backend: Backend) {
    let smtp = SmtpServer::start();
    let app = spawn_with_smtp(backend, &smtp, &[]).await;
    let (old, session) = app.register_app().await;
    smtp.nth(&old, 1).await;
    let new = app.unique_email();
    let reply = app
        .bearer(&session)
        .request(Method::POST, "/accounts/email/change", Some(&json!({"new_email": new.replace("example.com", "Example.COM"), "password": PASSWORD})))
        .await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    let confirmation = smtp.nth(&new, 1).await;
    assert_eq!(
        confirmation.subject,
        "Confirm your new email address for Accounts"
    );
    let token = confirmation.token();
    assert!(confirmation.text.contains(&format!(
        "https://app.example.com/confirm-email-change?token={token}"
    )));
    let notice = smtp.nth(&old, 2).await;
    assert!(
        notice.subject.contains("about to change"),
        "{}",
        notice.subject
    );
    assert!(
        !notice.has_token_line(),
        "the old address never sees the token"
    );
    // Nothing changes until confirmed.
    let me = app.bearer(&session).get("/accounts/me").await.json();
    assert_eq!(me["user"]["email"], old.as_str());

    let reply = app
        .post_json("/accounts/email/change/confirm", &json!({"token": token}))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let user = &reply.json()["user"];
    assert_eq!(
        user["email"],
        new.as_str(),
        "stored normalised: the domain lower-cased"
    );
    assert_eq!(user["email_verified"], true);
    let me = app.bearer(&session).get("/accounts/me").await.json();
    assert_eq!(
        me["user"]["email"],
        new.as_str(),
        "the session goes on, with the new address"
    );
    let changed = smtp.nth(&old, 3).await;
    assert_eq!(changed.subject, "Your Accounts email address was changed");
    assert!(changed.text.contains(&new));
    assert_eq!(app.login_app(&new, PASSWORD).await.status, 200);
    app.login_app(&old, PASSWORD)
        .await
        .problem(401, "invalid_credentials");
    app.post_json("/accounts/email/change/confirm", &json!({"token": token}))
        .await
        .problem(400, "invalid_token");
}

async fn wrong_passwords_bad_and_taken_emails_are_refused(backend: Backend) {
    let smtp = SmtpServer::start();
    // No re-authentication window: the password is always needed.
    let app = spawn_with_smtp(backend, &smtp, &[("REAUTHENTICATION_WINDOW_SECS", "0")]).await;
    let (email, session) = app.register_app().await;
    let (other, _) = app.register_app().await;
    let change = |body: serde_json::Value| {
        let (app, session) = (&app, session.clone());
        async move {
            app.bearer(&session)
                .request(Method::POST, "/accounts/email/change", Some(&body))
                .await
        }
    };
    let problem = change(json!({"new_email": "not an email", "password": PASSWORD}))
        .await
        .problem(400, "validation_failed");
    assert!(problem["errors"]["new_email"].is_array(), "{problem}");
    let problem = change(json!({"new_email": email.to_uppercase(), "password": PASSWORD}))
        .await
        .problem(400, "validation_failed");
    assert!(problem["errors"]["new_email"].is_array(), "{problem}");
    change(json!({"new_email": other, "password": PASSWORD}))
        .await
        .problem(409, "email_taken");
    change(json!({"new_email": app.unique_email()}))
        .await
        .problem(403, "reauthentication_required");
    app.send(
        app.client
            .post(app.url("/accounts/email/change"))
            .json(&json!({"new_email": app.unique_email(), "password": PASSWORD})),
    )
    .await
    .problem(401, "not_authenticated");
    // A wrong password counts toward the login throttle.
    for _ in 0..5 {
        let problem =
            change(json!({"new_email": app.unique_email(), "password": "wrong password 1234"}))
                .await
                .problem(400, "validation_failed");
        assert!(problem["errors"]["password"].is_array(), "{problem}");
    }
    change(json!({"new_email": app.unique_email(), "password": PASSWORD}))
        .await
        .problem(429, "too_many_attempts");
    app.login_app(&email, PASSWORD)
        .await
        .problem(429, "too_many_attempts");
}

async fn an_address_taken_meanwhile_is_409_at_confirmation(backend: Backend) {
    let smtp = SmtpServer::start();
    let app = spawn_with_smtp(backend, &smtp, &[]).await;
    let (_, session) = app.register_app().await;
    let wanted = app.unique_email();
    let reply = app
        .bearer(&session)
        .request(
            Method::POST,
            "/accounts/email/change",
            Some(&json!({"new_email": wanted, "password": PASSWORD})),
        )
        .await;
    assert_eq!(reply.status, 202);
    let token = smtp.nth(&wanted, 1).await.token();
    let taken = app
        .post_json(
            "/accounts/register",
            &json!({"email": wanted, "password": PASSWORD, "client": "app"}),
        )
        .await;
    assert_eq!(taken.status, 201);
    app.post_json("/accounts/email/change/confirm", &json!({"token": token}))
        .await
        .problem(409, "email_taken");
}

async fn a_confirmed_change_voids_the_old_address_tokens(backend: Backend) {
    let smtp = SmtpServer::start();
    let app = spawn_with_smtp(backend, &smtp, &[]).await;
    let (old, session) = app.register_app().await;
    let verification = smtp.nth(&old, 1).await.token();
    let reply = app
        .post_json("/accounts/password/reset", &json!({"email": old}))
        .await;
    assert_eq!(reply.status, 202);
    let reset = smtp.nth(&old, 2).await.token();
    let new = app.unique_email();
    app.bearer(&session)
        .request(
            Method::POST,
            "/accounts/email/change",
            Some(&json!({"new_email": new, "password": PASSWORD})),
        )
        .await;
    let token = smtp.nth(&new, 1).await.token();
    assert_eq!(
        app.post_json("/accounts/email/change/confirm", &json!({"token": token}))
            .await
            .status,
        200
    );
    app.post_json("/accounts/email/verify", &json!({"token": verification}))
        .await
        .problem(400, "invalid_token");
    app.post_json(
        "/accounts/password/reset/confirm",
        &json!({"token": reset, "new_password": "a brand new passphrase 5"}),
    )
    .await
    .problem(400, "invalid_token");
}

/// With `REQUIRE_EMAIL_VERIFICATION=true` a taken new address answers as a
/// free one does (no probe tells them apart); its owner is told, with no
/// link, and nothing changes.
async fn a_taken_address_is_not_revealed_when_verification_is_required(backend: Backend) {
    let smtp = SmtpServer::start();
    let app = spawn_with_smtp(backend, &smtp, &[("REQUIRE_EMAIL_VERIFICATION", "true")]).await;
    // Two verified accounts, as this mode makes them: register, follow
    // the link, log in.
    let mut tokens = Vec::new();
    let mut emails = Vec::new();
    for _ in 0..2 {
        let email = app.unique_email();
        let registered = app
            .post_json(
                "/accounts/register",
                &json!({"email": email, "password": PASSWORD, "client": "app"}),
            )
            .await;
        assert_eq!(registered.status, 202, "{}", registered.text);
        let link = smtp.nth(&email, 1).await.token();
        let verified = app
            .post_json("/accounts/email/verify", &json!({"token": link}))
            .await;
        assert_eq!(verified.status, 200, "{}", verified.text);
        let login = app.login_app(&email, PASSWORD).await;
        assert_eq!(login.status, 200, "{}", login.text);
        tokens.push(login.json()["token"].as_str().unwrap().to_owned());
        emails.push(email);
    }
    let (requester, owner) = (&emails[0], &emails[1]);
    let me = app.bearer(&tokens[0]);
    let change = |to: &str| {
        let body = json!({"new_email": to, "password": PASSWORD});
        let me = &me;
        async move {
            me.request(Method::POST, "/accounts/email/change", Some(&body))
                .await
        }
    };
    let free = change(&app.unique_email()).await;
    // The owner's address, typed in another case: the same address.
    let taken = change(&owner.to_uppercase()).await;
    assert_eq!(free.status, 202, "{}", free.text);
    assert_eq!(taken.status, 202, "{}", taken.text);
    assert_eq!(free.text, taken.text);
    let notice = smtp
        .nth_with_subject(owner, "Someone tried to use your address", 1)
        .await;
    assert!(!notice.has_token_line(), "no link: {}", notice.text);
    assert!(notice.text.contains(owner), "{}", notice.text);
    // The requester is told of both requests alike.
    let asked = smtp
        .wait_for(requester, 3)
        .await
        .into_iter()
        .filter(|m| m.subject.contains("about to change"))
        .count();
    assert_eq!(asked, 2);
    // Nothing changed on either side.
    for (token, email) in tokens.iter().zip(&emails) {
        let user = app.bearer(token).get("/accounts/me").await.json();
        assert_eq!(user["user"]["email"], email.as_str(), "{user}");
    }
    let links = smtp.messages_to(owner);
    let links = links.iter().filter(|m| m.has_token_line()).count();
    assert_eq!(links, 1, "the owner got only the registration's link");
}
