//! The outbox and its sender against a real SMTP server: outages, refusals
//! and timeouts (requests still answer; the mail arrives later, once), the
//! give-up, several instances on one database, SIGTERM during a send, the
//! `.eml` default, and a bad `EMAIL_URL` at start-up.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::both_backends;
use crate::helpers::{fresh_database, spawn_app, Backend, TestApp, PASSWORD};
use crate::smtp::{spawn_with_smtp, SmtpServer};

both_backends!(
    an_smtp_outage_delays_mail_and_loses_none,
    refused_and_timed_out_sends_are_retried_until_delivered_once,
    mail_undeliverable_past_the_give_up_time_is_given_up,
    a_link_undelivered_past_its_expiry_is_given_up,
    two_instances_on_one_database_send_each_message_once,
    sigterm_lets_the_send_in_flight_finish_and_it_is_not_sent_again,
);

/// A metric's value from `/metrics` (0 when absent).
async fn metric(app: &TestApp, name: &str) -> f64 {
    let text = app.bearer("scrape").get("/metrics").await.text;
    text.lines()
        .filter(|l| l.starts_with(name))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

async fn until(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn an_smtp_outage_delays_mail_and_loses_none(backend: Backend) {
    let smtp = SmtpServer::reserve();
    let app = spawn_with_smtp(backend, &smtp, &[("METRICS_TOKEN", "scrape")]).await;
    let (email, _) = app.register_app().await;
    let reply = app
        .post_json("/accounts/password/reset", &json!({"email": email}))
        .await;
    assert_eq!(reply.status, 202, "the API answers as usual");
    assert_eq!(
        app.get("/readyz").await.status,
        200,
        "/readyz does not depend on SMTP"
    );
    until("a send failed", async || {
        metric(&app, "accounts_mail_send_failures_total").await >= 1.0
    })
    .await;
    until("both messages wait", async || {
        metric(&app, "accounts_mail_queue_depth").await == 2.0
    })
    .await;

    smtp.listen();
    let mail = smtp.wait_for(&email, 2).await;
    assert!(mail[0].subject.contains("Confirm") && mail[1].subject.contains("Reset"));
    until("the queue is empty", async || {
        metric(&app, "accounts_mail_queue_depth").await == 0.0
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(smtp.messages().len(), 2, "nothing sent twice");
    assert_eq!(metric(&app, "accounts_mail_sent_total").await, 2.0);
}

async fn refused_and_timed_out_sends_are_retried_until_delivered_once(backend: Backend) {
    let smtp = SmtpServer::start();
    smtp.refuse(true);
    let app = spawn_with_smtp(
        backend,
        &smtp,
        &[
            ("METRICS_TOKEN", "scrape"),
            ("EMAIL_SEND_TIMEOUT_SECS", "1"),
        ],
    )
    .await;
    let (email, _) = app.register_app().await;
    until("two refusals", async || {
        metric(&app, "accounts_mail_send_failures_total").await >= 2.0
    })
    .await;
    // Now too slow: the sender gives up on the conversation and retries.
    smtp.delay(Duration::from_millis(2500));
    let failures = metric(&app, "accounts_mail_send_failures_total").await;
    until("a timeout", async || {
        metric(&app, "accounts_mail_send_failures_total").await > failures
    })
    .await;
    // The server refuses the conversations it was slow in too (had it
    // accepted one after the sender stopped waiting, SMTP could not tell
    // and the message would go twice: delivery is at least once).
    smtp.delay(Duration::ZERO);
    tokio::time::sleep(Duration::from_millis(2600)).await;
    smtp.refuse(false);
    smtp.wait_for(&email, 1).await;
    tokio::time::sleep(Duration::from_millis(3500)).await;
    assert_eq!(smtp.messages().len(), 1, "delivered once");
    assert_eq!(metric(&app, "accounts_mail_queue_depth").await, 0.0);
}

async fn mail_undeliverable_past_the_give_up_time_is_given_up(backend: Backend) {
    let smtp = SmtpServer::reserve();
    let app = spawn_with_smtp(
        backend,
        &smtp,
        &[
            ("METRICS_TOKEN", "scrape"),
            ("EMAIL_GIVE_UP_AFTER_SECS", "2"),
        ],
    )
    .await;
    app.register_app().await;
    until("the message is given up", async || {
        metric(&app, "accounts_mail_given_up_total").await == 1.0
    })
    .await;
    // The gauge is refreshed after the sender's pass, not with the counter.
    until("the queue is empty", async || {
        metric(&app, "accounts_mail_queue_depth").await == 0.0
    })
    .await;
    smtp.listen();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(
        smtp.messages().is_empty(),
        "a given-up message stays given up"
    );
}

async fn a_link_undelivered_past_its_expiry_is_given_up(backend: Backend) {
    let smtp = SmtpServer::reserve();
    let app = spawn_with_smtp(
        backend,
        &smtp,
        &[("METRICS_TOKEN", "scrape"), ("EMAIL_VERIFY_TTL_SECS", "2")],
    )
    .await;
    app.register_app().await;
    until("the dead link is given up", async || {
        metric(&app, "accounts_mail_given_up_total").await == 1.0
    })
    .await;
    smtp.listen();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(smtp.messages().is_empty());
}

async fn two_instances_on_one_database_send_each_message_once(backend: Backend) {
    let smtp = SmtpServer::start();
    // Slow enough that both senders are busy at once.
    smtp.delay(Duration::from_millis(30));
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database(backend, dir.path()).await;
    let shared = [("DATABASE_URL", url.as_str())];
    let a = spawn_with_smtp(backend, &smtp, &shared).await;
    let b = spawn_with_smtp(backend, &smtp, &shared).await;
    let mut emails = Vec::new();
    for i in 0..12 {
        let app = if i % 2 == 0 { &a } else { &b };
        emails.push(app.register_app().await.0);
    }
    for (i, email) in emails.iter().enumerate() {
        let app = if i % 2 == 0 { &b } else { &a };
        let reply = app
            .post_json("/accounts/password/reset", &json!({"email": email}))
            .await;
        assert_eq!(reply.status, 202);
    }
    for email in &emails {
        smtp.wait_for(email, 2).await;
    }
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let all = smtp.messages();
    let mut ids: Vec<&str> = all.iter().map(|m| m.message_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(all.len(), 24, "each message once");
    assert_eq!(ids.len(), 24, "each with its own Message-ID");
}

/// The real binary, serving on `port` with the mail going to `smtp`.
fn serve(dir: &std::path::Path, database_url: &str, port: u16, smtp: &SmtpServer) -> Child {
    Command::new(env!("CARGO_BIN_EXE_accounts"))
        .arg("serve")
        .env_clear()
        .env("DATABASE_URL", database_url)
        .env(
            "SECRET_KEY",
            "mail-test-secret-key-that-is-long-enough-0123",
        )
        .env("BIND_ADDRESS", format!("127.0.0.1:{port}"))
        .env("MEDIA_ROOT", dir.join("media"))
        .env("EMAIL_URL", smtp.url())
        .env("EMAIL_POLL_INTERVAL_SECS", "1")
        .env("RUST_LOG", "warn")
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary runs")
}

async fn sigterm_lets_the_send_in_flight_finish_and_it_is_not_sent_again(backend: Backend) {
    let smtp = SmtpServer::start();
    smtp.delay(Duration::from_secs(3));
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database(backend, dir.path()).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = serve(dir.path(), &url, port, &smtp);
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    until("the binary answers", async || {
        client
            .get(format!("{base}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
    })
    .await;
    let email = format!("term-{port}@example.com");
    let reply = client
        .post(format!("{base}/accounts/register"))
        .json(&json!({"email": email, "password": PASSWORD, "client": "app"}))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 201);
    until("the message is being sent", async || {
        smtp.data_started() == 1
    })
    .await;

    let pid = i32::try_from(child.id()).unwrap();
    // SAFETY: signalling a child process this test started.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "a clean exit: {status}");
    assert_eq!(
        smtp.messages_to(&email).len(),
        1,
        "the send in flight finished before the exit"
    );

    // Restarted on the same database: the message is marked sent.
    smtp.delay(Duration::ZERO);
    let mut again = serve(dir.path(), &url, port, &smtp);
    until("the binary answers again", async || {
        client
            .get(format!("{base}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let _ = again.kill();
    let _ = again.wait();
    assert_eq!(smtp.messages().len(), 1, "not sent again after the restart");
    assert_eq!(smtp.data_started(), 1);
}

#[actix_web::test]
async fn without_email_url_mail_is_written_as_eml_files() {
    let app = spawn_app(Backend::Sqlite).await;
    let (email, _) = app.register_app().await;
    let accounts::config::MailTransport::Files(dir) = &app.settings.mail.transport else {
        panic!("the default is files");
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    let file = loop {
        let found = std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| e.path())
                    .find(|p| p.extension().is_some_and(|x| x == "eml"))
            })
            .ok()
            .flatten();
        if let Some(file) = found {
            break file;
        }
        assert!(
            Instant::now() < deadline,
            "no .eml file in {}",
            dir.display()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(file
        .file_name()
        .unwrap()
        .to_string_lossy()
        .contains("email_verification"));
    let raw = std::fs::read(&file).unwrap();
    let message = mail_parser::MessageParser::default().parse(&raw).unwrap();
    assert_eq!(
        message.subject(),
        Some("Confirm your email address for Accounts")
    );
    let to = message
        .to()
        .and_then(|t| t.first())
        .and_then(|a| a.address())
        .unwrap();
    assert_eq!(to, email);
    assert!(message.body_html(0).is_some() && message.body_text(0).is_some());
}

#[test]
fn a_bad_email_url_stops_the_start_with_one_line_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    for url in [
        "ftp://mail.example.com",
        "smtp://user:hunter2@",
        "smtps//nothing",
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_accounts"))
            .arg("serve")
            .env_clear()
            .env(
                "DATABASE_URL",
                format!("sqlite://{}", dir.path().join("db.sqlite3").display()),
            )
            .env("EMAIL_URL", url)
            .current_dir(dir.path())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{url}: started anyway");
        let lines: Vec<&str> = stderr
            .lines()
            .filter(|l| !l.starts_with("WARNING"))
            .collect();
        assert_eq!(lines.len(), 1, "{url}: {stderr}");
        assert!(lines[0].contains("EMAIL_URL"), "{url}: {stderr}");
        assert!(
            !stderr.contains("hunter2"),
            "the password is not repeated: {stderr}"
        );
    }
}
