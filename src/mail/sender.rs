//! The sender: claims due messages from the outbox, delivers them, and
//! marks each sent, to be retried (the wait doubling from 2 s up to
//! `EMAIL_RETRY_MAX_SECS`), or given up once `EMAIL_GIVE_UP_AFTER_SECS`
//! have passed since it was written. Every instance runs one; a claim
//! keeps the others off a message while it is being sent.
//!
//! Stopping (SIGTERM) lets the message being sent finish and be marked;
//! the rest of a claimed batch is released for the next instance at once.

use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDateTime;
use lettre::message::{Mailbox, MultiPart};
use lettre::Message;
use tokio::sync::{watch, Notify};

use super::transport::Transport;
use crate::config::MailSettings;
use crate::db::outbox::{self, Message as Row};
use crate::db::Db;
use crate::error::ApiError;
use crate::metrics::Metrics;

/// Messages claimed at once: few, so a stopping instance releases little.
const BATCH: i64 = 10;

#[derive(Clone)]
pub struct Sender {
    db: Db,
    transport: Transport,
    metrics: Metrics,
    settings: MailSettings,
    wake: Arc<Notify>,
}

impl Sender {
    pub fn new(
        db: Db,
        transport: Transport,
        metrics: Metrics,
        settings: MailSettings,
        wake: Arc<Notify>,
    ) -> Self {
        Sender {
            db,
            transport,
            metrics,
            settings,
            wake,
        }
    }

    /// Waits until mail is written here, `EMAIL_POLL_INTERVAL_SECS` pass
    /// (mail written by another instance) or `stop` turns true.
    pub async fn idle(&self, stop: &mut watch::Receiver<bool>) {
        tokio::select! {
            () = self.wake.notified() => {}
            () = tokio::time::sleep(self.settings.poll_interval) => {}
            _ = stop.changed() => {}
        }
    }

    /// Delivers every message due now, batch by batch, until none is left
    /// or `stop` turns true.
    pub async fn deliver_due(&self, stop: &watch::Receiver<bool>) -> Result<(), ApiError> {
        loop {
            if *stop.borrow() {
                return Ok(());
            }
            let now = crate::db::now();
            // Long enough for every message of the batch to time out in
            // turn and be marked: no other instance claims one meanwhile.
            let whole_batch = self.settings.send_timeout * u32::try_from(BATCH + 1).unwrap_or(11)
                + Duration::from_secs(30);
            let lease = chrono::Duration::from_std(whole_batch).unwrap_or(chrono::Duration::MAX);
            let batch = self
                .db
                .run(move |conn| outbox::claim(conn, now, now + lease, BATCH))
                .await?;
            if batch.is_empty() {
                return Ok(());
            }
            let mut batch = batch.into_iter();
            while let Some(row) = batch.next() {
                if *stop.borrow() {
                    let ids: Vec<i64> =
                        std::iter::once(row.id).chain(batch.map(|r| r.id)).collect();
                    self.db
                        .run(move |conn| ids.iter().try_for_each(|id| outbox::release(conn, *id)))
                        .await?;
                    return Ok(());
                }
                // Later messages of a batch wait for the earlier ones'
                // sends: one whose account was deleted meanwhile is gone.
                let id = row.id;
                if !self.db.run(move |conn| outbox::exists(conn, id)).await? {
                    continue;
                }
                self.deliver(row).await?;
            }
        }
    }

    /// The number of messages waiting, for `/metrics`.
    pub async fn refresh_depth(&self) {
        if let Ok(depth) = self.db.run(outbox::depth).await {
            self.metrics.mail_queue_depth(depth);
        }
    }

    async fn deliver(&self, row: Row) -> Result<(), ApiError> {
        let (id, kind, attempts, created_at, expires_at) = (
            row.id,
            row.kind.clone(),
            row.attempts,
            row.created_at,
            row.expires_at,
        );
        let result = match self.build(&row) {
            Ok(message) => {
                let stem = format!(
                    "{}-{}-{id}",
                    row.created_at.format("%Y%m%dT%H%M%S"),
                    row.kind
                );
                match tokio::time::timeout(
                    self.settings.send_timeout,
                    self.transport.send(message, &stem),
                )
                .await
                {
                    Ok(sent) => sent,
                    Err(_) => Err(format!(
                        "no answer within {}s",
                        self.settings.send_timeout.as_secs()
                    )),
                }
            }
            Err(why) => Err(why),
        };
        let now = crate::db::now();
        match result {
            Ok(()) => {
                self.db
                    .run(move |conn| outbox::mark_sent(conn, id, now))
                    .await?;
                self.metrics.mail_sent(&kind);
                tracing::info!(outbox_id = id, kind, attempts, "mail sent");
            }
            Err(error) => {
                self.metrics.mail_send_failed();
                if self.gives_up(created_at, expires_at, now) {
                    tracing::error!(outbox_id = id, kind, attempts, %error, "mail given up");
                    self.metrics.mail_given_up();
                    self.db
                        .run(move |conn| outbox::mark_failed(conn, id, now, &error))
                        .await?;
                } else {
                    let next = now + self.backoff(attempts);
                    tracing::warn!(outbox_id = id, kind, attempts, %error, retry_at = %next, "mail not sent; will retry");
                    self.db
                        .run(move |conn| outbox::retry_at(conn, id, next, &error))
                        .await?;
                }
            }
        }
        Ok(())
    }

    /// Past `EMAIL_GIVE_UP_AFTER_SECS`, or past its link's expiry (a dead
    /// link helps nobody; the user can ask for a new one).
    fn gives_up(
        &self,
        created_at: NaiveDateTime,
        expires_at: Option<NaiveDateTime>,
        now: NaiveDateTime,
    ) -> bool {
        let age = (now - created_at).to_std().unwrap_or_default();
        age >= self.settings.give_up_after || expires_at.is_some_and(|end| now >= end)
    }

    /// 2 s after the first failure, doubling, at most `EMAIL_RETRY_MAX_SECS`.
    fn backoff(&self, attempts: i32) -> chrono::Duration {
        let exponent = u32::try_from(attempts.clamp(1, 20)).unwrap_or(20);
        let wait = Duration::from_secs(1u64 << exponent).min(self.settings.retry_max);
        chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX)
    }

    /// The MIME message: a plain-text and an HTML alternative.
    fn build(&self, row: &Row) -> Result<Message, String> {
        let from: Mailbox = self
            .settings
            .from
            .parse()
            .map_err(|e| format!("EMAIL_FROM: {e}"))?;
        let to: Mailbox = row
            .recipient
            .parse()
            .map_err(|e| format!("the recipient is not a mailbox: {e}"))?;
        Message::builder()
            .from(from)
            .to(to)
            .subject(&row.subject)
            .message_id(Some(row.message_id.clone()))
            .multipart(MultiPart::alternative_plain_html(
                row.body_text.clone(),
                row.body_html.clone(),
            ))
            .map_err(|e| e.to_string())
    }
}
