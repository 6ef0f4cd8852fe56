//! Settings the binary refuses: each stops the start with one line naming
//! the variable, before anything is opened.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use accounts::config::Settings;

/// `serve` with only `env` set: whether it kept running (stopped after
/// ten seconds: a value that should have been refused was taken), and what
/// it wrote.
fn serve(env: &[(&str, &str)]) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_accounts"))
        .arg("serve")
        .env_clear()
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.path().join("db.sqlite3").display()),
        )
        .env("BIND_ADDRESS", "127.0.0.1:0")
        .envs(env.iter().copied())
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut started = false;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            started = true;
            child.kill().unwrap();
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().unwrap();
    (
        started || out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

fn assert_one_line_naming(env: &[(&str, &str)], name: &str) {
    let (started, text) = serve(env);
    assert!(!started, "{env:?}: started anyway");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "{env:?}: not one line: {text}");
    assert!(lines[0].contains(name), "{env:?}: {text}");
}

#[test]
fn every_numeric_setting_one_past_its_bound_stops_the_start() {
    let bounds = Settings::numeric_settings();
    assert!(bounds.len() >= 45, "{bounds:?}");
    for bound in &bounds {
        // One past the bound, and past what the setting's type holds.
        let above = bound
            .max
            .checked_add(1)
            .map_or_else(|| "18446744073709551616".to_owned(), |n| n.to_string());
        assert_one_line_naming(&[(&bound.name, &above)], &bound.name);
        assert_one_line_naming(&[(&bound.name, "99999999999999999999999")], &bound.name);
        // Every bound itself is a value the service takes.
        let max = bound.max.to_string();
        let ok = Settings::from_lookup(|k| (k == bound.name).then(|| max.clone()));
        assert!(ok.is_ok(), "{}={max}: {:?}", bound.name, ok.err());
    }
    // The value that overflowed `limit + overhead` in the multipart reader.
    assert_one_line_naming(
        &[("MAX_PICTURE_BYTES", "18446744073709551615")],
        "MAX_PICTURE_BYTES",
    );
}

#[test]
fn readme_shows_every_bound() {
    let readme = include_str!("../../README.md");
    for bound in Settings::numeric_settings() {
        let row = readme
            .lines()
            .find(|l| {
                l.starts_with('|')
                    && l.split('|')
                        .nth(1)
                        .is_some_and(|c| c.contains(&format!("`{}`", bound.name)))
            })
            .unwrap_or_else(|| panic!("README's settings table has no row for {}", bound.name));
        let range = format!("{} to {}", bound.min, bound.max);
        assert!(
            row.contains(&range),
            "{}: README does not say {range}: {row}",
            bound.name
        );
    }
}

#[test]
fn without_secret_key_postgres_or_a_public_address_stops_the_start() {
    assert_one_line_naming(
        &[("DATABASE_URL", "postgres://127.0.0.1:5432/accounts")],
        "SECRET_KEY",
    );
    assert_one_line_naming(&[("BIND_ADDRESS", "0.0.0.0:0")], "SECRET_KEY");
}
