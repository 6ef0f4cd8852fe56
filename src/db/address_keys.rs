//! Re-keys addresses stored before emails were NFKC-normalised and keyed
//! by their case-folded form (API v3).
//!
//! The migration `2026-12-07-000001_email_keys` lists every user whose
//! address has a character beyond ASCII (only those can change: for ASCII
//! NFKC is the identity and folding is lower-casing, the old key). SQL
//! cannot compute NFKC on SQLite, nor this folding on either backend, so
//! this pass, run right after migrating, stores each listed user's
//! normalised address and its new key, and empties the list.
//!
//! When the new key is already another account's (a look-alike of an
//! address that was registered in its plain form, say), the plain one
//! keeps it: the listed row is left as it was, unreachable by its old key
//! (no input folds to it any more), and a warning names both user ids for
//! an operator to settle. Nothing is mailed to the normalised address of a
//! row that did not get it.

use diesel::prelude::*;

use super::schema::{email_rekey_pending as pending, users};
use super::DbConnection;
use crate::domain::email;
use crate::domain::Email;
use crate::error::ApiError;

/// Users re-keyed in one transaction.
const BATCH: i64 = 200;

/// Empties the list; returns how many addresses changed.
pub fn rekey_pending(conn: &mut DbConnection) -> Result<usize, ApiError> {
    let mut changed = 0;
    loop {
        let (done, more) = super::write_transaction(conn, |conn| {
            let ids: Vec<i32> = pending::table
                .select(pending::user_id)
                .order(pending::user_id)
                .limit(BATCH)
                .load(conn)?;
            if ids.is_empty() {
                return Ok((0, false));
            }
            let mut done = 0;
            for &id in &ids {
                done += usize::from(rekey(conn, id)?);
            }
            diesel::delete(pending::table.filter(pending::user_id.eq_any(&ids))).execute(conn)?;
            Ok((done, ids.len() as i64 == BATCH))
        })?;
        changed += done;
        if !more {
            return Ok(changed);
        }
    }
}

/// Stores user `id`'s normalised address and key; false when nothing
/// changed (or the key is another account's, which is logged).
fn rekey(conn: &mut DbConnection, id: i32) -> Result<bool, ApiError> {
    let Some((address, key)) = users::table
        .find(id)
        .select((users::email, users::email_canonical))
        .first::<(String, String)>(conn)
        .optional()?
    else {
        return Ok(false);
    };
    // An address that does not parse (an old import) keeps its text; its
    // key becomes the one a login with that text looks up.
    let (new_address, new_key) = match Email::parse(&address) {
        Ok(parsed) => (parsed.as_str().to_owned(), parsed.canonical()),
        Err(_) => (address.clone(), email::fold(address.trim())),
    };
    if new_address == address && new_key == key {
        return Ok(false);
    }
    if new_key != key {
        let holder: Option<i32> = users::table
            .filter(users::email_canonical.eq(&new_key))
            .filter(users::id.ne(id))
            .select(users::id)
            .first(conn)
            .optional()?;
        if let Some(holder) = holder {
            tracing::warn!(
                user_id = id,
                holder_id = holder,
                "a stored address normalises to another account's: left as it was, and \
                 unreachable by email until an operator changes one of the two"
            );
            return Ok(false);
        }
    }
    diesel::update(users::table.find(id))
        .set((
            users::email.eq(&new_address),
            users::email_canonical.eq(&new_key),
        ))
        .execute(conn)?;
    Ok(true)
}
