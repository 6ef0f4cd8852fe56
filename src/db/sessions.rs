//! Rows of the embedded session store (`auth::sessions::DbStore`).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::models::User;
use super::schema::{sessions, users};
use super::DbConnection;
use crate::error::ApiError;

/// A live session's state and, in the same query, its user.
pub fn load_with_user(
    conn: &mut DbConnection,
    id: &str,
    now: NaiveDateTime,
) -> Result<Option<(String, Option<User>)>, ApiError> {
    let found = crate::on_backend!(conn, |c| sessions::table
        .left_join(users::table)
        .filter(sessions::id.eq(id))
        .filter(sessions::expires_at.gt(now))
        .select((sessions::state, users::all_columns.nullable()))
        .first::<(String, Option<User>)>(c)
        .optional())?;
    Ok(found)
}

/// Stores a new session.
pub fn insert(
    conn: &mut DbConnection,
    id: &str,
    user_id: Option<i32>,
    state: &str,
    expires_at: NaiveDateTime,
    created_at: NaiveDateTime,
) -> Result<(), ApiError> {
    // Every login inserts one: on the concrete backend, where the
    // statement is cached.
    let inserted = crate::on_backend!(conn, |c| diesel::insert_into(sessions::table)
        .values((
            sessions::id.eq(id),
            sessions::user_id.eq(user_id),
            sessions::state.eq(state),
            sessions::expires_at.eq(expires_at),
            sessions::created_at.eq(created_at),
        ))
        .execute(c));
    match inserted {
        // The user was deleted while logging in: nothing is stored, and
        // the key names no session.
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::ForeignKeyViolation,
            _,
        )) => Ok(()),
        other => other.map(drop).map_err(ApiError::from),
    }
}

/// Rewrites a live session; false when it is gone (ended or expired), so an
/// ended session is never brought back by a request that was in flight.
pub fn update(
    conn: &mut DbConnection,
    id: &str,
    user_id: Option<i32>,
    state: &str,
    expires_at: NaiveDateTime,
    now: NaiveDateTime,
) -> Result<bool, ApiError> {
    let rows = crate::on_backend!(conn, |c| diesel::update(
        sessions::table
            .find(id)
            .filter(sessions::expires_at.gt(now)),
    )
    .set((
        sessions::user_id.eq(user_id),
        sessions::state.eq(state),
        sessions::expires_at.eq(expires_at),
    ))
    .execute(c))?;
    Ok(rows == 1)
}

pub fn set_expiry(
    conn: &mut DbConnection,
    id: &str,
    expires_at: NaiveDateTime,
) -> Result<(), ApiError> {
    diesel::update(sessions::table.find(id))
        .set(sessions::expires_at.eq(expires_at))
        .execute(conn)?;
    Ok(())
}

pub fn delete(conn: &mut DbConnection, id: &str) -> Result<(), ApiError> {
    diesel::delete(sessions::table.find(id)).execute(conn)?;
    Ok(())
}

/// The user's newest `limit` live sessions as `(id, state)`, newest
/// first, and how many live sessions the user has.
pub fn for_user(
    conn: &mut DbConnection,
    user_id: i32,
    now: NaiveDateTime,
    limit: i64,
) -> Result<(Vec<(String, String)>, i64), ApiError> {
    let live = || {
        sessions::table
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::expires_at.gt(now))
    };
    let newest = live()
        .order((sessions::created_at.desc(), sessions::id.desc()))
        .limit(limit)
        .select((sessions::id, sessions::state))
        .load(conn)?;
    let count = live().count().get_result(conn)?;
    Ok((newest, count))
}

/// Ends the user's oldest live sessions beyond the newest `keep`
/// (`MAX_SESSIONS_PER_USER`) and returns their ids. `new`, the session
/// just stored, is never one of them, whatever its start says (another
/// instance's clock may run ahead).
pub fn trim(
    conn: &mut DbConnection,
    user_id: i32,
    new: &str,
    keep: i64,
    now: NaiveDateTime,
) -> Result<Vec<String>, ApiError> {
    let beyond = sessions::table
        .filter(sessions::user_id.eq(user_id))
        .filter(sessions::expires_at.gt(now))
        .filter(sessions::id.ne(new))
        .order((sessions::created_at.desc(), sessions::id.desc()))
        // Without a LIMIT SQLite refuses an OFFSET; this one is no bound.
        .limit(i64::MAX)
        // The others beyond keep - 1, with `new` the newest `keep`.
        .offset((keep - 1).max(0))
        .select(sessions::id);
    let ended = crate::on_backend!(conn, |c| beyond.load::<String>(c))?;
    if ended.is_empty() {
        return Ok(ended);
    }
    // In chunks: SQLite binds at most 32,766 values a statement, and a
    // lowered cap can end more at once.
    for chunk in ended.chunks(1000) {
        diesel::delete(sessions::table.filter(sessions::id.eq_any(chunk))).execute(conn)?;
    }
    Ok(ended)
}

/// Deletes one of the user's sessions; false when it is not theirs or gone.
pub fn delete_for_user(conn: &mut DbConnection, user_id: i32, id: &str) -> Result<bool, ApiError> {
    let rows = diesel::delete(
        sessions::table
            .filter(sessions::id.eq(id))
            .filter(sessions::user_id.eq(user_id)),
    )
    .execute(conn)?;
    Ok(rows > 0)
}

/// Ends every session of the user but `keep`.
pub fn delete_others(conn: &mut DbConnection, user_id: i32, keep: &str) -> Result<usize, ApiError> {
    Ok(diesel::delete(
        sessions::table
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::id.ne(keep)),
    )
    .execute(conn)?)
}

/// Deletes up to `limit` expired sessions (the purge runs it in batches).
pub fn delete_expired(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    limit: i64,
) -> Result<usize, ApiError> {
    let batch: Vec<String> = sessions::table
        .select(sessions::id)
        .filter(sessions::expires_at.le(now))
        .limit(limit)
        .load(conn)?;
    if batch.is_empty() {
        return Ok(0);
    }
    // Checked again: a session touched since the select lives on.
    Ok(diesel::delete(
        sessions::table
            .filter(sessions::id.eq_any(&batch))
            .filter(sessions::expires_at.le(now)),
    )
    .execute(conn)?)
}
