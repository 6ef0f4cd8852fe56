//! Spawns the real application on a random port against a fresh database:
//! a SQLite file in a temporary directory, or (when `TEST_DATABASE_URL` and
//! `TEST_REDIS_URL` are set) a new PostgreSQL schema and a Redis key prefix
//! of its own, so tests run in parallel without seeing each other.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use accounts::config::Settings;
use accounts::startup::Application;
use diesel::connection::SimpleConnection;
use diesel::Connection;
use rand::distr::Alphanumeric;
use rand::Rng;
use reqwest::header::{HeaderMap, HeaderValue, COOKIE, SET_COOKIE};
use reqwest::{Method, StatusCode};
use serde_json::Value;

pub const PASSWORD: &str = "correct horse battery staple";

/// A PostgreSQL + Redis test ran (`--include-ignored`, or a build that saw
/// the variables) without the servers configured: a failure, never a skip.
pub const NOT_CONFIGURED: &str =
    "TEST_DATABASE_URL and TEST_REDIS_URL must be set for the postgres_redis tests";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// The embedded defaults: SQLite and the database session store.
    Sqlite,
    /// PostgreSQL and Redis, from TEST_DATABASE_URL and TEST_REDIS_URL.
    PostgresRedis,
}

/// Generates a `sqlite` and a `postgres_redis` test for each named
/// `async fn name(backend: Backend)`. The `postgres_redis` one is ignored
/// (and listed so, with the reason) unless the build saw TEST_DATABASE_URL
/// and TEST_REDIS_URL (see `build.rs`); when it runs, a server that cannot
/// be reached fails it.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[actix_web::test]
            async fn sqlite() {
                super::$name($crate::helpers::Backend::Sqlite).await
            }
            #[actix_web::test]
            #[cfg_attr(
                not(postgres_redis_tests),
                ignore = "set TEST_DATABASE_URL and TEST_REDIS_URL to run on PostgreSQL + Redis"
            )]
            async fn postgres_redis() {
                super::$name($crate::helpers::Backend::PostgresRedis).await
            }
        }
    )*};
}

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub backend: Backend,
    pub settings: Settings,
    _dir: tempfile::TempDir,
}

fn random(n: usize) -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(n)
        .map(char::from)
        .collect::<String>()
        .to_lowercase()
}

/// The app on `backend` with default settings (PostgreSQL + Redis must be
/// configured when asked for: a test never skips itself and passes).
pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, &[]).await
}

/// A fresh, empty database for `backend` as a DATABASE_URL (and the
/// directory that holds it, for SQLite).
pub async fn fresh_database(backend: Backend, dir: &std::path::Path) -> String {
    match backend {
        Backend::Sqlite => format!("sqlite://{}", dir.join("db.sqlite3").display()),
        Backend::PostgresRedis => match std::env::var("TEST_DATABASE_URL") {
            Ok(pg) => fresh_schema(&pg).await,
            Err(_) => panic!("{NOT_CONFIGURED}"),
        },
    }
}

/// The app with some settings changed, by their environment names.
pub async fn spawn_app_with(backend: Backend, overrides: &[(&str, &str)]) -> TestApp {
    let dir = tempfile::tempdir().expect("temporary directory");
    let prefix = format!("test:{}:", random(12));
    let mut env: HashMap<String, String> = HashMap::from([
        ("BIND_ADDRESS".into(), "127.0.0.1:0".into()),
        ("WORKERS".into(), "1".into()),
        ("DATABASE_POOL_SIZE".into(), "4".into()),
        ("PASSWORD_HASH_CONCURRENCY".into(), "2".into()),
        (
            "SECRET_KEY".into(),
            "test-secret-key-that-is-long-enough-0123456789".into(),
        ),
        (
            "MEDIA_ROOT".into(),
            dir.path().join("media").display().to_string(),
        ),
        ("REDIS_KEY_PREFIX".into(), prefix.clone()),
        // The embedded default writes mail as files: into this test's
        // directory, never the checkout's ./data.
        (
            "EMAIL_FILE_DIR".into(),
            dir.path().join("outbox").display().to_string(),
        ),
    ]);
    match backend {
        Backend::Sqlite => {
            env.insert(
                "DATABASE_URL".into(),
                format!("sqlite://{}", dir.path().join("db.sqlite3").display()),
            );
        }
        Backend::PostgresRedis => {
            let (Ok(pg), Ok(redis)) = (
                std::env::var("TEST_DATABASE_URL"),
                std::env::var("TEST_REDIS_URL"),
            ) else {
                panic!("{NOT_CONFIGURED}");
            };
            env.insert("DATABASE_URL".into(), fresh_schema(&pg).await);
            env.insert("REDIS_URL".into(), redis);
        }
    }
    for (k, v) in overrides {
        env.insert((*k).into(), (*v).into());
    }
    let settings = Settings::from_lookup(|k| env.get(k).cloned()).expect("test settings");
    if std::env::var_os("TEST_LOG").is_some() {
        accounts::telemetry::init(accounts::config::LogFormat::Pretty);
    }
    let app = Application::build(settings.clone())
        .await
        .expect("the application starts");
    let address = format!("http://127.0.0.1:{}", app.port());
    actix_web::rt::spawn(app.run_until_stopped());
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        // Below the server's keep-alive (5 s): a slow test step never
        // reuses a connection the server has just closed.
        .pool_idle_timeout(std::time::Duration::from_secs(2))
        .build()
        .expect("http client");
    TestApp {
        address,
        client,
        backend,
        settings,
        _dir: dir,
    }
}

/// A new, empty schema in the test database; the URL selects it through
/// libpq's `options` (search_path).
pub async fn fresh_schema(base: &str) -> String {
    let schema = format!("test_{}", random(16));
    let base = base.to_owned();
    let ddl = format!("CREATE SCHEMA {schema}");
    // GSSAPI off: libpq's Kerberos code is not safe when tests connect
    // from several threads at once (the app does the same, in db::Db).
    let joiner = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{joiner}gssencmode=disable");
    tokio::task::spawn_blocking(move || {
        let mut conn =
            diesel::PgConnection::establish(&url).expect("TEST_DATABASE_URL is reachable");
        conn.batch_execute(&ddl).expect("create the test schema");
    })
    .await
    .expect("schema task");
    let joiner = if base.contains('?') { '&' } else { '?' };
    format!("{base}{joiner}options=-csearch_path%3D{schema}")
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    /// Asserts a problem+json error with this status and code; returns it.
    pub fn problem(&self, status: u16, code: &str) -> Value {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {}",
            self.text
        );
        assert_eq!(
            self.headers
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("application/problem+json"),
            "{}",
            self.text
        );
        let body = self.json();
        assert_eq!(body["code"], code, "{body}");
        assert_eq!(body["status"], status, "{body}");
        for key in ["type", "title", "detail"] {
            assert!(body[key].is_string(), "problem lacks {key}: {body}");
        }
        if code == "validation_failed" {
            assert!(
                body["errors"].is_object(),
                "validation_failed without errors: {body}"
            );
        }
        let lower = self.text.to_lowercase();
        for leak in [
            "diesel", "sqlite", "postgres", "redis", "panicked", "/src/", "select ",
        ] {
            assert!(
                !lower.contains(leak),
                "error body leaks {leak:?}: {}",
                self.text
            );
        }
        body
    }

    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect()
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// A raw request: the caller sets every header.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        let response = request.send().await.expect("request sent");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body read");
        Reply {
            status,
            headers,
            text,
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(self.client.get(self.url(path))).await
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Reply {
        self.send(self.client.post(self.url(path)).json(body)).await
    }

    /// A new browser with an empty cookie jar.
    pub fn browser(&self) -> Browser<'_> {
        Browser {
            app: self,
            cookies: Mutex::new(BTreeMap::new()),
        }
    }

    /// An app client holding `token`.
    pub fn bearer(&self, token: &str) -> BearerClient<'_> {
        BearerClient {
            app: self,
            token: token.to_owned(),
        }
    }

    pub fn unique_email(&self) -> String {
        format!("user-{}@example.com", random(10))
    }

    /// Registers an app client and returns (email, token).
    pub async fn register_app(&self) -> (String, String) {
        let email = self.unique_email();
        let reply = self
            .post_json(
                "/accounts/register",
                &serde_json::json!({"email": email, "password": PASSWORD, "client": "app"}),
            )
            .await;
        assert_eq!(reply.status, 201, "{}", reply.text);
        let token = reply.json()["token"].as_str().expect("a token").to_owned();
        (email, token)
    }

    pub async fn login_app(&self, email: &str, password: &str) -> Reply {
        self.post_json(
            "/accounts/login",
            &serde_json::json!({"email": email, "password": password, "client": "app"}),
        )
        .await
    }
}

/// A client that keeps cookies the way a browser does and, like an SPA,
/// echoes the `csrftoken` cookie in `X-CSRFToken` (unless told not to).
pub struct Browser<'a> {
    app: &'a TestApp,
    pub cookies: Mutex<BTreeMap<String, String>>,
}

impl Browser<'_> {
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies.lock().unwrap().get(name).cloned()
    }

    pub fn set_cookie(&self, name: &str, value: &str) {
        self.cookies
            .lock()
            .unwrap()
            .insert(name.into(), value.into());
    }

    fn cookie_header(&self) -> Option<HeaderValue> {
        let jar = self.cookies.lock().unwrap();
        if jar.is_empty() {
            return None;
        }
        let line = jar
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        HeaderValue::from_str(&line).ok()
    }

    fn absorb(&self, reply: &Reply) {
        let mut jar = self.cookies.lock().unwrap();
        for line in reply.set_cookies() {
            let pair = line.split(';').next().unwrap_or_default();
            let Some((name, value)) = pair.split_once('=') else {
                continue;
            };
            let expired = line.to_ascii_lowercase().contains("max-age=0") || value.is_empty();
            if expired {
                jar.remove(name.trim());
            } else {
                jar.insert(name.trim().to_owned(), value.trim().to_owned());
            }
        }
    }

    /// A request with this browser's cookies, and the CSRF header when
    /// `csrf` is true and the cookie is set.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        csrf: bool,
    ) -> Reply {
        let mut request = self.app.client.request(method, self.app.url(path));
        if let Some(cookies) = self.cookie_header() {
            request = request.header(COOKIE, cookies);
        }
        if csrf {
            if let Some(token) = self.cookie("csrftoken") {
                request = request.header("X-CSRFToken", token);
            }
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let reply = self.app.send(request).await;
        self.absorb(&reply);
        reply
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.request(Method::GET, path, None, true).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        self.request(Method::POST, path, Some(body), true).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Reply {
        self.request(Method::PATCH, path, Some(body), true).await
    }

    pub async fn post_empty(&self, path: &str) -> Reply {
        self.request(Method::POST, path, None, true).await
    }

    /// Fetches the CSRF token (as an SPA does first).
    pub async fn csrf(&self) -> String {
        let reply = self.get("/accounts/csrf").await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        reply.json()["csrf_token"]
            .as_str()
            .expect("csrf_token")
            .to_owned()
    }

    /// Registers a new account in this browser; returns its email.
    pub async fn register(&self) -> String {
        let email = self.app.unique_email();
        self.csrf().await;
        let reply = self
            .post(
                "/accounts/register",
                &serde_json::json!({"email": email, "password": PASSWORD}),
            )
            .await;
        assert_eq!(reply.status, 201, "{}", reply.text);
        email
    }

    pub async fn login(&self, email: &str, password: &str) -> Reply {
        self.post(
            "/accounts/login",
            &serde_json::json!({"email": email, "password": password}),
        )
        .await
    }
}

pub struct BearerClient<'a> {
    app: &'a TestApp,
    pub token: String,
}

impl BearerClient<'_> {
    pub async fn request(&self, method: Method, path: &str, body: Option<&Value>) -> Reply {
        let mut request = self
            .app
            .client
            .request(method, self.app.url(path))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(body);
        }
        self.app.send(request).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.request(Method::GET, path, None).await
    }

    pub async fn post_empty(&self, path: &str) -> Reply {
        self.request(Method::POST, path, None).await
    }
}

impl TestApp {
    /// Marks the address verified, as following the mailed link would
    /// (for tests about what needs a verified address, not about the link).
    pub async fn mark_email_verified(&self, email: &str) {
        let email = email.replace('\'', "''").to_lowercase();
        self.execute_sql(&format!(
            "UPDATE users SET email_verified = TRUE WHERE email_canonical = '{email}'"
        ))
        .await;
    }

    /// Runs `sql` on the app's own database, as an operator editing it by
    /// hand would (tests that play a crash or a stale copy).
    pub async fn execute_sql(&self, sql: &str) {
        let url =
            secrecy::ExposeSecret::expose_secret(&self.settings.stores.database_url).to_owned();
        let sql = sql.to_owned();
        tokio::task::spawn_blocking(move || match url.strip_prefix("sqlite://") {
            // The app writes to the same file meanwhile: wait for its lock.
            Some(path) => diesel::SqliteConnection::establish(path)
                .expect("the test database")
                .batch_execute(&format!("PRAGMA busy_timeout = 5000; {sql}"))
                .expect("the statement runs"),
            None => {
                let url = format!("{url}&gssencmode=disable");
                diesel::PgConnection::establish(&url)
                    .expect("the test database")
                    .batch_execute(&sql)
                    .expect("the statement runs")
            }
        })
        .await
        .expect("sql task");
    }

    /// The first column of the first row of `sql`, a count.
    pub async fn count_sql(&self, sql: &str) -> i64 {
        #[derive(diesel::QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        use diesel::RunQueryDsl;
        let url =
            secrecy::ExposeSecret::expose_secret(&self.settings.stores.database_url).to_owned();
        let sql = sql.to_owned();
        tokio::task::spawn_blocking(move || {
            let found: Count = match url.strip_prefix("sqlite://") {
                Some(path) => {
                    let mut conn =
                        diesel::SqliteConnection::establish(path).expect("the test database");
                    conn.batch_execute("PRAGMA busy_timeout = 5000")
                        .expect("busy timeout");
                    diesel::sql_query(&sql).get_result(&mut conn)
                }
                None => diesel::sql_query(&sql).get_result(
                    &mut diesel::PgConnection::establish(&format!("{url}&gssencmode=disable"))
                        .expect("the test database"),
                ),
            }
            .expect("the query runs");
            found.n
        })
        .await
        .expect("sql task")
    }

    /// The first column (named `s`, text) of every row of `sql`.
    pub async fn strings_sql(&self, sql: &str) -> Vec<String> {
        #[derive(diesel::QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::Text)]
            s: String,
        }
        use diesel::RunQueryDsl;
        let url =
            secrecy::ExposeSecret::expose_secret(&self.settings.stores.database_url).to_owned();
        let sql = sql.to_owned();
        tokio::task::spawn_blocking(move || {
            let rows: Vec<Row> = match url.strip_prefix("sqlite://") {
                Some(path) => {
                    let mut conn =
                        diesel::SqliteConnection::establish(path).expect("the test database");
                    conn.batch_execute("PRAGMA busy_timeout = 5000")
                        .expect("busy timeout");
                    diesel::sql_query(&sql).load(&mut conn)
                }
                None => diesel::sql_query(&sql).load(
                    &mut diesel::PgConnection::establish(&format!("{url}&gssencmode=disable"))
                        .expect("the test database"),
                ),
            }
            .expect("the query runs");
            rows.into_iter().map(|r| r.s).collect()
        })
        .await
        .expect("sql task")
    }
}
