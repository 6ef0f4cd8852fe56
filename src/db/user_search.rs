//! The staff's user list (`GET /admin/users`): filters, a case-insensitive
//! substring search of email and username, and pages ordered by id.
//!
//! The search is an index lookup on both backends (see the migration
//! `2026-12-03-000001_admin`): PostgreSQL `ILIKE '%…%'` on trigram GIN
//! indexes (pg_trgm), SQLite an FTS5 trigram table. The term is always a
//! literal: `%`, `_` and `\` are escaped for `LIKE`, and the FTS5 query is
//! one quoted phrase, so no character of it is an operator.

use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};

use super::models::User;
use super::schema::users;
use super::DbConnection;
use crate::error::ApiError;

/// What the list is narrowed to.
#[derive(Debug, Default, Clone)]
pub struct UserFilter {
    /// Matched as a substring of email or username, ignoring case.
    pub search: Option<String>,
    pub is_active: Option<bool>,
    pub is_staff: Option<bool>,
}

/// FTS5's trigram tokenizer can only look up terms of three characters
/// or more; shorter ones are matched by `LIKE` over the table.
const TRIGRAM: usize = 3;

/// `term` as a `LIKE` pattern matching it anywhere, every wildcard in it
/// taken literally (with `\` as the escape character).
pub fn contains_pattern(term: &str) -> String {
    let mut pattern = String::with_capacity(term.len() + 2);
    pattern.push('%');
    for c in term.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// `term` as one FTS5 phrase: inside double quotes every character is
/// text, and a quote is written twice.
pub fn fts_phrase(term: &str) -> String {
    format!("\"{}\"", term.replace('"', "\"\""))
}

macro_rules! filtered {
    ($filter:expr, $backend:ty, $search:expr) => {{
        let mut query = users::table.into_boxed::<$backend>();
        if let Some(active) = $filter.is_active {
            query = query.filter(users::is_active.eq(active));
        }
        if let Some(staff) = $filter.is_staff {
            query = query.filter(users::is_staff.eq(staff));
        }
        if let Some(term) = $filter.search.as_deref().filter(|t| !t.is_empty()) {
            query = $search(query, term);
        }
        query
    }};
}

type PgQuery<'a> = users::BoxedQuery<'a, diesel::pg::Pg>;
type SqliteQuery<'a> = users::BoxedQuery<'a, diesel::sqlite::Sqlite>;

fn pg_search<'a>(query: PgQuery<'a>, term: &str) -> PgQuery<'a> {
    let pattern = contains_pattern(term);
    query.filter(
        users::email
            .ilike(pattern.clone())
            .escape('\\')
            .or(users::username.ilike(pattern).escape('\\')),
    )
}

fn sqlite_search<'a>(query: SqliteQuery<'a>, term: &str) -> SqliteQuery<'a> {
    if term.chars().count() >= TRIGRAM {
        query.filter(
            sql::<Bool>("users.id IN (SELECT rowid FROM users_search WHERE users_search MATCH ")
                .bind::<Text, _>(fts_phrase(term))
                .sql(")"),
        )
    } else {
        // SQLite's LIKE ignores the case of ASCII letters, as the trigram
        // tokenizer does.
        let pattern = contains_pattern(term);
        query.filter(
            users::email
                .like(pattern.clone())
                .escape('\\')
                .or(users::username.like(pattern).escape('\\')),
        )
    }
}

/// How many users match.
pub fn count(conn: &mut DbConnection, filter: &UserFilter) -> Result<i64, ApiError> {
    let counted = match conn {
        DbConnection::Postgresql(c) => filtered!(filter, diesel::pg::Pg, pg_search)
            .count()
            .get_result(c),
        DbConnection::Sqlite(c) => filtered!(filter, diesel::sqlite::Sqlite, sqlite_search)
            .count()
            .get_result(c),
    };
    Ok(counted?)
}

/// One page of the matching users, by id.
pub fn page(
    conn: &mut DbConnection,
    filter: &UserFilter,
    offset: i64,
    limit: i64,
) -> Result<Vec<User>, ApiError> {
    let found = match conn {
        DbConnection::Postgresql(c) => filtered!(filter, diesel::pg::Pg, pg_search)
            .order(users::id)
            .offset(offset)
            .limit(limit)
            .select(User::as_select())
            .load(c),
        DbConnection::Sqlite(c) => filtered!(filter, diesel::sqlite::Sqlite, sqlite_search)
            .order(users::id)
            .offset(offset)
            .limit(limit)
            .select(User::as_select())
            .load(c),
    };
    Ok(found?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_are_literal() {
        assert_eq!(contains_pattern("a%b_c\\d"), "%a\\%b\\_c\\\\d%");
        assert_eq!(fts_phrase("x\"y OR z*"), "\"x\"\"y OR z*\"");
    }
}
