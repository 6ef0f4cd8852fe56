//! Fixed-window attempt counters for login throttling, when Redis is not
//! configured. Every login passes here, so the queries run on the concrete
//! backend, where their statements are cached (`on_backend!`).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use super::schema::login_failures;
use super::DbConnection;
use crate::error::ApiError;

/// `(count, window_ends_at)` of a window still open at `now`.
pub fn current(
    conn: &mut DbConnection,
    key: &str,
    now: NaiveDateTime,
) -> Result<Option<(i32, NaiveDateTime)>, ApiError> {
    let window = crate::on_backend!(conn, |c| login_failures::table
        .find(key)
        .filter(login_failures::window_ends_at.gt(now))
        .select((login_failures::failures, login_failures::window_ends_at))
        .first(c)
        .optional())?;
    Ok(window)
}

/// Counts one attempt, in the open window or in a new one from `now`, and
/// returns `(count, window_ends_at)` after it.
pub fn record(
    conn: &mut DbConnection,
    key: &str,
    now: NaiveDateTime,
    window_ends_at: NaiveDateTime,
) -> Result<(i32, NaiveDateTime), ApiError> {
    // An IMMEDIATE transaction (a savepoint inside one): see
    // `write_transaction`. Two first attempts on PostgreSQL can both try
    // to open the window; the loser's insert breaks the primary key and it
    // simply counts again.
    super::write_transaction(conn, |conn| {
        for _ in 0..2 {
            match open_or_bump(conn, key, now, window_ends_at) {
                Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => continue,
                other => return Ok(other?),
            }
        }
        Ok(open_or_bump(conn, key, now, window_ends_at)?)
    })
}

fn open_or_bump(
    conn: &mut DbConnection,
    key: &str,
    now: NaiveDateTime,
    window_ends_at: NaiveDateTime,
) -> Result<(i32, NaiveDateTime), DieselError> {
    crate::on_backend!(conn, |c| c.transaction(|c| {
        // The increment is one statement: concurrent attempts never read
        // the same count.
        let bumped = diesel::update(
            login_failures::table
                .find(key)
                .filter(login_failures::window_ends_at.gt(now)),
        )
        .set(login_failures::failures.eq(login_failures::failures + 1))
        .execute(c)?;
        if bumped == 0 {
            diesel::delete(login_failures::table.find(key)).execute(c)?;
            diesel::insert_into(login_failures::table)
                .values((
                    login_failures::scope_key.eq(key),
                    login_failures::failures.eq(1),
                    login_failures::window_ends_at.eq(window_ends_at),
                ))
                .execute(c)?;
        }
        login_failures::table
            .find(key)
            .select((login_failures::failures, login_failures::window_ends_at))
            .first(c)
    }))
}

/// Takes one attempt back (a success), never below zero.
pub fn take_back(conn: &mut DbConnection, key: &str) -> Result<(), ApiError> {
    crate::on_backend!(conn, |c| diesel::update(
        login_failures::table
            .find(key)
            .filter(login_failures::failures.gt(0)),
    )
    .set(login_failures::failures.eq(login_failures::failures - 1))
    .execute(c))?;
    Ok(())
}

pub fn clear(conn: &mut DbConnection, key: &str) -> Result<(), ApiError> {
    crate::on_backend!(conn, |c| diesel::delete(login_failures::table.find(key))
        .execute(c))?;
    Ok(())
}

/// Deletes up to `limit` counters whose window ended (the purge runs it
/// in batches).
pub fn delete_expired(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    limit: i64,
) -> Result<usize, ApiError> {
    let batch: Vec<String> = login_failures::table
        .select(login_failures::scope_key)
        .filter(login_failures::window_ends_at.le(now))
        .limit(limit)
        .load(conn)?;
    if batch.is_empty() {
        return Ok(0);
    }
    // Checked again: a counter restarted since the select is kept.
    Ok(diesel::delete(
        login_failures::table
            .filter(login_failures::scope_key.eq_any(&batch))
            .filter(login_failures::window_ends_at.le(now)),
    )
    .execute(conn)?)
}
