//! Changing one's password: `POST /accounts/password/change`. Every link
//! still out (reset, verification, email change) is void, and a notice goes
//! to the account's address.

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};

use super::reauthentication::Consent;
use super::{mailing, push, Accounts};
use crate::auth::passwords::is_usable;
use crate::auth::sessions::SessionUser;
use crate::db::email_tokens::{self, Purpose};
use crate::db::users;
use crate::domain::password_policy::MAX_LENGTH;
use crate::error::{ApiError, FieldErrors};
use crate::foreground;
use crate::mail::Mail;

const REQUIRED: &str = "This field is required.";
const WRONG_CURRENT_PASSWORD: &str =
    "Your old password was entered incorrectly. Please enter it again.";

/// A password change, as received.
pub struct PasswordChange {
    /// `None` only for an account without a usable password, which sets
    /// its first one from a recently re-authenticated session.
    pub current: Option<SecretString>,
    pub new: SecretString,
    /// When the session asking last proved its person.
    pub authenticated_at: Option<DateTime<Utc>>,
    /// The client's address, for the per-address throttle.
    pub client_ip: String,
    /// The public id of the session asking, which stays; every other
    /// session of the user ends.
    pub keep_session: Option<String>,
}

impl Accounts {
    /// Checks the current password (throttled like a login: a stolen
    /// session must not become a password oracle), applies the rules to the
    /// new one, stores its hash and ends every other session of the user,
    /// on every instance. Returns the user's new session generation: the
    /// caller moves the kept session to it (and renews a browser's key).
    pub async fn change_password(
        &self,
        user_id: i32,
        change: PasswordChange,
    ) -> Result<i32, ApiError> {
        let _password_work = foreground::PasswordWork::begin();
        // The stored hash is needed here, so the full row.
        let user = self
            .active_user(user_id)
            .await?
            .ok_or(ApiError::NotAuthenticated)?;
        let PasswordChange {
            current,
            new,
            authenticated_at,
            client_ip,
            keep_session,
        } = change;
        let mut errors = FieldErrors::new();
        // A first password (the account has none it could send): the
        // session must have proved its person instead.
        let first_password = current.is_none() && !is_usable(&user.password);
        if first_password {
            let consent = Consent {
                password: None,
                authenticated_at,
                client_ip: client_ip.clone(),
            };
            self.require_consent(&user, consent).await?;
        } else if current.is_none() {
            push(&mut errors, "current_password", [REQUIRED.to_owned()]);
        }
        let current = current.unwrap_or_default();
        if current.expose_secret().chars().count() > MAX_LENGTH {
            push(
                &mut errors,
                "current_password",
                [WRONG_CURRENT_PASSWORD.to_owned()],
            );
        }
        let problems = self
            .passwords
            .check_rules(new.clone(), user.email.clone(), user.username.clone())
            .await?;
        push(&mut errors, "new_password", problems);
        if errors.contains_key("current_password") {
            return Err(ApiError::Validation(errors));
        }
        if !first_password && !self.recheck_password(&user, current, &client_ip).await? {
            push(
                &mut errors,
                "current_password",
                [WRONG_CURRENT_PASSWORD.to_owned()],
            );
        }
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors));
        }
        let hash = self.passwords.hash(new).await?;
        let id = user.id;
        let mailer = self.mailer.clone();
        // The new hash, the next session generation, the end of every
        // reset link and the notice: one transaction.
        let changed = self
            .db
            .run(move |conn| {
                crate::db::write_transaction(conn, |conn| {
                    let now = crate::db::now();
                    let changed = users::replace_password(conn, id, hash)?;
                    // Every link still out, an email change's included: whoever
                    // asked for it may be who the new password shuts out.
                    email_tokens::void(conn, id, &Purpose::ALL, now)?;
                    mailing::write(
                        conn,
                        &mailer,
                        &user,
                        &user.email,
                        &Mail::PasswordChanged,
                        now,
                    )?;
                    Ok(changed)
                })
            })
            .await?;
        self.mailer.wake();
        // Sessions are loaded with the cached user: the new generation
        // must be there before a login in flight can use its session.
        // Both, whichever fails: a Redis blip in the first must not leave
        // the other sessions alive.
        let cached = self.sessions.cache_user(&SessionUser::from(&changed)).await;
        self.sessions
            .revoke_others(id, keep_session.as_deref().unwrap_or_default())
            .await?;
        cached?;
        Ok(changed.session_generation)
    }
}
