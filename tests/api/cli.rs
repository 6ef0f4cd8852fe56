//! The binary's subcommands, run as an operator would.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use crate::both_backends;
use crate::helpers::{fresh_database, spawn_app_with, Backend, PASSWORD};

both_backends!(migrate_then_createsuperuser_reads_the_password_from_stdin);

fn run(dir: &std::path::Path, database_url: &str, args: &[&str], stdin: &str) -> Output {
    run_with(dir, database_url, &[("RUST_LOG", "warn")], args, stdin)
}

/// The binary with only `DATABASE_URL` and `env` set, `stdin` piped in.
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
    assert!(
        text(&migrate).contains("3 migration(s) applied"),
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
