//! The use cases: one module per capability, each plain async Rust over
//! the stores (database, sessions, password hasher, throttle, media, mail). The
//! HTTP layer (`api/`) extracts a request, calls one of these and turns the
//! result into a response; every rule that is not about HTTP lives here.
//!
//! `Accounts` holds the stores. Its fields are private to this module and
//! its children, so a handler cannot reach a store except through a use
//! case.

mod admin;
mod audit;
mod authentication;
mod deletion;
mod django_import;
mod email_change;
mod email_verification;
mod housekeeping;
mod mailing;
mod me;
mod mfa;
mod mfa_login;
mod operations;
mod password;
mod password_reset;
mod pictures;
mod profile;
mod reauthentication;
mod registration;
mod sessions;
mod staff;

use std::sync::Arc;

use tokio::sync::Semaphore;

pub use admin::{AdminView, StaffEdit, UserPage, UserQuery, DEFAULT_PAGE_SIZE};
pub use authentication::{Client, Credentials, LoggedIn, NewSession};
pub use django_import::{colliding, ImportPlan, ImportReport, Listed};
pub use email_change::EmailChange;
pub use housekeeping::Purged;
pub use me::MeEdit;
pub use mfa::{Enrolment, MfaStatus};
pub use password::PasswordChange;
pub use pictures::{MediaFile, Upload, UploadBuffer};
pub use profile::ProfileEdit;
pub use reauthentication::{Consent, Proof};
pub use registration::{Registration, SignedUp};
pub use sessions::{SessionList, SessionListing};
pub use staff::Actor;

use crate::auth::address_limit::AddressLimit;
use crate::auth::mfa_logins::MfaLogins;
use crate::auth::passwords::Passwords;
use crate::auth::sessions::{Lifetimes, Sessions};
use crate::auth::throttle::LoginThrottle;
use crate::auth::totp::SecretBox;
use crate::config::Settings;
use crate::db::Db;
use crate::error::FieldErrors;
use crate::mail::Mailer;
use crate::media::{MediaStore, PictureRules};
use crate::metrics::Metrics;

#[derive(Clone)]
pub struct Accounts {
    db: Db,
    passwords: Passwords,
    throttle: LoginThrottle,
    registrations: AddressLimit,
    resets: AddressLimit,
    sessions: Sessions,
    mailer: Mailer,
    /// `None` for the command-line tools, which never touch pictures.
    media: Option<MediaStore>,
    metrics: Metrics,
    settings: Arc<Settings>,
    /// Bounds the pictures decoded at once (`PICTURE_DECODE_CONCURRENCY`).
    decodes: Arc<Semaphore>,
    /// Bounds the KiB picture upload bodies hold before their decode ends
    /// (`PICTURE_UPLOAD_BUFFER_BYTES`).
    upload_buffer: Arc<Semaphore>,
    lifetimes: Lifetimes,
    /// Logins waiting for their second step (where sessions live).
    mfa_logins: MfaLogins,
    /// Seals TOTP secrets (a key derived from `SECRET_KEY`).
    secret_box: SecretBox,
}

/// The stores the use cases work over, built once at start-up.
pub struct Stores {
    pub db: Db,
    pub passwords: Passwords,
    pub throttle: LoginThrottle,
    pub registrations: AddressLimit,
    pub resets: AddressLimit,
    pub sessions: Sessions,
    pub mailer: Mailer,
    pub media: Option<MediaStore>,
    pub metrics: Metrics,
    pub mfa_logins: MfaLogins,
}

impl Accounts {
    pub fn new(stores: Stores, settings: Arc<Settings>) -> Self {
        Accounts {
            db: stores.db,
            passwords: stores.passwords,
            throttle: stores.throttle,
            registrations: stores.registrations,
            resets: stores.resets,
            sessions: stores.sessions,
            mailer: stores.mailer,
            media: stores.media,
            metrics: stores.metrics,
            decodes: Arc::new(Semaphore::new(settings.limits.picture_decode_concurrency)),
            upload_buffer: Arc::new(Semaphore::new(pictures::kib(
                settings.limits.picture_upload_buffer_bytes,
            ))),
            lifetimes: Lifetimes::new(&settings.sessions),
            mfa_logins: stores.mfa_logins,
            secret_box: SecretBox::new(
                secrecy::ExposeSecret::expose_secret(&settings.http.secret_key).as_bytes(),
            ),
            settings,
        }
    }

    fn picture_rules(&self) -> PictureRules {
        PictureRules {
            max_pixels: self.settings.limits.max_picture_pixels,
            max_dimension: self.settings.limits.max_picture_dimension,
            stored_edge: self.settings.limits.picture_stored_edge,
            max_metadata_bytes: self.settings.limits.max_picture_metadata_bytes,
        }
    }
}

/// Adds `messages` (if any) to `field`'s list: every problem of a request
/// is reported at once.
fn push(errors: &mut FieldErrors, field: &str, messages: impl IntoIterator<Item = String>) {
    let messages: Vec<String> = messages.into_iter().collect();
    if !messages.is_empty() {
        errors.entry(field.to_owned()).or_default().extend(messages);
    }
}
