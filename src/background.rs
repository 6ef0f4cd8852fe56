//! What each instance runs beside its HTTP server: the purge of expired
//! rows, the media sweep, and the mail worker (reset requests turned into messages, then
//! the outbox delivered).

use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::accounts::Accounts;
use crate::mail::sender::Sender;

/// Every `interval`, deletes expired rows (sessions and counters of the
/// embedded stores, spent tokens, delivered mail), in batches. The first
/// purge runs one interval after start-up, not while a restarted fleet is
/// warming up.
pub fn spawn_purger(accounts: &Accounts, interval: Duration) {
    let accounts = accounts.clone();
    actix_web::rt::spawn(async move {
        let start = actix_web::rt::time::Instant::now() + interval;
        let mut tick = actix_web::rt::time::interval_at(start, interval);
        loop {
            tick.tick().await;
            accounts.purge_expired().await;
        }
    });
}

/// Every `interval`, removes picture files no profile points at (older
/// than `grace`). The first sweep runs one interval after start-up.
pub fn spawn_media_sweeper(accounts: &Accounts, interval: Duration, grace: Duration) {
    let accounts = accounts.clone();
    actix_web::rt::spawn(async move {
        let start = actix_web::rt::time::Instant::now() + interval;
        let mut tick = actix_web::rt::time::interval_at(start, interval);
        loop {
            tick.tick().await;
            match accounts.sweep_media(grace).await {
                Ok(0) => {}
                Ok(removed) => {
                    tracing::info!(removed, "removed picture files no profile points at")
                }
                Err(e) => tracing::warn!(error = %e, "media sweep failed; will retry"),
            }
        }
    });
}

/// The mail worker of this instance, and how to stop it.
pub struct MailWorker {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    /// How long `stop` waits for a send in flight.
    grace: Duration,
}

impl MailWorker {
    pub fn spawn(accounts: Accounts, sender: Sender, grace: Duration) -> Self {
        let (stop, mut stopped) = watch::channel(false);
        let task = actix_web::rt::spawn(async move {
            while !*stopped.borrow() {
                if let Err(e) = accounts.prepare_reset_mail().await {
                    tracing::warn!(error = %e, "reset requests not handled yet; will retry");
                }
                if let Err(e) = sender.deliver_due(&stopped).await {
                    tracing::warn!(error = %e, "mail delivery paused; will retry");
                }
                sender.refresh_depth().await;
                sender.idle(&mut stopped).await;
            }
        });
        MailWorker { stop, task, grace }
    }

    /// Stops after the message being sent (if any) is sent and marked.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        if tokio::time::timeout(self.grace, self.task).await.is_err() {
            tracing::warn!("the mail worker did not stop in time; its claimed mail is sent again after the lease");
        }
    }
}
