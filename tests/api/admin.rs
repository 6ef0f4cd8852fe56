//! The staff's admin API: who may call it, editing with the permission
//! rules, a reset mail, removing the second factor, and the audit counts.
//! The list is in `admin_search`, sessions and deactivation in
//! `admin_sessions`; the helpers here serve all three.

use accounts::accounts::Registration;
use accounts::startup::accounts_for_cli;
use reqwest::Method;
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{spawn_app_with, Backend, Reply, TestApp, PASSWORD};
use crate::smtp::{spawn_with_smtp, SmtpServer};

both_backends!(
    every_admin_path_needs_a_staff_session,
    edits_follow_the_permission_rules,
    staff_mail_a_reset_link_and_remove_a_second_factor,
    browser_staff_need_csrf_and_actions_are_counted,
);

/// A staff user made as `createsuperuser` makes one (with `superuser`),
/// logged in as an app: (id, email, token).
pub async fn staff(app: &TestApp, superuser: bool) -> (i64, String, String) {
    let email = app.unique_email();
    let accounts = accounts_for_cli(&app.settings).await.unwrap();
    let user = accounts
        .register(Registration {
            email: email.clone(),
            password: PASSWORD.to_owned().into(),
            username: String::new(),
            first_name: String::new(),
            last_name: String::new(),
            is_staff: true,
            is_superuser: superuser,
            logs_in: false,
        })
        .await
        .unwrap();
    let login = app.login_app(&email, PASSWORD).await;
    assert_eq!(login.status, 200, "{}", login.text);
    let token = login.json()["token"].as_str().unwrap().to_owned();
    (i64::from(user.id), email, token)
}

/// A plain user registered through the API: (id, email, token).
pub async fn member(app: &TestApp) -> (i64, String, String) {
    let (email, token) = app.register_app().await;
    let id = app.bearer(&token).get("/accounts/me").await.json()["user"]["id"]
        .as_i64()
        .unwrap();
    (id, email, token)
}

pub async fn call(
    app: &TestApp,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Reply {
    app.bearer(token).request(method, path, body.as_ref()).await
}

fn paths(id: i64) -> Vec<(Method, String, Option<Value>)> {
    vec![
        (Method::GET, "/admin/users".into(), None),
        (Method::GET, format!("/admin/users/{id}"), None),
        (
            Method::PATCH,
            format!("/admin/users/{id}"),
            Some(json!({"first_name": "X"})),
        ),
        (Method::GET, format!("/admin/users/{id}/sessions"), None),
        (Method::DELETE, format!("/admin/users/{id}/sessions"), None),
        (
            Method::POST,
            format!("/admin/users/{id}/password-reset"),
            None,
        ),
        (Method::DELETE, format!("/admin/users/{id}/mfa"), None),
        (Method::DELETE, format!("/admin/users/{id}"), None),
    ]
}

async fn every_admin_path_needs_a_staff_session(backend: Backend) {
    let app = spawn_app_with(backend, &[]).await;
    let (_, _, staff_token) = staff(&app, false).await;
    let (member_id, _, member_token) = member(&app).await;
    for (method, path, body) in paths(member_id) {
        let anonymous = app
            .send(app.client.request(method.clone(), app.url(&path)))
            .await;
        anonymous.problem(401, "not_authenticated");
        let plain = call(&app, &member_token, method.clone(), &path, body.clone()).await;
        plain.problem(403, "permission_denied");
    }
    // An id that names no user is 404 for every per-user path, whatever
    // it looks like.
    for id in ["999999", "abc", "0", "-3", "99999999999999"] {
        for (method, path, body) in paths(1).into_iter().skip(1) {
            let path = path.replacen("/1", &format!("/{id}"), 1);
            call(&app, &staff_token, method, &path, body)
                .await
                .problem(404, "not_found");
        }
    }
    // The plain user was never touched.
    assert_eq!(
        app.bearer(&member_token).get("/accounts/me").await.status,
        200
    );
}

async fn edits_follow_the_permission_rules(backend: Backend) {
    let app = spawn_app_with(backend, &[]).await;
    let (staff_id, _, staff_token) = staff(&app, false).await;
    let (super_id, _, super_token) = staff(&app, true).await;
    let (other_staff_id, _, _) = staff(&app, false).await;
    let (member_id, member_email, member_token) = member(&app).await;
    let patch = |token: &str, id: i64, body: Value| {
        let app = &app;
        let token = token.to_owned();
        async move {
            call(
                app,
                &token,
                Method::PATCH,
                &format!("/admin/users/{id}"),
                Some(body),
            )
            .await
        }
    };

    // Staff edit a plain user's names and verification.
    let edited = patch(
        &staff_token,
        member_id,
        json!({"first_name": "Ada", "username": "ada", "email_verified": true}),
    )
    .await;
    assert_eq!(edited.status, 200, "{}", edited.text);
    let user = &edited.json()["user"];
    assert_eq!(
        (
            user["first_name"].as_str(),
            user["username"].as_str(),
            user["email_verified"].as_bool()
        ),
        (Some("Ada"), Some("ada"), Some(true))
    );
    assert_eq!(user["email"], member_email.as_str());
    // The user sees it at once.
    let me = app.bearer(&member_token).get("/accounts/me").await.json();
    assert_eq!(
        (
            me["user"]["first_name"].as_str(),
            me["user"]["email_verified"].as_bool()
        ),
        (Some("Ada"), Some(true))
    );
    let read = call(
        &app,
        &staff_token,
        Method::GET,
        &format!("/admin/users/{member_id}"),
        None,
    )
    .await;
    assert_eq!(read.json()["user"]["username"], "ada");

    // Bad fields are 400 and change nothing.
    let bad = patch(
        &staff_token,
        member_id,
        json!({"username": "no spaces allowed", "last_name": "L"}),
    )
    .await;
    assert!(bad.problem(400, "validation_failed")["errors"]["username"].is_array());
    patch(&staff_token, member_id, json!({"is_superuser": true}))
        .await
        .problem(400, "validation_failed");
    patch(&staff_token, member_id, json!({"is_active": null}))
        .await
        .problem(400, "validation_failed");
    let read = call(
        &app,
        &staff_token,
        Method::GET,
        &format!("/admin/users/{member_id}"),
        None,
    )
    .await;
    assert_eq!(read.json()["user"]["last_name"], "");
    patch(&staff_token, super_id, json!({}))
        .await
        .problem(403, "permission_denied");
    let taken = patch(&super_token, other_staff_id, json!({"username": "ada"})).await;
    assert!(taken.problem(400, "validation_failed")["errors"]["username"].is_array());

    // Only a superuser changes is_staff, or acts on another staff user.
    patch(&staff_token, member_id, json!({"is_staff": true}))
        .await
        .problem(403, "permission_denied");
    patch(&staff_token, other_staff_id, json!({"first_name": "X"}))
        .await
        .problem(403, "permission_denied");
    for (method, path, body) in paths(other_staff_id).into_iter().skip(2) {
        call(&app, &staff_token, method, &path, body)
            .await
            .problem(403, "permission_denied");
    }
    // Reading another staff user is fine.
    assert_eq!(
        call(
            &app,
            &staff_token,
            Method::GET,
            &format!("/admin/users/{super_id}"),
            None
        )
        .await
        .status,
        200
    );
    let promoted = patch(&super_token, member_id, json!({"is_staff": true})).await;
    assert_eq!(promoted.json()["user"]["is_staff"], true);
    // The promoted user is staff at once (the admin API reads it fresh).
    assert_eq!(
        call(&app, &member_token, Method::GET, "/admin/users", None)
            .await
            .status,
        200
    );
    let demoted = patch(&super_token, member_id, json!({"is_staff": false})).await;
    assert_eq!(demoted.json()["user"]["is_staff"], false);
    call(&app, &member_token, Method::GET, "/admin/users", None)
        .await
        .problem(403, "permission_denied");

    // Nobody deactivates, demotes or deletes themselves here.
    for (token, id) in [(&staff_token, staff_id), (&super_token, super_id)] {
        let r = patch(token, id, json!({"is_active": false})).await;
        assert!(r.problem(400, "validation_failed")["errors"]["is_active"].is_array());
        let r = call(
            &app,
            token,
            Method::DELETE,
            &format!("/admin/users/{id}"),
            None,
        )
        .await;
        r.problem(400, "validation_failed");
    }
    let r = patch(&super_token, super_id, json!({"is_staff": false})).await;
    assert!(r.problem(400, "validation_failed")["errors"]["is_staff"].is_array());
    // Their own names they may change.
    assert_eq!(
        patch(&staff_token, staff_id, json!({"last_name": "Me"}))
            .await
            .status,
        200
    );

    // A superuser deletes another staff user.
    let deleted = call(
        &app,
        &super_token,
        Method::DELETE,
        &format!("/admin/users/{other_staff_id}"),
        None,
    )
    .await;
    assert_eq!(deleted.status, 204, "{}", deleted.text);
    call(
        &app,
        &super_token,
        Method::GET,
        &format!("/admin/users/{other_staff_id}"),
        None,
    )
    .await
    .problem(404, "not_found");
}

async fn staff_mail_a_reset_link_and_remove_a_second_factor(backend: Backend) {
    let smtp = SmtpServer::start();
    let app = spawn_with_smtp(backend, &smtp, &[]).await;
    let (_, _, staff_token) = staff(&app, false).await;
    let (id, email, _) = member(&app).await;
    smtp.wait_for(&email, 1).await; // the verification link
    let sent = call(
        &app,
        &staff_token,
        Method::POST,
        &format!("/admin/users/{id}/password-reset"),
        None,
    )
    .await;
    assert_eq!(sent.status, 202, "{}", sent.text);
    assert!(sent.json()["detail"].is_string());
    let mail = smtp.nth(&email, 2).await;
    let token = mail.token();
    let reset = app
        .post_json(
            "/accounts/password/reset/confirm",
            &json!({"token": token, "new_password": "an entirely new passphrase"}),
        )
        .await;
    assert_eq!(reset.status, 204, "{}", reset.text);
    assert_eq!(
        app.login_app(&email, "an entirely new passphrase")
            .await
            .status,
        200
    );

    // No second factor yet: there is nothing to remove, and that is 204.
    let removed = call(
        &app,
        &staff_token,
        Method::DELETE,
        &format!("/admin/users/{id}/mfa"),
        None,
    )
    .await;
    assert_eq!(removed.status, 204, "{}", removed.text);
    let read = call(
        &app,
        &staff_token,
        Method::GET,
        &format!("/admin/users/{id}"),
        None,
    )
    .await;
    assert_eq!(read.json()["user"]["mfa_enabled"], false);
}

async fn browser_staff_need_csrf_and_actions_are_counted(backend: Backend) {
    let app = spawn_app_with(backend, &[]).await;
    let (_, staff_email, _) = staff(&app, false).await;
    let (id, _, member_token) = member(&app).await;
    let browser = app.browser();
    browser.csrf().await;
    assert_eq!(browser.login(&staff_email, PASSWORD).await.status, 200);
    assert_eq!(browser.get("/admin/users").await.status, 200);
    let path = format!("/admin/users/{id}");
    browser
        .request(
            Method::PATCH,
            &path,
            Some(&json!({"is_active": false})),
            false,
        )
        .await
        .problem(403, "csrf_failed");
    browser
        .request(Method::DELETE, &path, None, false)
        .await
        .problem(403, "csrf_failed");
    assert_eq!(
        app.bearer(&member_token).get("/accounts/me").await.status,
        200
    );
    let off = browser.patch(&path, &json!({"is_active": false})).await;
    assert_eq!(off.status, 200, "{}", off.text);
    let gone = browser.request(Method::DELETE, &path, None, true).await;
    assert_eq!(gone.status, 204, "{}", gone.text);
    let metrics = app.get("/metrics").await.text;
    for line in [
        "accounts_admin_actions_total{action=\"deactivate_user\"} 1",
        "accounts_admin_actions_total{action=\"delete_user\"} 1",
        "accounts_account_deletions_total{by=\"staff\"} 1",
    ] {
        assert!(metrics.contains(line), "no {line} in:\n{metrics}");
    }
}
