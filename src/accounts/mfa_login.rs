//! Two-factor login, its login side: the first step (`POST
//! /accounts/login` with the right password) of a user with TOTP on makes
//! no session but an `mfa_token`; `POST /accounts/login/mfa` with that
//! token and a TOTP or recovery code makes the session the first step
//! asked for. Wrong codes count toward the account's login throttle, and
//! the token dies after `MFA_CODE_ATTEMPTS` of them.

use chrono::Utc;

use super::authentication::Client;
use super::mfa::unix_now;
use super::{Accounts, LoggedIn};
use crate::auth::mfa_logins::PendingLogin;
use crate::auth::totp;
use crate::db::models::User;
use crate::db::{mfa, users};
use crate::error::ApiError;

/// Which password hash the first step checked, without the hash itself
/// (the pending login is stored where sessions are).
fn password_fingerprint(hash: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(hash.as_bytes());
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

impl Accounts {
    /// After the right password of a user with TOTP on: `MfaRequired`
    /// with a new token for the second step.
    pub(super) async fn second_factor_needed(
        &self,
        user: &User,
        client: &Client,
    ) -> Result<ApiError, ApiError> {
        let ttl = chrono::Duration::from_std(self.settings.mfa.login_ttl).unwrap_or_default();
        let pending = PendingLogin {
            user_id: user.id,
            generation: user.session_generation,
            password: password_fingerprint(&user.password),
            client: client.kind,
            remember: client.remember,
            expires_at: Utc::now() + ttl,
        };
        let token = self.mfa_logins.create(&pending).await?;
        Ok(ApiError::MfaRequired {
            token,
            expires_at: pending.expires_at,
        })
    }

    /// The second step: the session the first step asked for, when `code`
    /// is a fresh TOTP code or an unused recovery code of the user.
    /// `client` says who asks now (its kind and remember flag are the
    /// first step's).
    pub async fn log_in_mfa(
        &self,
        token: &str,
        code: &str,
        mut client: Client,
    ) -> Result<LoggedIn, ApiError> {
        let pending = self
            .mfa_logins
            .find(token)
            .await?
            .ok_or(ApiError::MfaTokenInvalid)?;
        client.kind = pending.client;
        client.remember = pending.remember;
        client.check()?;
        let user = self
            .active_user(pending.user_id)
            .await?
            // A password set since the first step (a reset by whoever holds
            // the mailbox, a change) or a deactivation ends the login.
            .filter(|u| {
                u.session_generation == pending.generation
                    && password_fingerprint(&u.password) == pending.password
            })
            .ok_or(ApiError::MfaTokenInvalid)?;
        let attempt = self
            .throttle
            .begin(&user.email_canonical, &client.ip)
            .await?;
        let last_attempt = match self.mfa_logins.reserve(token).await {
            Ok(Some(last)) => last,
            Ok(None) => {
                self.throttle.abandon(attempt).await;
                return Err(ApiError::MfaTokenInvalid);
            }
            Err(error) => {
                self.throttle.abandon(attempt).await;
                return Err(error);
            }
        };
        let accepted = match self.spend_code(user.id, code).await {
            Ok(accepted) => accepted,
            Err(error) => {
                self.throttle.abandon(attempt).await;
                return Err(error);
            }
        };
        if !accepted {
            self.throttle.failed(attempt).await?;
            if last_attempt {
                self.mfa_logins.spend(token).await?;
            }
            return Err(ApiError::InvalidCode);
        }
        // One second step per token, however many race with the right code.
        if !self.mfa_logins.spend(token).await? {
            self.throttle.abandon(attempt).await;
            return Err(ApiError::MfaTokenInvalid);
        }
        self.throttle.succeeded(attempt).await?;
        let (id, now) = (user.id, crate::db::now());
        self.db
            .run(move |conn| users::record_login(conn, id, now))
            .await?;
        let mut user = user;
        user.last_login = Some(now);
        let session = self.start_session(&user, &client).await?;
        Ok(LoggedIn { user, session })
    }

    /// Spends `code`: a TOTP code of a step later than the last accepted
    /// one, or an unused recovery code. True when it was one.
    pub(super) async fn spend_code(&self, user_id: i32, code: &str) -> Result<bool, ApiError> {
        if totp::is_totp_code(code) {
            let device = self.db.run(move |conn| mfa::device(conn, user_id)).await?;
            let Some(device) = device.filter(|d| d.confirmed_at.is_some()) else {
                return Ok(false);
            };
            let Some(secret) = self.secret_box.open(user_id, &device.secret_sealed) else {
                tracing::error!(
                    user_id,
                    "a TOTP secret does not decrypt: was SECRET_KEY changed?"
                );
                return Ok(false);
            };
            let Some(step) = totp::matching_step(&secret, code, unix_now()) else {
                return Ok(false);
            };
            return self
                .db
                .run(move |conn| mfa::accept_step(conn, user_id, step))
                .await;
        }
        let hash = totp::recovery_hash(code);
        if code.trim().is_empty() || code.len() > 64 {
            return Ok(false);
        }
        self.db
            .run(move |conn| mfa::use_code(conn, user_id, &hash, crate::db::now()))
            .await
    }
}
