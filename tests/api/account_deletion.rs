//! `DELETE /accounts/me`: everything of the account goes (sessions in
//! whichever store, the picture, pending mail, tokens), a notice is
//! mailed, the email can register again; a deletion racing a login leaves
//! no usable session; a picture file no profile points at is never served
//! and the media sweep removes it.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::admin::{call, member, staff};
use crate::both_backends;
use crate::helpers::{spawn_app_with, Backend, TestApp, PASSWORD};
use crate::images;
use crate::profile::upload;
use crate::smtp::{spawn_with_smtp, SmtpServer};

both_backends!(
    deleting_ones_account_removes_everything_of_it,
    deletion_needs_the_password_and_csrf,
    a_deletion_racing_a_login_leaves_no_usable_session,
    a_picture_no_profile_points_at_is_never_served_and_is_swept,
);

fn picture_file(app: &TestApp, url: &str) -> std::path::PathBuf {
    app.settings
        .stores
        .media_root
        .join(url.strip_prefix("/media/").unwrap())
}

async fn deleting_ones_account_removes_everything_of_it(backend: Backend) {
    let smtp = SmtpServer::start();
    // A refused conversation is given up after a second, not the default 30.
    let app = spawn_with_smtp(backend, &smtp, &[("EMAIL_SEND_TIMEOUT_SECS", "1")]).await;
    let (_, staff_email, staff_token) = staff(&app, false).await;
    let (id, email, token) = member(&app).await;
    smtp.wait_for(&email, 1).await; // the verification link
    let browser = app.browser();
    browser.csrf().await;
    assert_eq!(browser.login(&email, PASSWORD).await.status, 200);
    let uploaded = upload(&app, &token, images::png(64, 48), "me.png", "image/png").await;
    assert_eq!(uploaded.status, 200, "{}", uploaded.text);
    let pic = uploaded.json()["profile"]["profile_pic"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(app.get(&pic).await.status, 200);
    let file = picture_file(&app, &pic);
    assert!(file.is_file());

    // Mail that cannot leave yet: an email-change link and its notice.
    smtp.refuse(true);
    let change = app
        .bearer(&token)
        .request(
            Method::POST,
            "/accounts/email/change",
            Some(&json!({"new_email": "elsewhere@example.com", "password": PASSWORD})),
        )
        .await;
    assert_eq!(change.status, 202, "{}", change.text);
    // A wrong password first: 400, and nothing is gone.
    let wrong = app
        .bearer(&token)
        .request(
            Method::DELETE,
            "/accounts/me",
            Some(&json!({"password": "not the password at all"})),
        )
        .await;
    assert!(wrong.problem(400, "validation_failed")["errors"]["password"].is_array());
    assert_eq!(browser.get("/accounts/me").await.status, 200);

    let queued = app
        .count_sql(&format!(
            "SELECT count(*) AS n FROM outbox WHERE user_id = {id}"
        ))
        .await;
    assert!(queued >= 3, "the user's mail is in the outbox: {queued}");
    let gone = app
        .bearer(&token)
        .request(
            Method::DELETE,
            "/accounts/me",
            Some(&json!({"password": PASSWORD})),
        )
        .await;
    assert_eq!(gone.status, 204, "{}", gone.text);
    // Every session, both kinds, at once.
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
    // The picture is gone from the disk and from /media/.
    assert!(!file.exists(), "the picture file is still there");
    app.get(&pic).await.problem(404, "not_found");
    call(
        &app,
        &staff_token,
        Method::GET,
        &format!("/admin/users/{id}"),
        None,
    )
    .await
    .problem(404, "not_found");
    let search = call(
        &app,
        &staff_token,
        Method::GET,
        &format!("/admin/users?search={}", email.split('@').next().unwrap()),
        None,
    )
    .await;
    assert_eq!(search.json()["count"], 0, "{}", search.text);

    // The user's mail is gone from the outbox (only the notice, bound to
    // no user, is left for the address); only the notice goes out.
    assert_eq!(
        app.count_sql(&format!(
            "SELECT count(*) AS n FROM outbox WHERE user_id = {id}"
        ))
        .await,
        0
    );
    let lower = email.to_lowercase();
    assert_eq!(
        app.count_sql(&format!(
            "SELECT count(*) AS n FROM outbox WHERE lower(recipient) IN ('{lower}', 'elsewhere@example.com')"
        ))
        .await,
        1,
        "only the deletion notice"
    );
    smtp.refuse(false);
    let notice = smtp.nth(&email, 2).await;
    assert!(notice.subject.contains("deleted"), "{}", notice.subject);
    assert!(!notice.has_token_line(), "{}", notice.text);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let after: Vec<String> = smtp
        .messages_to(&email)
        .iter()
        .skip(1)
        .map(|m| m.subject.clone())
        .collect();
    assert_eq!(
        after.len(),
        1,
        "only the notice after the verification mail: {after:?}"
    );
    assert!(smtp.messages_to("elsewhere@example.com").is_empty());

    // The address registers again at once, as a new account.
    let again = app
        .post_json(
            "/accounts/register",
            &json!({"email": email, "password": PASSWORD, "client": "app"}),
        )
        .await;
    assert_eq!(again.status, 201, "{}", again.text);
    assert_ne!(again.json()["user"]["id"].as_i64(), Some(id));
    assert_eq!(again.json()["user"]["email_verified"], false);
    let profile = app
        .bearer(again.json()["token"].as_str().unwrap())
        .get("/accounts/me/profile")
        .await;
    assert_eq!(
        profile.json()["profile"]["profile_pic"],
        serde_json::Value::Null
    );
    let metrics = app.get("/metrics").await.text;
    assert!(
        metrics.contains("accounts_account_deletions_total{by=\"self\"} 1"),
        "{metrics}"
    );
    let _ = staff_email;
}

async fn deletion_needs_the_password_and_csrf(backend: Backend) {
    // No re-authentication window: the password is always needed.
    let app = spawn_app_with(
        backend,
        &[
            ("LOGIN_FAILURES_PER_ACCOUNT", "3"),
            ("REAUTHENTICATION_WINDOW_SECS", "0"),
        ],
    )
    .await;
    let browser = app.browser();
    let email = browser.register().await;
    let delete = |password: &str, csrf: bool| {
        let browser = &browser;
        let body = json!({"password": password});
        async move {
            browser
                .request(Method::DELETE, "/accounts/me", Some(&body), csrf)
                .await
        }
    };
    delete(PASSWORD, false).await.problem(403, "csrf_failed");
    browser
        .request(Method::DELETE, "/accounts/me", None, true)
        .await
        .problem(400, "malformed_request");
    browser
        .request(Method::DELETE, "/accounts/me", Some(&json!({})), true)
        .await
        .problem(403, "reauthentication_required");
    app.send(
        app.client
            .delete(app.url("/accounts/me"))
            .json(&json!({"password": PASSWORD})),
    )
    .await
    .problem(401, "not_authenticated");
    // Wrong passwords count toward the login throttle.
    for _ in 0..3 {
        delete("a wrong password here", true)
            .await
            .problem(400, "validation_failed");
    }
    delete(PASSWORD, true)
        .await
        .problem(429, "too_many_attempts");
    app.login_app(&email, PASSWORD)
        .await
        .problem(429, "too_many_attempts");
    assert_eq!(browser.get("/accounts/me").await.status, 200);
}

async fn a_deletion_racing_a_login_leaves_no_usable_session(backend: Backend) {
    let app = spawn_app_with(backend, &[]).await;
    for round in 0..6 {
        let (_, email, token) = member(&app).await;
        let browser = app.browser();
        browser.csrf().await;
        let owner = app.bearer(&token);
        let body = json!({"password": PASSWORD});
        let delete = owner.request(Method::DELETE, "/accounts/me", Some(&body));
        // Half the rounds race a browser login, half an app login.
        let (deleted, logged_in, app_login) = if round % 2 == 0 {
            let (d, l) = tokio::join!(delete, browser.login(&email, PASSWORD));
            (d, l, None)
        } else {
            let (d, l) = tokio::join!(delete, app.login_app(&email, PASSWORD));
            let token = (l.status == 200).then(|| l.json()["token"].as_str().unwrap().to_owned());
            (d, l, token)
        };
        assert_eq!(deleted.status, 204, "{}", deleted.text);
        assert!(
            [200, 401].contains(&logged_in.status.as_u16()),
            "round {round}: {} {}",
            logged_in.status,
            logged_in.text
        );
        // Whatever the login got, it is no way in now.
        browser
            .get("/accounts/me")
            .await
            .problem(401, "not_authenticated");
        if let Some(token) = app_login {
            app.bearer(&token)
                .get("/accounts/me")
                .await
                .problem(401, "not_authenticated");
        }
        app.login_app(&email, PASSWORD)
            .await
            .problem(401, "invalid_credentials");
    }
}

async fn a_picture_no_profile_points_at_is_never_served_and_is_swept(backend: Backend) {
    let app = spawn_app_with(
        backend,
        &[
            ("MEDIA_SWEEP_INTERVAL_SECS", "1"),
            ("MEDIA_SWEEP_GRACE_SECS", "0"),
        ],
    )
    .await;
    let (_, _, token) = member(&app).await;
    let kept = upload(&app, &token, images::png(32, 32), "kept.png", "image/png").await;
    let kept = kept.json()["profile"]["profile_pic"]
        .as_str()
        .unwrap()
        .to_owned();
    // What a crash between a deletion's commit and the file's removal
    // leaves: a stored picture no profile points at.
    let orphan = "/media/profile_pics/0123456789abcdef0123456789abcdef.png";
    let orphan_file = picture_file(&app, orphan);
    std::fs::write(&orphan_file, images::png(8, 8)).unwrap();
    app.get(orphan).await.problem(404, "not_found");
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while orphan_file.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the sweep left {orphan_file:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(picture_file(&app, &kept).is_file());
    assert_eq!(app.get(&kept).await.status, 200);
}
