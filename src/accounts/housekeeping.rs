//! Periodic clean-up: expired sessions and login counters of the embedded
//! stores (Redis expires its own keys), and on every backend the mail
//! tokens past their expiry, delivered mail older than a week, and logins
//! that waited in vain for their second step.

use super::Accounts;
use crate::db::{email_tokens, outbox};

/// How long a sent or given-up message's row (no body) is kept.
const KEEP_FINISHED_MAIL: chrono::Duration = chrono::Duration::days(7);

impl Accounts {
    /// Deletes expired rows; failures are logged and retried next time.
    pub async fn purge_expired(&self) {
        let now = crate::db::now();
        let purged = self
            .db
            .run(move |conn| {
                email_tokens::delete_expired(conn, now)?;
                outbox::delete_finished(conn, now - KEEP_FINISHED_MAIL)
            })
            .await;
        if let Err(e) = purged {
            tracing::warn!(error = %e, "could not purge expired mail tokens and sent mail");
        }
        if let Err(e) = self.mfa_logins.purge_expired().await {
            tracing::warn!(error = %e, "could not purge expired two-factor logins");
        }
        let Some(store) = self.sessions.database_store() else {
            return;
        };
        if let Err(e) = store.purge_expired().await {
            tracing::warn!(error = %e, "could not purge expired sessions");
        }
        if let Err(e) = self.throttle.purge_expired().await {
            tracing::warn!(error = %e, "could not purge expired login counters");
        }
    }
}
