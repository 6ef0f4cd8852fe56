//! Rows as stored. The API's JSON shapes live in `api::schemas`: a password
//! hash never leaves this layer by accident.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{profiles, users};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: i32,
    pub email: String,
    pub email_canonical: String,
    pub username: String,
    pub first_name: String,
    pub last_name: String,
    pub password: String,
    pub is_active: bool,
    pub is_staff: bool,
    pub is_superuser: bool,
    pub date_joined: NaiveDateTime,
    pub last_login: Option<NaiveDateTime>,
    pub email_verified: bool,
    /// Sessions started under another value are refused (see the migration).
    pub session_generation: i32,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = users)]
pub struct NewUser {
    pub email: String,
    pub email_canonical: String,
    pub username: String,
    pub first_name: String,
    pub last_name: String,
    pub password: String,
    pub is_active: bool,
    pub is_staff: bool,
    pub is_superuser: bool,
    pub date_joined: NaiveDateTime,
    pub last_login: Option<NaiveDateTime>,
    pub email_verified: bool,
}

/// The fields `PATCH /accounts/me` may change; `None` leaves one as it is.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = users)]
pub struct UserChanges {
    pub username: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = profiles)]
pub struct Profile {
    pub user_id: i32,
    pub portfolio_site: String,
    pub bio: String,
    pub profile_pic: Option<String>,
}
