//! The periodic purge: every kind of expired row goes, in batches of
//! `PURGE_BATCH_SIZE`, and nothing live goes with it.

use std::time::{Duration, Instant};

use accounts::accounts::Purged;

use crate::both_backends;
use crate::helpers::{spawn_app_with, Backend, TestApp};

both_backends!(
    the_purge_deletes_what_expired_in_batches_and_keeps_the_rest,
    one_purge_goes_on_until_nothing_is_left,
);

/// `rows` numbered rows (`n.i`, 1..=rows) for an INSERT … SELECT, on both
/// backends.
fn numbered(rows: u32) -> String {
    format!("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows})")
}

const PAST: &str = "'2000-01-01 00:00:00'";
const FUTURE: &str = "'2100-01-01 00:00:00'";
const USER: &str = "(SELECT MAX(id) FROM users)";

async fn fill(app: &TestApp, embedded_stores: bool) {
    // 10 of each that expired (more than three batches of 3), 2 live.
    for (when, rows, tag) in [(PAST, 10, "old"), (FUTURE, 2, "live")] {
        app.execute_sql(&format!(
            "{n} INSERT INTO email_tokens (token_hash, user_id, purpose, email, created_at, expires_at)
             SELECT '{tag}' || i, {USER}, 'password_reset', 'x@example.com', {PAST}, {when} FROM n;
             {n} INSERT INTO outbox (kind, message_id, recipient, subject, body_text, body_html,
                 created_at, next_attempt_at, sent_at, user_id)
             SELECT 'notice', '{tag}-sent-' || i, 'x@example.com', 's', '', '', {PAST}, {PAST}, {when}, {USER} FROM n;
             {n} INSERT INTO outbox (kind, message_id, recipient, subject, body_text, body_html,
                 created_at, next_attempt_at, failed_at, user_id)
             SELECT 'notice', '{tag}-failed-' || i, 'x@example.com', 's', '', '', {PAST}, {PAST}, {when}, {USER} FROM n;",
            n = numbered(rows)
        ))
        .await;
        if embedded_stores {
            app.execute_sql(&format!(
                "{n} INSERT INTO sessions (id, user_id, state, expires_at, created_at)
                 SELECT '{tag}' || i, {USER}, '{{}}', {when}, {PAST} FROM n;
                 {n} INSERT INTO login_failures (scope_key, failures, window_ends_at)
                 SELECT '{tag}' || i, 1, {when} FROM n;
                 {n} INSERT INTO mfa_logins (id, user_id, state, failures, expires_at)
                 SELECT '{tag}' || i, {USER}, '{{}}', 0, {when} FROM n;",
                n = numbered(rows)
            ))
            .await;
        }
    }
}

async fn the_purge_deletes_what_expired_in_batches_and_keeps_the_rest(backend: Backend) {
    let app = spawn_app_with(
        backend,
        &[("PURGE_INTERVAL_SECS", "1"), ("PURGE_BATCH_SIZE", "3")],
    )
    .await;
    let (_, token) = app.register_app().await;
    let embedded_stores = backend == Backend::Sqlite;
    fill(&app, embedded_stores).await;

    let mut tables = vec![("email_tokens", "token_hash"), ("outbox", "message_id")];
    if embedded_stores {
        tables.extend([
            ("sessions", "id"),
            ("login_failures", "scope_key"),
            ("mfa_logins", "id"),
        ]);
    }
    let expired = |table: &str, key: &str| {
        format!("SELECT COUNT(*) AS n FROM {table} WHERE {key} LIKE 'old%'")
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    for (table, key) in &tables {
        while app.count_sql(&expired(table, key)).await > 0 {
            assert!(
                Instant::now() < deadline,
                "expired rows of {table} still there"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    // What is live stays: 2 of each (4 finished messages), and the session
    // the user is logged in with.
    for (table, key) in &tables {
        let live = app
            .count_sql(&format!(
                "SELECT COUNT(*) AS n FROM {table} WHERE {key} LIKE 'live%'"
            ))
            .await;
        assert_eq!(live, if *table == "outbox" { 4 } else { 2 }, "{table}");
    }
    assert_eq!(app.bearer(&token).get("/accounts/me").await.status, 200);
}

/// One purge deletes every expired row, batch after batch (ten rows in
/// batches of three), not one batch per interval.
async fn one_purge_goes_on_until_nothing_is_left(backend: Backend) {
    // The timer's first purge is an hour away: this test runs its own.
    let app = spawn_app_with(
        backend,
        &[("PURGE_INTERVAL_SECS", "3600"), ("PURGE_BATCH_SIZE", "3")],
    )
    .await;
    app.register_app().await;
    let embedded_stores = backend == Backend::Sqlite;
    fill(&app, embedded_stores).await;
    let accounts = accounts::startup::accounts_for_cli(&app.settings)
        .await
        .expect("the use cases");
    let stored = if embedded_stores { 10 } else { 0 };
    assert_eq!(
        accounts.purge_expired().await,
        Purged {
            sessions: stored,
            login_counters: stored,
            mail_tokens: 10,
            finished_mail: 20,
            mfa_logins: stored,
        }
    );
    assert_eq!(accounts.purge_expired().await, Purged::default());
}
