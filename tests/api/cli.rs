//! The binary's subcommands, run as an operator would.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use crate::both_backends;
use crate::helpers::{fresh_database, spawn_app_with, Backend, PASSWORD};

both_backends!(migrate_then_createsuperuser_reads_the_password_from_stdin);

fn run(dir: &std::path::Path, database_url: &str, args: &[&str], stdin: &str) -> Output {
    run_with(dir, database_url, &[("RUST_LOG", "warn")], args, stdin)
}

/// Any key will do; PostgreSQL needs one (the development key is only
/// for the embedded database).
const SECRET_KEY: &str = "cli-test-secret-key-that-is-long-enough-0123456789";

/// The binary with only `DATABASE_URL`, `SECRET_KEY` and `env` set,
/// `stdin` piped in.
fn run_with(
    dir: &std::path::Path,
    database_url: &str,
    env: &[(&str, &str)],
    args: &[&str],
    stdin: &str,
) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_accounts"))
        .args(args)
        .env_clear()
        .env("DATABASE_URL", database_url)
        .env("SECRET_KEY", SECRET_KEY)
        .envs(env.iter().copied())
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

async fn migrate_then_createsuperuser_reads_the_password_from_stdin(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database(backend, dir.path()).await;
    let path = dir.path().to_owned();
    let (u, p) = (url.clone(), path.clone());
    let outputs = tokio::task::spawn_blocking(move || {
        let migrate = run(&p, &u, &["migrate"], "");
        let again = run(&p, &u, &["migrate"], "");
        let created = run(
            &p,
            &u,
            &["createsuperuser", "--email", "Root@Example.com"],
            &format!("{PASSWORD}\n"),
        );
        let duplicate = run(
            &p,
            &u,
            &["createsuperuser", "--email", "root@example.com"],
            &format!("{PASSWORD}\n"),
        );
        let weak = run(
            &p,
            &u,
            &["createsuperuser", "--email", "weak@example.com"],
            "12345678\n",
        );
        let no_email = run(&p, &u, &["createsuperuser"], "");
        [migrate, again, created, duplicate, weak, no_email]
    })
    .await
    .unwrap();
    let text = |o: &Output| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };
    let [migrate, again, created, duplicate, weak, no_email] = outputs;
    assert!(migrate.status.success(), "{}", text(&migrate));
    // Every migration of the backend's directory, on a fresh database.
    let directory = match backend {
        Backend::Sqlite => "sqlite",
        Backend::PostgresRedis => "postgres",
    };
    let migrations = std::fs::read_dir(format!(
        "{}/migrations/{directory}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
    .filter(|entry| entry.as_ref().unwrap().path().join("up.sql").exists())
    .count();
    assert!(migrations >= 7);
    assert!(
        text(&migrate).contains(&format!("{migrations} migration(s) applied")),
        "{}",
        text(&migrate)
    );
    assert!(
        text(&again).contains("0 migration(s) applied"),
        "{}",
        text(&again)
    );
    assert!(created.status.success(), "{}", text(&created));
    assert!(
        text(&created).contains("Superuser Root@example.com created"),
        "{}",
        text(&created)
    );
    assert!(!duplicate.status.success(), "{}", text(&duplicate));
    assert!(
        !weak.status.success() && text(&weak).contains("entirely numeric"),
        "{}",
        text(&weak)
    );
    assert!(
        !no_email.status.success() && text(&no_email).contains("--email"),
        "{}",
        text(&no_email)
    );

    // The superuser logs in through the API, as staff.
    let app = spawn_app_with(backend, &[("DATABASE_URL", &url)]).await;
    let login = app.login_app("root@example.com", PASSWORD).await;
    assert_eq!(login.status, 200, "{}", login.text);
    assert_eq!(login.json()["user"]["is_staff"], true);
    assert!(login.json()["user"]["last_login"].is_string());
}

both_backends!(logs_written_to_a_pipe_carry_no_colour_codes);

/// Colour belongs on a terminal only: a log file or a collector reading a
/// pipe must not get ANSI escape codes.
async fn logs_written_to_a_pipe_carry_no_colour_codes(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database(backend, dir.path()).await;
    let path = dir.path().to_owned();
    let output = tokio::task::spawn_blocking(move || {
        run_with(
            &path,
            &url,
            &[("LOG_FORMAT", "pretty"), ("RUST_LOG", "info")],
            &["createsuperuser", "--email", "colour@example.com"],
            &format!("{PASSWORD}\n"),
        )
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{text}");
    assert!(
        text.contains("applied database migrations"),
        "a log line was written: {text}"
    );
    assert!(!text.contains('\u{1b}'), "colour codes in a pipe: {text:?}");
}

both_backends!(users_commands_list_deactivate_and_delete_like_the_admin_api);

/// `accounts users ...` against the database (and Redis) a running server
/// uses: what it does is seen through the API at once, and each action
/// leaves an audit event.
async fn users_commands_list_deactivate_and_delete_like_the_admin_api(backend: Backend) {
    let app = spawn_app_with(backend, &[]).await;
    let stores = &app.settings.stores;
    let url = secrecy::ExposeSecret::expose_secret(&stores.database_url).to_owned();
    let mut env: Vec<(String, String)> = vec![
        ("RUST_LOG".into(), "info".into()),
        ("LOG_FORMAT".into(), "json".into()),
        ("MEDIA_ROOT".into(), stores.media_root.display().to_string()),
        ("REDIS_KEY_PREFIX".into(), stores.redis_key_prefix.clone()),
    ];
    if let Some(redis) = &stores.redis_url {
        env.push((
            "REDIS_URL".into(),
            secrecy::ExposeSecret::expose_secret(redis).to_owned(),
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let cli = |args: &[&str], stdin: &str| {
        let (dir, url, env) = (dir.path().to_owned(), url.clone(), env.clone());
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        let stdin = stdin.to_owned();
        async move {
            tokio::task::spawn_blocking(move || {
                let env: Vec<(&str, &str)> =
                    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                let out = run_with(&dir, &url, &env, &args, &stdin);
                let text = format!(
                    "{}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
                (
                    out.status.success(),
                    String::from_utf8_lossy(&out.stdout).into_owned(),
                    text,
                )
            })
            .await
            .unwrap()
        }
    };
    let register = |email: &'static str| {
        let app = &app;
        async move {
            let reply = app
                .post_json(
                    "/accounts/register",
                    &serde_json::json!({"email": email, "password": PASSWORD, "client": "app"}),
                )
                .await;
            assert_eq!(reply.status, 201, "{}", reply.text);
            reply.json()["token"].as_str().unwrap().to_owned()
        }
    };
    register("Ada.Lovelace@Example.com").await;
    let bob = register("bob@example.com").await;

    let (ok, out, all) = cli(&["users", "list"], "").await;
    assert!(ok, "{all}");
    assert!(
        out.contains("Ada.Lovelace@example.com")
            && out.contains("bob@example.com")
            && out.contains("2 user(s)"),
        "{out}"
    );
    let (ok, out, all) = cli(&["users", "list", "--search", "LOVELACE"], "").await;
    assert!(ok, "{all}");
    assert!(
        out.contains("Ada.Lovelace@example.com")
            && !out.contains("bob@")
            && out.contains("1 user(s)"),
        "{out}"
    );

    // Deactivation ends bob's session at once, and is audited.
    let (ok, _, all) = cli(&["users", "deactivate", "BOB@example.com"], "").await;
    assert!(ok, "{all}");
    assert!(
        all.contains("\"message\":\"account action\"")
            && all.contains("\"action\":\"deactivate_user\"")
            && all.contains("\"actor\":\"operator\"")
            && all.contains("\"user_id\":2"),
        "{all}"
    );
    app.bearer(&bob)
        .get("/accounts/me")
        .await
        .problem(401, "not_authenticated");
    app.login_app("bob@example.com", PASSWORD)
        .await
        .problem(401, "invalid_credentials");
    let (ok, _, all) = cli(&["users", "activate", "bob@example.com"], "").await;
    assert!(ok, "{all}");
    assert_eq!(app.login_app("bob@example.com", PASSWORD).await.status, 200);

    // Deletion asks first.
    let (ok, _, all) = cli(&["users", "delete", "bob@example.com"], "no\n").await;
    assert!(!ok && all.contains("not deleted"), "{all}");
    assert_eq!(app.login_app("bob@example.com", PASSWORD).await.status, 200);
    let (ok, _, all) = cli(&["users", "delete", "bob@example.com"], "yes\n").await;
    assert!(ok && all.contains("delete_user"), "{all}");
    app.login_app("bob@example.com", PASSWORD)
        .await
        .problem(401, "invalid_credentials");
    let (ok, _, all) = cli(
        &["users", "delete", "ada.lovelace@example.com", "--yes"],
        "",
    )
    .await;
    assert!(ok, "{all}");
    let (_, out, _) = cli(&["users", "list"], "").await;
    assert!(out.contains("0 user(s)"), "{out}");

    let (ok, _, all) = cli(&["users", "delete", "nobody@example.com", "--yes"], "").await;
    assert!(!ok && all.contains("no user has the email"), "{all}");
    let (ok, _, all) = cli(&["users", "frobnicate"], "").await;
    assert!(!ok && all.contains("usage"), "{all}");
}
