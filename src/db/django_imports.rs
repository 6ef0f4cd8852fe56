//! Queries for `accounts import-django`: what an earlier run imported,
//! which emails and usernames accounts already hold, and the insert of
//! one batch (users, profiles, provenance) in one transaction.

use std::collections::HashSet;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::models::{NewUser, Profile};
use super::schema::{django_imports, profiles, users};
use super::{write_transaction, DbConnection};
use crate::error::ApiError;

/// One Django user ready to insert: the account, its profile (without
/// `user_id`, which the insert assigns) and where it came from.
pub struct Imported {
    pub django_id: i64,
    pub user: NewUser,
    pub portfolio_site: String,
    pub bio: String,
    pub profile_pic: Option<String>,
}

/// The Django ids from `first` to `last` that an earlier run of `source`
/// imported (whether or not the account still exists). A range, which the
/// primary key (source, django_id) answers as one index range; a list of
/// ids was matched against every row of the source instead.
pub fn already_imported(
    conn: &mut DbConnection,
    source: &str,
    first: i64,
    last: i64,
) -> Result<HashSet<i64>, ApiError> {
    let found: Vec<i64> = django_imports::table
        .filter(django_imports::source.eq(source))
        .filter(django_imports::django_id.between(first, last))
        .select(django_imports::django_id)
        .load(conn)?;
    Ok(found.into_iter().collect())
}

/// Which of the canonical emails `canonicals` an account has.
pub fn taken_emails(
    conn: &mut DbConnection,
    canonicals: &[String],
) -> Result<HashSet<String>, ApiError> {
    let found: Vec<String> = users::table
        .filter(users::email_canonical.eq_any(canonicals))
        .select(users::email_canonical)
        .load(conn)?;
    Ok(found.into_iter().collect())
}

/// Which of `usernames` an account has.
///
/// Through the unique index: the literal `<> ''` is its predicate, and on
/// PostgreSQL bitmap scans are off for the query, since the planner
/// otherwise takes the staff search's trigram index, which answers `=`
/// too, slowly (0.5 s a batch of 500 at 100,000 users, 30 s at worst).
pub fn taken_usernames(
    conn: &mut DbConnection,
    usernames: &[String],
) -> Result<HashSet<String>, ApiError> {
    let query = users::table
        .filter(super::users::username_set())
        .filter(users::username.eq_any(usernames))
        .select(users::username);
    let found: Vec<String> = match conn {
        DbConnection::Postgresql(pg) => pg.transaction(|pg| {
            diesel::connection::SimpleConnection::batch_execute(
                pg,
                "SET LOCAL enable_bitmapscan = off",
            )?;
            query.load(pg)
        })?,
        DbConnection::Sqlite(lite) => query.load(lite)?,
    };
    Ok(found.into_iter().collect())
}

/// Inserts the batch in one transaction: every user, its profile and its
/// provenance row, or nothing. One multi-row insert a table: a batch of
/// 500 is three statements, not 1,500.
pub fn insert(
    conn: &mut DbConnection,
    source: &str,
    batch: Vec<Imported>,
    at: NaiveDateTime,
) -> Result<(), ApiError> {
    if batch.is_empty() {
        return Ok(());
    }
    write_transaction(conn, |conn| {
        let (meta, new_users): (Vec<_>, Vec<NewUser>) = batch
            .into_iter()
            .map(|i| {
                (
                    (i.django_id, i.portfolio_site, i.bio, i.profile_pic),
                    i.user,
                )
            })
            .unzip();
        // RETURNING gives the rows back in the VALUES' order on both
        // backends; the canonical email (unique) pairs them anyway.
        let inserted: Vec<(i32, String)> =
            crate::on_backend!(conn, |c| diesel::insert_into(users::table)
                .values(&new_users)
                .returning((users::id, users::email_canonical))
                .get_results(c))?;
        let ids: std::collections::HashMap<&str, i32> = inserted
            .iter()
            .map(|(id, canonical)| (canonical.as_str(), *id))
            .collect();
        let id_of = |user: &NewUser| {
            ids.get(user.email_canonical.as_str())
                .copied()
                .ok_or_else(|| ApiError::internal("an inserted user was not returned"))
        };
        let mut new_profiles = Vec::with_capacity(new_users.len());
        let mut provenance = Vec::with_capacity(new_users.len());
        for (user, (django_id, portfolio_site, bio, profile_pic)) in new_users.iter().zip(meta) {
            let user_id = id_of(user)?;
            new_profiles.push(Profile {
                user_id,
                portfolio_site,
                bio,
                profile_pic,
            });
            provenance.push((
                django_imports::source.eq(source),
                django_imports::django_id.eq(django_id),
                django_imports::user_id.eq(Some(user_id)),
                django_imports::imported_at.eq(at),
            ));
        }
        crate::on_backend!(conn, |c| diesel::insert_into(profiles::table)
            .values(&new_profiles)
            .execute(c))?;
        crate::on_backend!(conn, |c| diesel::insert_into(django_imports::table)
            .values(&provenance)
            .execute(c))?;
        Ok(())
    })
}
