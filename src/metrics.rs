//! Prometheus metrics, served at `GET /metrics`: requests by route and
//! status, their latency, login outcomes, and the latency of the session
//! store and the database as the service sees them, and the mail outbox
//! (queue depth, sent, failed attempts, given up), and the audited
//! account actions (staff actions, deletions).
//!
//! One registry per application (not a global), so that several instances
//! in one process (the tests) keep their own counts.

use std::time::Duration;

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts,
    Registry, TextEncoder,
};

/// Buckets from 0.1 ms to 10 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    http_requests: IntCounterVec,
    http_duration: HistogramVec,
    logins: IntCounterVec,
    store_duration: HistogramVec,
    database_duration: Histogram,
    picture_decode_waits: IntCounter,
    picture_buffer_waits: IntCounter,
    mail_sent: IntCounterVec,
    mail_send_failures: IntCounter,
    mail_given_up: IntCounter,
    mail_queue_depth: IntGauge,
    admin_actions: IntCounterVec,
    account_deletions: IntCounterVec,
}

/// How a login attempt ended.
#[derive(Clone, Copy, Debug)]
pub enum LoginOutcome {
    Success,
    Failure,
    Throttled,
}

impl Metrics {
    pub fn new() -> anyhow::Result<Self> {
        let registry = Registry::new_custom(Some("accounts".into()), None)?;
        let histogram = |name: &str, help: &str| {
            HistogramOpts::new(name, help).buckets(LATENCY_BUCKETS.to_vec())
        };
        let http_requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests by method, route pattern and status.",
            ),
            &["method", "route", "status"],
        )?;
        let http_duration = HistogramVec::new(
            histogram(
                "http_request_duration_seconds",
                "HTTP request latency by method and route pattern.",
            ),
            &["method", "route"],
        )?;
        let logins = IntCounterVec::new(
            Opts::new(
                "logins_total",
                "Login attempts by outcome: success, failure, throttled.",
            ),
            &["outcome"],
        )?;
        let store_duration = HistogramVec::new(
            histogram(
                "session_store_duration_seconds",
                "Session store operation latency by operation.",
            ),
            &["operation"],
        )?;
        let database_duration = Histogram::with_opts(histogram(
            "database_duration_seconds",
            "Latency of database work, from the request's side (pool wait included).",
        ))?;
        let picture_decode_waits = IntCounter::new(
            "picture_decode_waits_total",
            "Picture uploads that waited for a free decode slot (PICTURE_DECODE_CONCURRENCY).",
        )?;
        let picture_buffer_waits = IntCounter::new(
            "picture_buffer_waits_total",
            "Picture uploads that waited, before reading their body, for room in PICTURE_UPLOAD_BUFFER_BYTES.",
        )?;
        let mail_sent = IntCounterVec::new(
            Opts::new("mail_sent_total", "Messages delivered, by kind."),
            &["kind"],
        )?;
        let mail_send_failures = IntCounter::new(
            "mail_send_failures_total",
            "Delivery attempts that failed (each is retried until EMAIL_GIVE_UP_AFTER_SECS).",
        )?;
        let mail_given_up = IntCounter::new(
            "mail_given_up_total",
            "Messages given up after EMAIL_GIVE_UP_AFTER_SECS of failed attempts.",
        )?;
        let mail_queue_depth = IntGauge::new(
            "mail_queue_depth",
            "Messages in the outbox neither sent nor given up (all instances).",
        )?;
        let admin_actions = IntCounterVec::new(
            Opts::new(
                "admin_actions_total",
                "Staff and operator actions on accounts (the audit log has each), by action.",
            ),
            &["action"],
        )?;
        let account_deletions = IntCounterVec::new(
            Opts::new(
                "account_deletions_total",
                "Accounts deleted, by who deleted them: self, staff, operator.",
            ),
            &["by"],
        )?;
        registry.register(Box::new(admin_actions.clone()))?;
        registry.register(Box::new(account_deletions.clone()))?;
        registry.register(Box::new(mail_sent.clone()))?;
        registry.register(Box::new(mail_send_failures.clone()))?;
        registry.register(Box::new(mail_given_up.clone()))?;
        registry.register(Box::new(mail_queue_depth.clone()))?;
        registry.register(Box::new(http_requests.clone()))?;
        registry.register(Box::new(picture_decode_waits.clone()))?;
        registry.register(Box::new(picture_buffer_waits.clone()))?;
        registry.register(Box::new(http_duration.clone()))?;
        registry.register(Box::new(logins.clone()))?;
        registry.register(Box::new(store_duration.clone()))?;
        registry.register(Box::new(database_duration.clone()))?;
        Ok(Metrics {
            registry,
            http_requests,
            http_duration,
            logins,
            store_duration,
            database_duration,
            picture_decode_waits,
            picture_buffer_waits,
            mail_sent,
            mail_send_failures,
            mail_given_up,
            mail_queue_depth,
            admin_actions,
            account_deletions,
        })
    }

    pub fn observe_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        // Any token is a valid method name: unknown ones share one label,
        // or a client could make a series per request.
        let method = match method {
            "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS" => method,
            _ => "other",
        };
        self.http_requests
            .with_label_values(&[method, route, &status.to_string()])
            .inc();
        self.http_duration
            .with_label_values(&[method, route])
            .observe(elapsed.as_secs_f64());
    }

    pub fn login(&self, outcome: LoginOutcome) {
        let label = match outcome {
            LoginOutcome::Success => "success",
            LoginOutcome::Failure => "failure",
            LoginOutcome::Throttled => "throttled",
        };
        self.logins.with_label_values(&[label]).inc();
    }

    pub fn observe_store(&self, operation: &str, elapsed: Duration) {
        self.store_duration
            .with_label_values(&[operation])
            .observe(elapsed.as_secs_f64());
    }

    pub fn picture_decode_waited(&self) {
        self.picture_decode_waits.inc();
    }

    pub fn picture_buffer_waited(&self) {
        self.picture_buffer_waits.inc();
    }

    pub fn mail_sent(&self, kind: &str) {
        self.mail_sent.with_label_values(&[kind]).inc();
    }

    pub fn mail_send_failed(&self) {
        self.mail_send_failures.inc();
    }

    pub fn mail_given_up(&self) {
        self.mail_given_up.inc();
    }

    pub fn mail_queue_depth(&self, depth: i64) {
        self.mail_queue_depth.set(depth);
    }

    pub fn admin_action(&self, action: &str) {
        self.admin_actions.with_label_values(&[action]).inc();
    }

    pub fn account_deleted(&self, by: &str) {
        self.account_deletions.with_label_values(&[by]).inc();
    }

    pub fn database(&self) -> Histogram {
        self.database_duration.clone()
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::warn!(error = %e, "could not encode metrics");
        }
        String::from_utf8(out).unwrap_or_default()
    }
}
