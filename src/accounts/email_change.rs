//! Changing one's address: `POST /accounts/email/change` (asks the new
//! address to confirm, tells the old one) and
//! `POST /accounts/email/change/confirm` (spends the token: the account
//! takes the new, now verified, address; the old one is told).

use super::reauthentication::Consent;
use super::{mailing, Accounts};
use crate::auth::sessions::SessionUser;
use crate::auth::tokens::{looks_like_mail_token, mail_token_hash};
use crate::db::email_tokens::{self, Purpose};
use crate::db::models::User;
use crate::db::{outbox, users};
use crate::domain::Email;
use crate::error::{ApiError, FieldErrors};
use crate::foreground;
use crate::mail::Mail;

/// An email change, as received.
pub struct EmailChange {
    pub new_email: String,
    /// The password, or a recently re-authenticated session (the client's
    /// address is the login throttle's: a wrong password counts as a
    /// failed login).
    pub consent: Consent,
}

impl Accounts {
    /// Checks the consent (password or a recent authentication) and the
    /// new address, then mails a confirmation link to the new address and
    /// a notice to the old one. The account keeps its address until the
    /// link is used. With `REQUIRE_EMAIL_VERIFICATION=true` a taken new
    /// address gets the same answer and the same notice to the old
    /// address; its owner is told someone tried it, and nothing changes.
    pub async fn request_email_change(
        &self,
        user_id: i32,
        change: EmailChange,
    ) -> Result<(), ApiError> {
        let _password_work = foreground::PasswordWork::begin();
        let user = self
            .active_user(user_id)
            .await?
            .ok_or(ApiError::NotAuthenticated)?;
        let mut errors = FieldErrors::new();
        let new_email = match Email::parse(&change.new_email) {
            Ok(email) if email.canonical() == user.email_canonical => {
                errors.insert(
                    "new_email".into(),
                    vec!["This is already your email address.".into()],
                );
                None
            }
            Ok(email) => Some(email),
            Err(e) => {
                errors.insert("new_email".into(), vec![e]);
                None
            }
        };
        match self.require_consent(&user, change.consent).await {
            Ok(()) => {}
            Err(ApiError::Validation(wrong)) => errors.extend(wrong),
            // The body's own problems first: they cost nothing to fix.
            Err(ApiError::ReauthenticationRequired) if !errors.is_empty() => {}
            Err(other) => return Err(other),
        }
        let Some(new_email) = new_email.filter(|_| errors.is_empty()) else {
            return Err(ApiError::Validation(errors));
        };
        let conceal = self.settings.mail.require_verification;
        let interval = self.settings.mail.resend_interval;
        let mailer = self.mailer.clone();
        let written = self
            .db
            .run(move |conn| {
                crate::db::write_transaction(conn, |conn| {
                    let now = crate::db::now();
                    let to = new_email.as_str().to_owned();
                    if let Some(owner) = users::find_by_email(conn, &new_email.canonical())? {
                        if !conceal {
                            return Err(ApiError::EmailTaken);
                        }
                        // As a free address's confirmation is: at most one
                        // per address each resend interval, with the notice
                        // to the old address, or nothing at all (the
                        // requester's mailbox must not tell them apart).
                        let since = now - chrono::Duration::from_std(interval).unwrap_or_default();
                        let attempt = Mail::EmailChangeAttempt;
                        if outbox::written_since(conn, attempt.kind(), &owner.email, since)? {
                            return Ok(false);
                        }
                        mailing::write(conn, &mailer, &owner, &owner.email, &attempt, now)?;
                    } else {
                        let purpose = Purpose::EmailChange;
                        let Some(token) =
                            mailing::issue_token(conn, &mailer, &user, &to, purpose, now)?
                        else {
                            return Ok(false);
                        };
                        let confirm = Mail::EmailChange {
                            token: &token,
                            new_email: &to,
                        };
                        mailing::write(conn, &mailer, &user, &to, &confirm, now)?;
                    }
                    // Taken or free alike, the old address is told.
                    let notice = Mail::EmailChangeRequested { new_email: &to };
                    mailing::write(conn, &mailer, &user, &user.email, &notice, now)?;
                    Ok(true)
                })
            })
            .await?;
        if written {
            self.mailer.wake();
        }
        Ok(())
    }

    /// Spends an email-change token: the account takes the address the
    /// token was sent to, verified; every other token of the account is
    /// void (they went to the old address); the old address gets a notice.
    pub async fn confirm_email_change(&self, token: &str) -> Result<User, ApiError> {
        if !looks_like_mail_token(token) {
            return Err(ApiError::InvalidToken);
        }
        let hash = mail_token_hash(token);
        let mailer = self.mailer.clone();
        let user = self
            .db
            .run(move |conn| {
                crate::db::write_transaction(conn, |conn| {
                    let now = crate::db::now();
                    let found = email_tokens::find_live(conn, &hash, Purpose::EmailChange, now)?
                        .ok_or(ApiError::InvalidToken)?;
                    let old = users::find(conn, found.user_id)?
                        .filter(|u| u.is_active)
                        .ok_or(ApiError::InvalidToken)?;
                    let new_email =
                        Email::parse(&found.email).map_err(|_| ApiError::InvalidToken)?;
                    if !email_tokens::spend(conn, found.id, now)? {
                        return Err(ApiError::InvalidToken);
                    }
                    let user = users::change_email(
                        conn,
                        old.id,
                        new_email.as_str(),
                        &new_email.canonical(),
                    )?;
                    email_tokens::void(conn, user.id, &Purpose::ALL, now)?;
                    let notice = Mail::EmailChanged {
                        new_email: new_email.as_str(),
                    };
                    mailing::write(conn, &mailer, &old, &old.email, &notice, now)?;
                    Ok(user)
                })
            })
            .await?;
        self.mailer.wake();
        self.sessions.cache_user(&SessionUser::from(&user)).await?;
        Ok(user)
    }
}
