//! Re-authentication: `POST /accounts/reauthenticate`, and the one rule
//! every change to how a user logs in goes through (`require_consent`).
//!
//! Holding a session is not proof of being its person: a session can be
//! stolen. So changing the email, the password of an account without one,
//! the second factor, or deleting the account needs either the password in
//! the request or a session that proved its person within
//! `REAUTHENTICATION_WINDOW_SECS` (a login of any kind, or a
//! re-authentication). The proof belongs to the session that gave it.
//!
//! A new way to prove it (an emailed code, a passkey) is one more `Proof`
//! arm; a new sensitive action calls `require_consent`.

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};

use super::Accounts;
use crate::db::models::User;
use crate::domain::password_policy::MAX_LENGTH;
use crate::error::ApiError;
use crate::foreground;

pub(super) const WRONG_PASSWORD: &str = "The password is not correct.";

/// An answer to "prove it is you".
pub enum Proof {
    Password(SecretString),
    /// A TOTP code or a recovery code (TOTP on).
    Code(String),
}

/// What a sensitive action was given to show it is the owner's: a
/// password in its body (optional since v3), and when the session asking
/// last proved its person.
pub struct Consent {
    pub password: Option<SecretString>,
    pub authenticated_at: Option<DateTime<Utc>>,
    /// The client's address, for the login throttle.
    pub client_ip: String,
}

impl Accounts {
    /// Until when a session authenticated at `at` counts as recent.
    pub fn reauthenticated_until(&self, at: DateTime<Utc>) -> DateTime<Utc> {
        let window = chrono::Duration::from_std(self.settings.sessions.reauthentication_window)
            .unwrap_or_default();
        at + window
    }

    /// Checks `proof` for the logged-in user (wrong answers count toward
    /// the login throttle, as a login's do) and returns the time the
    /// session is re-authenticated at; the caller records it in the session.
    pub async fn reauthenticate(
        &self,
        user_id: i32,
        proof: Proof,
        client_ip: &str,
    ) -> Result<DateTime<Utc>, ApiError> {
        let _password_work = foreground::PasswordWork::begin();
        let user = self
            .active_user(user_id)
            .await?
            .ok_or(ApiError::NotAuthenticated)?;
        match proof {
            Proof::Password(password) => self.require_password(&user, password, client_ip).await?,
            Proof::Code(code) => self.require_code(&user, &code, client_ip).await?,
        }
        Ok(Utc::now())
    }

    /// The gate of every sensitive action: a password in the body is
    /// checked (a wrong one is 400, counted like a login), and without one
    /// the session must have proved its person within the window, or it is
    /// `403 reauthentication_required`.
    pub(super) async fn require_consent(
        &self,
        user: &User,
        consent: Consent,
    ) -> Result<(), ApiError> {
        match consent.password {
            Some(password) => {
                self.require_password(user, password, &consent.client_ip)
                    .await
            }
            None if self.is_recent(consent.authenticated_at) => Ok(()),
            None => Err(ApiError::ReauthenticationRequired),
        }
    }

    /// Whether a session authenticated at `at` is within the window now.
    pub(super) fn is_recent(&self, at: Option<DateTime<Utc>>) -> bool {
        // A time in the future (another instance's clock ahead) counts from
        // now: never longer than the window.
        at.is_some_and(|at| Utc::now() < self.reauthenticated_until(at.min(Utc::now())))
    }

    /// 400 unless `password` is the user's (counted like a login; an empty
    /// or over-long one is wrong without costing a hash).
    pub(super) async fn require_password(
        &self,
        user: &User,
        password: SecretString,
        client_ip: &str,
    ) -> Result<(), ApiError> {
        let plausible = !password.expose_secret().is_empty()
            && password.expose_secret().chars().count() <= MAX_LENGTH;
        if plausible && self.recheck_password(user, password, client_ip).await? {
            Ok(())
        } else {
            Err(ApiError::field("password", WRONG_PASSWORD))
        }
    }

    /// `400 invalid_code` unless `code` is a fresh TOTP code or an unused
    /// recovery code of the user (counted like a login's second step).
    async fn require_code(&self, user: &User, code: &str, client_ip: &str) -> Result<(), ApiError> {
        let attempt = self
            .throttle
            .begin(&user.email_canonical, client_ip)
            .await?;
        match self.spend_code(user.id, code).await {
            Ok(true) => {
                self.throttle.succeeded(attempt).await?;
                Ok(())
            }
            Ok(false) => {
                self.throttle.failed(attempt).await?;
                Err(ApiError::InvalidCode)
            }
            Err(error) => {
                self.throttle.abandon(attempt).await;
                Err(error)
            }
        }
    }
}
