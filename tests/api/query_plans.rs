//! Every query the service runs on a request path (and in its periodic
//! clean-up) uses an index: this test drives every endpoint once, records
//! each distinct SQL statement diesel sends (through diesel's connection
//! instrumentation, as the real app runs), then asks the database for its
//! plan: `EXPLAIN QUERY PLAN` on SQLite, `EXPLAIN` of a generic plan with
//! sequential scans disfavoured on PostgreSQL. A full scan of a table fails
//! the test, with the statement and its plan: every table here grows with
//! users or sessions.

use std::collections::BTreeSet;
use std::sync::Mutex;

use diesel::connection::{set_default_instrumentation, Instrumentation, InstrumentationEvent};
use diesel::{Connection, RunQueryDsl};
use reqwest::Method;
use serde_json::json;

use crate::admin::{call, member, staff};
use crate::both_backends;
use crate::helpers::{Backend, TestApp, PASSWORD};
use crate::smtp::{spawn_with_smtp, SmtpServer};
use accounts::auth::totp;

both_backends!(every_query_on_a_request_path_uses_an_index);

/// `(database url, statement)`: under plain `cargo test` every test of
/// the binary shares this process, and so the recorder; only this test's
/// database is kept in the end.
static STATEMENTS: Mutex<BTreeSet<(String, String)>> = Mutex::new(BTreeSet::new());

fn recorder() -> Option<Box<dyn Instrumentation>> {
    // One recorder a connection: it learns its database as it connects.
    let mut database = String::new();
    Some(Box::new(
        move |event: InstrumentationEvent<'_>| match event {
            InstrumentationEvent::StartEstablishConnection { url, .. } => database = url.to_owned(),
            InstrumentationEvent::StartQuery { query, .. } => {
                let text = query.to_string();
                let sql = text
                    .rsplit_once(" -- binds: ")
                    .map_or(&*text, |(sql, _)| sql);
                STATEMENTS
                    .lock()
                    .unwrap()
                    .insert((database.clone(), sql.trim().to_owned()));
            }
            _ => {}
        },
    ))
}

/// Tables of the schema migrations, the only ones that do not grow.
const FIXED: &[&str] = &["__diesel_schema_migrations"];

/// Statements that read a table in index or key order and stop early, or
/// whose whole point is a total, each with why it may. Matched by a piece
/// of the statement's text, as narrowly as will hold.
const BOUNDED: &[(&str, &str)] = &[
    // Staff's unfiltered user list: one page in id order (LIMIT).
    (
        "FROM `users` ORDER BY `users`.`id` LIMIT",
        "one page of users in id order",
    ),
    (
        "FROM \"users\" ORDER BY \"users\".\"id\" LIMIT",
        "one page of users in id order",
    ),
    // The reset-request queue is drained from its head, a batch at a time.
    (
        "SELECT id FROM password_reset_requests ORDER BY id LIMIT",
        "the head of a queue",
    ),
    // Addresses left to re-key after migrating: read from the head, a
    // batch at a time, once at start (and empty from then on).
    (
        "FROM `email_rekey_pending` ORDER BY `email_rekey_pending`.`user_id` LIMIT",
        "the head of a one-off list",
    ),
    (
        "FROM \"email_rekey_pending\" ORDER BY \"email_rekey_pending\".\"user_id\" LIMIT",
        "the head of a one-off list",
    ),
    // The pending-mail gauge reads the partial index of pending rows only.
    (
        "FROM `outbox` WHERE ((`outbox`.`sent_at` IS NULL) AND (`outbox`.`failed_at` IS NULL))",
        "a partial index of pending mail",
    ),
    (
        "FROM \"outbox\" WHERE ((\"outbox\".\"sent_at\" IS NULL) AND (\"outbox\".\"failed_at\" IS NULL))",
        "a partial index of pending mail",
    ),
];

/// Whole statements that may scan, each with why: the unfiltered admin
/// list's total counts every user by nature (README, Performance). Whole,
/// so that a filtered count (`… WHERE …`) is still explained.
const WHOLE: &[(&str, &str)] = &[
    (
        "SELECT COUNT(*) FROM `users`",
        "the admin list's total of all users",
    ),
    (
        "SELECT COUNT(*) FROM \"users\"",
        "the admin list's total of all users",
    ),
];

/// A statement's plan, one line a node.
fn plan(conn: &mut Explainer, sql: &str) -> Result<Vec<String>, String> {
    #[derive(diesel::QueryableByName)]
    struct SqliteRow {
        #[diesel(sql_type = diesel::sql_types::Text)]
        detail: String,
    }
    #[derive(diesel::QueryableByName)]
    struct PgRow {
        #[diesel(sql_type = diesel::sql_types::Text)]
        #[diesel(column_name = "QUERY PLAN")]
        line: String,
    }
    match conn {
        Explainer::Sqlite(c) => diesel::sql_query(format!("EXPLAIN QUERY PLAN {sql}"))
            .load::<SqliteRow>(c)
            .map(|rows| rows.into_iter().map(|r| r.detail).collect())
            .map_err(|e| e.to_string()),
        Explainer::Postgres(c) => {
            let params = (1..=99)
                .take_while(|n| sql.contains(&format!("${n}")))
                .count();
            let nulls = vec!["NULL"; params].join(", ");
            let prepared = format!("PREPARE planned AS {sql}");
            diesel::sql_query(prepared)
                .execute(c)
                .map_err(|e| e.to_string())?;
            let execute = if params == 0 {
                "EXPLAIN EXECUTE planned".to_owned()
            } else {
                format!("EXPLAIN EXECUTE planned({nulls})")
            };
            let lines = diesel::sql_query(execute).load::<PgRow>(c);
            diesel::sql_query("DEALLOCATE planned")
                .execute(c)
                .map_err(|e| e.to_string())?;
            lines
                .map(|rows| rows.into_iter().map(|r| r.line).collect())
                .map_err(|e| e.to_string())
        }
    }
}

enum Explainer {
    Sqlite(diesel::SqliteConnection),
    Postgres(diesel::PgConnection),
}

/// The table a plan line reads whole, if it does.
fn full_scan(line: &str) -> Option<String> {
    let line = line.trim().trim_start_matches("->").trim();
    // SQLite: "SCAN users" or "SCAN users USING INDEX ..." (every entry
    // of an index is a full scan too); "SEARCH" is a lookup.
    if let Some(rest) = line.strip_prefix("SCAN ") {
        // A VALUES list or a constant row is no table; a full-text
        // table's MATCH is answered by its own index.
        if rest.contains("VALUES CLAUSE")
            || rest.starts_with("CONSTANT ROW")
            || rest.contains("VIRTUAL TABLE INDEX")
        {
            return None;
        }
        return rest.split_whitespace().next().map(str::to_owned);
    }
    // PostgreSQL: "Seq Scan on users  (cost=...)".
    let rest = line.split_once("Seq Scan on ")?.1;
    Some(rest.split_whitespace().next()?.to_owned())
}

/// PostgreSQL: the tables read through every entry of an index, an
/// index scan node without an `Index Cond` (with sequential scans off, the
/// planner walks a whole index where no index answers the filter).
fn full_index_scans(lines: &[String]) -> Vec<String> {
    let mut tables = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let node = line.trim().trim_start_matches("->").trim();
        let Some(rest) = node
            .strip_prefix("Index Scan using ")
            .or_else(|| node.strip_prefix("Index Only Scan using "))
            .or_else(|| node.strip_prefix("Index Scan Backward using "))
            .or_else(|| node.strip_prefix("Index Only Scan Backward using "))
        else {
            continue;
        };
        // Its details: the lines up to the next node.
        let conditioned = lines[i + 1..]
            .iter()
            .take_while(|l| !l.trim_start().starts_with("->"))
            .any(|l| l.trim_start().starts_with("Index Cond:"));
        if !conditioned {
            if let Some((_, table)) = rest.split_once(" on ") {
                tables.extend(table.split_whitespace().next().map(str::to_owned));
            }
        }
    }
    tables
}

async fn drive_every_endpoint(app: &TestApp, smtp: &SmtpServer) {
    let ok = |reply: &crate::helpers::Reply, status: u16| {
        assert_eq!(reply.status, status, "{}", reply.text);
    };
    // A browser: register, me, profile, picture, sessions, password, out.
    let browser = app.browser();
    let email = browser.register().await;
    ok(&browser.get("/accounts/me").await, 200);
    ok(
        &browser
            .patch("/accounts/me", &json!({"first_name": "Ada"}))
            .await,
        200,
    );
    ok(&browser.get("/accounts/me/profile").await, 200);
    ok(
        &browser
            .patch("/accounts/me/profile", &json!({"bio": "Hi."}))
            .await,
        200,
    );
    ok(&browser.get("/accounts/sessions").await, 200);
    ok(
        &browser.post_empty("/accounts/email/verification").await,
        202,
    );
    let verify = smtp.nth(&email, 1).await.token();
    ok(
        &app.post_json("/accounts/email/verify", &json!({"token": verify}))
            .await,
        200,
    );
    ok(&browser.post_empty("/accounts/logout").await, 204);
    ok(&browser.login(&email, PASSWORD).await, 200);
    app.login_app(&email, "a wrong password 1234")
        .await
        .problem(401, "invalid_credentials");

    // An app: token, picture, sessions, password change, reset.
    let (id, member_email, token) = member(app).await;
    let me = app.bearer(&token);
    let picture = reqwest::multipart::Part::bytes(crate::images::png(64, 48)).file_name("p.png");
    let put = app
        .client
        .put(app.url("/accounts/me/profile/picture"))
        .bearer_auth(&token)
        .multipart(reqwest::multipart::Form::new().part("profile_pic", picture));
    let uploaded = app.send(put).await;
    ok(&uploaded, 200);
    let path = uploaded.json()["profile"]["profile_pic"]
        .as_str()
        .unwrap()
        .to_owned();
    ok(&app.get(&path).await, 200);
    ok(
        &me.request(Method::DELETE, "/accounts/me/profile/picture", None)
            .await,
        204,
    );
    let second = app.login_app(&member_email, PASSWORD).await.json()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let listed = app.bearer(&second).get("/accounts/sessions").await.json();
    let other = listed["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == false)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let password = "a second passphrase for plans";
    ok(
        &app.bearer(&second)
            .request(
                Method::POST,
                "/accounts/password/change",
                Some(&json!({"current_password": PASSWORD, "new_password": password})),
            )
            .await,
        204,
    );
    let third = app.login_app(&member_email, password).await.json()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    ok(
        &app.bearer(&third)
            .request(Method::DELETE, &format!("/accounts/sessions/{other}"), None)
            .await,
        404,
    );
    ok(
        &app.post_json("/accounts/password/reset", &json!({"email": member_email}))
            .await,
        202,
    );
    ok(
        &app.post_json(
            "/accounts/password/reset",
            &json!({"email": "nobody@example.com"}),
        )
        .await,
        202,
    );
    let reset = smtp
        .nth_with_subject(&member_email, "Reset your", 1)
        .await
        .token();
    ok(
        &app.post_json(
            "/accounts/password/reset/confirm",
            &json!({"token": reset, "new_password": PASSWORD}),
        )
        .await,
        204,
    );
    let token = app.login_app(&member_email, PASSWORD).await.json()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let me = app.bearer(&token);
    let moved = app.unique_email();
    ok(
        &me.request(
            Method::POST,
            "/accounts/email/change",
            Some(&json!({"new_email": moved, "password": PASSWORD})),
        )
        .await,
        202,
    );
    let change = smtp.nth(&moved, 1).await.token();
    ok(
        &app.post_json("/accounts/email/change/confirm", &json!({"token": change}))
            .await,
        200,
    );

    // Two-factor: enrol, a two-step login, a recovery code, off.
    ok(&me.get("/accounts/mfa").await, 200);
    let setup = me
        .request(Method::POST, "/accounts/mfa/totp/setup", None)
        .await
        .json();
    let secret = totp_rs::Secret::try_from_base32(setup["secret"].as_str().unwrap())
        .unwrap()
        .as_ref()
        .to_vec();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let confirmed = me
        .request(
            Method::POST,
            "/accounts/mfa/totp/confirm",
            Some(&json!({"code": totp::code_at(&secret, now / 30 - 1)})),
        )
        .await;
    ok(&confirmed, 200);
    let codes = confirmed.json()["recovery_codes"].clone();
    let pending = app.login_app(&moved, PASSWORD).await.json()["mfa_token"]
        .as_str()
        .unwrap()
        .to_owned();
    ok(
        &app.post_json(
            "/accounts/login/mfa",
            &json!({"mfa_token": pending, "code": "000000"}),
        )
        .await,
        400,
    );
    ok(
        &app.post_json(
            "/accounts/login/mfa",
            &json!({"mfa_token": pending, "code": codes[0]}),
        )
        .await,
        200,
    );
    ok(
        &me.request(
            Method::POST,
            "/accounts/mfa/recovery-codes",
            Some(&json!({"password": PASSWORD})),
        )
        .await,
        200,
    );

    // Staff: search, list, view, edit, sessions, reset, second factor.
    let (_, _, staff_token) = staff(app, true).await;
    for path in [
        "/admin/users".to_owned(),
        "/admin/users?search=example".to_owned(),
        "/admin/users?search=ada&is_active=true&page=2".to_owned(),
        "/admin/users?is_active=false&page=2".to_owned(),
        "/admin/users?is_staff=true&page=2".to_owned(),
        format!("/admin/users/{id}"),
        format!("/admin/users/{id}/sessions"),
    ] {
        ok(
            &call(app, &staff_token, Method::GET, &path, None).await,
            200,
        );
    }
    let edit = json!({"first_name": "Grace"});
    let edited = call(
        app,
        &staff_token,
        Method::PATCH,
        &format!("/admin/users/{id}"),
        Some(edit),
    )
    .await;
    ok(&edited, 200);
    let reset = call(
        app,
        &staff_token,
        Method::POST,
        &format!("/admin/users/{id}/password-reset"),
        None,
    )
    .await;
    ok(&reset, 202);
    let removed = call(
        app,
        &staff_token,
        Method::DELETE,
        &format!("/admin/users/{id}/mfa"),
        None,
    )
    .await;
    ok(&removed, 204);
    let ended = call(
        app,
        &staff_token,
        Method::DELETE,
        &format!("/admin/users/{id}/sessions"),
        None,
    )
    .await;
    ok(&ended, 204);

    // Leaving: the browser user deletes the account.
    let deleted = browser
        .request(
            Method::DELETE,
            "/accounts/me",
            Some(&json!({"password": PASSWORD})),
            true,
        )
        .await;
    ok(&deleted, 204);
    // The mail sender has sent what was written, and the clean-up runs.
    smtp.wait_for(&moved, 2).await;
    accounts::startup::accounts_for_cli(&app.settings)
        .await
        .unwrap()
        .purge_expired()
        .await;
}

async fn every_query_on_a_request_path_uses_an_index(backend: Backend) {
    set_default_instrumentation(recorder).unwrap();
    let smtp = SmtpServer::start();
    let app = spawn_with_smtp(backend, &smtp, &[("SESSION_CACHE_MILLIS", "0")]).await;
    drive_every_endpoint(&app, &smtp).await;
    set_default_instrumentation(|| None).unwrap();
    let url = secrecy::ExposeSecret::expose_secret(&app.settings.stores.database_url).to_owned();
    let ours = |database: &str| {
        !database.is_empty() && (database.contains(url.as_str()) || url.contains(database))
    };
    let statements: BTreeSet<String> = STATEMENTS
        .lock()
        .unwrap()
        .iter()
        .filter(|(database, _)| ours(database))
        .map(|(_, sql)| sql.clone())
        .collect();
    let report = tokio::task::spawn_blocking(move || {
        let mut conn = match url.strip_prefix("sqlite://") {
            Some(path) => Explainer::Sqlite(diesel::SqliteConnection::establish(path).unwrap()),
            None => {
                let mut c =
                    diesel::PgConnection::establish(&format!("{url}&gssencmode=disable")).unwrap();
                // Plans that hold whatever the values, and a sequential
                // scan only where no index can answer.
                diesel::sql_query("SET plan_cache_mode = force_generic_plan")
                    .execute(&mut c)
                    .unwrap();
                diesel::sql_query("SET enable_seqscan = off")
                    .execute(&mut c)
                    .unwrap();
                Explainer::Postgres(c)
            }
        };
        let mut explained = 0;
        let mut failures = Vec::new();
        for sql in &statements {
            let verb = sql.split_whitespace().next().unwrap_or("").to_uppercase();
            if !["SELECT", "INSERT", "UPDATE", "DELETE", "WITH"].contains(&verb.as_str())
                || BOUNDED.iter().any(|(piece, _)| sql.contains(piece))
                || WHOLE.iter().any(|(whole, _)| sql == whole)
            {
                continue;
            }
            match plan(&mut conn, sql) {
                Ok(lines) => {
                    explained += 1;
                    let scans: Vec<String> = lines
                        .iter()
                        .filter_map(|l| full_scan(l))
                        .chain(full_index_scans(&lines))
                        .filter(|t| !FIXED.contains(&t.as_str()))
                        .collect();
                    if !scans.is_empty() {
                        failures.push(format!(
                            "full scan of {scans:?}:\n  {sql}\n  {}",
                            lines.join("\n  ")
                        ));
                    }
                }
                Err(e) => failures.push(format!("no plan ({e}):\n  {sql}")),
            }
        }
        (explained, failures)
    })
    .await
    .unwrap();
    let (explained, failures) = report;
    // The flow above reaches far: if this drops, the recorder broke.
    assert!(
        explained >= 40,
        "only {explained} statements were explained"
    );
    assert!(
        failures.is_empty(),
        "{} of {explained} statements:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
