//! Registration: `POST /accounts/register`, and `accounts createsuperuser`.

use secrecy::SecretString;

use super::authentication::Client;
use super::{push, Accounts, LoggedIn};
use crate::db::models::{NewUser, User};
use crate::db::users;
use crate::domain::{parse_name, parse_username, Email};
use crate::error::{ApiError, FieldErrors};
use crate::foreground;

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
    pub async fn sign_up(&self, input: Registration, client: Client) -> Result<LoggedIn, ApiError> {
        let _password_work = foreground::PasswordWork::begin();
        client.check()?;
        let valid = self.validate(input).await?;
        self.registrations.count(&client.ip).await?;
        let user = self.create(valid).await?;
        let session = self.start_session(&user, &client).await?;
        Ok(LoggedIn { user, session })
    }

    /// Validates every field (all problems at once), then creates the user
    /// and its profile. A taken email is 409 however the race is run.
    pub async fn register(&self, input: Registration) -> Result<User, ApiError> {
        let valid = self.validate(input).await?;
        self.create(valid).await
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

    async fn create(&self, valid: Valid) -> Result<User, ApiError> {
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
            last_login: input.logs_in.then_some(now),
        };
        self.db.run(move |conn| users::create(conn, new)).await
    }
}
