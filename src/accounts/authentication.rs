//! Logging in: `POST /accounts/login`, and the session every login (and
//! registration) starts.

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};

use super::Accounts;
use crate::auth::passwords::Verified;
use crate::auth::sessions::{new_state, with_generation, ClientKind, SessionUser};
use crate::db::models::User;
use crate::db::users;
use crate::domain::password_policy::MAX_LENGTH;
use crate::error::{ApiError, FieldErrors};
use crate::foreground;
use crate::metrics::LoginOutcome;

/// An email and password, as received.
pub struct Credentials {
    pub email: String,
    pub password: SecretString,
}

/// Who asks for a session.
pub struct Client {
    pub kind: ClientKind,
    /// A browser asked for a session that outlives it
    /// (`REMEMBER_ME_TIMEOUT_SECS`); apps' sessions are long anyway.
    pub remember: bool,
    /// The request carried `Authorization: Bearer ...`.
    pub sent_bearer: bool,
    /// The client's address, for the per-address throttle.
    pub ip: String,
}

impl Client {
    /// A browser session lives in a cookie, which a request carrying a
    /// Bearer token neither reads nor receives: refuse the mix rather than
    /// start a session nobody holds (and renew away the token's).
    pub(super) fn check(&self) -> Result<(), ApiError> {
        if self.sent_bearer && self.kind == ClientKind::Browser {
            return Err(ApiError::field(
                "client",
                "A request with an Authorization header cannot start a browser session; send \"client\": \"app\".",
            ));
        }
        Ok(())
    }
}

/// A session just started.
pub enum NewSession {
    /// The caller puts these into the request's cookie session, whose key
    /// the session middleware renews (no fixation). A remembered one has
    /// `persistent_max_age_secs`: its cookie outlives the browser.
    Browser {
        created_at: DateTime<Utc>,
        persistent_max_age_secs: Option<i64>,
    },
    /// Already in the store: the key is the Bearer token.
    App {
        token: String,
        expires_at: DateTime<Utc>,
    },
}

/// The right password of an active user.
struct Authenticated {
    user: User,
    /// TOTP is on: the login needs a code before it gets a session.
    second_factor: bool,
}

/// A user and the session they now have.
pub struct LoggedIn {
    pub user: User,
    pub session: NewSession,
}

impl Accounts {
    /// Checks the credentials (throttled) and starts a session for `client`.
    pub async fn log_in(
        &self,
        credentials: Credentials,
        client: Client,
    ) -> Result<LoggedIn, ApiError> {
        let _password_work = foreground::PasswordWork::begin();
        let email = credentials.email.trim();
        if email.is_empty() || credentials.password.expose_secret().is_empty() {
            let mut errors = FieldErrors::new();
            for (field, value) in [
                ("email", email),
                ("password", credentials.password.expose_secret()),
            ] {
                if value.is_empty() {
                    errors.insert(field.into(), vec!["This field may not be blank.".into()]);
                }
            }
            return Err(ApiError::Validation(errors));
        }
        client.check()?;
        let result = self
            .authenticate(&credentials.email, credentials.password, &client.ip)
            .await;
        match &result {
            Ok(_) => self.metrics.login(LoginOutcome::Success),
            Err(ApiError::TooManyAttempts { .. }) => self.metrics.login(LoginOutcome::Throttled),
            Err(ApiError::InvalidCredentials) => self.metrics.login(LoginOutcome::Failure),
            Err(_) => {}
        }
        let Authenticated {
            user,
            second_factor,
        } = result?;
        // Only after the right password: a wrong one is the usual 401, so
        // this answer tells nothing to someone who does not know it.
        if self.settings.mail.require_verification && !user.email_verified {
            // A link on its way (within the resend interval), so that an
            // account from before the setting, or whose link expired, has a
            // way in without a session to ask for one.
            if let Err(e) = self.mail_verification_link(user).await {
                tracing::warn!(error = %e, "could not mail a verification link at login");
            }
            return Err(ApiError::EmailNotVerified);
        }
        // A second factor: no session yet, but a token for the second step.
        if second_factor {
            return Err(self.second_factor_needed(&user, &client).await?);
        }
        let session = self.start_session(&user, &client).await?;
        // Deleted or deactivated while the password was checked: the change
        // ended every session before this one existed, so this one must
        // not start (an app's is in the store already and ends here; a
        // browser's would be written with the response, and is not).
        if !self.may_still_log_in(&user).await? {
            if let NewSession::App { token, .. } = &session {
                self.sessions.end(token).await?;
            }
            return Err(ApiError::InvalidCredentials);
        }
        Ok(LoggedIn { user, session })
    }

    /// Whether `user`, as read at login, is still there, active and at the
    /// same session generation.
    async fn may_still_log_in(&self, user: &User) -> Result<bool, ApiError> {
        let (id, generation) = (user.id, user.session_generation);
        let now = self.db.run(move |conn| users::find(conn, id)).await?;
        Ok(now.is_some_and(|u| u.is_active && u.session_generation == generation))
    }

    /// Checks an email and password. Unknown email, wrong password and an
    /// inactive account are the same 401 after the same Argon2 work.
    async fn authenticate(
        &self,
        email: &str,
        password: SecretString,
        client_ip: &str,
    ) -> Result<Authenticated, ApiError> {
        if password.expose_secret().chars().count() > MAX_LENGTH {
            return Err(ApiError::field(
                "password",
                format!("Ensure this field has no more than {MAX_LENGTH} characters."),
            ));
        }
        let canonical = crate::domain::email::fold_address(email);
        // Counted as in flight from here: parallel guesses cannot all slip
        // in before the first one is counted.
        let attempt = self.throttle.begin(&canonical, client_ip).await?;
        // Whatever happens next, the attempt is settled: an outage midway
        // must not leave it counted as in flight.
        let checked = self.check_credentials(&canonical, password).await;
        match checked {
            Ok(Some(authenticated)) => {
                // With a second factor the attempt is neither: its failures
                // are forgotten only when the code is right too.
                if authenticated.second_factor {
                    self.throttle.abandon(attempt).await;
                } else {
                    self.throttle.succeeded(attempt).await?;
                }
                Ok(authenticated)
            }
            Ok(None) => {
                self.throttle.failed(attempt).await?;
                Err(ApiError::InvalidCredentials)
            }
            Err(error) => {
                self.throttle.abandon(attempt).await;
                Err(error)
            }
        }
    }

    /// Whether `password` is the logged-in `user`'s, counted like a login
    /// (a stolen session must not become a password oracle): a wrong one is
    /// a failure toward the throttle, and a throttled account is 429.
    pub(super) async fn recheck_password(
        &self,
        user: &User,
        password: SecretString,
        client_ip: &str,
    ) -> Result<bool, ApiError> {
        let attempt = self
            .throttle
            .begin(&user.email_canonical, client_ip)
            .await?;
        let verified = match self
            .passwords
            .verify(password, Some(user.password.clone()))
            .await
        {
            Ok(verified) => verified,
            Err(error) => {
                self.throttle.abandon(attempt).await;
                return Err(error);
            }
        };
        match verified {
            Verified::Yes { .. } => self.throttle.succeeded(attempt).await?,
            Verified::No => self.throttle.failed(attempt).await?,
        }
        Ok(matches!(verified, Verified::Yes { .. }))
    }

    /// The user if the password is theirs and they may log in (recording the
    /// login, and a stronger hash when the parameters changed).
    async fn check_credentials(
        &self,
        canonical: &str,
        password: SecretString,
    ) -> Result<Option<Authenticated>, ApiError> {
        let probe = canonical.to_owned();
        let user = self
            .db
            .run(move |conn| users::find_by_email(conn, &probe))
            .await?;
        // An inactive account is checked as an unknown email is (it logs in
        // with no password): a right password must not answer sooner than
        // a wrong one, which waits for the login floor.
        let stored = user
            .as_ref()
            .filter(|u| u.is_active)
            .map(|u| u.password.clone());
        let verified = self.passwords.verify(password, stored).await?;
        match (user, verified) {
            (Some(mut user), Verified::Yes { rehashed }) if user.is_active => {
                let now = crate::db::now();
                let id = user.id;
                // With a second factor the login is not done yet: only a
                // stronger hash is stored now, `last_login` at the second
                // step.
                let stronger = rehashed.clone();
                let checked = user.password.clone();
                let second_factor = self
                    .db
                    .run(move |conn| {
                        if let Some(hash) = stronger {
                            users::upgrade_password(conn, id, &checked, hash)?;
                        }
                        if crate::db::mfa::enabled(conn, id)? {
                            return Ok(true);
                        }
                        users::record_login(conn, id, now)?;
                        Ok(false)
                    })
                    .await?;
                if let Some(hash) = rehashed {
                    user.password = hash;
                }
                if !second_factor {
                    user.last_login = Some(now);
                }
                Ok(Some(Authenticated {
                    user,
                    second_factor,
                }))
            }
            _ => Ok(None),
        }
    }

    /// Starts a session for `user`: an app's directly in the store; a
    /// browser's is written by the session middleware with the response.
    pub(super) async fn start_session(
        &self,
        user: &User,
        client: &Client,
    ) -> Result<NewSession, ApiError> {
        let now = Utc::now();
        self.sessions.cache_user(&SessionUser::from(user)).await?;
        let lifetime = self.lifetimes.of_kind(client.kind, client.remember);
        match client.kind {
            ClientKind::Browser => Ok(NewSession::Browser {
                created_at: now,
                persistent_max_age_secs: client
                    .remember
                    .then(|| i64::try_from(lifetime.absolute.as_secs()).unwrap_or(i64::MAX)),
            }),
            ClientKind::App => {
                let token = self
                    .sessions
                    .create(with_generation(
                        new_state(user.id, ClientKind::App, now),
                        user.session_generation,
                    ))
                    .await?;
                Ok(NewSession::App {
                    token,
                    expires_at: lifetime.deadline(now),
                })
            }
        }
    }
}
