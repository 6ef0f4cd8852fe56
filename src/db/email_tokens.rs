//! One-time tokens mailed to users, kept as SHA-256 hashes. A token is
//! bound to one user, one purpose and the address it was sent to; it is
//! spent by an update that only one caller can win.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::email_tokens;
use super::DbConnection;
use crate::error::ApiError;

/// What a token may be spent on; stored as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    PasswordReset,
    EmailVerification,
    EmailChange,
}

impl Purpose {
    pub const ALL: [Purpose; 3] = [
        Purpose::PasswordReset,
        Purpose::EmailVerification,
        Purpose::EmailChange,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::PasswordReset => "password_reset",
            Purpose::EmailVerification => "email_verification",
            Purpose::EmailChange => "email_change",
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = email_tokens)]
pub struct EmailToken {
    pub id: i32,
    pub user_id: i32,
    /// The address the token was sent to, as mailed.
    pub email: String,
}

#[derive(Insertable)]
#[diesel(table_name = email_tokens)]
struct NewToken<'a> {
    token_hash: &'a str,
    user_id: i32,
    purpose: &'a str,
    email: &'a str,
    email_canonical: &'a str,
    created_at: NaiveDateTime,
    expires_at: NaiveDateTime,
}

/// Stores a new token for `email` (whose key for the resend interval is
/// `email_canonical`), voiding the user's older unspent ones of the same
/// purpose (only the newest link works).
#[allow(clippy::too_many_arguments)]
pub fn issue(
    conn: &mut DbConnection,
    token_hash: &str,
    user_id: i32,
    purpose: Purpose,
    email: &str,
    email_canonical: &str,
    now: NaiveDateTime,
    expires_at: NaiveDateTime,
) -> Result<(), ApiError> {
    void(conn, user_id, &[purpose], now)?;
    diesel::insert_into(email_tokens::table)
        .values(NewToken {
            token_hash,
            user_id,
            purpose: purpose.as_str(),
            email,
            email_canonical,
            created_at: now,
            expires_at,
        })
        .execute(conn)?;
    Ok(())
}

/// Whether a token of this purpose was sent to the address whose
/// canonical form is `email_canonical` after `since` (the resend interval
/// is per address, compared case-folded, and purpose).
pub fn issued_since(
    conn: &mut DbConnection,
    email_canonical: &str,
    purpose: Purpose,
    since: NaiveDateTime,
) -> Result<bool, ApiError> {
    let found = diesel::select(diesel::dsl::exists(
        email_tokens::table
            .filter(email_tokens::email_canonical.eq(email_canonical))
            .filter(email_tokens::purpose.eq(purpose.as_str()))
            .filter(email_tokens::created_at.gt(since)),
    ))
    .get_result(conn)?;
    Ok(found)
}

/// The token with this hash if it is for `purpose`, unspent and unexpired.
pub fn find_live(
    conn: &mut DbConnection,
    token_hash: &str,
    purpose: Purpose,
    now: NaiveDateTime,
) -> Result<Option<EmailToken>, ApiError> {
    let found = email_tokens::table
        .filter(email_tokens::token_hash.eq(token_hash))
        .filter(email_tokens::purpose.eq(purpose.as_str()))
        .filter(email_tokens::used_at.is_null())
        .filter(email_tokens::expires_at.gt(now))
        .select(EmailToken::as_select())
        .first(conn)
        .optional()?;
    Ok(found)
}

/// Spends the token; false when another request spent (or voided) it
/// first, or it expired meanwhile.
pub fn spend(conn: &mut DbConnection, id: i32, now: NaiveDateTime) -> Result<bool, ApiError> {
    let spent = diesel::update(
        email_tokens::table
            .find(id)
            .filter(email_tokens::used_at.is_null())
            .filter(email_tokens::expires_at.gt(now)),
    )
    .set(email_tokens::used_at.eq(now))
    .execute(conn)?;
    Ok(spent == 1)
}

/// Voids every unspent token of the user with one of these purposes.
pub fn void(
    conn: &mut DbConnection,
    user_id: i32,
    purposes: &[Purpose],
    now: NaiveDateTime,
) -> Result<(), ApiError> {
    let purposes: Vec<&str> = purposes.iter().map(|p| p.as_str()).collect();
    diesel::update(
        email_tokens::table
            .filter(email_tokens::user_id.eq(user_id))
            .filter(email_tokens::purpose.eq_any(purposes))
            .filter(email_tokens::used_at.is_null()),
    )
    .set(email_tokens::used_at.eq(now))
    .execute(conn)?;
    Ok(())
}

/// Deletes up to `limit` tokens that expired before `before` (spent or
/// not): past their expiry and the resend interval they decide nothing.
pub fn delete_expired(
    conn: &mut DbConnection,
    before: NaiveDateTime,
    limit: i64,
) -> Result<usize, ApiError> {
    let batch: Vec<i32> = email_tokens::table
        .select(email_tokens::id)
        .filter(email_tokens::expires_at.lt(before))
        .limit(limit)
        .load(conn)?;
    if batch.is_empty() {
        return Ok(0);
    }
    Ok(
        diesel::delete(email_tokens::table.filter(email_tokens::id.eq_any(&batch)))
            .execute(conn)?,
    )
}
