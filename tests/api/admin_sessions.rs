//! Staff and a user's sessions: deactivation ends every one at once (on
//! another instance too) and reactivation brings none back; listing and
//! ending them.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::admin::{call, member, staff};
use crate::both_backends;
use crate::helpers::{fresh_database, spawn_app_with, Backend, PASSWORD};
use crate::smtp::{spawn_with_smtp, SmtpServer};

both_backends!(
    deactivation_ends_every_session_on_another_instance_at_once,
    staff_list_and_end_a_users_sessions,
    a_session_of_an_older_generation_is_refused_even_while_stored,
);

/// A browser logs in and reads `/accounts/me`: 200 both times.
async fn browser_logs_in(app: &crate::helpers::TestApp, email: &str) {
    let browser = app.browser();
    browser.csrf().await;
    let login = browser.login(email, PASSWORD).await;
    assert_eq!(login.status, 200, "{}", login.text);
    let me = browser.get("/accounts/me").await;
    assert_eq!(me.status, 200, "{}", me.text);
}

/// The generation check itself, without the store's revocation: a session
/// still stored after its user's generation moved on (a login that raced
/// the change) is refused, and a cached copy of the user is never replaced
/// by one of an older generation.
async fn a_session_of_an_older_generation_is_refused_even_while_stored(backend: Backend) {
    let app = spawn_app_with(backend, &[("SESSION_CACHE_MILLIS", "0")]).await;
    let (id, email, token) = member(&app).await;
    let browser = app.browser();
    browser.csrf().await;
    assert_eq!(browser.login(&email, PASSWORD).await.status, 200);
    app.execute_sql(&format!(
        "UPDATE users SET session_generation = session_generation + 1 WHERE id = {id}"
    ))
    .await;
    let redis = app.settings.stores.redis_url.as_ref().map(|url| {
        redis::Client::open(secrecy::ExposeSecret::expose_secret(url).to_owned()).unwrap()
    });
    let cache_key = format!("{}user:{id}", app.settings.stores.redis_key_prefix);
    if let Some(redis) = &redis {
        // As when the cached copy expires: the next load reads the row.
        let mut conn = redis.get_multiplexed_async_connection().await.unwrap();
        let _: i64 = redis::AsyncCommands::del(&mut conn, &cache_key)
            .await
            .unwrap();
    }
    app.bearer(&token)
        .get("/accounts/me")
        .await
        .problem(401, "not_authenticated");
    browser
        .get("/accounts/me")
        .await
        .problem(401, "not_authenticated");
    // Sessions started now are of the new generation.
    browser_logs_in(&app, &email).await;

    if let Some(redis) = &redis {
        // A copy of a newer generation is cached (as a deactivation
        // elsewhere writes one); a login that read the older row must not
        // replace it, so its session is refused rather than let through.
        let mut conn = redis.get_multiplexed_async_connection().await.unwrap();
        let current: String = redis::AsyncCommands::get(&mut conn, &cache_key)
            .await
            .unwrap();
        let mut copy: serde_json::Value = serde_json::from_str(&current).unwrap();
        copy["session_generation"] = json!(7);
        let _: () = redis::AsyncCommands::set_ex(&mut conn, &cache_key, copy.to_string(), 60)
            .await
            .unwrap();
        let login = app.login_app(&email, PASSWORD).await;
        assert_eq!(login.status, 200, "{}", login.text);
        let raced = login.json()["token"].as_str().unwrap().to_owned();
        app.bearer(&raced)
            .get("/accounts/me")
            .await
            .problem(401, "not_authenticated");
        let kept: String = redis::AsyncCommands::get(&mut conn, &cache_key)
            .await
            .unwrap();
        assert!(kept.contains("\"session_generation\":7"), "{kept}");
    }
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
    // The sender decides a reset request later: let it decide while the
    // account is inactive (under load it may not have yet).
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while a
        .count_sql("SELECT COUNT(*) AS n FROM password_reset_requests")
        .await
        > 0
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the reset request was never handled"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

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
    browser_logs_in(&app, &email).await;
    assert_eq!(
        app.bearer(&staff_token).get("/accounts/me").await.status,
        200
    );
}
