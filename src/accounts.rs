//! Account use cases, as plain async Rust over the database, the password
//! hasher and the login throttle: registration, authentication, profile
//! edits. Handlers translate HTTP to these calls and back; tests can call
//! them directly.

use secrecy::{ExposeSecret, SecretString};

use crate::auth::passwords::{Passwords, Verified};
use crate::auth::throttle::LoginThrottle;
use crate::db::models::{NewUser, User, UserChanges};
use crate::db::{users, Db};
use crate::domain::password_policy::MAX_LENGTH;
use crate::domain::{parse_name, parse_username, Email};
use crate::error::{ApiError, FieldErrors};

const WRONG_CURRENT_PASSWORD: &str =
    "Your old password was entered incorrectly. Please enter it again.";

#[derive(Clone)]
pub struct Accounts {
    pub db: Db,
    pub passwords: Passwords,
    pub throttle: LoginThrottle,
}

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

fn push(errors: &mut FieldErrors, field: &str, messages: impl IntoIterator<Item = String>) {
    let messages: Vec<String> = messages.into_iter().collect();
    if !messages.is_empty() {
        errors.entry(field.to_owned()).or_default().extend(messages);
    }
}

impl Accounts {
    /// Validates every field (all problems at once), then creates the user
    /// and its profile. A taken email is 409 however the race is run.
    pub async fn register(&self, input: Registration) -> Result<User, ApiError> {
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
            last_login: input.logs_in.then_some(now),
        };
        self.db.run(move |conn| users::create(conn, new)).await
    }

    /// Checks an email and password. Unknown email, wrong password and an
    /// inactive account are the same 401 after the same Argon2 work.
    pub async fn authenticate(
        &self,
        email: &str,
        password: SecretString,
        client_ip: &str,
    ) -> Result<User, ApiError> {
        if password.expose_secret().chars().count() > MAX_LENGTH {
            return Err(ApiError::field(
                "password",
                format!("Ensure this field has no more than {MAX_LENGTH} characters."),
            ));
        }
        let canonical =
            Email::parse(email).map_or_else(|_| email.trim().to_lowercase(), |e| e.canonical());
        // Counted as in flight from here: parallel guesses cannot all slip
        // in before the first one is counted.
        let attempt = self.throttle.begin(&canonical, client_ip).await?;
        // Whatever happens next, the attempt is settled: an outage midway
        // must not leave it counted as in flight.
        let checked = self.check_credentials(&canonical, password).await;
        match checked {
            Ok(Some(user)) => {
                self.throttle.succeeded(attempt).await?;
                Ok(user)
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

    /// The user if the password is theirs and they may log in (recording the
    /// login, and a stronger hash when the parameters changed).
    async fn check_credentials(
        &self,
        canonical: &str,
        password: SecretString,
    ) -> Result<Option<User>, ApiError> {
        let probe = canonical.to_owned();
        let user = self
            .db
            .run(move |conn| users::find_by_email(conn, &probe))
            .await?;
        let stored = user.as_ref().map(|u| u.password.clone());
        let verified = self.passwords.verify(password, stored).await?;
        match (user, verified) {
            (Some(mut user), Verified::Yes { rehashed }) if user.is_active => {
                let now = crate::db::now();
                let id = user.id;
                self.db
                    .run(move |conn| users::record_login(conn, id, now, rehashed))
                    .await?;
                user.last_login = Some(now);
                Ok(Some(user))
            }
            _ => Ok(None),
        }
    }

    /// The user behind a session, if it may still use the service.
    pub async fn active_user(&self, user_id: i32) -> Result<Option<User>, ApiError> {
        let user = self.db.run(move |conn| users::find(conn, user_id)).await?;
        Ok(user.filter(|u| u.is_active))
    }

    /// Checks the current password (throttled like a login: a stolen
    /// session must not become a password oracle), applies the rules to the
    /// new one and stores its hash. Ending the other sessions is the
    /// caller's part: it knows which session is current.
    pub async fn change_password(
        &self,
        user: &User,
        current: SecretString,
        new: SecretString,
        client_ip: &str,
    ) -> Result<(), ApiError> {
        let mut errors = FieldErrors::new();
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
        let attempt = self
            .throttle
            .begin(&user.email_canonical, client_ip)
            .await?;
        let verified = match self
            .passwords
            .verify(current, Some(user.password.clone()))
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
            Verified::No => {
                self.throttle.failed(attempt).await?;
                push(
                    &mut errors,
                    "current_password",
                    [WRONG_CURRENT_PASSWORD.to_owned()],
                );
            }
        }
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors));
        }
        let hash = self.passwords.hash(new).await?;
        let id = user.id;
        self.db
            .run(move |conn| users::set_password(conn, id, hash))
            .await
    }

    pub async fn update_user(
        &self,
        user_id: i32,
        username: Option<String>,
        first_name: Option<String>,
        last_name: Option<String>,
    ) -> Result<User, ApiError> {
        let mut errors = FieldErrors::new();
        let mut changes = UserChanges::default();
        if let Some(raw) = username {
            changes.username = parse_username(&raw)
                .map_err(|e| push(&mut errors, "username", [e]))
                .ok();
        }
        if let Some(raw) = first_name {
            changes.first_name = parse_name(&raw)
                .map_err(|e| push(&mut errors, "first_name", [e]))
                .ok();
        }
        if let Some(raw) = last_name {
            changes.last_name = parse_name(&raw)
                .map_err(|e| push(&mut errors, "last_name", [e]))
                .ok();
        }
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors));
        }
        self.db
            .run(move |conn| users::update(conn, user_id, changes))
            .await
    }
}
