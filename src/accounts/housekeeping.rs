//! Periodic clean-up: expired sessions and login counters of the embedded
//! stores (Redis expires its own keys), and on every backend the mail
//! tokens past their expiry, delivered mail older than a week, and logins
//! that waited in vain for their second step.
//!
//! Every kind is deleted in batches of `PURGE_BATCH_SIZE` rows, one short
//! statement each with a pause between: half a million expired sessions
//! must not stall the requests that share the database with the purge.

use std::time::Instant;

use super::Accounts;
use crate::db::{email_tokens, outbox};

/// How long a sent or given-up message's row (no body) is kept.
const KEEP_FINISHED_MAIL: chrono::Duration = chrono::Duration::days(7);

/// How many rows of each kind one purge deleted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    pub sessions: usize,
    pub login_counters: usize,
    pub mail_tokens: usize,
    pub finished_mail: usize,
    pub mfa_logins: usize,
}

impl Accounts {
    /// Deletes expired rows; failures are logged and retried next time.
    pub async fn purge_expired(&self) -> Purged {
        let started = Instant::now();
        let batch = self.settings.stores.purge_batch_size;
        let now = crate::db::now();
        let mut purged = Purged {
            mail_tokens: self
                .db
                .delete_in_batches(batch, move |conn, limit| {
                    email_tokens::delete_expired(conn, now, limit)
                })
                .await
                .unwrap_or_else(|e| warn("mail tokens", &e)),
            finished_mail: self
                .db
                .delete_in_batches(batch, move |conn, limit| {
                    outbox::delete_finished(conn, now - KEEP_FINISHED_MAIL, limit)
                })
                .await
                .unwrap_or_else(|e| warn("sent mail", &e)),
            mfa_logins: self
                .mfa_logins
                .purge_expired(batch)
                .await
                .unwrap_or_else(|e| warn("two-factor logins", &e)),
            ..Purged::default()
        };
        if let Some(store) = self.sessions.database_store() {
            purged.sessions = store
                .purge_expired(batch)
                .await
                .unwrap_or_else(|e| warn("sessions", &e));
            purged.login_counters = self
                .throttle
                .purge_expired(batch)
                .await
                .unwrap_or_else(|e| warn("login counters", &e));
        }
        if purged != Purged::default() {
            tracing::info!(
                sessions = purged.sessions,
                login_counters = purged.login_counters,
                mail_tokens = purged.mail_tokens,
                finished_mail = purged.finished_mail,
                mfa_logins = purged.mfa_logins,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "purged expired rows"
            );
        }
        purged
    }
}

fn warn(what: &str, error: &crate::error::ApiError) -> usize {
    tracing::warn!(error = %error, "could not purge expired {what}");
    0
}
