//! Session lifetimes, and a session store that goes away and comes back.

use std::process::{Child, Command};
use std::time::Duration;

use crate::both_backends;
use crate::helpers::{spawn_app_with, Backend, PASSWORD};

both_backends!(
    an_idle_session_expires_and_activity_keeps_it,
    a_session_ends_at_its_absolute_lifetime,
);

async fn an_idle_session_expires_and_activity_keeps_it(backend: Backend) {
    let settings = [
        ("SESSION_IDLE_TIMEOUT_SECS", "3"),
        ("APP_SESSION_IDLE_TIMEOUT_SECS", "3"),
        ("SESSION_TOUCH_INTERVAL_SECS", "1"),
    ];
    let app = spawn_app_with(backend, &settings).await;
    let (_, token) = app.register_app().await;
    let browser = app.browser();
    browser.register().await;
    let client = app.bearer(&token);
    // Active past the idle timeout: still logged in.
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(client.get("/accounts/me").await.status, 200);
        assert_eq!(browser.get("/accounts/me").await.status, 200);
    }
    // Then idle for longer than the timeout: both are gone.
    tokio::time::sleep(Duration::from_millis(4600)).await;
    client
        .get("/accounts/me")
        .await
        .problem(401, "not_authenticated");
    browser
        .get("/accounts/me")
        .await
        .problem(401, "not_authenticated");
}

async fn a_session_ends_at_its_absolute_lifetime(backend: Backend) {
    let settings = [
        ("APP_SESSION_ABSOLUTE_TIMEOUT_SECS", "3"),
        ("SESSION_TOUCH_INTERVAL_SECS", "1"),
    ];
    let app = spawn_app_with(backend, &settings).await;
    let (email, token) = app.register_app().await;
    let client = app.bearer(&token);
    let mut ended = false;
    for _ in 0..8 {
        tokio::time::sleep(Duration::from_millis(900)).await;
        if client.get("/accounts/me").await.status == 401 {
            ended = true;
            break;
        }
    }
    assert!(ended, "a busy session still ends at the absolute lifetime");
    // Logging in again starts a new lifetime.
    assert_eq!(app.login_app(&email, PASSWORD).await.status, 200);
}

/// A Redis server of the test's own, on a free port, persisting to `dir`.
fn start_redis(port: u16, dir: &std::path::Path) -> Child {
    let child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .arg("--dir")
        .arg(dir)
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("redis-server is installed");
    for _ in 0..50 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child
}

/// Redis only: the embedded store is the database itself.
#[actix_web::test]
#[cfg_attr(
    not(postgres_redis_tests),
    ignore = "set TEST_DATABASE_URL and TEST_REDIS_URL to run on PostgreSQL + Redis"
)]
async fn a_redis_outage_is_503_and_sessions_survive_it() {
    let backend = Backend::PostgresRedis;
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut redis = start_redis(port, dir.path());
    let url = format!("redis://127.0.0.1:{port}");
    let app = spawn_app_with(backend, &[("REDIS_URL", &url)]).await;
    let (email, token) = app.register_app().await;
    let browser = app.browser();
    browser.register().await;

    // Redis stops (saving its data, as a configured production Redis does).
    let stopped = Command::new("redis-cli")
        .args(["-p", &port.to_string(), "shutdown", "save"])
        .status()
        .unwrap();
    assert!(stopped.success() || redis.try_wait().unwrap().is_some());
    let _ = redis.wait();

    let ready = app.get("/readyz").await;
    let problem = ready.problem(503, "not_ready");
    assert_eq!(
        problem["checks"]["session_store"], "unavailable",
        "{problem}"
    );
    assert_eq!(problem["checks"]["database"], "ok", "{problem}");
    let client = app.bearer(&token);
    client
        .get("/accounts/me")
        .await
        .problem(503, "service_unavailable");
    let reply = browser.get("/accounts/me").await;
    reply.problem(503, "service_unavailable");
    assert!(
        reply.set_cookies().is_empty(),
        "a 503 must not clear the session cookie"
    );
    app.login_app(&email, PASSWORD)
        .await
        .problem(503, "service_unavailable");
    assert_eq!(
        app.get("/healthz").await.status,
        200,
        "the process itself is fine"
    );

    // Redis comes back: the same app recovers, and the old sessions work.
    let mut redis = start_redis(port, dir.path());
    let mut recovered = false;
    for _ in 0..30 {
        if app.get("/readyz").await.status == 200 {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(recovered, "readyz recovers without a restart");
    assert_eq!(client.get("/accounts/me").await.status, 200);
    assert_eq!(browser.get("/accounts/me").await.status, 200);
    let _ = redis.kill();
    let _ = redis.wait();
}
