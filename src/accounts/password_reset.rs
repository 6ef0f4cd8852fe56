//! Password reset: `POST /accounts/password/reset` (ask for a link) and
//! `POST /accounts/password/reset/confirm` (spend it on a new password).
//!
//! The request answers the same, after the same work, for every email: it
//! records the request and returns. Whether an account exists, and whether
//! a link went to it within the resend interval, is decided later by
//! `prepare_reset_mail`, run by the mail sender.

use secrecy::SecretString;

use super::{mailing, push, Accounts};
use crate::auth::sessions::SessionUser;
use crate::auth::tokens::{looks_like_mail_token, mail_token_hash};
use crate::db::email_tokens::{self, Purpose};
use crate::db::{reset_requests, users};
use crate::domain::Email;
use crate::error::{ApiError, FieldErrors};
use crate::foreground;
use crate::mail::Mail;

/// Requests handled in one transaction by the sender.
const REQUESTS_PER_ROUND: i64 = 50;

impl Accounts {
    /// Records a reset request for `email` from `client_ip` (limited per
    /// address: `PASSWORD_RESETS_PER_IP`).
    pub async fn request_password_reset(
        &self,
        email: &str,
        client_ip: &str,
    ) -> Result<(), ApiError> {
        let email = Email::parse(email).map_err(|e| ApiError::field("email", e))?;
        self.resets.count(client_ip).await?;
        let canonical = email.canonical();
        let now = crate::db::now();
        self.db
            .run(move |conn| reset_requests::insert(conn, &canonical, now))
            .await?;
        self.mailer.wake();
        Ok(())
    }

    /// Turns recorded requests into reset messages: one for each active
    /// account that was not sent one within the resend interval; nothing
    /// for unknown emails. Requests, tokens and messages change in one
    /// transaction, so a failure leaves the requests to the next round.
    /// Returns how many requests were handled.
    pub async fn prepare_reset_mail(&self) -> Result<usize, ApiError> {
        let mailer = self.mailer.clone();
        self.db
            .run(move |conn| {
                crate::db::write_transaction(conn, |conn| {
                    let requests = reset_requests::take(conn, REQUESTS_PER_ROUND)?;
                    let now = crate::db::now();
                    for request in &requests {
                        let Some(user) = users::find_by_email(conn, &request.email_canonical)?
                        else {
                            continue;
                        };
                        if !user.is_active {
                            continue;
                        }
                        let to = user.email.clone();
                        if let Some(token) = mailing::issue_token(
                            conn,
                            &mailer,
                            &user,
                            &to,
                            Purpose::PasswordReset,
                            now,
                        )? {
                            let mail = Mail::PasswordReset { token: &token };
                            mailing::write(conn, &mailer, &user, &to, &mail, now)?;
                        }
                    }
                    Ok(requests.len())
                })
            })
            .await
    }

    /// Spends a reset token on a new password. A password that breaks a
    /// rule is refused before the token is spent. Then: every session of
    /// the user ends, the account's login failures are forgotten, its
    /// address counts as verified (the link reached it), every other token
    /// is void, and a notice goes out. Nobody is logged in.
    pub async fn confirm_password_reset(
        &self,
        token: &str,
        new_password: SecretString,
    ) -> Result<(), ApiError> {
        let _password_work = foreground::PasswordWork::begin();
        if !looks_like_mail_token(token) {
            return Err(ApiError::InvalidToken);
        }
        let hash = mail_token_hash(token);
        let now = crate::db::now();
        let (found, user) = self
            .db
            .run(move |conn| {
                let Some(found) =
                    email_tokens::find_live(conn, &hash, Purpose::PasswordReset, now)?
                else {
                    return Ok(None);
                };
                Ok(users::find(conn, found.user_id)?.map(|user| (found, user)))
            })
            .await?
            .filter(|(found, user)| {
                user.is_active && same_address(&found.email, &user.email_canonical)
            })
            .ok_or(ApiError::InvalidToken)?;
        let mut errors = FieldErrors::new();
        let problems = self
            .passwords
            .check_rules(
                new_password.clone(),
                user.email.clone(),
                user.username.clone(),
            )
            .await?;
        push(&mut errors, "new_password", problems);
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors));
        }
        let new_hash = self.passwords.hash(new_password).await?;
        // Sessions end before the password changes (if the store is down,
        // nothing has changed and the token still works) and again after
        // (one started meanwhile with the old password).
        self.sessions.revoke_all(user.id).await?;
        let mailer = self.mailer.clone();
        let changed = user.clone();
        let changed = self
            .db
            .run(move |conn| {
                crate::db::write_transaction(conn, |conn| {
                    let now = crate::db::now();
                    if !email_tokens::spend(conn, found.id, now)? {
                        return Err(ApiError::InvalidToken);
                    }
                    // The generation moves on: a login whose old password
                    // was checked before this gets no session after it.
                    users::replace_password(conn, changed.id, new_hash)?;
                    // The link proved the address is theirs.
                    let verified = users::mark_email_verified(conn, changed.id)?;
                    // Every other link too: an email change someone else
                    // asked for must not outlive the password it knew.
                    email_tokens::void(conn, changed.id, &Purpose::ALL, now)?;
                    mailing::write(
                        conn,
                        &mailer,
                        &changed,
                        &changed.email,
                        &Mail::PasswordChanged,
                        now,
                    )?;
                    Ok(verified)
                })
            })
            .await?;
        self.mailer.wake();
        let cached = self.sessions.cache_user(&SessionUser::from(&changed)).await;
        self.sessions.revoke_all(user.id).await?;
        cached?;
        self.throttle.clear_account(&user.email_canonical).await
    }
}

/// Whether a token sent to `sent_to` still speaks for an account now at
/// `canonical`: a token mailed to an address the account no longer has
/// proves nothing.
pub(super) fn same_address(sent_to: &str, canonical: &str) -> bool {
    Email::parse(sent_to).is_ok_and(|e| e.canonical() == canonical)
}
