//! The Django database being imported: opened read-only, its users read
//! in id order with their profiles (`tables` finds which tables those are).

use chrono::NaiveDateTime;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Nullable, Text};
use diesel::{PgConnection, SqliteConnection};

use super::tables::{Catalog, Tables};
use crate::db::DbConnection;

/// An open Django database.
pub struct Source {
    conn: DbConnection,
    pub catalog: Catalog,
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
        let catalog = Catalog::read(&mut conn)?;
        Ok(Source { conn, catalog })
    }

    /// Names the source in the provenance rows: the user table and when
    /// the project's first migration ran, which a copy or a restored
    /// backup keeps.
    pub fn key(&mut self, tables: &Tables) -> Result<String, String> {
        if !self.catalog.has("django_migrations") {
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
            // One profile row a user, even from a table that is not
            // one-to-one (the lowest id wins).
            Some(p) if tables.profile_columns.contains("id") => (
                format!(
                    "LEFT JOIN {t} p ON p.user_id = u.id AND p.id = \
                     (SELECT MIN(p2.id) FROM {t} p2 WHERE p2.user_id = u.id)",
                    t = quote(p)
                ),
                "CASE WHEN p.user_id IS NULL THEN 0 ELSE 1 END",
            ),
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

pub(super) fn read_error(e: diesel::result::Error) -> String {
    fail("cannot read the Django database", e)
}

/// A table name as an SQL identifier (both backends quote with `"`).
fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
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
    use super::{parse_time, Source};
    use diesel::connection::SimpleConnection;

    #[test]
    fn a_sqlite_source_cannot_be_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite3");
        let mut made =
            <diesel::SqliteConnection as diesel::Connection>::establish(path.to_str().unwrap())
                .unwrap();
        made.batch_execute("CREATE TABLE t (a INTEGER)").unwrap();
        let mut source = Source::open(&format!("sqlite://{}", path.display())).unwrap();
        let err = source
            .conn
            .batch_execute("INSERT INTO t VALUES (1)")
            .unwrap_err();
        assert!(err.to_string().contains("readonly"), "{err}");
        assert!(Source::open("sqlite:///nonexistent/db.sqlite3").is_err());
        assert!(!std::path::Path::new("/nonexistent/db.sqlite3").exists());
    }

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
