//! Two-factor login, its settings side: `GET /accounts/mfa`, TOTP setup
//! and confirmation, turning it off, new recovery codes, and staff
//! removing a user's second factor. The login side is `mfa_login.rs`.

use super::reauthentication::Consent;
use super::{mailing, Accounts};
use crate::auth::totp;
use crate::db::mfa;
use crate::db::models::User;
use crate::error::ApiError;
use crate::mail::Mail;

/// `GET /accounts/mfa`.
pub struct MfaStatus {
    pub totp_enabled: bool,
    pub recovery_codes_remaining: i64,
}

/// A new pending TOTP secret, for the authenticator app.
pub struct Enrolment {
    pub secret: String,
    pub otpauth_url: String,
}

/// The current time in seconds, as TOTP counts it.
pub(super) fn unix_now() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp()).unwrap_or_default()
}

impl Accounts {
    async fn mfa_user(&self, user_id: i32) -> Result<User, ApiError> {
        self.active_user(user_id)
            .await?
            .ok_or(ApiError::NotAuthenticated)
    }

    pub async fn mfa_status(&self, user_id: i32) -> Result<MfaStatus, ApiError> {
        self.db
            .run(move |conn| {
                Ok(MfaStatus {
                    totp_enabled: mfa::enabled(conn, user_id)?,
                    recovery_codes_remaining: mfa::codes_remaining(conn, user_id)?,
                })
            })
            .await
    }

    /// A new secret, pending until a code from it is confirmed (replacing
    /// any earlier pending one); 409 while TOTP is on. Only for a verified
    /// address (nobody plants a factor on an address they do not own) and
    /// with consent (a stolen session cannot lock its owner out).
    pub async fn begin_totp_setup(
        &self,
        user_id: i32,
        consent: Consent,
    ) -> Result<Enrolment, ApiError> {
        let user = self.mfa_user(user_id).await?;
        if !user.email_verified {
            return Err(ApiError::EmailNotVerified);
        }
        self.require_consent(&user, consent).await?;
        let secret = totp::new_secret();
        let (base32, otpauth_url) =
            totp::enrolment(&secret, &self.settings.mfa.issuer, &user.email)
                .ok_or_else(|| ApiError::internal("the otpauth URL could not be made"))?;
        let sealed = self.secret_box.seal(user.id, &secret);
        let begun = self
            .db
            .run(move |conn| mfa::begin_setup(conn, user_id, &sealed, crate::db::now()))
            .await?;
        if !begun {
            return Err(ApiError::MfaAlreadyEnabled);
        }
        Ok(Enrolment {
            secret: base32,
            otpauth_url,
        })
    }

    /// Turns TOTP on when `code` is the pending secret's; returns the
    /// recovery codes, shown this once. A notice goes to the address.
    pub async fn confirm_totp(&self, user_id: i32, code: &str) -> Result<Vec<String>, ApiError> {
        let user = self.mfa_user(user_id).await?;
        let device = self.db.run(move |conn| mfa::device(conn, user_id)).await?;
        let device = match device {
            Some(d) if d.confirmed_at.is_some() => return Err(ApiError::MfaAlreadyEnabled),
            Some(d) => d,
            None => return Err(ApiError::InvalidCode),
        };
        let secret = self
            .secret_box
            .open(user_id, &device.secret_sealed)
            .ok_or(ApiError::InvalidCode)?;
        let step = totp::matching_step(&secret, code, unix_now()).ok_or(ApiError::InvalidCode)?;
        let codes = totp::recovery_codes();
        let hashes: Vec<String> = codes.iter().map(|(_, h)| h.clone()).collect();
        let mailer = self.mailer.clone();
        let sealed = device.secret_sealed;
        let confirmed = self
            .db
            .run(move |conn| {
                crate::db::write_transaction(conn, |conn| {
                    let now = crate::db::now();
                    if !mfa::confirm(conn, user_id, &sealed, step, now)? {
                        return Ok(false);
                    }
                    mfa::replace_codes(conn, user_id, &hashes)?;
                    mailing::write(conn, &mailer, &user, &user.email, &Mail::MfaEnabled, now)?;
                    Ok(true)
                })
            })
            .await?;
        if !confirmed {
            // Another request confirmed it, or a new setup replaced the
            // secret the code was for, meanwhile.
            let now = self.db.run(move |conn| mfa::device(conn, user_id)).await?;
            return Err(match now {
                Some(d) if d.confirmed_at.is_some() => ApiError::MfaAlreadyEnabled,
                _ => ApiError::InvalidCode,
            });
        }
        self.mailer.wake();
        Ok(codes.into_iter().map(|(shown, _)| shown).collect())
    }

    /// Turns TOTP off (with consent); a notice goes to the address when it
    /// was on.
    pub async fn disable_totp(&self, user_id: i32, consent: Consent) -> Result<(), ApiError> {
        let user = self.mfa_user(user_id).await?;
        self.require_consent(&user, consent).await?;
        self.remove_mfa(user, Mail::MfaDisabled).await.map(drop)
    }

    /// A new set of recovery codes (with consent); the old set is void.
    pub async fn regenerate_recovery_codes(
        &self,
        user_id: i32,
        consent: Consent,
    ) -> Result<Vec<String>, ApiError> {
        let user = self.mfa_user(user_id).await?;
        self.require_consent(&user, consent).await?;
        let codes = totp::recovery_codes();
        let hashes: Vec<String> = codes.iter().map(|(_, h)| h.clone()).collect();
        let replaced = self
            .db
            .run(move |conn| {
                crate::db::write_transaction(conn, |conn| {
                    if !mfa::enabled(conn, user_id)? {
                        return Ok(false);
                    }
                    mfa::replace_codes(conn, user_id, &hashes)?;
                    Ok(true)
                })
            })
            .await?;
        if !replaced {
            return Err(ApiError::MfaNotEnabled);
        }
        Ok(codes.into_iter().map(|(shown, _)| shown).collect())
    }

    /// Removes the user's TOTP and recovery codes, with `notice` to the
    /// address when TOTP was on; whether it was.
    pub(super) async fn remove_mfa(
        &self,
        user: User,
        notice: Mail<'static>,
    ) -> Result<bool, ApiError> {
        let mailer = self.mailer.clone();
        let removed = self
            .db
            .run(move |conn| {
                crate::db::write_transaction(conn, |conn| {
                    let was_on = mfa::remove(conn, user.id)?;
                    if was_on {
                        let now = crate::db::now();
                        mailing::write(conn, &mailer, &user, &user.email, &notice, now)?;
                    }
                    Ok(was_on)
                })
            })
            .await?;
        if removed {
            self.mailer.wake();
        }
        Ok(removed)
    }
}
