//! Periodic clean-up of the embedded stores: expired sessions and login
//! counters (Redis expires its own keys).

use super::Accounts;

impl Accounts {
    /// Whether there is anything to purge in this configuration.
    pub fn needs_purging(&self) -> bool {
        self.sessions.database_store().is_some()
    }

    /// Deletes expired rows; failures are logged and retried next time.
    pub async fn purge_expired(&self) {
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
