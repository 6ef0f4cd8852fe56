//! Mail: what a message says (`Mailer::compose`, from the templates), how
//! it leaves (`transport`) and the sender that delivers the outbox
//! (`sender`). Use cases compose a message and write it to the outbox in
//! the transaction of the change that needs it; nothing is sent on a
//! request's path.

pub mod sender;
pub mod templates;
pub mod transport;

use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDateTime;
use minijinja::context;
use rand::RngCore;
use tokio::sync::Notify;

use crate::config::MailSettings;
use crate::db::models::User;
use crate::db::outbox::NewMessage;
use crate::domain::Email;
use crate::error::ApiError;
use templates::Templates;

/// One message to write, with what its template needs. Tokens are passed
/// in and end up only in the message (and the outbox row until it is sent).
pub enum Mail<'a> {
    PasswordReset {
        token: &'a str,
    },
    EmailVerification {
        token: &'a str,
    },
    /// To the new address.
    EmailChange {
        token: &'a str,
        new_email: &'a str,
    },
    /// Notice to the old address when a change is asked for.
    EmailChangeRequested {
        new_email: &'a str,
    },
    /// Notice to the owner of an address another account asked to change
    /// to (`REQUIRE_EMAIL_VERIFICATION=true`, where the answer is 202).
    EmailChangeAttempt,
    /// Notice to the old address when a change is confirmed.
    EmailChanged {
        new_email: &'a str,
    },
    PasswordChanged,
    SignupAttempt,
    /// Notice that the account and everything of it is gone.
    AccountDeleted,
    /// Notices about the second factor: turned on, turned off by the
    /// user, removed by staff.
    MfaEnabled,
    MfaDisabled,
    MfaRemoved,
}

impl Mail<'_> {
    pub fn kind(&self) -> &'static str {
        match self {
            Mail::PasswordReset { .. } => "password_reset",
            Mail::EmailVerification { .. } => "email_verification",
            Mail::EmailChange { .. } => "email_change",
            Mail::EmailChangeRequested { .. } => "email_change_requested",
            Mail::EmailChangeAttempt => "email_change_attempt",
            Mail::EmailChanged { .. } => "email_changed",
            Mail::PasswordChanged => "password_changed",
            Mail::SignupAttempt => "signup_attempt",
            Mail::AccountDeleted => "account_deleted",
            Mail::MfaEnabled => "mfa_enabled",
            Mail::MfaDisabled => "mfa_disabled",
            Mail::MfaRemoved => "mfa_removed",
        }
    }
}

/// Composes messages and wakes this instance's sender when one is written.
#[derive(Clone)]
pub struct Mailer {
    templates: Arc<Templates>,
    settings: MailSettings,
    /// Where `Message-ID`s are made (the sender's domain).
    id_domain: String,
    wake: Arc<Notify>,
}

impl Mailer {
    pub fn new(settings: &MailSettings) -> anyhow::Result<Self> {
        let templates = Templates::load(settings.templates_dir.as_deref())?;
        let id_domain = settings
            .from
            .parse::<lettre::message::Mailbox>()
            .map(|m| m.email.domain().to_owned())
            .unwrap_or_else(|_| "localhost".into());
        Ok(Mailer {
            templates: Arc::new(templates),
            settings: settings.clone(),
            id_domain,
            wake: Arc::new(Notify::new()),
        })
    }

    pub fn settings(&self) -> &MailSettings {
        &self.settings
    }

    /// The sender waits on this between rounds.
    pub fn wake_handle(&self) -> Arc<Notify> {
        Arc::clone(&self.wake)
    }

    /// Tells this instance's sender that mail was committed.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Renders `mail` for `user` at `to` (the account's address, or the new
    /// one for an email change), ready for the outbox.
    pub fn compose(
        &self,
        mail: &Mail<'_>,
        user: &User,
        to: &str,
        now: NaiveDateTime,
    ) -> Result<NewMessage, ApiError> {
        let links = &self.settings.links;
        let (token, link, ttl, new_email) = match mail {
            Mail::PasswordReset { token } => {
                (*token, &links.password_reset, self.settings.reset_ttl, "")
            }
            Mail::EmailVerification { token } => {
                (*token, &links.email_verify, self.settings.verify_ttl, "")
            }
            Mail::EmailChange { token, new_email } => (
                *token,
                &links.email_change,
                self.settings.change_ttl,
                *new_email,
            ),
            Mail::EmailChangeRequested { new_email } | Mail::EmailChanged { new_email } => {
                ("", &links.password_reset, Duration::ZERO, *new_email)
            }
            Mail::PasswordChanged
            | Mail::EmailChangeAttempt
            | Mail::SignupAttempt
            | Mail::AccountDeleted
            | Mail::MfaEnabled
            | Mail::MfaDisabled
            | Mail::MfaRemoved => ("", &links.password_reset, Duration::ZERO, ""),
        };
        let link = link.replace("{token}", token);
        // A name is text whoever holds the account typed: it goes only to
        // the address that account proved is its own. Mail to an unverified
        // or new address may reach someone else (a squatted address, one
        // chosen by whoever holds a session), who is greeted by nobody.
        let own_verified_address = user.email_verified
            && Email::parse(to).is_ok_and(|e| e.canonical() == user.email_canonical);
        let name = if own_verified_address {
            [&user.first_name, &user.username]
                .into_iter()
                .find(|s| !s.trim().is_empty())
                .cloned()
                .unwrap_or_else(|| user.email.clone())
        } else {
            String::new()
        };
        let rendered = self
            .templates
            .render(
                mail.kind(),
                context! {
                    product_name => &self.settings.product_name,
                    name => name,
                    email => to,
                    new_email => new_email,
                    link => link,
                    token => token,
                    expires_in => in_words(ttl),
                    when => now.format("%-d %B %Y at %H:%M UTC").to_string(),
                },
            )
            .map_err(|e| {
                // The kind and place only: with minijinja's debug info the
                // full error lists the variables, the token among them.
                ApiError::internal(format!(
                    "email template {}: {:?} at {}:{}",
                    mail.kind(),
                    e.kind(),
                    e.name().unwrap_or_default(),
                    e.line().unwrap_or_default()
                ))
            })?;
        Ok(NewMessage {
            kind: mail.kind().to_owned(),
            message_id: self.message_id(),
            recipient: to.to_owned(),
            subject: rendered.subject,
            body_text: rendered.text,
            body_html: rendered.html,
            created_at: now,
            expires_at: (!token.is_empty())
                .then(|| chrono::Duration::from_std(ttl).ok())
                .flatten()
                .and_then(|ttl| now.checked_add_signed(ttl)),
            next_attempt_at: now,
            user_id: (!matches!(mail, Mail::AccountDeleted)).then_some(user.id),
        })
    }

    fn message_id(&self) -> String {
        let mut bytes = [0u8; 16];
        rand::rng().fill_bytes(&mut bytes);
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        format!("<{hex}@{}>", self.id_domain)
    }
}

/// "1 hour", "3 days", "90 minutes": how long a link lasts, as a person
/// says it (the largest unit that divides it, else minutes).
pub fn in_words(duration: Duration) -> String {
    let secs = duration.as_secs();
    let (n, unit) = if secs >= 86_400 && secs % 86_400 == 0 {
        (secs / 86_400, "day")
    } else if secs >= 3600 && secs % 3600 == 0 {
        (secs / 3600, "hour")
    } else if secs >= 60 {
        (secs.div_ceil(60), "minute")
    } else {
        (secs, "second")
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::in_words;
    use std::time::Duration;

    #[test]
    fn durations_in_words() {
        for (secs, words) in [
            (3600, "1 hour"),
            (259_200, "3 days"),
            (5400, "90 minutes"),
            (60, "1 minute"),
            (7200, "2 hours"),
            (30, "30 seconds"),
        ] {
            assert_eq!(in_words(Duration::from_secs(secs)), words);
        }
    }
}
