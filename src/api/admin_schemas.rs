//! The bodies and query of the admin API (`/admin/users...`), and of
//! `DELETE /accounts/me`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::schemas::present;
use crate::accounts::{AdminView, StaffEdit, UserPage, UserQuery, DEFAULT_PAGE_SIZE};
use crate::error::{ApiError, FieldErrors};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"password": "correct horse battery staple"}))]
pub struct DeleteAccountRequest {
    /// The account's current password. It may be left out by a session
    /// re-authenticated within `REAUTHENTICATION_WINDOW_SECS` (`POST
    /// /accounts/reauthenticate`, or a login that recent); otherwise it is
    /// `403 reauthentication_required`.
    pub password: Option<String>,
}

/// A user as staff see them: the user, plus `is_active`, `is_superuser`
/// and `mfa_enabled`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "id": 7, "email": "ada@example.com", "email_verified": true, "has_usable_password": true, "username": "ada",
    "first_name": "Ada", "last_name": "Lovelace", "is_staff": false,
    "date_joined": "2026-11-28T09:00:00Z", "last_login": "2026-12-01T10:00:00Z",
    "is_active": true, "is_superuser": false, "mfa_enabled": false
}))]
pub struct AdminUser {
    pub id: i32,
    pub email: String,
    pub email_verified: bool,
    /// False for an account that cannot log in with a password.
    pub has_usable_password: bool,
    pub username: String,
    pub first_name: String,
    pub last_name: String,
    pub is_staff: bool,
    pub date_joined: DateTime<Utc>,
    /// Null until the first login.
    #[schema(required = true)]
    pub last_login: Option<DateTime<Utc>>,
    pub is_active: bool,
    pub is_superuser: bool,
    /// Whether the user logs in with a second factor (TOTP).
    pub mfa_enabled: bool,
}

impl From<AdminView> for AdminUser {
    fn from(view: AdminView) -> Self {
        let u = view.user;
        AdminUser {
            id: u.id,
            email: u.email,
            email_verified: u.email_verified,
            has_usable_password: crate::auth::passwords::is_usable(&u.password),
            username: u.username,
            first_name: u.first_name,
            last_name: u.last_name,
            is_staff: u.is_staff,
            date_joined: u.date_joined.and_utc(),
            last_login: u.last_login.map(|t| t.and_utc()),
            is_active: u.is_active,
            is_superuser: u.is_superuser,
            mfa_enabled: view.mfa_enabled,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AdminUserResponse {
    pub user: AdminUser,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AdminUserList {
    /// This page's users, by id.
    pub users: Vec<AdminUser>,
    /// Matching users in all pages.
    pub count: i64,
    pub page: i64,
    /// The page size used (a requested one over `ADMIN_MAX_PAGE_SIZE` is
    /// taken as that).
    pub page_size: i64,
}

impl From<UserPage> for AdminUserList {
    fn from(page: UserPage) -> Self {
        AdminUserList {
            users: page.users.into_iter().map(AdminUser::from).collect(),
            count: page.count,
            page: page.page,
            page_size: page.page_size,
        }
    }
}

/// Only the fields present change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"is_active": false}))]
pub struct AdminUserPatch {
    /// `false` ends every session of the user at once; the user cannot log
    /// in until set back to `true` (old sessions do not come back).
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    pub is_active: Option<bool>,
    /// Superusers only.
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    pub is_staff: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    pub email_verified: Option<bool>,
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

impl From<AdminUserPatch> for StaffEdit {
    fn from(p: AdminUserPatch) -> Self {
        StaffEdit {
            is_active: p.is_active,
            is_staff: p.is_staff,
            email_verified: p.email_verified,
            username: p.username,
            first_name: p.first_name,
            last_name: p.last_name,
        }
    }
}

/// The list's query. Every parameter is optional; an unknown one, or a
/// value of the wrong kind, is 400 `validation_failed` naming it.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserListParams {
    /// Part of the email or username, any case; `%` and `_` are plain
    /// characters.
    pub search: Option<String>,
    pub is_active: Option<bool>,
    pub is_staff: Option<bool>,
    /// From 1 (the default); a page past the end is an empty list.
    #[param(minimum = 1)]
    pub page: Option<i64>,
    /// Default 50; over `ADMIN_MAX_PAGE_SIZE` (200) is taken as that.
    #[param(minimum = 1)]
    pub page_size: Option<i64>,
}

impl UserListParams {
    /// Reads the query string, naming every parameter that is wrong.
    pub fn parse(query: &str) -> Result<UserQuery, ApiError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query)
            .map_err(|_| ApiError::Malformed("The query string could not be read.".into()))?;
        let mut errors = FieldErrors::new();
        let mut out = UserQuery::default();
        let mut fail = |name: &str, message: &str| {
            errors
                .entry(name.to_owned())
                .or_default()
                .push(message.to_owned())
        };
        let boolean = |v: &str| match v {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        };
        for (name, value) in pairs {
            // A form leaves fields empty (`?search=&is_active=`): not given.
            if value.is_empty() && name != "search" {
                if !matches!(
                    name.as_str(),
                    "is_active" | "is_staff" | "page" | "page_size"
                ) {
                    fail(&name, "Unknown query parameter.");
                }
                continue;
            }
            match name.as_str() {
                "search" if value.contains('\0') => {
                    fail("search", "Null characters are not allowed.")
                }
                "search" => out.search = Some(value),
                "is_active" | "is_staff" => match boolean(&value) {
                    Some(b) if name == "is_active" => out.is_active = Some(b),
                    Some(b) => out.is_staff = Some(b),
                    None => fail(&name, "Must be true or false."),
                },
                "page" | "page_size" => match value.parse::<i64>() {
                    Ok(n) if name == "page" => out.page = Some(n),
                    Ok(n) => out.page_size = Some(n),
                    Err(_) => fail(&name, "A valid integer is required."),
                },
                _ => fail(&name, "Unknown query parameter."),
            }
        }
        if errors.is_empty() {
            out.page_size = out.page_size.or(Some(DEFAULT_PAGE_SIZE));
            Ok(out)
        } else {
            Err(ApiError::Validation(errors))
        }
    }
}

/// A user id from the path: anything that is not one names no user.
pub fn user_id(raw: &str) -> Result<i32, ApiError> {
    raw.parse::<i32>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or(ApiError::NotFound)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_names_what_is_wrong() {
        let q =
            UserListParams::parse("search=a%25b_&is_active=false&page=2&page_size=500").unwrap();
        assert_eq!(q.search.as_deref(), Some("a%b_"));
        assert_eq!(
            (q.is_active, q.page, q.page_size),
            (Some(false), Some(2), Some(500))
        );
        let Err(ApiError::Validation(errors)) =
            UserListParams::parse("is_staff=yes&page=x&sort=id")
        else {
            panic!("accepted");
        };
        let names: Vec<&str> = errors.keys().map(String::as_str).collect();
        assert_eq!(names, ["is_staff", "page", "sort"]);
        assert!(matches!(user_id("12x"), Err(ApiError::NotFound)));
        assert!(matches!(user_id("0"), Err(ApiError::NotFound)));
    }
}
