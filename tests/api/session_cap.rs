//! Many sessions of one user: `MAX_SESSIONS_PER_USER` ends the oldest, and
//! `GET /accounts/sessions` lists the newest `SESSION_LIST_LIMIT` with
//! `count`, on both stores.

use reqwest::Method;
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{spawn_app_with, Backend, TestApp, PASSWORD};

both_backends!(
    a_login_beyond_the_cap_ends_the_oldest_session,
    the_list_is_the_newest_with_a_count_of_all,
    the_cap_never_ends_the_new_session,
);

fn cap_settings() -> [(&'static str, &'static str); 3] {
    [
        ("MAX_SESSIONS_PER_USER", "3"),
        ("SESSION_LIST_LIMIT", "2"),
        ("SESSION_CACHE_MILLIS", "0"),
    ]
}

async fn app_login(app: &TestApp, email: &str) -> String {
    let reply = app.login_app(email, PASSWORD).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json()["token"].as_str().unwrap().to_owned()
}

async fn sessions(app: &TestApp, token: &str) -> Value {
    let reply = app.bearer(token).get("/accounts/sessions").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json()
}

async fn a_login_beyond_the_cap_ends_the_oldest_session(backend: Backend) {
    let app = spawn_app_with(backend, &cap_settings()).await;
    let (email, first) = app.register_app().await;
    let second = app_login(&app, &email).await;
    let third = app_login(&app, &email).await;
    assert_eq!(sessions(&app, &third).await["count"], 3);
    // The fourth ends the first, and only the first.
    let fourth = app_login(&app, &email).await;
    app.bearer(&first)
        .get("/accounts/me")
        .await
        .problem(401, "not_authenticated");
    for token in [&second, &third, &fourth] {
        assert_eq!(app.bearer(token).get("/accounts/me").await.status, 200);
    }
    assert_eq!(sessions(&app, &fourth).await["count"], 3);
    // A browser's login counts the same: now the second ends.
    let browser = app.browser();
    browser.csrf().await;
    assert_eq!(browser.login(&email, PASSWORD).await.status, 200);
    app.bearer(&second)
        .get("/accounts/me")
        .await
        .problem(401, "not_authenticated");
    assert_eq!(browser.get("/accounts/me").await.status, 200);
    // A logout frees its place: the next login ends nobody.
    let logout = app
        .bearer(&third)
        .request(Method::POST, "/accounts/logout", None)
        .await;
    assert_eq!(logout.status, 204, "{}", logout.text);
    let fifth = app_login(&app, &email).await;
    assert_eq!(app.bearer(&fourth).get("/accounts/me").await.status, 200);
    assert_eq!(browser.get("/accounts/me").await.status, 200);
    assert_eq!(sessions(&app, &fifth).await["count"], 3);
    // Another user's sessions are theirs to count.
    let (_, other) = app.register_app().await;
    assert_eq!(sessions(&app, &other).await["count"], 1);
}

async fn the_list_is_the_newest_with_a_count_of_all(backend: Backend) {
    let app = spawn_app_with(backend, &cap_settings()).await;
    let (email, first) = app.register_app().await;
    let listed = sessions(&app, &first).await;
    assert_eq!(listed["count"], 1);
    let first_id = listed["sessions"][0]["id"].as_str().unwrap().to_owned();
    let second = app_login(&app, &email).await;
    let second_id = sessions(&app, &second).await["sessions"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let third = app_login(&app, &email).await;
    let listed = sessions(&app, &third).await;
    assert_eq!(listed["count"], 3, "{listed}");
    let rows = listed["sessions"].as_array().unwrap();
    // The newest two, newest first: this one, then the second.
    assert_eq!(rows.len(), 2, "{listed}");
    assert_eq!(rows[0]["current"], true);
    assert_eq!(rows[1]["id"], second_id.as_str());
    assert!(rows.iter().all(|r| r["id"] != first_id.as_str()));
    // The unlisted one is still live, and still revocable by id.
    let revoke = app
        .bearer(&third)
        .request(
            Method::DELETE,
            &format!("/accounts/sessions/{first_id}"),
            None,
        )
        .await;
    assert_eq!(revoke.status, 204, "{}", revoke.text);
    assert_eq!(sessions(&app, &third).await["count"], 2);
    if let Some(url) = &app.settings.stores.redis_url {
        // A session indexed the pre-v2.2 way (a plain set) is counted,
        // listed and ended like the rest.
        let prefix = &app.settings.stores.redis_key_prefix;
        let id: i64 = app
            .count_sql(&format!(
                "SELECT CAST(id AS BIGINT) AS n FROM users WHERE email = '{email}'"
            ))
            .await;
        let redis =
            redis::Client::open(secrecy::ExposeSecret::expose_secret(url).to_owned()).unwrap();
        let mut conn = redis.get_multiplexed_async_connection().await.unwrap();
        let () = redis::pipe()
            .zrem(format!("{prefix}sessions_of:{id}"), &second_id)
            .ignore()
            .sadd(format!("{prefix}user_sessions:{id}"), &second_id)
            .ignore()
            .query_async(&mut conn)
            .await
            .unwrap();
        assert_eq!(sessions(&app, &third).await["count"], 2);
        let () = redis::pipe()
            .zrem(format!("{prefix}sessions_of:{id}"), &second_id)
            .ignore()
            .sadd(format!("{prefix}user_sessions:{id}"), &second_id)
            .ignore()
            .query_async(&mut conn)
            .await
            .unwrap();
    }
    // A password change ends every other session, listed or not.
    let change = app
        .bearer(&third)
        .request(
            Method::POST,
            "/accounts/password/change",
            Some(
                &json!({"current_password": PASSWORD, "new_password": "another passphrase to use"}),
            ),
        )
        .await;
    assert_eq!(change.status, 204, "{}", change.text);
    app.bearer(&second)
        .get("/accounts/me")
        .await
        .problem(401, "not_authenticated");
    let listed = sessions(&app, &third).await;
    assert_eq!(listed["count"], 1, "{listed}");
    assert_eq!(listed["sessions"].as_array().unwrap().len(), 1);
}

/// Sessions started by an instance whose clock runs ahead sort after a new
/// one: the cap then ends the oldest of those, never the login just made.
/// A logout also takes its id out of the Redis index at once.
async fn the_cap_never_ends_the_new_session(backend: Backend) {
    let app = spawn_app_with(backend, &cap_settings()).await;
    let (email, first) = app.register_app().await;
    let second = app_login(&app, &email).await;
    let third = app_login(&app, &email).await;
    let user: i64 = app
        .count_sql(&format!(
            "SELECT CAST(id AS BIGINT) AS n FROM users WHERE email = '{email}'"
        ))
        .await;
    let redis = app.settings.stores.redis_url.as_ref().map(|url| {
        redis::Client::open(secrecy::ExposeSecret::expose_secret(url).to_owned()).unwrap()
    });
    let index = format!("{}sessions_of:{user}", app.settings.stores.redis_key_prefix);
    // A day ahead, in the order they were made.
    match &redis {
        None => {
            app.execute_sql(&format!(
                "UPDATE sessions SET created_at = '2100-01-01 00:00:00' WHERE user_id = {user}"
            ))
            .await
        }
        Some(redis) => {
            let mut conn = redis.get_multiplexed_async_connection().await.unwrap();
            let _: i64 = redis::Script::new(
                "for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do \
                 redis.call('ZINCRBY', KEYS[1], 86400000, id) end return 0",
            )
            .key(&index)
            .invoke_async(&mut conn)
            .await
            .unwrap();
        }
    }
    let fourth = app_login(&app, &email).await;
    assert_eq!(app.bearer(&fourth).get("/accounts/me").await.status, 200);
    let live = [&first, &second, &third];
    let mut alive = 0;
    for token in live {
        alive += u8::from(app.bearer(token).get("/accounts/me").await.status == 200);
    }
    assert_eq!(alive, 2, "one of the three older sessions ended");
    assert_eq!(sessions(&app, &fourth).await["count"], 3);
    if let Some(redis) = &redis {
        let conn = redis.get_multiplexed_async_connection().await.unwrap();
        let indexed = || async {
            let n: i64 = redis::cmd("ZCARD")
                .arg(&index)
                .query_async(&mut conn.clone())
                .await
                .unwrap();
            n
        };
        assert_eq!(indexed().await, 3);
        let logout = app
            .bearer(&fourth)
            .request(Method::POST, "/accounts/logout", None)
            .await;
        assert_eq!(logout.status, 204, "{}", logout.text);
        assert_eq!(indexed().await, 2);
    }
}
