//! `accounts import-django`, run as an operator would, on Django databases
//! that real Django 5.2 made (`tests/django/make_fixtures`): the users log
//! in through the API with their old passwords, the report names everyone
//! left out and why, and the source is never written.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use diesel::connection::SimpleConnection;
use diesel::Connection;
use reqwest::Method;
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{spawn_app, spawn_app_with, Backend, TestApp, PASSWORD};

both_backends!(
    an_auth_user_project_moves_in_and_logs_in_with_old_passwords,
    a_custom_email_user_model_moves_in,
    a_failed_batch_keeps_what_was_committed_and_a_rerun_continues,
    sources_and_flags_that_cannot_be_used_say_why_in_one_line,
);

/// Every fixture user's password, as Django hashed it.
const OLD_PASSWORD: &str = "correct horse battery staple";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/django/fixtures")
}

/// A copy of a fixture database in `dir` (the tests compare it after).
fn copy_fixture(name: &str, dir: &Path) -> PathBuf {
    let to = dir.join(name);
    std::fs::copy(fixtures().join(name), &to).expect("fixture copied");
    to
}

/// Runs `accounts import-django ARGS` against the app's own database and
/// media directory, as the operator would.
async fn import(app: &TestApp, args: &[&str]) -> Output {
    let url = secrecy::ExposeSecret::expose_secret(&app.settings.stores.database_url).to_owned();
    let media = app.settings.stores.media_root.clone();
    let batch = app.settings.limits.import_batch_size.to_string();
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_accounts"))
            .arg("import-django")
            .args(&args)
            .env_clear()
            .env("DATABASE_URL", url)
            .env("MEDIA_ROOT", media)
            .env("IMPORT_BATCH_SIZE", batch)
            .env(
                "SECRET_KEY",
                "test-secret-key-that-is-long-enough-0123456789",
            )
            .env("RUST_LOG", "error")
            .output()
            .expect("the binary runs")
    })
    .await
    .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

/// Logs in as an app; the token, or the status when refused.
async fn login(app: &TestApp, email: &str) -> Result<String, u16> {
    let reply = app.login_app(email, OLD_PASSWORD).await;
    match reply.status.as_u16() {
        200 => Ok(reply.json()["token"].as_str().unwrap().to_owned()),
        status => Err(status),
    }
}

/// The staff view of the user with `email`, through the admin API.
async fn admin_view(app: &TestApp, staff_token: &str, email: &str) -> Value {
    let found = app
        .bearer(staff_token)
        .get(&format!("/admin/users?search={email}"))
        .await;
    assert_eq!(found.status, 200, "{}", found.text);
    found.json()["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"].as_str().unwrap().eq_ignore_ascii_case(email))
        .unwrap_or_else(|| panic!("{email} was imported"))
        .clone()
}

/// A served file's bytes (200 asserted).
async fn media_bytes(app: &TestApp, path: &str) -> Vec<u8> {
    let reply = app.client.get(app.url(path)).send().await.unwrap();
    assert_eq!(reply.status(), 200, "{path}");
    reply.bytes().await.unwrap().to_vec()
}

fn picture_files(app: &TestApp) -> usize {
    std::fs::read_dir(app.settings.stores.media_root.join("profile_pics"))
        .map(|d| {
            d.filter(|e| {
                let name = e.as_ref().unwrap().file_name();
                !name.to_string_lossy().starts_with('.')
            })
            .count()
        })
        .unwrap_or(0)
}

const BUILTIN_REPORT: &str = "\
Read 12 Django user(s) from auth_user, profiles from basic_app_userprofileinfo.
Imported: 8 user(s), 7 profile(s), 1 picture(s).
Skipped users: 4
  Django user 8 (username \"nomail\", no email): the email is empty
  Django user 9 (heidi@example.com): it has the same email (ignoring case) as Django user 10 (HEIDI@example.com)
  Django user 10 (HEIDI@example.com): it has the same email (ignoring case) as Django user 9 (heidi@example.com)
  Django user 11 (ivan@example.com): an account with this email exists already
Imported without a usable password (they can set one through password reset): 2
  Django user 6 (frank@example.com): unusable password
  Django user 7 (grace@example.com): legacy hash (md5)
Pictures not imported (the user is): 3
  Django user 2 (Bob@Example.COM): profile_pics/missing.png: the file is missing
  Django user 3 (carol@example.com): profile_pics/notes.png: The file is not a PNG, JPEG, GIF or WebP image.
  Django user 12 (judy@example.com): ../outside.png: the path leaves --media-root
Fields not kept (the user is imported without them): 2
  Django user 4 (dave@example.com): username \"dave\": an account has it already
  Django user 12 (judy@example.com): portfolio_site \"not a url\": Enter a valid URL starting with http:// or https://.
";

async fn an_auth_user_project_moves_in_and_logs_in_with_old_passwords(backend: Backend) {
    let app = spawn_app(backend).await;
    // Accounts that were here first: an email and a username the Django
    // project also has.
    for (email, username) in [("Ivan@example.com", ""), ("someone@example.com", "dave")] {
        let reply = app
            .post_json(
                "/accounts/register",
                &json!({"email": email, "password": PASSWORD, "username": username, "client": "app"}),
            )
            .await;
        assert_eq!(reply.status, 201, "{}", reply.text);
    }
    let dir = tempfile::tempdir().unwrap();
    let source = copy_fixture("builtin.sqlite3", dir.path());
    let original = std::fs::read(&source).unwrap();
    let media = fixtures().join("media");
    let args = [
        sqlite_url(&source),
        "--media-root".into(),
        media.display().to_string(),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();

    let dry = import(&app, &[&args[..], &["--dry-run"]].concat()).await;
    assert!(dry.status.success(), "{}", stderr(&dry));
    let expected_dry = format!(
        "Dry run: nothing was written.\n{}",
        BUILTIN_REPORT.replace("Imported: 8", "Would import: 8")
    );
    assert_eq!(stdout(&dry), expected_dry);
    assert_eq!(app.count_sql("SELECT COUNT(*) AS n FROM users").await, 2);
    assert_eq!(picture_files(&app), 0);

    let run = import(&app, &args).await;
    assert!(run.status.success(), "{}", stderr(&run));
    assert_eq!(stdout(&run), BUILTIN_REPORT);
    assert_eq!(
        std::fs::read(&source).unwrap(),
        original,
        "the source is unchanged"
    );
    assert_eq!(app.count_sql("SELECT COUNT(*) AS n FROM users").await, 10);
    assert_eq!(
        app.count_sql("SELECT COUNT(*) AS n FROM profiles").await,
        10
    );
    assert_eq!(picture_files(&app), 1);

    // Ada, staff and superuser, logs in with her Django password: her
    // fields came along, and her picture is served re-encoded.
    let ada = login(&app, "ada@example.com").await.expect("ada logs in");
    let me = app.bearer(&ada).get("/accounts/me").await.json()["user"].clone();
    assert_eq!(me["username"], "ada");
    assert_eq!(
        (me["first_name"].as_str(), me["last_name"].as_str()),
        (Some("Ada"), Some("Lovelace"))
    );
    assert_eq!(me["is_staff"], true);
    assert_eq!(me["email_verified"], true);
    assert!(
        me["date_joined"]
            .as_str()
            .unwrap()
            .starts_with("2019-05-01T08:30:15.123456"),
        "{me}"
    );
    let profile = app.bearer(&ada).get("/accounts/me/profile").await.json()["profile"].clone();
    assert_eq!(profile["portfolio_site"], "https://ada.example.com");
    let pic = profile["profile_pic"]
        .as_str()
        .expect("a picture")
        .to_owned();
    assert!(
        pic.starts_with("/media/profile_pics/") && !pic.contains("ada"),
        "{pic}"
    );
    let image = image::load_from_memory(&media_bytes(&app, &pic).await).expect("an image");
    assert_eq!((image.width(), image.height()), (40, 30));

    // The staff view of users who have not logged in yet.
    let dave = admin_view(&app, &ada, "dave@example.com").await;
    assert_eq!(dave["username"], "", "the taken username was dropped");
    let erin = admin_view(&app, &ada, "erin@example.com").await;
    assert_eq!(erin["is_active"], false);
    assert_eq!(erin["last_login"], Value::Null);
    let bob = admin_view(&app, &ada, "bob@example.com").await;
    assert_eq!(
        bob["email"], "Bob@example.com",
        "normalised as registration does"
    );
    assert!(bob["date_joined"]
        .as_str()
        .unwrap()
        .starts_with("2020-01-02T03:04:05"));
    let ada_view = admin_view(&app, &ada, "ada@example.com").await;
    assert_eq!(ada_view["is_superuser"], true);

    // Every usable Django format logs in, and is replaced by Argon2id.
    for email in [
        "bob@example.com",
        "carol@example.com",
        "dave@example.com",
        "judy@example.com",
    ] {
        login(&app, email)
            .await
            .unwrap_or_else(|s| panic!("{email}: {s}"));
    }
    // Inactive (scrypt), unusable and legacy: refused like a wrong password.
    for email in ["erin@example.com", "frank@example.com", "grace@example.com"] {
        assert_eq!(login(&app, email).await, Err(401), "{email}");
    }
    // Reactivated by staff, the scrypt user logs in too.
    let id = erin["id"].as_i64().unwrap();
    let edit = app
        .bearer(&ada)
        .request(
            Method::PATCH,
            &format!("/admin/users/{id}"),
            Some(&json!({"is_active": true})),
        )
        .await;
    assert_eq!(edit.status, 200, "{}", edit.text);
    login(&app, "erin@example.com").await.expect("erin logs in");
    assert_eq!(
        app.count_sql(
            "SELECT COUNT(*) AS n FROM users WHERE password LIKE '$argon2id$%' AND email IN \
             ('ada@example.com', 'Bob@example.com', 'carol@example.com', 'dave@example.com', \
              'erin@example.com', 'judy@example.com')"
        )
        .await,
        6
    );
    assert_eq!(
        app.count_sql("SELECT COUNT(*) AS n FROM users WHERE password = '!'")
            .await,
        2,
        "unusable and legacy hashes are not kept"
    );

    // A rerun imports nothing new; an imported account deleted since is
    // not brought back.
    let judy = admin_view(&app, &ada, "judy@example.com").await["id"]
        .as_i64()
        .unwrap();
    let deleted = app
        .bearer(&ada)
        .request(Method::DELETE, &format!("/admin/users/{judy}"), None)
        .await;
    assert_eq!(deleted.status, 204, "{}", deleted.text);
    let again = import(&app, &args).await;
    assert!(again.status.success(), "{}", stderr(&again));
    let text = stdout(&again);
    assert!(text.contains("Imported: 0 user(s), 0 profile(s), 0 picture(s).\nAlready imported by an earlier run: 8.\n"), "{text}");
    assert!(
        text.contains(
            "Django user 11 (ivan@example.com): an account with this email exists already"
        ),
        "{text}"
    );
    assert_eq!(app.count_sql("SELECT COUNT(*) AS n FROM users").await, 9);
    assert_eq!(std::fs::read(&source).unwrap(), original);
}

/// A PostgreSQL database loaded from a fixture's dump, and its URL.
async fn postgres_source(dump: &str) -> (String, String) {
    let base = std::env::var("TEST_DATABASE_URL").expect("TEST_DATABASE_URL");
    let name = format!("django_src_{}", rand::random::<u32>());
    let sql = std::fs::read_to_string(fixtures().join(dump)).unwrap();
    let (server, _) = base
        .rsplit_once('/')
        .expect("a database in TEST_DATABASE_URL");
    let url = format!("{server}/{name}");
    let (admin, create, target) = (base.clone(), format!("CREATE DATABASE {name}"), url.clone());
    tokio::task::spawn_blocking(move || {
        let gss = |u: &str| format!("{u}?gssencmode=disable");
        diesel::PgConnection::establish(&gss(&admin))
            .unwrap()
            .batch_execute(&create)
            .unwrap();
        diesel::PgConnection::establish(&gss(&target))
            .unwrap()
            .batch_execute(&sql)
            .expect("the dump loads");
    })
    .await
    .unwrap();
    (url, name)
}

async fn a_custom_email_user_model_moves_in(backend: Backend) {
    let app = spawn_app(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let (source, pg_database) = match backend {
        Backend::Sqlite => (
            sqlite_url(&copy_fixture("custom.sqlite3", dir.path())),
            None,
        ),
        Backend::PostgresRedis => {
            let (url, name) = postgres_source("custom.pg.sql").await;
            (url, Some(name))
        }
    };
    let media = fixtures().join("media").display().to_string();

    // Without --media-root the pictures are listed, not read; the flags
    // name the tables.
    let named = import(
        &app,
        &[
            &source,
            "--user-table",
            "people_emailuser",
            "--profile-table",
            "people_profile",
            "--dry-run",
        ],
    )
    .await;
    assert!(named.status.success(), "{}", stderr(&named));
    let text = stdout(&named);
    assert!(text.contains("Read 3 Django user(s) from people_emailuser, profiles from people_profile.\nWould import: 2 user(s), 2 profile(s), 0 picture(s).\n"), "{text}");
    assert!(
        text.contains(
            "  Django user 1 (Zoe@Example.org): avatars/zoe.png: no --media-root was given\n"
        ),
        "{text}"
    );

    let run = import(&app, &[&source, "--media-root", &media]).await;
    assert!(run.status.success(), "{}", stderr(&run));
    assert_eq!(
        stdout(&run),
        "Read 3 Django user(s) from people_emailuser, profiles from people_profile.\n\
         Imported: 2 user(s), 2 profile(s), 1 picture(s).\n\
         Skipped users: 1\n  \
         Django user 3 (not-an-email): the email is not valid: Enter a valid email address.\n"
    );
    let zoe = login(&app, "zoe@example.org")
        .await
        .expect("zoe logs in (argon2)");
    let me = app.bearer(&zoe).get("/accounts/me").await.json()["user"].clone();
    assert_eq!(me["email"], "Zoe@example.org");
    assert_eq!(
        (me["username"].as_str(), me["first_name"].as_str()),
        (Some(""), Some(""))
    );
    assert_eq!(me["is_staff"], true);
    assert!(
        me["date_joined"]
            .as_str()
            .unwrap()
            .starts_with("2021-06-07T08:09:10"),
        "{me}"
    );
    let profile = app.bearer(&zoe).get("/accounts/me/profile").await.json()["profile"].clone();
    assert_eq!(profile["bio"], "Writes compilers.");
    let pic = profile["profile_pic"].as_str().unwrap();
    let image = image::load_from_memory(&media_bytes(&app, pic).await).expect("an image");
    assert_eq!((image.width(), image.height()), (20, 20));
    login(&app, "yann@example.org")
        .await
        .expect("yann logs in (pbkdf2)");
    let again = import(&app, &[&source, "--media-root", &media]).await;
    assert!(stdout(&again).contains("Imported: 0 user(s), 0 profile(s), 0 picture(s).\nAlready imported by an earlier run: 2.\n"));
    if let Some(name) = pg_database {
        drop_database(&name).await;
    }
}

async fn drop_database(name: &str) {
    let base = std::env::var("TEST_DATABASE_URL").expect("TEST_DATABASE_URL");
    let sql = format!("DROP DATABASE {name} WITH (FORCE)");
    tokio::task::spawn_blocking(move || {
        diesel::PgConnection::establish(&format!("{base}?gssencmode=disable"))
            .unwrap()
            .batch_execute(&sql)
            .unwrap();
    })
    .await
    .unwrap();
}

async fn a_failed_batch_keeps_what_was_committed_and_a_rerun_continues(backend: Backend) {
    let app = spawn_app_with(backend, &[("IMPORT_BATCH_SIZE", "2")]).await;
    let dir = tempfile::tempdir().unwrap();
    let source = sqlite_url(&copy_fixture("builtin.sqlite3", dir.path()));
    let media = fixtures().join("media").display().to_string();
    let args = [source.as_str(), "--media-root", &media];
    // The database refuses one user's insert, as a full disk or a dropped
    // connection would fail a batch.
    let refuse = |email: &str| match backend {
        Backend::Sqlite => format!(
            "DROP TRIGGER IF EXISTS refuse; CREATE TRIGGER refuse BEFORE INSERT ON users \
             WHEN NEW.email = '{email}' BEGIN SELECT RAISE(ABORT, 'refused'); END;"
        ),
        Backend::PostgresRedis => format!(
            "CREATE OR REPLACE FUNCTION refuse() RETURNS trigger AS $$ BEGIN \
             IF NEW.email = '{email}' THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$ \
             LANGUAGE plpgsql; DROP TRIGGER IF EXISTS refuse ON users; \
             CREATE TRIGGER refuse BEFORE INSERT ON users FOR EACH ROW EXECUTE FUNCTION refuse();"
        ),
    };

    // The first batch (ada and bob) fails: nothing is kept, not even
    // ada's stored picture.
    app.execute_sql(&refuse("ada@example.com")).await;
    let first = import(&app, &args).await;
    assert!(!first.status.success());
    let line = stderr(&first);
    assert_eq!(line.trim().lines().count(), 1, "{line}");
    assert!(line.contains("the 0 user(s) imported before this batch are kept: run the same command again to continue"), "{line}");
    assert_eq!(stdout(&first), "");
    assert_eq!(app.count_sql("SELECT COUNT(*) AS n FROM users").await, 0);
    assert_eq!(
        picture_files(&app),
        0,
        "the failed batch's picture is removed"
    );

    // The fourth batch (grace) fails: the first three are kept whole.
    app.execute_sql(&refuse("grace@example.com")).await;
    let second = import(&app, &args).await;
    assert!(!second.status.success());
    assert!(
        stderr(&second).contains("the 6 user(s) imported before this batch are kept"),
        "{}",
        stderr(&second)
    );
    for table in ["users", "profiles", "django_imports"] {
        let n = app
            .count_sql(&format!("SELECT COUNT(*) AS n FROM {table}"))
            .await;
        assert_eq!(n, 6, "{table}");
    }
    assert_eq!(picture_files(&app), 1);

    app.execute_sql(match backend {
        Backend::Sqlite => "DROP TRIGGER refuse",
        Backend::PostgresRedis => "DROP TRIGGER refuse ON users",
    })
    .await;
    let rerun = import(&app, &args).await;
    assert!(rerun.status.success(), "{}", stderr(&rerun));
    let text = stdout(&rerun);
    assert!(text.contains("Imported: 3 user(s), 3 profile(s), 0 picture(s).\nAlready imported by an earlier run: 6.\n"), "{text}");
    assert_eq!(app.count_sql("SELECT COUNT(*) AS n FROM users").await, 9);
    assert_eq!(picture_files(&app), 1);
    login(&app, "ivan@example.com")
        .await
        .expect("a user of the last batch logs in");
}

async fn sources_and_flags_that_cannot_be_used_say_why_in_one_line(backend: Backend) {
    let app = spawn_app(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let builtin = copy_fixture("builtin.sqlite3", d);
    std::fs::write(d.join("notes.txt"), "not a database").unwrap();
    let with_sql = |name: &str, sql: &str| {
        let path = d.join(name);
        std::fs::copy(&builtin, &path).unwrap();
        diesel::SqliteConnection::establish(path.to_str().unwrap())
            .unwrap()
            .batch_execute(sql)
            .unwrap();
        sqlite_url(&path)
    };
    let empty = d.join("empty.sqlite3");
    diesel::SqliteConnection::establish(empty.to_str().unwrap())
        .unwrap()
        .batch_execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
        .unwrap();
    let two_users = with_sql(
        "two-users.sqlite3",
        "CREATE TABLE legacy_user (id INTEGER PRIMARY KEY, email TEXT, password TEXT, last_login TEXT)",
    );
    let two_profiles = with_sql(
        "two-profiles.sqlite3",
        "CREATE TABLE other_profile (id INTEGER PRIMARY KEY, user_id INTEGER, profile_pic TEXT)",
    );
    let missing = d.join("missing.sqlite3");
    let (b, m, e, t) = (
        sqlite_url(&builtin),
        sqlite_url(&missing),
        sqlite_url(&empty),
        sqlite_url(&d.join("notes.txt")),
    );
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec![&m], "is not a file"),
        (vec![&t], "cannot read the Django database: file is not a database"),
        (vec![&e], "the Django database has no user table"),
        (vec!["mysql://localhost/app"], "is neither sqlite://PATH nor postgres://"),
        (vec!["postgres://127.0.0.1:1/app"], "cannot open the Django database: connection to server"),
        (vec![&b, "--user-table", "nope"], "the Django database has no table nope"),
        (vec![&b, "--user-table", "basic_app_userprofileinfo"], "basic_app_userprofileinfo is not a user table"),
        (vec![&b, "--profile-table", "auth_group"], "auth_group is not a profile table"),
        (vec![&two_users], "several user tables (auth_user, legacy_user): name one with --user-table"),
        (vec![&two_profiles], "several profile tables (basic_app_userprofileinfo, other_profile): name one with --profile-table"),
        (vec![&b, "--frobnicate"], "unknown option --frobnicate"),
        (vec![&b, "--media-root"], "--media-root needs a value"),
        (vec![&b, "--media-root", "/nonexistent/media"], "--media-root /nonexistent/media is not a directory"),
        (vec![], "usage: accounts import-django SOURCE_URL"),
        (vec![&b, &b], "usage: accounts import-django SOURCE_URL"),
    ];
    for (args, expected) in cases {
        let out = import(&app, &args).await;
        let err = stderr(&out);
        assert!(!out.status.success(), "{args:?}");
        assert_eq!(stdout(&out), "", "{args:?}");
        assert!(err.contains(expected), "{args:?}: {err}");
        if !expected.starts_with("usage") {
            assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
        }
    }
    assert!(!missing.exists(), "a missing source is not created");
    // A bare unsalted MD5 (Django accepts those) is named, never printed;
    // a profile table with two rows for one user gives one profile.
    let odd = with_sql(
        "odd.sqlite3",
        "INSERT INTO auth_user (id, password, last_login, is_superuser, username, first_name, \
         last_name, email, is_staff, is_active, date_joined) VALUES (13, \
         '5f4dcc3b5aa765d61d8327deb882cf99', NULL, 0, 'md5', '', '', 'md5@example.com', 0, 1, \
         '2020-01-02 03:04:05'); \
         CREATE TABLE extra_profile (id INTEGER PRIMARY KEY, user_id INTEGER, portfolio_site TEXT); \
         INSERT INTO extra_profile (user_id, portfolio_site) VALUES \
         (1, 'https://first.example.com'), (1, 'https://second.example.com');",
    );
    let out = import(
        &app,
        &[&odd, "--profile-table", "extra_profile", "--dry-run"],
    )
    .await;
    let text = stdout(&out);
    assert!(
        text.contains("  Django user 13 (md5@example.com): legacy hash (unsalted_md5)\n"),
        "{text}"
    );
    assert!(!text.contains("5f4dcc3b"), "{text}");
    assert!(
        text.contains("Read 13 Django user(s)")
            && text.contains("Would import: 10 user(s), 1 profile(s)"),
        "{text}"
    );
    // The two-user database imports once a flag picks the table.
    let picked = import(
        &app,
        &[&two_users, "--user-table", "auth_user", "--dry-run"],
    )
    .await;
    assert!(
        stdout(&picked).contains("Would import: 9 user(s)"),
        "{}",
        stderr(&picked)
    );
}
