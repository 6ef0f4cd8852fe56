//! The staff's admin API: who may call it, the list (search, filters,
//! pages), editing with the permission rules, deactivation that ends every
//! session at once (on another instance too), ending sessions, a reset
//! mail, removing the second factor, and the audit counts.

use std::time::Duration;

use accounts::accounts::Registration;
use accounts::startup::accounts_for_cli;
use reqwest::Method;
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{fresh_database, spawn_app_with, Backend, Reply, TestApp, PASSWORD};
use crate::smtp::{spawn_with_smtp, SmtpServer};

both_backends!(
    every_admin_path_needs_a_staff_session,
    the_list_searches_filters_and_pages,
    edits_follow_the_permission_rules,
    deactivation_ends_every_session_on_another_instance_at_once,
    staff_list_and_end_a_users_sessions,
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

async fn the_list_searches_filters_and_pages(backend: Backend) {
    let app = spawn_app_with(backend, &[]).await;
    let (staff_id, _, token) = staff(&app, false).await;
    let register = |email: &'static str, username: &'static str| {
        let app = &app;
        async move {
            let reply = app
                .post_json(
                    "/accounts/register",
                    &json!({"email": email, "password": PASSWORD, "username": username, "client": "app"}),
                )
                .await;
            assert_eq!(reply.status, 201, "{}", reply.text);
            reply.json()["user"]["id"].as_i64().unwrap()
        }
    };
    let alice = register("Alice.Smith@Example.com", "alice").await;
    let bob = register("bob_100%off@example.org", "bobby").await;
    let carol = register("carol@example.org", "CaRoL_x").await;
    let list = |query: String| {
        let app = &app;
        let token = token.clone();
        async move {
            call(
                app,
                &token,
                Method::GET,
                &format!("/admin/users{query}"),
                None,
            )
            .await
        }
    };
    let ids = |reply: &Reply| -> Vec<i64> {
        assert_eq!(reply.status, 200, "{}", reply.text);
        reply.json()["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["id"].as_i64().unwrap())
            .collect()
    };

    let all = list(String::new()).await;
    assert_eq!(ids(&all), [staff_id, alice, bob, carol]);
    let body = all.json();
    assert_eq!(
        (
            body["count"].as_i64(),
            body["page"].as_i64(),
            body["page_size"].as_i64()
        ),
        (Some(4), Some(1), Some(50))
    );
    let first = &body["users"][1];
    for key in [
        "id",
        "email",
        "email_verified",
        "username",
        "first_name",
        "last_name",
        "is_staff",
        "date_joined",
        "last_login",
        "is_active",
        "is_superuser",
        "mfa_enabled",
    ] {
        assert!(first.get(key).is_some(), "AdminUser lacks {key}: {first}");
    }
    assert!(first.get("password").is_none());
    assert_eq!(first["mfa_enabled"], false);

    // Any case, email or username, a substring; wildcards are characters.
    for (query, expected) in [
        ("ALICE", vec![alice]),
        ("smith@exa", vec![alice]),
        ("carol_", vec![carol]),
        ("EXAMPLE.ORG", vec![bob, carol]),
        ("_", vec![bob, carol]),
        ("%", vec![bob]),
        ("_100%", vec![bob]),
        ("b%o", vec![]),
        ("a_i", vec![]),
        ("bob\"s OR *", vec![]),
        ("zz", vec![]),
    ] {
        let encoded: String = url_encode(query);
        let mut got = ids(&list(format!("?search={encoded}")).await);
        got.sort_unstable();
        let mut expected = expected;
        expected.sort_unstable();
        assert_eq!(got, expected, "search {query:?}");
    }

    // One character: every address here has an "E" (example.*).
    assert_eq!(ids(&list("?search=E".into()).await).len(), 4);

    // Filters.
    assert_eq!(ids(&list("?is_staff=true".into()).await), [staff_id]);
    assert_eq!(
        ids(&list("?is_staff=false&search=example.org".into()).await),
        [bob, carol]
    );
    assert_eq!(
        ids(&list("?is_active=false".into()).await),
        Vec::<i64>::new()
    );

    // Pages.
    let page2 = list("?page=2&page_size=3".into()).await;
    assert_eq!(ids(&page2), [carol]);
    assert_eq!(page2.json()["count"], 4);
    let past = list("?page=9&page_size=3".into()).await;
    assert_eq!(ids(&past), Vec::<i64>::new());
    assert_eq!(past.json()["count"], 4);
    let huge = list("?page=99999999999&page_size=200".into()).await;
    assert_eq!(ids(&huge), Vec::<i64>::new());
    let capped = list("?page_size=201".into()).await;
    assert_eq!(capped.json()["page_size"], 200);
    assert_eq!(ids(&capped).len(), 4);
    for (query, field) in [
        ("?page_size=0", "page_size"),
        ("?page=0", "page"),
        ("?page=-1", "page"),
        ("?page=x", "page"),
        ("?is_active=yes", "is_active"),
        ("?sort=email", "sort"),
        ("?search=a%00b", "search"),
    ] {
        let reply = list(query.into()).await;
        let problem = reply.problem(400, "validation_failed");
        assert!(problem["errors"][field].is_array(), "{query}: {problem}");
    }
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
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

async fn deactivation_ends_every_session_on_another_instance_at_once(backend: Backend) {
    let smtp = SmtpServer::start();
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database(backend, dir.path()).await;
    // SQLite serves one process; two here share the file, so neither may
    // keep sessions in memory.
    // One Redis key space for both instances, as in production.
    let prefix = format!(
        "test:{}:",
        dir.path().file_name().unwrap().to_string_lossy()
    );
    let shared = [
        ("DATABASE_URL", url.as_str()),
        ("SESSION_CACHE_MILLIS", "0"),
        ("REDIS_KEY_PREFIX", prefix.as_str()),
    ];
    let a = spawn_with_smtp(backend, &smtp, &shared).await;
    let b = spawn_with_smtp(backend, &smtp, &shared).await;
    let (_, _, staff_token) = staff(&a, false).await;
    let (id, email, token) = member(&b).await;
    let browser = b.browser();
    browser.csrf().await;
    assert_eq!(browser.login(&email, PASSWORD).await.status, 200);
    assert_eq!(browser.get("/accounts/me").await.status, 200);
    assert_eq!(b.bearer(&token).get("/accounts/me").await.status, 200);

    let off = call(
        &a,
        &staff_token,
        Method::PATCH,
        &format!("/admin/users/{id}"),
        Some(json!({"is_active": false})),
    )
    .await;
    assert_eq!(off.status, 200, "{}", off.text);
    assert_eq!(off.json()["user"]["is_active"], false);
    browser
        .get("/accounts/me")
        .await
        .problem(401, "not_authenticated");
    b.bearer(&token)
        .get("/accounts/me")
        .await
        .problem(401, "not_authenticated");
    assert!(call(
        &a,
        &staff_token,
        Method::GET,
        &format!("/admin/users/{id}/sessions"),
        None
    )
    .await
    .json()["sessions"]
        .as_array()
        .unwrap()
        .is_empty());
    // No login (the usual 401), no reset mail.
    b.login_app(&email, PASSWORD)
        .await
        .problem(401, "invalid_credentials");
    assert_eq!(
        b.post_json("/accounts/password/reset", &json!({"email": email}))
            .await
            .status,
        202
    );
    call(
        &a,
        &staff_token,
        Method::POST,
        &format!("/admin/users/{id}/password-reset"),
        None,
    )
    .await
    .problem(400, "validation_failed");

    // Back on: login works, the old sessions stay dead.
    let on = call(
        &a,
        &staff_token,
        Method::PATCH,
        &format!("/admin/users/{id}"),
        Some(json!({"is_active": true})),
    )
    .await;
    assert_eq!(on.status, 200, "{}", on.text);
    let again = b.login_app(&email, PASSWORD).await;
    assert_eq!(again.status, 200, "{}", again.text);
    let fresh = again.json()["token"].as_str().unwrap().to_owned();
    assert_eq!(a.bearer(&fresh).get("/accounts/me").await.status, 200);
    b.bearer(&token)
        .get("/accounts/me")
        .await
        .problem(401, "not_authenticated");
    browser
        .get("/accounts/me")
        .await
        .problem(401, "not_authenticated");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let resets: Vec<_> = smtp
        .messages_to(&email)
        .into_iter()
        .filter(|m| m.has_token_line() && m.subject.contains("password"))
        .collect();
    assert!(
        resets.is_empty(),
        "an inactive account got reset mail: {resets:?}"
    );
}

async fn staff_list_and_end_a_users_sessions(backend: Backend) {
    let app = spawn_app_with(backend, &[]).await;
    let (_, _, staff_token) = staff(&app, false).await;
    let (id, email, token) = member(&app).await;
    let browser = app.browser();
    browser.csrf().await;
    assert_eq!(browser.login(&email, PASSWORD).await.status, 200);
    let listed = call(
        &app,
        &staff_token,
        Method::GET,
        &format!("/admin/users/{id}/sessions"),
        None,
    )
    .await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    let sessions = listed.json()["sessions"].as_array().unwrap().clone();
    assert_eq!(sessions.len(), 2);
    assert!(sessions
        .iter()
        .all(|s| s["current"] == false && s["id"].is_string()));
    let mut clients: Vec<&str> = sessions
        .iter()
        .map(|s| s["client"].as_str().unwrap())
        .collect();
    clients.sort_unstable();
    assert_eq!(clients, ["app", "browser"]);

    let ended = call(
        &app,
        &staff_token,
        Method::DELETE,
        &format!("/admin/users/{id}/sessions"),
        None,
    )
    .await;
    assert_eq!(ended.status, 204, "{}", ended.text);
    app.bearer(&token)
        .get("/accounts/me")
        .await
        .problem(401, "not_authenticated");
    browser
        .get("/accounts/me")
        .await
        .problem(401, "not_authenticated");
    assert!(call(
        &app,
        &staff_token,
        Method::GET,
        &format!("/admin/users/{id}/sessions"),
        None
    )
    .await
    .json()["sessions"]
        .as_array()
        .unwrap()
        .is_empty());
    // The user is still active and logs in again; the staff session lives on.
    assert_eq!(app.login_app(&email, PASSWORD).await.status, 200);
    assert_eq!(
        app.bearer(&staff_token).get("/accounts/me").await.status,
        200
    );
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
