//! Changing one's address: `POST /accounts/email/change` (asks the new
//! address to confirm, tells the old one) and
//! `POST /accounts/email/change/confirm` (spends the token: the account
//! takes the new, now verified, address; the old one is told).

use secrecy::{ExposeSecret, SecretString};

use super::{mailing, Accounts};
use crate::auth::sessions::SessionUser;
use crate::auth::tokens::{looks_like_mail_token, mail_token_hash};
use crate::db::email_tokens::{self, Purpose};
use crate::db::models::User;
use crate::db::users;
use crate::domain::password_policy::MAX_LENGTH;
use crate::domain::Email;
use crate::error::{ApiError, FieldErrors};
use crate::foreground;
use crate::mail::Mail;

const WRONG_PASSWORD: &str = "The password is not correct.";

/// An email change, as received.
pub struct EmailChange {
    pub new_email: String,
    pub password: SecretString,
    /// The client's address, for the login throttle (a wrong password
    /// counts as a failed login).
    pub client_ip: String,
}

impl Accounts {
    /// Checks the password (throttled like a login) and the new address,
    /// then mails a confirmation link to the new address and a notice to
    /// the old one. The account keeps its address until the link is used.
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
        if change.password.expose_secret().is_empty()
            || change.password.expose_secret().chars().count() > MAX_LENGTH
        {
            errors.insert("password".into(), vec![WRONG_PASSWORD.into()]);
            return Err(ApiError::Validation(errors));
        }
        if !self
            .recheck_password(&user, change.password, &change.client_ip)
            .await?
        {
            errors.insert("password".into(), vec![WRONG_PASSWORD.into()]);
        }
        let Some(new_email) = new_email.filter(|_| errors.is_empty()) else {
            return Err(ApiError::Validation(errors));
        };
        let mailer = self.mailer.clone();
        let written = self
            .db
            .run(move |conn| {
                crate::db::write_transaction(conn, |conn| {
                    if users::email_exists(conn, &new_email.canonical())? {
                        return Err(ApiError::EmailTaken);
                    }
                    let now = crate::db::now();
                    let to = new_email.as_str().to_owned();
                    let Some(token) =
                        mailing::issue_token(conn, &mailer, &user, &to, Purpose::EmailChange, now)?
                    else {
                        return Ok(false);
                    };
                    let confirm = Mail::EmailChange {
                        token: &token,
                        new_email: &to,
                    };
                    mailing::write(conn, &mailer, &user, &to, &confirm, now)?;
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
