//! Registration: `POST /accounts/register`, and `accounts createsuperuser`.
//!
//! A self-service registration mails a verification link to the new
//! address. With `REQUIRE_EMAIL_VERIFICATION` it starts no session and
//! answers the same whether the email was free or taken (the owner of a
//! taken one is told by mail instead), so it reveals nothing.

use secrecy::SecretString;

use super::authentication::Client;
use super::{mailing, push, Accounts, LoggedIn};
use crate::db::email_tokens::Purpose;
use crate::db::models::{NewUser, User};
use crate::db::{outbox, users};
use crate::domain::{parse_name, parse_username, Email};
use crate::error::{ApiError, FieldErrors};
use crate::foreground;
use crate::mail::Mail;

/// What a registration asks for, as received.
pub struct Registration {
    pub email: String,
    pub password: SecretString,
    pub username: String,
    pub first_name: String,
    pub last_name: String,
    pub is_staff: bool,
    pub is_superuser: bool,
    /// Registration through the API logs the new user in (and so sets
    /// `last_login`); `createsuperuser` does not.
    pub logs_in: bool,
}

/// How a self-service registration ended.
pub enum SignedUp {
    LoggedIn(Box<LoggedIn>),
    /// `REQUIRE_EMAIL_VERIFICATION`: mail went out (to a new account, or
    /// a notice to the owner of a taken address); nothing else is said.
    CheckYourEmail,
}

/// A registration whose every field keeps its rules.
struct Valid {
    email: Email,
    username: String,
    first_name: String,
    last_name: String,
    input: Registration,
}

impl Accounts {
    /// Registers a user through the API and logs them in as `client`.
    /// Attempts that get as far as the email check count against the
    /// address's registration limit (`REGISTRATIONS_PER_IP`).
    pub async fn sign_up(&self, input: Registration, client: Client) -> Result<SignedUp, ApiError> {
        let _password_work = foreground::PasswordWork::begin();
        client.check()?;
        let valid = self.validate(input).await?;
        self.registrations.count(&client.ip).await?;
        if self.settings.mail.require_verification {
            self.sign_up_unseen(valid).await?;
            return Ok(SignedUp::CheckYourEmail);
        }
        let user = self.create(valid, true).await?;
        let session = self.start_session(&user, &client).await?;
        Ok(SignedUp::LoggedIn(Box::new(LoggedIn { user, session })))
    }

    /// Validates every field (all problems at once), then creates the user
    /// and its profile, its address taken as verified (an operator vouches
    /// for it). A taken email is 409 however the race is run.
    pub async fn register(&self, input: Registration) -> Result<User, ApiError> {
        let valid = self.validate(input).await?;
        self.create(valid, false).await
    }

    /// Registration that reveals nothing: a new email gets an account and
    /// a verification link; a taken one costs the same hash, and its owner
    /// gets a "someone tried to sign up with your address" notice (at most
    /// one per resend interval). A taken username is the same 400 for both.
    async fn sign_up_unseen(&self, valid: Valid) -> Result<(), ApiError> {
        let canonical = valid.email.canonical();
        let (probe, username) = (canonical.clone(), valid.username.clone());
        let (taken, username_taken) = self
            .db
            .run(move |conn| {
                let username_taken =
                    !username.is_empty() && users::username_exists(conn, &username)?;
                Ok((users::email_exists(conn, &probe)?, username_taken))
            })
            .await?;
        // Checked first, so it is the same 400 for a new and a taken email
        // (checked only on the new one, it would tell the two apart).
        if username_taken {
            return Err(users::username_taken());
        }
        if !taken {
            match self.create(valid, true).await {
                Err(ApiError::EmailTaken) => {}
                other => return other.map(drop),
            }
        } else {
            // The same Argon2 work as a new account's hash.
            self.passwords.hash(valid.input.password).await?;
        }
        let mailer = self.mailer.clone();
        let interval = self.settings.mail.resend_interval;
        self.db
            .run(move |conn| {
                crate::db::write_transaction(conn, |conn| {
                    let Some(owner) = users::find_by_email(conn, &canonical)? else {
                        return Ok(());
                    };
                    let now = crate::db::now();
                    let to = owner.email.clone();
                    // Verified or not, the owner gets a notice, never a
                    // verification link: that link would verify an account
                    // whose password whoever registered first chose. The
                    // notice points to a password reset, which proves the
                    // address (and verifies it).
                    let since = now - chrono::Duration::from_std(interval).unwrap_or_default();
                    if !outbox::written_since(conn, Mail::SignupAttempt.kind(), &to, since)? {
                        mailing::write(conn, &mailer, &owner, &to, &Mail::SignupAttempt, now)?;
                    }
                    Ok(())
                })
            })
            .await?;
        self.mailer.wake();
        Ok(())
    }

    async fn validate(&self, input: Registration) -> Result<Valid, ApiError> {
        let mut errors = FieldErrors::new();
        let email = Email::parse(&input.email)
            .map_err(|e| push(&mut errors, "email", [e]))
            .ok();
        let username = parse_username(&input.username)
            .map_err(|e| push(&mut errors, "username", [e]))
            .ok();
        let first_name = parse_name(&input.first_name)
            .map_err(|e| push(&mut errors, "first_name", [e]))
            .ok();
        let last_name = parse_name(&input.last_name)
            .map_err(|e| push(&mut errors, "last_name", [e]))
            .ok();
        let problems = self
            .passwords
            .check_rules(
                input.password.clone(),
                email
                    .as_ref()
                    .map_or(input.email.as_str(), Email::as_str)
                    .to_owned(),
                username.clone().unwrap_or_default(),
            )
            .await?;
        push(&mut errors, "password", problems);
        let (Some(email), Some(username), Some(first_name), Some(last_name), true) =
            (email, username, first_name, last_name, errors.is_empty())
        else {
            return Err(ApiError::Validation(errors));
        };
        Ok(Valid {
            email,
            username,
            first_name,
            last_name,
            input,
        })
    }

    /// Creates the user; a self-service one (`self_service`) has its
    /// address unverified and is mailed a verification link in the same
    /// transaction.
    async fn create(&self, valid: Valid, self_service: bool) -> Result<User, ApiError> {
        let Valid {
            email,
            username,
            first_name,
            last_name,
            input,
        } = valid;
        let canonical = email.canonical();
        // Cheap early answer before the expensive hash; the unique index
        // still decides races.
        let probe = canonical.clone();
        if self
            .db
            .run(move |conn| users::email_exists(conn, &probe))
            .await?
        {
            return Err(ApiError::EmailTaken);
        }
        let hash = self.passwords.hash(input.password).await?;
        let now = crate::db::now();
        let new = NewUser {
            email: email.as_str().to_owned(),
            email_canonical: canonical,
            username,
            first_name,
            last_name,
            password: hash,
            is_active: true,
            is_staff: input.is_staff,
            is_superuser: input.is_superuser,
            date_joined: now,
            last_login: (input.logs_in && !self.settings.mail.require_verification).then_some(now),
            email_verified: !self_service,
        };
        let mailer = self.mailer.clone();
        let user = self
            .db
            .run(move |conn| {
                users::create(conn, new, |conn, user| {
                    if self_service {
                        let to = user.email.clone();
                        if let Some(token) = mailing::issue_token(
                            conn,
                            &mailer,
                            user,
                            &to,
                            Purpose::EmailVerification,
                            now,
                        )? {
                            mailing::write(
                                conn,
                                &mailer,
                                user,
                                &to,
                                &Mail::EmailVerification { token: &token },
                                now,
                            )?;
                        }
                    }
                    Ok(())
                })
            })
            .await?;
        if self_service {
            self.mailer.wake();
        }
        Ok(user)
    }
}
