//! Password-reset requests as received. The request path inserts one row
//! whatever the email; the mail work (is there an account? is one already
//! on its way?) is done later by `Accounts::prepare_reset_mail`, so neither
//! the answer nor its time tells whether the account exists.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::BigInt;

use super::schema::password_reset_requests;
use super::DbConnection;
use crate::error::ApiError;

#[derive(Debug, QueryableByName)]
#[diesel(table_name = password_reset_requests)]
pub struct ResetRequest {
    pub email_canonical: String,
}

pub fn insert(
    conn: &mut DbConnection,
    email_canonical: &str,
    now: NaiveDateTime,
) -> Result<(), ApiError> {
    crate::on_backend!(conn, |c| diesel::insert_into(
        password_reset_requests::table
    )
    .values((
        password_reset_requests::email_canonical.eq(email_canonical),
        password_reset_requests::requested_at.eq(now),
    ))
    .execute(c))?;
    Ok(())
}

/// Takes (deletes and returns) up to `limit` requests, oldest first. Run
/// in the transaction that acts on them: if that fails, they are back. On
/// PostgreSQL, requests another instance is taking are skipped.
pub fn take(conn: &mut DbConnection, limit: i64) -> Result<Vec<ResetRequest>, ApiError> {
    let taken = match conn {
        DbConnection::Postgresql(c) => diesel::sql_query(
            "DELETE FROM password_reset_requests WHERE id IN (SELECT id FROM password_reset_requests \
             ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED) RETURNING email_canonical",
        )
        .bind::<BigInt, _>(limit)
        .load(c)?,
        DbConnection::Sqlite(c) => diesel::sql_query(
            "DELETE FROM password_reset_requests WHERE id IN (SELECT id FROM password_reset_requests \
             ORDER BY id LIMIT ?1) RETURNING email_canonical",
        )
        .bind::<BigInt, _>(limit)
        .load(c)?,
    };
    Ok(taken)
}

/// Drops the requests for an address not yet handled (a deleted account).
pub fn delete_for(conn: &mut DbConnection, email_canonical: &str) -> Result<usize, ApiError> {
    Ok(diesel::delete(
        password_reset_requests::table
            .filter(password_reset_requests::email_canonical.eq(email_canonical)),
    )
    .execute(conn)?)
}
