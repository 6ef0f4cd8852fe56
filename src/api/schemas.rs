//! The JSON bodies of the contract, with their OpenAPI schemas and examples.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::accounts::{MeEdit, ProfileEdit, SessionList, SessionListing};
use crate::auth::sessions::ClientKind;
use crate::db::models::{Profile, User};

/// For optional fields that may be left out but not sent as `null`
/// (`null` is a 400, as in Django REST framework).
pub(super) fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

fn utc(t: NaiveDateTime) -> DateTime<Utc> {
    t.and_utc()
}

/// A user as clients see it (never a password hash).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "id": 1, "email": "ada@example.com", "email_verified": true, "has_usable_password": true,
    "username": "ada", "first_name": "Ada", "last_name": "Lovelace", "is_staff": false,
    "date_joined": "2026-11-28T09:00:00Z", "last_login": "2026-11-28T09:00:00Z"
}))]
pub struct UserOut {
    pub id: i32,
    pub email: String,
    /// Whether the address is proven the user's: a verification or an
    /// email-change link was followed.
    pub email_verified: bool,
    /// False for an account that cannot log in with a password (it never
    /// had one, or it was made unusable): it logs in another way.
    pub has_usable_password: bool,
    pub username: String,
    pub first_name: String,
    pub last_name: String,
    pub is_staff: bool,
    pub date_joined: DateTime<Utc>,
    /// Null until the first login.
    #[schema(required = true)]
    pub last_login: Option<DateTime<Utc>>,
}

impl From<&User> for UserOut {
    fn from(u: &User) -> Self {
        UserOut::from(&crate::auth::sessions::SessionUser::from(u))
    }
}

impl From<&crate::auth::sessions::SessionUser> for UserOut {
    fn from(u: &crate::auth::sessions::SessionUser) -> Self {
        UserOut {
            id: u.id,
            email: u.email.clone(),
            email_verified: u.email_verified,
            has_usable_password: u.has_usable_password,
            username: u.username.clone(),
            first_name: u.first_name.clone(),
            last_name: u.last_name.clone(),
            is_staff: u.is_staff,
            date_joined: utc(u.date_joined),
            last_login: u.last_login.map(utc),
        }
    }
}

/// `{"user": …}`, plus the Bearer token for app clients at login and register.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AuthResponse {
    pub user: UserOut,
    /// App clients only: send as `Authorization: Bearer <token>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub token: Option<String>,
    /// App clients only: when the token ends at the latest,
    /// `APP_SESSION_ABSOLUTE_TIMEOUT_SECS` after login (it ends sooner after
    /// `APP_SESSION_IDLE_TIMEOUT_SECS` without use).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UserResponse {
    pub user: UserOut,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "email": "ada@example.com", "password": "correct horse battery staple",
    "username": "ada", "first_name": "Ada", "last_name": "Lovelace", "client": "browser"
}))]
pub struct RegisterRequest {
    pub email: String,
    pub password: String,
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    pub username: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    pub first_name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    pub last_name: Option<String>,
    /// `browser` (default): a session cookie; `app`: a Bearer token.
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    pub client: Option<ClientKind>,
    /// Browser clients: `true` keeps the session for
    /// `REMEMBER_ME_TIMEOUT_SECS` (two weeks), idle or not, in a persistent
    /// cookie; without it the cookie ends with the browser, and the session
    /// after `SESSION_IDLE_TIMEOUT_SECS` idle or `SESSION_ABSOLUTE_TIMEOUT_SECS`
    /// in all. App sessions always last `APP_SESSION_*`.
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    pub remember: Option<bool>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"email": "ada@example.com", "password": "correct horse battery staple", "client": "browser"}))]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
    /// `browser` (default): a session cookie; `app`: a Bearer token.
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    pub client: Option<ClientKind>,
    /// Browser clients: `true` keeps the session for
    /// `REMEMBER_ME_TIMEOUT_SECS` (two weeks), idle or not, in a persistent
    /// cookie; without it the cookie ends with the browser, and the session
    /// after `SESSION_IDLE_TIMEOUT_SECS` idle or `SESSION_ABSOLUTE_TIMEOUT_SECS`
    /// in all. App sessions always last `APP_SESSION_*`.
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    pub remember: Option<bool>,
}

/// Only the fields present change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"first_name": "Augusta Ada", "last_name": "King"}))]
pub struct UpdateMeRequest {
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    pub username: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    pub first_name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    pub last_name: Option<String>,
}

/// Accepted: mail will be sent (or, where the contract says so, nothing
/// said about whether it will).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"detail": "If an account uses that address, we have sent it a link to reset the password."}))]
pub struct Accepted {
    pub detail: String,
}

impl Accepted {
    pub fn new(detail: &str) -> Self {
        Accepted {
            detail: detail.to_owned(),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"email": "ada@example.com"}))]
pub struct PasswordResetRequest {
    pub email: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"token": "q3J0b2tlbi1mcm9tLXRoZS1tZXNzYWdlLTQzLWNoYXJ", "new_password": "a new and longer passphrase"}))]
pub struct PasswordResetConfirm {
    /// The token from the message (the link's `token` parameter).
    pub token: String,
    pub new_password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"token": "q3J0b2tlbi1mcm9tLXRoZS1tZXNzYWdlLTQzLWNoYXJ"}))]
pub struct TokenRequest {
    /// The token from the message (the link's `token` parameter).
    pub token: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"new_email": "ada@example.org", "password": "correct horse battery staple"}))]
pub struct EmailChangeRequest {
    pub new_email: String,
    /// The account's current password. It may be left out by a session
    /// re-authenticated within `REAUTHENTICATION_WINDOW_SECS` (`POST
    /// /accounts/reauthenticate`, or a login that recent); otherwise it is
    /// `403 reauthentication_required`.
    pub password: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CsrfResponse {
    /// Send it back as the `X-CSRFToken` header on unsafe requests.
    pub csrf_token: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct HealthResponse {
    pub status: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"current_password": "correct horse battery staple", "new_password": "a new and longer passphrase"}))]
pub struct PasswordChangeRequest {
    /// Required when the account has a usable password. An account without
    /// one (`has_usable_password: false`) leaves it out to set a first
    /// password, from a session re-authenticated within
    /// `REAUTHENTICATION_WINDOW_SECS`.
    pub current_password: Option<String>,
    pub new_password: String,
}

/// One session of the user.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SessionOut {
    /// Public identifier (not the session key or token).
    pub id: String,
    pub client: ClientKind,
    pub created_at: DateTime<Utc>,
    /// Updated at most once a `SESSION_TOUCH_INTERVAL_SECS`.
    pub last_seen_at: DateTime<Utc>,
    /// When the session ends at the latest, by its kind (a browser's,
    /// a remembered browser's, an app's); sooner if left idle.
    pub expires_at: DateTime<Utc>,
    /// True for the session making this request.
    pub current: bool,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SessionsResponse {
    /// The newest first, at most `SESSION_LIST_LIMIT` (default 100).
    pub sessions: Vec<SessionOut>,
    /// How many sessions are live, listed or not (at most
    /// `MAX_SESSIONS_PER_USER`, default 1000).
    #[schema(example = 2)]
    pub count: u64,
}

impl From<SessionList> for SessionsResponse {
    fn from(list: SessionList) -> Self {
        SessionsResponse {
            sessions: list.sessions.into_iter().map(SessionOut::from).collect(),
            count: list.count,
        }
    }
}

/// A profile as clients see it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"portfolio_site": "https://ada.example.com", "bio": "Analyst.", "profile_pic": "/media/profile_pics/3f9c0a5be1d2c4f6a7b8c9d0e1f2a3b4.png"}))]
pub struct ProfileOut {
    /// An http(s) URL, or "".
    pub portfolio_site: String,
    pub bio: String,
    /// The picture's URL path under `/media/`, or null.
    #[schema(required = true)]
    pub profile_pic: Option<String>,
}

impl From<&Profile> for ProfileOut {
    fn from(p: &Profile) -> Self {
        ProfileOut {
            portfolio_site: p.portfolio_site.clone(),
            bio: p.bio.clone(),
            profile_pic: p.profile_pic.as_deref().map(crate::media::url),
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ProfileResponse {
    pub profile: ProfileOut,
}

/// Only the fields present change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"portfolio_site": "https://ada.example.com", "bio": "Analyst of engines."}))]
pub struct UpdateProfileRequest {
    /// An http or https URL, or "" to clear it.
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    pub portfolio_site: Option<String>,
    /// Up to `MAX_BIO_CHARS` characters.
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    pub bio: Option<String>,
}

/// The multipart body of a picture upload.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct PictureUpload {
    /// A PNG, JPEG, GIF or WebP image, at most `MAX_PICTURE_BYTES`.
    #[schema(value_type = String, format = Binary)]
    pub profile_pic: Vec<u8>,
}

impl From<UpdateMeRequest> for MeEdit {
    fn from(r: UpdateMeRequest) -> Self {
        MeEdit {
            username: r.username,
            first_name: r.first_name,
            last_name: r.last_name,
        }
    }
}

impl From<UpdateProfileRequest> for ProfileEdit {
    fn from(r: UpdateProfileRequest) -> Self {
        ProfileEdit {
            portfolio_site: r.portfolio_site,
            bio: r.bio,
        }
    }
}

impl From<SessionListing> for SessionOut {
    fn from(s: SessionListing) -> Self {
        SessionOut {
            current: s.current,
            id: s.info.id,
            client: s.info.client,
            created_at: s.info.created_at,
            last_seen_at: s.info.last_seen_at,
            expires_at: s.info.expires_at,
        }
    }
}
