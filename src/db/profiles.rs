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
