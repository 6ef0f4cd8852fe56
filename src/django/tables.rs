//! Finding the user and profile tables of a Django database by their
//! columns: every Django user model has `id`, `email`, `password` and
//! `last_login`; a profile is a one-to-one row on `user_id` with a
//! `portfolio_site` or a `profile_pic`.

use std::collections::{BTreeMap, BTreeSet};

use diesel::prelude::*;
use diesel::sql_types::Text;

use super::source::read_error;
use crate::db::DbConnection;

/// Columns every Django user model has (`AbstractBaseUser` gives
/// `password` and `last_login`; `email` is what accounts log in with).
const USER_COLUMNS: [&str; 4] = ["id", "email", "password", "last_login"];
/// A profile is a one-to-one row on `user_id` with one of these.
const PROFILE_COLUMNS: [&str; 2] = ["portfolio_site", "profile_pic"];

/// Every table of the source and its columns (name, declared type).
pub struct Catalog(BTreeMap<String, Vec<(String, String)>>);

/// The tables an import reads.
#[derive(Debug, Clone)]
pub struct Tables {
    pub users: String,
    pub profiles: Option<String>,
    pub(super) user_columns: BTreeSet<String>,
    pub(super) profile_columns: BTreeSet<String>,
}

#[derive(QueryableByName)]
struct Column {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Text)]
    column_type: String,
}

impl Catalog {
    pub fn read(conn: &mut DbConnection) -> Result<Catalog, String> {
        let columns: Vec<Column> = match conn {
            DbConnection::Sqlite(c) => diesel::sql_query(
                "SELECT m.name AS table_name, p.name AS column_name, p.type AS column_type \
             FROM sqlite_master m, pragma_table_info(m.name) p \
             WHERE m.type = 'table' ORDER BY m.name, p.cid",
            )
            .load(c),
            DbConnection::Postgresql(c) => diesel::sql_query(
                "SELECT CAST(table_name AS TEXT) AS table_name, \
             CAST(column_name AS TEXT) AS column_name, CAST(data_type AS TEXT) AS column_type \
             FROM information_schema.columns WHERE table_schema = current_schema() \
             ORDER BY table_name, ordinal_position",
            )
            .load(c),
        }
        .map_err(read_error)?;
        let mut tables: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
        for c in columns {
            tables
                .entry(c.table_name)
                .or_default()
                .push((c.column_name, c.column_type));
        }
        Ok(Catalog(tables))
    }

    pub fn has(&self, table: &str) -> bool {
        self.0.contains_key(table)
    }

    /// The user and profile tables: the ones named, or the only table
    /// with a user's (profile's) columns.
    pub fn discover(
        &self,
        user_table: Option<&str>,
        profile_table: Option<&str>,
    ) -> Result<Tables, String> {
        let users = match user_table {
            Some(name) => {
                self.check(name, "user", |c| USER_COLUMNS.iter().all(|k| c.contains(*k)))?;
                name.to_owned()
            }
            None => self.only_one("user", "--user-table", |c| {
                USER_COLUMNS.iter().all(|k| c.contains(*k))
            })?
            .ok_or_else(|| {
                "the Django database has no user table (one with id, email, password and last_login columns): is it a Django project's database?".to_owned()
            })?,
        };
        let is_profile = |c: &BTreeSet<String>| {
            c.contains("user_id") && PROFILE_COLUMNS.iter().any(|k| c.contains(*k))
        };
        let profiles = match profile_table {
            Some(name) => {
                self.check(name, "profile", is_profile)?;
                Some(name.to_owned())
            }
            None => self.only_one("profile", "--profile-table", |c| {
                is_profile(c) && !USER_COLUMNS.iter().all(|k| c.contains(*k))
            })?,
        };
        if let Some(id_type) = self.column_type(&users, "id") {
            if !id_type.to_ascii_lowercase().contains("int") {
                return Err(format!(
                    "the user table {users} has a {id_type} primary key; only integer ids can be imported"
                ));
            }
        }
        Ok(Tables {
            user_columns: self.columns(&users),
            profile_columns: profiles
                .as_deref()
                .map(|p| self.columns(p))
                .unwrap_or_default(),
            users,
            profiles,
        })
    }

    fn columns(&self, table: &str) -> BTreeSet<String> {
        self.0
            .get(table)
            .map(|c| c.iter().map(|(name, _)| name.clone()).collect())
            .unwrap_or_default()
    }

    fn column_type(&self, table: &str, column: &str) -> Option<String> {
        self.0
            .get(table)?
            .iter()
            .find(|(name, _)| name == column)
            .map(|(_, kind)| kind.clone())
    }

    fn check(
        &self,
        name: &str,
        what: &str,
        fits: impl Fn(&BTreeSet<String>) -> bool,
    ) -> Result<(), String> {
        if !self.0.contains_key(name) {
            return Err(format!("the Django database has no table {name}"));
        }
        if !fits(&self.columns(name)) {
            let needs = if what == "user" {
                "id, email, password and last_login"
            } else {
                "user_id and portfolio_site or profile_pic"
            };
            return Err(format!(
                "{name} is not a {what} table: it needs the columns {needs}"
            ));
        }
        Ok(())
    }

    fn only_one(
        &self,
        what: &str,
        flag: &str,
        fits: impl Fn(&BTreeSet<String>) -> bool,
    ) -> Result<Option<String>, String> {
        let found: Vec<&String> = self.0.keys().filter(|t| fits(&self.columns(t))).collect();
        match found.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some((*one).clone())),
            several => Err(format!(
                "the Django database has several {what} tables ({}): name one with {flag}",
                several
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }
}
