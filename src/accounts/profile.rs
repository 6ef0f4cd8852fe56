//! The user's profile: `GET` and `PATCH /accounts/me/profile`.

use super::{push, Accounts};
use crate::db::models::Profile;
use crate::db::profiles::{self, ProfileChanges};
use crate::domain::{parse_bio, parse_portfolio_site};
use crate::error::{ApiError, FieldErrors};

/// The fields `PATCH /accounts/me/profile` may change, as received; `None`
/// leaves one as it is.
#[derive(Default)]
pub struct ProfileEdit {
    pub portfolio_site: Option<String>,
    pub bio: Option<String>,
}

impl Accounts {
    pub async fn profile(&self, user_id: i32) -> Result<Profile, ApiError> {
        self.db.run(move |conn| profiles::find(conn, user_id)).await
    }

    /// Validates the fields present (all problems at once) and changes
    /// them. `portfolio_site` is an `http(s)` URL or `""`; `bio` has at most
    /// `MAX_BIO_CHARS` characters.
    pub async fn update_profile(
        &self,
        user_id: i32,
        edit: ProfileEdit,
    ) -> Result<Profile, ApiError> {
        let mut errors = FieldErrors::new();
        let mut changes = ProfileChanges::default();
        if let Some(raw) = edit.portfolio_site {
            changes.portfolio_site = parse_portfolio_site(&raw)
                .map_err(|e| push(&mut errors, "portfolio_site", [e]))
                .ok();
        }
        if let Some(raw) = edit.bio {
            changes.bio = parse_bio(&raw, self.settings.limits.max_bio_chars)
                .map_err(|e| push(&mut errors, "bio", [e]))
                .ok();
        }
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors));
        }
        self.db
            .run(move |conn| profiles::update(conn, user_id, changes))
            .await
    }
}
