//! Queries on `profiles`.

use diesel::prelude::*;

use super::models::Profile;
use super::schema::profiles;
use super::DbConnection;
use crate::error::ApiError;

pub fn find(conn: &mut DbConnection, user_id: i32) -> Result<Profile, ApiError> {
    Ok(profiles::table
        .find(user_id)
        .select(Profile::as_select())
        .first(conn)?)
}

/// The text fields `PATCH /accounts/me/profile` may change.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = profiles)]
pub struct ProfileChanges {
    pub portfolio_site: Option<String>,
    pub bio: Option<String>,
}

pub fn update(
    conn: &mut DbConnection,
    user_id: i32,
    changes: ProfileChanges,
) -> Result<Profile, ApiError> {
    // IMMEDIATE on SQLite, as users::update.
    super::write_transaction(conn, |conn| {
        if changes.portfolio_site.is_some() || changes.bio.is_some() {
            diesel::update(profiles::table.find(user_id))
                .set(&changes)
                .execute(conn)?;
        }
        Ok(profiles::table
            .find(user_id)
            .select(Profile::as_select())
            .first(conn)?)
    })
}

/// Points the profile at `new` (or at no picture) and returns the picture
/// it replaced, which the caller then deletes.
///
/// A compare-and-swap on the old value, retried: of two uploads racing for
/// one profile, each learns exactly which file it displaced, so every
/// replaced file is deleted once and only the winner stays on disk.
pub fn swap_picture(
    conn: &mut DbConnection,
    user_id: i32,
    new: Option<&str>,
) -> Result<Option<String>, ApiError> {
    loop {
        let old: Option<String> = profiles::table
            .find(user_id)
            .select(profiles::profile_pic)
            .first(conn)?;
        let target = profiles::table.filter(profiles::user_id.eq(user_id));
        let swapped = match &old {
            Some(old) => diesel::update(target.filter(profiles::profile_pic.eq(old)))
                .set(profiles::profile_pic.eq(new))
                .execute(conn)?,
            None => diesel::update(target.filter(profiles::profile_pic.is_null()))
                .set(profiles::profile_pic.eq(new))
                .execute(conn)?,
        };
        if swapped == 1 {
            return Ok(old);
        }
    }
}

/// Whether a profile points at the picture `path` (a file no profile
/// points at is not served: see `Accounts::media_file`).
pub fn is_referenced(conn: &mut DbConnection, path: &str) -> Result<bool, ApiError> {
    Ok(diesel::select(diesel::dsl::exists(
        profiles::table.filter(profiles::profile_pic.eq(path)),
    ))
    .get_result(conn)?)
}

/// Which of `paths` some profile points at.
pub fn referenced_among(
    conn: &mut DbConnection,
    paths: &[String],
) -> Result<std::collections::HashSet<String>, ApiError> {
    let found: Vec<Option<String>> = profiles::table
        .filter(profiles::profile_pic.eq_any(paths))
        .select(profiles::profile_pic)
        .load(conn)?;
    Ok(found.into_iter().flatten().collect())
}
