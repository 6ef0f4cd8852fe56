//! Proving an address: the message registration sends, another one on
//! request (`POST /accounts/email/verification`), and spending its token
//! (`POST /accounts/email/verify`, no session needed: the link may be
//! opened on another device).

use super::password_reset::same_address;
use super::{mailing, Accounts};
use crate::auth::sessions::SessionUser;
use crate::auth::tokens::{looks_like_mail_token, mail_token_hash};
use crate::db::email_tokens::{self, Purpose};
use crate::db::models::User;
use crate::db::users;
use crate::error::ApiError;
use crate::mail::Mail;

impl Accounts {
    /// Sends a new verification message to the user's address (at most one
    /// each resend interval; a request within it is answered the same).
    pub async fn resend_verification(&self, user_id: i32) -> Result<(), ApiError> {
        let user = self
            .active_user(user_id)
            .await?
            .ok_or(ApiError::NotAuthenticated)?;
        if user.email_verified {
            return Err(ApiError::EmailAlreadyVerified);
        }
        self.mail_verification_link(user).await
    }

    /// Mails a verification link to `user`'s address, unless one went
    /// there within the resend interval.
    pub(super) async fn mail_verification_link(&self, user: User) -> Result<(), ApiError> {
        let mailer = self.mailer.clone();
        let written = self
            .db
            .run(move |conn| {
                crate::db::write_transaction(conn, |conn| {
                    let (to, now) = (user.email.clone(), crate::db::now());
                    let Some(token) = mailing::issue_token(
                        conn,
                        &mailer,
                        &user,
                        &to,
                        Purpose::EmailVerification,
                        now,
                    )?
                    else {
                        return Ok(false);
                    };
                    mailing::write(
                        conn,
                        &mailer,
                        &user,
                        &to,
                        &Mail::EmailVerification { token: &token },
                        now,
                    )?;
                    Ok(true)
                })
            })
            .await?;
        if written {
            self.mailer.wake();
        }
        Ok(())
    }

    /// Spends a verification token: the account's address is verified
    /// (if it is still the address the token was sent to).
    pub async fn verify_email(&self, token: &str) -> Result<User, ApiError> {
        if !looks_like_mail_token(token) {
            return Err(ApiError::InvalidToken);
        }
        let hash = mail_token_hash(token);
        let user = self
            .db
            .run(move |conn| {
                crate::db::write_transaction(conn, |conn| {
                    let now = crate::db::now();
                    let found =
                        email_tokens::find_live(conn, &hash, Purpose::EmailVerification, now)?
                            .ok_or(ApiError::InvalidToken)?;
                    let user = users::find(conn, found.user_id)?
                        .filter(|u| u.is_active && same_address(&found.email, &u.email_canonical))
                        .ok_or(ApiError::InvalidToken)?;
                    if !email_tokens::spend(conn, found.id, now)? {
                        return Err(ApiError::InvalidToken);
                    }
                    email_tokens::void(conn, user.id, &[Purpose::EmailVerification], now)?;
                    users::mark_email_verified(conn, user.id)
                })
            })
            .await?;
        self.sessions.cache_user(&SessionUser::from(&user)).await?;
        Ok(user)
    }
}
