//! How a message leaves: SMTP (`EMAIL_URL`: plain, STARTTLS or implicit
//! TLS, over rustls) or, by default, one `.eml` file per message under
//! `EMAIL_FILE_DIR`, so a developer needs no mail server and can open what
//! was sent.

use std::path::PathBuf;
use std::time::Duration;

use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;

use crate::config::{MailTransport, SmtpRelay, SmtpSecurity};
use crate::telemetry::spawn_blocking_in_span;

#[derive(Clone)]
pub enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files(PathBuf),
}

impl Transport {
    pub fn new(setting: &MailTransport, timeout: Duration) -> anyhow::Result<Self> {
        match setting {
            MailTransport::Files(dir) => {
                std::fs::create_dir_all(dir).map_err(|e| {
                    anyhow::anyhow!("EMAIL_FILE_DIR: cannot create {}: {e}", dir.display())
                })?;
                tracing::info!(dir = %dir.display(), "EMAIL_URL is not set: mail is written as .eml files");
                Ok(Transport::Files(dir.clone()))
            }
            MailTransport::Smtp(relay) => Ok(Transport::Smtp(smtp(relay, timeout)?)),
        }
    }

    /// Delivers one message; the error says why, for the log and the row.
    pub async fn send(&self, message: Message, file_stem: &str) -> Result<(), String> {
        match self {
            Transport::Smtp(smtp) => smtp
                .send(message)
                .await
                .map(drop)
                .map_err(|e| e.to_string()),
            Transport::Files(dir) => {
                let path = dir.join(format!("{file_stem}.eml"));
                let bytes = message.formatted();
                let written = path.clone();
                spawn_blocking_in_span(move || {
                    // Written aside and renamed: a reader never sees half a message.
                    let partial = written.with_extension("eml.partial");
                    std::fs::write(&partial, bytes)?;
                    std::fs::rename(&partial, &written)
                })
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                tracing::info!(file = %path.display(), "mail written");
                Ok(())
            }
        }
    }
}

fn smtp(
    relay: &SmtpRelay,
    timeout: Duration,
) -> anyhow::Result<AsyncSmtpTransport<Tokio1Executor>> {
    let builder = match relay.security {
        SmtpSecurity::Plain => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&relay.host),
        SmtpSecurity::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&relay.host)
            .map_err(|e| anyhow::anyhow!("EMAIL_URL: {e}"))?,
        SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&relay.host)
            .map_err(|e| anyhow::anyhow!("EMAIL_URL: {e}"))?,
    };
    let builder = builder.port(relay.port).timeout(Some(timeout));
    let builder = match &relay.credentials {
        Some((user, password)) => builder.credentials(Credentials::new(
            user.clone(),
            password.expose_secret().to_owned(),
        )),
        None => builder,
    };
    tracing::info!(host = %relay.host, port = relay.port, security = ?relay.security, "mail goes out over SMTP");
    Ok(builder.build())
}
