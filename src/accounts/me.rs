//! The logged-in user: who they are (`GET /accounts/me`, and every
//! request that needs its user) and editing their names
//! (`PATCH /accounts/me`).

use super::{push, Accounts};
use crate::auth::sessions::SessionUser;
use crate::db::models::{User, UserChanges};
use crate::db::users;
use crate::domain::{parse_name, parse_username};
use crate::error::{ApiError, FieldErrors};

/// The fields `PATCH /accounts/me` may change, as received; `None` leaves
/// one as it is.
#[derive(Default)]
pub struct MeEdit {
    pub username: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
}

impl Accounts {
    /// The user behind a session, if it may still use the service: active,
    /// and still at the session's `generation`. `loaded` is the copy the
    /// session store loaded with the session, if any (then no query is
    /// made). `None` means the session must end.
    pub async fn current_user(
        &self,
        user_id: i32,
        generation: i32,
        loaded: Option<SessionUser>,
    ) -> Result<Option<SessionUser>, ApiError> {
        let user = match loaded {
            Some(user) => Some(user),
            None => {
                let user = self
                    .active_user(user_id)
                    .await?
                    .map(|u| SessionUser::from(&u));
                if let (Some(user), true) = (&user, self.sessions.caches_users()) {
                    self.sessions.cache_user(user).await?;
                }
                user
            }
        };
        Ok(user.filter(|u| u.is_active && u.session_generation == generation))
    }

    /// The full row of an active user (with the password hash).
    pub(super) async fn active_user(&self, user_id: i32) -> Result<Option<User>, ApiError> {
        let user = self.db.run(move |conn| users::find(conn, user_id)).await?;
        Ok(user.filter(|u| u.is_active))
    }

    /// Validates the fields present (all problems at once) and changes
    /// them; every session of the user is loaded with the new fields from
    /// then on.
    pub async fn update_me(&self, user_id: i32, edit: MeEdit) -> Result<User, ApiError> {
        let mut errors = FieldErrors::new();
        let mut changes = UserChanges::default();
        if let Some(raw) = edit.username {
            changes.username = parse_username(&raw)
                .map_err(|e| push(&mut errors, "username", [e]))
                .ok();
        }
        if let Some(raw) = edit.first_name {
            changes.first_name = parse_name(&raw)
                .map_err(|e| push(&mut errors, "first_name", [e]))
                .ok();
        }
        if let Some(raw) = edit.last_name {
            changes.last_name = parse_name(&raw)
                .map_err(|e| push(&mut errors, "last_name", [e]))
                .ok();
        }
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors));
        }
        let user = self
            .db
            .run(move |conn| users::update(conn, user_id, changes))
            .await?;
        self.sessions.cache_user(&SessionUser::from(&user)).await?;
        Ok(user)
    }
}
