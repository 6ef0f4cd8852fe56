//! The Django database being imported: opened read-only, its user and
//! profile tables found by their columns, its users read in id order.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDateTime;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Nullable, Text};
use diesel::{PgConnection, SqliteConnection};

use crate::db::DbConnection;

/// Columns every Django user model has (`AbstractBaseUser` gives
/// `password` and `last_login`; `email` is what accounts log in with).
const USER_COLUMNS: [&str; 4] = ["id", "email", "password", "last_login"];
/// A profile is a one-to-one row on `user_id` with one of these.
const PROFILE_COLUMNS: [&str; 2] = ["portfolio_site", "profile_pic"];

/// An open Django database.
pub struct Source {
    conn: DbConnection,
    /// Every table and its columns (name, declared type).
    tables: BTreeMap<String, Vec<(String, String)>>,
}

/// The tables an import reads.
#[derive(Debug, Clone)]
pub struct Tables {
    pub users: String,
    pub profiles: Option<String>,
    user_columns: BTreeSet<String>,
    profile_columns: BTreeSet<String>,
}

/// A Django user as stored, with its profile row if it has one.
#[derive(Debug, Clone)]
pub struct DjangoUser {
    pub id: i64,
    pub email: String,
    pub password: String,
    pub username: String,
    pub first_name: String,
    pub last_name: String,
    pub is_active: bool,
    pub is_staff: bool,
    pub is_superuser: bool,
    /// As stored (text); `None` when the column is missing or NULL.
    pub date_joined: Option<String>,
    pub last_login: Option<String>,
    pub profile: Option<DjangoProfile>,
}

#[derive(Debug, Clone)]
pub struct DjangoProfile {
    pub portfolio_site: String,
    pub bio: String,
    pub profile_pic: String,
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

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    email: String,
    #[diesel(sql_type = Text)]
    password: String,
    #[diesel(sql_type = Text)]
    username: String,
    #[diesel(sql_type = Text)]
    first_name: String,
    #[diesel(sql_type = Text)]
    last_name: String,
    #[diesel(sql_type = Integer)]
    is_active: i32,
    #[diesel(sql_type = Integer)]
    is_staff: i32,
    #[diesel(sql_type = Integer)]
    is_superuser: i32,
    #[diesel(sql_type = Nullable<Text>)]
    date_joined: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    last_login: Option<String>,
    #[diesel(sql_type = Integer)]
    has_profile: i32,
    #[diesel(sql_type = Text)]
    portfolio_site: String,
    #[diesel(sql_type = Text)]
    bio: String,
    #[diesel(sql_type = Text)]
    profile_pic: String,
}

#[derive(QueryableByName)]
struct Email {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    email: String,
}

#[derive(QueryableByName)]
struct One {
    #[diesel(sql_type = Nullable<Text>)]
    value: Option<String>,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// One line, whatever the driver said (libpq's messages span lines).
fn fail(context: &str, error: impl std::fmt::Display) -> String {
    let message = error.to_string();
    let message: Vec<&str> = message.split_whitespace().collect();
    format!("{context}: {}", message.join(" "))
}

impl Source {
    /// Opens `url` (`sqlite://PATH` or `postgres://...`) for reading only:
    /// a SQLite file read-only (a missing one is an error, never created),
    /// a PostgreSQL session whose transactions are all READ ONLY.
    pub fn open(url: &str) -> Result<Source, String> {
        let cannot = |e| fail("cannot open the Django database", e);
        let mut conn = if let Some(path) = url.strip_prefix("sqlite://") {
            let file = std::path::Path::new(path);
            if !file.is_file() {
                return Err(format!(
                    "cannot open the Django database: {path} is not a file"
                ));
            }
            // A URI filename, so `mode=ro` applies; `%`, `?` and `#`
            // would be read as URI syntax in a path.
            let escaped = path
                .replace('%', "%25")
                .replace('?', "%3f")
                .replace('#', "%23");
            let mut lite =
                SqliteConnection::establish(&format!("file:{escaped}?mode=ro")).map_err(cannot)?;
            lite.batch_execute("PRAGMA query_only = ON; PRAGMA busy_timeout = 5000;")
                .map_err(|e| fail("cannot read the Django database", e))?;
            DbConnection::Sqlite(lite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let mut pg =
                PgConnection::establish(&crate::db::without_gssapi(url)).map_err(cannot)?;
            pg.batch_execute(
                "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY; SET TIME ZONE 'UTC';",
            )
            .map_err(|e| fail("cannot read the Django database", e))?;
            DbConnection::Postgresql(pg)
        } else {
            return Err(format!(
                "cannot open the Django database: {:?} is neither sqlite://PATH nor postgres://...",
                url.split("://").next().unwrap_or(url)
            ));
        };
        let tables = list_tables(&mut conn)?;
        Ok(Source { conn, tables })
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
        self.tables
            .get(table)
            .map(|c| c.iter().map(|(name, _)| name.clone()).collect())
            .unwrap_or_default()
    }

    fn column_type(&self, table: &str, column: &str) -> Option<String> {
        self.tables
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
        if !self.tables.contains_key(name) {
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
        let found: Vec<&String> = self
            .tables
            .keys()
            .filter(|t| fits(&self.columns(t)))
            .collect();
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

    /// Names the source in the provenance rows: the user table and when
    /// the project's first migration ran, which a copy or a restored
    /// backup keeps.
    pub fn key(&mut self, tables: &Tables) -> Result<String, String> {
        if !self.tables.contains_key("django_migrations") {
            return Ok(tables.users.clone());
        }
        let sql = "SELECT CAST(MIN(applied) AS TEXT) AS value FROM django_migrations";
        let first: One = crate::on_backend!(&mut self.conn, |c| diesel::sql_query(sql)
            .get_result(c))
        .map_err(read_error)?;
        Ok(format!(
            "{}|{}",
            tables.users,
            first.value.unwrap_or_default()
        ))
    }

    pub fn count(&mut self, tables: &Tables) -> Result<i64, String> {
        let sql = format!("SELECT COUNT(*) AS n FROM {}", quote(&tables.users));
        let found: Count = crate::on_backend!(&mut self.conn, |c| diesel::sql_query(&sql)
            .get_result(c))
        .map_err(read_error)?;
        Ok(found.n)
    }

    /// Every user's id and email (collisions are found across all users
    /// before the first batch).
    pub fn emails(&mut self, tables: &Tables) -> Result<Vec<(i64, String)>, String> {
        let sql = format!(
            "SELECT CAST(id AS BIGINT) AS id, COALESCE(email, '') AS email FROM {}",
            quote(&tables.users)
        );
        let rows: Vec<Email> = crate::on_backend!(&mut self.conn, |c| diesel::sql_query(&sql)
            .load(c))
        .map_err(read_error)?;
        Ok(rows.into_iter().map(|r| (r.id, r.email)).collect())
    }

    /// Up to `limit` users with an id above `after`, in id order, each
    /// with its profile. Columns a custom model lacks read as defaults.
    pub fn users_after(
        &mut self,
        tables: &Tables,
        after: i64,
        limit: i64,
    ) -> Result<Vec<DjangoUser>, String> {
        let user = |column: &str, default: &str| {
            if tables.user_columns.contains(column) {
                format!("COALESCE(CAST(u.{column} AS TEXT), '{default}')")
            } else {
                format!("'{default}'")
            }
        };
        let flag = |column: &str, default: i32| {
            if tables.user_columns.contains(column) {
                format!("CASE WHEN u.{column} THEN 1 ELSE 0 END")
            } else {
                default.to_string()
            }
        };
        let time = |column: &str| {
            if tables.user_columns.contains(column) {
                format!("CAST(u.{column} AS TEXT)")
            } else {
                "CAST(NULL AS TEXT)".to_owned()
            }
        };
        let profile = |column: &str| {
            if tables.profile_columns.contains(column) {
                format!("COALESCE(CAST(p.{column} AS TEXT), '')")
            } else {
                "''".to_owned()
            }
        };
        let (join, has_profile) = match &tables.profiles {
            Some(p) => (
                format!("LEFT JOIN {} p ON p.user_id = u.id", quote(p)),
                "CASE WHEN p.user_id IS NULL THEN 0 ELSE 1 END",
            ),
            None => (String::new(), "0"),
        };
        let sql = format!(
            "SELECT CAST(u.id AS BIGINT) AS id, {email} AS email, {password} AS password, \
             {username} AS username, {first} AS first_name, {last} AS last_name, \
             {active} AS is_active, {staff} AS is_staff, {superuser} AS is_superuser, \
             {joined} AS date_joined, {login} AS last_login, {has_profile} AS has_profile, \
             {site} AS portfolio_site, {bio} AS bio, {pic} AS profile_pic \
             FROM {users} u {join} WHERE u.id > {after} ORDER BY u.id LIMIT {limit}",
            email = user("email", ""),
            password = user("password", ""),
            username = user("username", ""),
            first = user("first_name", ""),
            last = user("last_name", ""),
            active = flag("is_active", 1),
            staff = flag("is_staff", 0),
            superuser = flag("is_superuser", 0),
            joined = time("date_joined"),
            login = time("last_login"),
            site = profile("portfolio_site"),
            bio = profile("bio"),
            pic = profile("profile_pic"),
            users = quote(&tables.users),
        );
        let rows: Vec<Row> = crate::on_backend!(&mut self.conn, |c| diesel::sql_query(&sql)
            .load(c))
        .map_err(read_error)?;
        Ok(rows
            .into_iter()
            .map(|r| DjangoUser {
                id: r.id,
                email: r.email,
                password: r.password,
                username: r.username,
                first_name: r.first_name,
                last_name: r.last_name,
                is_active: r.is_active != 0,
                is_staff: r.is_staff != 0,
                is_superuser: r.is_superuser != 0,
                date_joined: r.date_joined,
                last_login: r.last_login,
                profile: (r.has_profile != 0).then_some(DjangoProfile {
                    portfolio_site: r.portfolio_site,
                    bio: r.bio,
                    profile_pic: r.profile_pic,
                }),
            })
            .collect())
    }
}

fn read_error(e: diesel::result::Error) -> String {
    fail("cannot read the Django database", e)
}

/// A table name as an SQL identifier (both backends quote with `"`).
fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn list_tables(conn: &mut DbConnection) -> Result<BTreeMap<String, Vec<(String, String)>>, String> {
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
    Ok(tables)
}

/// A time as Django stored it: naive UTC text on SQLite (`USE_TZ`),
/// `+00` text from PostgreSQL in a UTC session.
pub fn parse_time(raw: &str) -> Option<NaiveDateTime> {
    use chrono::SubsecRound;
    let raw = raw.trim();
    let formats = ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"];
    let naive = raw
        .strip_suffix("+00:00")
        .or_else(|| raw.strip_suffix("+00"))
        .or_else(|| raw.strip_suffix('Z'))
        .unwrap_or(raw);
    formats
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(naive, f).ok())
        .or_else(|| {
            ["%Y-%m-%d %H:%M:%S%.f%#z", "%Y-%m-%dT%H:%M:%S%.f%#z"]
                .iter()
                .find_map(|f| chrono::DateTime::parse_from_str(raw, f).ok())
                .map(|t| t.naive_utc())
        })
        .map(|t| t.trunc_subsecs(6))
}

#[cfg(test)]
mod tests {
    use super::parse_time;

    #[test]
    fn times_from_both_backends_read_as_utc() {
        let expected = chrono::NaiveDate::from_ymd_opt(2019, 5, 1)
            .unwrap()
            .and_hms_micro_opt(8, 30, 15, 123_456)
            .unwrap();
        for raw in [
            "2019-05-01 08:30:15.123456",
            "2019-05-01 08:30:15.123456+00",
            "2019-05-01T08:30:15.123456+00:00",
            "2019-05-01 10:30:15.123456+02",
        ] {
            assert_eq!(parse_time(raw), Some(expected), "{raw}");
        }
        assert_eq!(parse_time("yesterday"), None);
    }
}
