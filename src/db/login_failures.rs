//! Fixed-window failure counters for login throttling, when Redis is not
//! configured.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::login_failures;
use super::DbConnection;
use crate::error::ApiError;

/// `(failures, window_ends_at)` of a window still open at `now`.
pub fn current(
    conn: &mut DbConnection,
    key: &str,
    now: NaiveDateTime,
) -> Result<Option<(i32, NaiveDateTime)>, ApiError> {
    Ok(login_failures::table
        .find(key)
        .filter(login_failures::window_ends_at.gt(now))
        .select((login_failures::failures, login_failures::window_ends_at))
        .first(conn)
        .optional()?)
}

/// Counts one failure: in the open window, or in a new one from `now`.
pub fn record(
    conn: &mut DbConnection,
    key: &str,
    now: NaiveDateTime,
    window_ends_at: NaiveDateTime,
) -> Result<(), ApiError> {
    // Two concurrent first failures can both try to open the window; the
    // loser's insert breaks the primary key and it simply counts again.
    for _ in 0..2 {
        match open_or_bump(conn, key, now, window_ends_at) {
            Err(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            )) => continue,
            other => return Ok(other?),
        }
    }
    Ok(open_or_bump(conn, key, now, window_ends_at)?)
}

fn open_or_bump(
    conn: &mut DbConnection,
    key: &str,
    now: NaiveDateTime,
    window_ends_at: NaiveDateTime,
) -> Result<(), diesel::result::Error> {
    conn.transaction(|conn| {
        let bumped = diesel::update(
            login_failures::table
                .find(key)
                .filter(login_failures::window_ends_at.gt(now)),
        )
        .set(login_failures::failures.eq(login_failures::failures + 1))
        .execute(conn)?;
        if bumped == 0 {
            diesel::delete(login_failures::table.find(key)).execute(conn)?;
            diesel::insert_into(login_failures::table)
                .values((
                    login_failures::scope_key.eq(key),
                    login_failures::failures.eq(1),
                    login_failures::window_ends_at.eq(window_ends_at),
                ))
                .execute(conn)?;
        }
        Ok(())
    })
}

pub fn clear(conn: &mut DbConnection, key: &str) -> Result<(), ApiError> {
    diesel::delete(login_failures::table.find(key)).execute(conn)?;
    Ok(())
}

pub fn delete_expired(conn: &mut DbConnection, now: NaiveDateTime) -> Result<usize, ApiError> {
    Ok(
        diesel::delete(login_failures::table.filter(login_failures::window_ends_at.le(now)))
            .execute(conn)?,
    )
}
