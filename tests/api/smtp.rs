//! A real SMTP server inside the test harness (`mailin-embedded`, SMTP over
//! TCP on a random port), which keeps what it receives for the tests to
//! read, and can be told to refuse (451) or to be slow. It can also be
//! started late, on a port reserved earlier, to play an outage.

use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mailin_embedded::{response, Handler, Response, Server, SslConfig};

use crate::helpers::{spawn_app_with, Backend, TestApp};

/// One message as received, decoded.
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: Vec<String>,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub message_id: String,
    pub from: String,
}

impl Mail {
    /// The token: the line of the text that is one on its own.
    pub fn token(&self) -> String {
        self.token_line()
            .unwrap_or_else(|| panic!("no token line in: {}", self.text))
    }

    pub fn has_token_line(&self) -> bool {
        self.token_line().is_some()
    }

    fn token_line(&self) -> Option<String> {
        self.text
            .lines()
            .map(str::trim)
            .find(|l| {
                l.len() == 43
                    && l.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            })
            .map(str::to_owned)
    }
}

#[derive(Default)]
struct Inbox {
    messages: Mutex<Vec<Mail>>,
    refuse: AtomicBool,
    delay_ms: AtomicU64,
    /// DATA commands begun (a message on its way in).
    data_started: AtomicUsize,
}

#[derive(Clone)]
struct Session {
    inbox: Arc<Inbox>,
    to: Vec<String>,
    data: Vec<u8>,
}

impl Handler for Session {
    fn data_start(&mut self, _domain: &str, _from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.to = to.to_vec();
        self.data.clear();
        self.inbox.data_started.fetch_add(1, Ordering::SeqCst);
        response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        let delay = self.inbox.delay_ms.load(Ordering::SeqCst);
        if delay > 0 {
            std::thread::sleep(Duration::from_millis(delay));
        }
        if self.inbox.refuse.load(Ordering::SeqCst) {
            return response::INTERNAL_ERROR;
        }
        let parsed = mail_parser::MessageParser::default()
            .parse(&self.data)
            .expect("a MIME message");
        let mail = Mail {
            to: std::mem::take(&mut self.to),
            subject: parsed.subject().unwrap_or_default().to_owned(),
            text: parsed
                .body_text(0)
                .map(|t| t.into_owned())
                .unwrap_or_default(),
            html: parsed
                .body_html(0)
                .map(|t| t.into_owned())
                .unwrap_or_default(),
            message_id: parsed.message_id().unwrap_or_default().to_owned(),
            from: parsed
                .from()
                .and_then(|f| f.first())
                .and_then(|a| a.address())
                .unwrap_or_default()
                .to_owned(),
        };
        self.inbox.messages.lock().unwrap().push(mail);
        response::OK
    }
}

pub struct SmtpServer {
    pub port: u16,
    inbox: Arc<Inbox>,
    started: AtomicBool,
}

impl SmtpServer {
    /// A server listening now.
    pub fn start() -> Self {
        let server = Self::reserve();
        server.listen();
        server
    }

    /// A port for a server that is not listening yet (connections are
    /// refused until `listen`).
    pub fn reserve() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        SmtpServer {
            port,
            inbox: Arc::default(),
            started: AtomicBool::new(false),
        }
    }

    pub fn listen(&self) {
        assert!(
            !self.started.swap(true, Ordering::SeqCst),
            "already listening"
        );
        let listener =
            TcpListener::bind(("127.0.0.1", self.port)).expect("the reserved port is free");
        let mut server = Server::new(Session {
            inbox: Arc::clone(&self.inbox),
            to: Vec::new(),
            data: Vec::new(),
        });
        server
            .with_name("smtp.test")
            .with_ssl(SslConfig::None)
            .unwrap()
            .with_num_threads(16)
            .with_tcp_listener(listener);
        std::thread::spawn(move || {
            let _ = server.serve();
        });
    }

    /// The `EMAIL_URL` that reaches this server.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Answer 451 to every message from now on (or stop doing so).
    pub fn refuse(&self, on: bool) {
        self.inbox.refuse.store(on, Ordering::SeqCst);
    }

    /// Wait this long before answering each message's data.
    pub fn delay(&self, delay: Duration) {
        self.inbox
            .delay_ms
            .store(u64::try_from(delay.as_millis()).unwrap(), Ordering::SeqCst);
    }

    pub fn data_started(&self) -> usize {
        self.inbox.data_started.load(Ordering::SeqCst)
    }

    pub fn messages(&self) -> Vec<Mail> {
        self.inbox.messages.lock().unwrap().clone()
    }

    pub fn messages_to(&self, address: &str) -> Vec<Mail> {
        self.messages()
            .into_iter()
            .filter(|m| m.to.iter().any(|t| t.eq_ignore_ascii_case(address)))
            .collect()
    }

    /// Waits (up to 20 s) until `address` has received `n` messages; they
    /// are returned oldest first.
    pub async fn wait_for(&self, address: &str, n: usize) -> Vec<Mail> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let got = self.messages_to(address);
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "{address} received {} of {n} messages: {:?}",
                got.len(),
                got.iter().map(|m| &m.subject).collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// The `n`th message (from 1) to `address` whose subject starts with
    /// `subject`, waiting for it.
    pub async fn nth_with_subject(&self, address: &str, subject: &str, n: usize) -> Mail {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let mut got: Vec<Mail> = self
                .messages_to(address)
                .into_iter()
                .filter(|m| m.subject.starts_with(subject))
                .collect();
            if got.len() >= n {
                return got.swap_remove(n - 1);
            }
            assert!(
                Instant::now() < deadline,
                "{address} received {} of {n} \"{subject}\" messages",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// The `n`th message (from 1) to `address`, waiting for it.
    pub async fn nth(&self, address: &str, n: usize) -> Mail {
        self.wait_for(address, n).await.swap_remove(n - 1)
    }
}

/// The app on `backend`, sending its mail to `smtp`, with `extra` settings.
pub async fn spawn_with_smtp(
    backend: Backend,
    smtp: &SmtpServer,
    extra: &[(&str, &str)],
) -> TestApp {
    let url = smtp.url();
    let mut settings = vec![
        ("EMAIL_URL", url.as_str()),
        ("EMAIL_RETRY_MAX_SECS", "1"),
        ("EMAIL_POLL_INTERVAL_SECS", "1"),
        ("EMAIL_FROM", "Example <noreply@example.com>"),
        ("FRONTEND_URL", "https://app.example.com"),
    ];
    settings.extend_from_slice(extra);
    spawn_app_with(backend, &settings).await
}
