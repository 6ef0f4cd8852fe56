//! The mail outbox: messages written in the same transaction as the change
//! that needs them, claimed by one sender at a time, and marked sent or
//! given up. A claim is a lease (`claimed_until`): an instance that dies
//! mid-send leaves the message to be claimed again when the lease ends.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Timestamp};

use super::schema::outbox;
use super::DbConnection;
use crate::error::ApiError;

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = outbox)]
pub struct NewMessage {
    pub kind: String,
    pub message_id: String,
    pub recipient: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
    pub created_at: NaiveDateTime,
    /// When the message's link expires (`None` for a notice).
    pub expires_at: Option<NaiveDateTime>,
    pub next_attempt_at: NaiveDateTime,
    /// Whose mail it is: deleted with the account. `None` for the
    /// deletion notice, which outlives it.
    pub user_id: Option<i32>,
}

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = outbox)]
pub struct Message {
    pub id: i64,
    pub kind: String,
    pub message_id: String,
    pub recipient: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
    pub created_at: NaiveDateTime,
    pub expires_at: Option<NaiveDateTime>,
    pub attempts: i32,
}

pub fn enqueue(conn: &mut DbConnection, message: &NewMessage) -> Result<(), ApiError> {
    diesel::insert_into(outbox::table)
        .values(message)
        .execute(conn)?;
    Ok(())
}

/// Whether a message of `kind` was written for `recipient` after `since`.
pub fn written_since(
    conn: &mut DbConnection,
    kind: &str,
    recipient: &str,
    since: NaiveDateTime,
) -> Result<bool, ApiError> {
    let found = diesel::select(diesel::dsl::exists(
        outbox::table
            .filter(outbox::kind.eq(kind))
            .filter(outbox::recipient.eq(recipient))
            .filter(outbox::created_at.gt(since)),
    ))
    .get_result(conn)?;
    Ok(found)
}

const COLUMNS: &str =
    "id, kind, message_id, recipient, subject, body_text, body_html, created_at, expires_at, attempts";

/// Claims up to `limit` messages due at `now` until `lease_until`, oldest
/// first. On PostgreSQL rows another instance is claiming are skipped, not
/// waited for (`FOR UPDATE SKIP LOCKED`); SQLite has one writer, so its
/// single UPDATE is already atomic.
pub fn claim(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    limit: i64,
) -> Result<Vec<Message>, ApiError> {
    let claimed = match conn {
        DbConnection::Postgresql(c) => diesel::sql_query(format!(
            "UPDATE outbox SET claimed_until = $1, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM outbox \
               WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= $2 \
                 AND (claimed_until IS NULL OR claimed_until <= $2) \
               ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED) \
             RETURNING {COLUMNS}"
        ))
        .bind::<Timestamp, _>(lease_until)
        .bind::<Timestamp, _>(now)
        .bind::<BigInt, _>(limit)
        .load(c)?,
        DbConnection::Sqlite(c) => diesel::sql_query(format!(
            "UPDATE outbox SET claimed_until = ?1, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM outbox \
               WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= ?2 \
                 AND (claimed_until IS NULL OR claimed_until <= ?2) \
               ORDER BY next_attempt_at, id LIMIT ?3) \
             RETURNING {COLUMNS}"
        ))
        .bind::<Timestamp, _>(lease_until)
        .bind::<Timestamp, _>(now)
        .bind::<BigInt, _>(limit)
        .load(c)?,
    };
    Ok(claimed)
}

/// Delivered: the row stays (for the sent count and `Message-ID`), its
/// body does not (a reset link is not kept once it has left).
pub fn mark_sent(conn: &mut DbConnection, id: i64, now: NaiveDateTime) -> Result<(), ApiError> {
    diesel::update(outbox::table.find(id))
        .set((
            outbox::sent_at.eq(now),
            outbox::claimed_until.eq(None::<NaiveDateTime>),
            outbox::last_error.eq(None::<String>),
            outbox::body_text.eq(""),
            outbox::body_html.eq(""),
        ))
        .execute(conn)?;
    Ok(())
}

/// Not delivered this time: tried again at `next_attempt_at`.
pub fn retry_at(
    conn: &mut DbConnection,
    id: i64,
    next_attempt_at: NaiveDateTime,
    error: &str,
) -> Result<(), ApiError> {
    diesel::update(outbox::table.find(id))
        .set((
            outbox::next_attempt_at.eq(next_attempt_at),
            outbox::claimed_until.eq(None::<NaiveDateTime>),
            outbox::last_error.eq(error),
        ))
        .execute(conn)?;
    Ok(())
}

/// Given up: kept, with the last error, and without its body.
pub fn mark_failed(
    conn: &mut DbConnection,
    id: i64,
    now: NaiveDateTime,
    error: &str,
) -> Result<(), ApiError> {
    diesel::update(outbox::table.find(id))
        .set((
            outbox::failed_at.eq(now),
            outbox::claimed_until.eq(None::<NaiveDateTime>),
            outbox::last_error.eq(error),
            outbox::body_text.eq(""),
            outbox::body_html.eq(""),
        ))
        .execute(conn)?;
    Ok(())
}

/// A claimed message not attempted (the sender is stopping): free for the
/// next claim at once, its attempt not counted.
pub fn release(conn: &mut DbConnection, id: i64) -> Result<(), ApiError> {
    diesel::update(outbox::table.find(id))
        .set((
            outbox::claimed_until.eq(None::<NaiveDateTime>),
            outbox::attempts.eq(outbox::attempts - 1),
        ))
        .execute(conn)?;
    Ok(())
}

/// Deletes the user's messages carrying a link (they have an expiry) that
/// are not sent yet: a deactivated account is mailed no working link.
pub fn delete_pending_links(conn: &mut DbConnection, user_id: i32) -> Result<usize, ApiError> {
    Ok(diesel::delete(
        outbox::table
            .filter(outbox::user_id.eq(user_id))
            .filter(outbox::expires_at.is_not_null())
            .filter(outbox::sent_at.is_null())
            .filter(outbox::failed_at.is_null()),
    )
    .execute(conn)?)
}

/// Whether the message is still in the outbox (deleting an account
/// deletes its mail).
pub fn exists(conn: &mut DbConnection, id: i64) -> Result<bool, ApiError> {
    Ok(diesel::select(diesel::dsl::exists(outbox::table.find(id))).get_result(conn)?)
}

/// Messages neither sent nor given up.
pub fn depth(conn: &mut DbConnection) -> Result<i64, ApiError> {
    Ok(outbox::table
        .filter(outbox::sent_at.is_null())
        .filter(outbox::failed_at.is_null())
        .count()
        .get_result(conn)?)
}

/// Deletes up to `limit` rows finished (sent or given up) before
/// `before`: the sent ones first, each kind by its own partial index.
pub fn delete_finished(
    conn: &mut DbConnection,
    before: NaiveDateTime,
    limit: i64,
) -> Result<usize, ApiError> {
    // A finished row never changes again: the ids read are deleted as read.
    let mut batch: Vec<i64> = outbox::table
        .select(outbox::id)
        .filter(outbox::sent_at.lt(before))
        .limit(limit)
        .load(conn)?;
    let left = limit - i64::try_from(batch.len()).unwrap_or(limit);
    if left > 0 {
        let failed: Vec<i64> = outbox::table
            .select(outbox::id)
            .filter(outbox::failed_at.lt(before))
            .limit(left)
            .load(conn)?;
        batch.extend(failed);
    }
    if batch.is_empty() {
        return Ok(0);
    }
    Ok(diesel::delete(outbox::table.filter(outbox::id.eq_any(&batch))).execute(conn)?)
}

/// Deletes every message of the user, pending or sent (a sent one keeps
/// its recipient and subject for a week): nothing of a deleted account's
/// mail stays. A message being sent right now may still go out once.
pub fn delete_for_user(conn: &mut DbConnection, user_id: i32) -> Result<usize, ApiError> {
    Ok(diesel::delete(outbox::table.filter(outbox::user_id.eq(user_id))).execute(conn)?)
}
