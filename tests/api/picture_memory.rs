//! What one hostile upload, or many at once, makes the server allocate:
//! the real binary in a child process, its peak resident memory (`VmHWM`)
//! read from `/proc` around the uploads.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::multipart::{Form, Part};
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{fresh_database, Backend, PASSWORD};
use crate::images::{self, png_with_metadata_bomb, Bomb};

both_backends!(
    a_metadata_bomb_is_refused_without_being_inflated,
    uploads_waiting_for_the_decode_pool_hold_a_bounded_buffer,
);

/// The binary serving on a port of its own, killed when dropped.
struct Server {
    child: Child,
    base: String,
    client: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Configured by environment, as an operator would (see
    /// tests/production.py): SQLite, or a fresh PostgreSQL schema and a
    /// Redis key prefix of its own.
    async fn start(backend: Backend, settings: &[(&str, &str)]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let database_url = fresh_database(backend, dir.path()).await;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut command = Command::new(env!("CARGO_BIN_EXE_accounts"));
        command
            .arg("serve")
            .env_clear()
            .env("DATABASE_URL", database_url)
            .env("BIND_ADDRESS", format!("127.0.0.1:{port}"))
            .env("MEDIA_ROOT", dir.path().join("media"))
            .env("EMAIL_FILE_DIR", dir.path().join("outbox"))
            .env(
                "SECRET_KEY",
                "memory-test-secret-key-that-is-long-enough-0123",
            )
            .env("RUST_LOG", "warn")
            .envs(settings.iter().copied())
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if backend == Backend::PostgresRedis {
            let redis = std::env::var("TEST_REDIS_URL").expect("TEST_REDIS_URL");
            command
                .env("REDIS_URL", redis)
                .env("REDIS_KEY_PREFIX", format!("test:memory{port}:"));
        }
        let server = Server {
            child: command.spawn().expect("the binary runs"),
            base: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = server.client.get(server.url("/readyz")).send().await;
            if ready.is_ok_and(|r| r.status() == 200) {
                break server;
            }
            assert!(Instant::now() < deadline, "the binary never answered");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The process's peak resident memory so far, in MiB.
    fn peak_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let kib: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM in /proc/<pid>/status");
        kib / 1024.0
    }

    async fn register(&self, n: usize) -> String {
        let reply = self
            .client
            .post(self.url("/accounts/register"))
            .json(&json!({"email": format!("memory{n}@example.com"), "password": PASSWORD, "client": "app"}))
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 201);
        reply.json::<Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Uploads `bytes`; the status and the problem's `code`, if any.
    async fn upload(&self, token: &str, bytes: Vec<u8>) -> (u16, String) {
        let part = Part::bytes(bytes).file_name("picture.png");
        let reply = self
            .client
            .put(self.url("/accounts/me/profile/picture"))
            .bearer_auth(token)
            .multipart(Form::new().part("profile_pic", part))
            .timeout(Duration::from_secs(120))
            .send()
            .await
            .unwrap();
        let status = reply.status().as_u16();
        let body: Value = reply.json().await.unwrap_or_default();
        (status, body["code"].as_str().unwrap_or_default().to_owned())
    }
}

/// 1x1 PNGs of a few hundred KB whose `iCCP`, `zTXt` or `iTXt` chunk
/// inflates to 256 MiB: each is refused, and the server's peak memory
/// hardly moves (before the fix, the `iCCP` one alone took it up by the
/// whole 256 MiB and more, and the text ones were accepted).
async fn a_metadata_bomb_is_refused_without_being_inflated(backend: Backend) {
    let server = Server::start(backend, &[]).await;
    let token = server.register(0).await;
    // A warm-up upload, so the peak below is the bombs' alone.
    let (status, _) = server.upload(&token, images::png(16, 16)).await;
    assert_eq!(status, 200);
    let before = server.peak_mib();
    let mut replies = Vec::new();
    for bomb in [Bomb::Iccp, Bomb::Ztxt, Bomb::Itxt] {
        let file = png_with_metadata_bomb(bomb, 256 << 20);
        assert!(file.len() < 1 << 20, "{bomb:?}: {} bytes", file.len());
        replies.push((bomb, server.upload(&token, file).await));
    }
    let after = server.peak_mib();
    eprintln!("{backend:?}: peak memory {before:.1} MiB before the bombs, {after:.1} MiB after");
    assert!(
        after - before < 64.0,
        "the peak grew by {:.1} MiB",
        after - before
    );
    for (bomb, reply) in replies {
        assert_eq!(reply, (400, "invalid_image".into()), "{bomb:?}");
    }
}

/// One decode slot, kept busy by a large picture, while thirty uploads of
/// about 5 MB arrive: with `PICTURE_UPLOAD_BUFFER_BYTES` at 16 MiB, they
/// hold no more than that together while they wait (before the fix each
/// was read whole first: 30 x 5 MB).
async fn uploads_waiting_for_the_decode_pool_hold_a_bounded_buffer(backend: Backend) {
    const WAITING: usize = 30;
    let server = Server::start(
        backend,
        &[
            ("PICTURE_DECODE_CONCURRENCY", "1"),
            ("PICTURE_UPLOAD_BUFFER_BYTES", &(16 << 20).to_string()),
        ],
    )
    .await;
    let mut tokens = Vec::new();
    for n in 0..=WAITING {
        tokens.push(server.register(n).await);
    }
    // Slow to decode, small as a file.
    let slow = images::encode(
        &image::DynamicImage::ImageLuma8(image::GrayImage::from_fn(3000, 3000, |x, y| {
            image::Luma([((x ^ y) / 16) as u8])
        })),
        image::ImageFormat::Png,
    );
    // The same picture once first, so its decode is in the peak already.
    assert_eq!(server.upload(&tokens[0], slow.clone()).await.0, 200);
    let before = server.peak_mib();
    let busy = server.upload(&tokens[0], slow);
    let waiting = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let junk = vec![0x5a_u8; 5_000_000];
        let uploads = tokens[1..]
            .iter()
            .map(|token| server.upload(token, junk.clone()));
        futures_util::future::join_all(uploads).await
    };
    let (busy, waited) = tokio::join!(busy, waiting);
    assert_eq!(busy.0, 200);
    for reply in waited {
        assert_eq!(reply, (400, "invalid_image".into()));
    }
    let after = server.peak_mib();
    eprintln!(
        "{backend:?}: {WAITING} uploads of 5 MB waiting for one decode slot: peak memory {before:.1} MiB before, {after:.1} MiB after"
    );
    assert!(
        after - before < 48.0,
        "the peak grew by {:.1} MiB",
        after - before
    );
}
