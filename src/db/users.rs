//! Queries on `users` (and the profile created with each user).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use super::models::{NewUser, Profile, User, UserChanges};
use super::schema::{profiles, users};
use super::DbConnection;
use crate::error::ApiError;

/// Which unique rule an insert or update broke.
#[derive(Debug, PartialEq, Eq)]
pub enum Conflict {
    Email,
    Username,
}

/// Inserts the user and an empty profile, then runs `and_then` (the
/// verification mail), all in one transaction. Like the other queries of
/// the login and registration paths, the inserts run on the concrete
/// backend (`on_backend!`), where diesel caches prepared statements:
/// through the two-backend connection every call was parsed and planned
/// afresh, and PostgreSQL's share of a registration flood's CPU was 6%.
pub fn create(
    conn: &mut DbConnection,
    new: NewUser,
    and_then: impl FnOnce(&mut DbConnection, &User) -> Result<(), ApiError>,
) -> Result<User, ApiError> {
    super::write_transaction(conn, |conn| {
        // A closure, so that `?` stops here with diesel's error (which says
        // which unique rule broke), not at the transaction's.
        let inserted = crate::on_backend!(conn, |c| (|| {
            let user: User = diesel::insert_into(users::table)
                .values(&new)
                .returning(User::as_returning())
                .get_result(c)?;
            diesel::insert_into(profiles::table)
                .values(Profile {
                    user_id: user.id,
                    portfolio_site: String::new(),
                    bio: String::new(),
                    profile_pic: None,
                })
                .execute(c)?;
            Ok::<_, DieselError>(user)
        })());
        let user = inserted.map_err(|e| match conflict(&e) {
            Some(Conflict::Email) => ApiError::EmailTaken,
            Some(Conflict::Username) => username_taken(),
            None => e.into(),
        })?;
        and_then(conn, &user)?;
        Ok(user)
    })
}

pub fn find(conn: &mut DbConnection, id: i32) -> Result<Option<User>, ApiError> {
    let found = crate::on_backend!(conn, |c| users::table
        .find(id)
        .select(User::as_select())
        .first(c)
        .optional())?;
    Ok(found)
}

pub fn find_by_email(conn: &mut DbConnection, canonical: &str) -> Result<Option<User>, ApiError> {
    let found = crate::on_backend!(conn, |c| users::table
        .filter(users::email_canonical.eq(canonical))
        .select(User::as_select())
        .first(c)
        .optional())?;
    Ok(found)
}

/// The unique username index's own predicate, written out as a literal:
/// a look-up by username that repeats it is answered by that index.
/// Without it (or with `''` as a bound parameter, which the planner cannot
/// match to the index) PostgreSQL took the trigram index, which also
/// supports `=`: an import's batch of 500 usernames took 1.5 s at 100,000
/// users.
pub fn username_set() -> diesel::expression::SqlLiteral<diesel::sql_types::Bool> {
    diesel::dsl::sql("users.username <> ''")
}

pub fn username_exists(conn: &mut DbConnection, username: &str) -> Result<bool, ApiError> {
    let exists = crate::on_backend!(conn, |c| diesel::select(diesel::dsl::exists(
        users::table
            .filter(username_set())
            .filter(users::username.eq(username)),
    ))
    .get_result(c))?;
    Ok(exists)
}

pub fn email_exists(conn: &mut DbConnection, canonical: &str) -> Result<bool, ApiError> {
    let exists = crate::on_backend!(conn, |c| diesel::select(diesel::dsl::exists(
        users::table.filter(users::email_canonical.eq(canonical)),
    ))
    .get_result(c))?;
    Ok(exists)
}

/// Records a login, and a new hash when the parameters were upgraded.
pub fn record_login(conn: &mut DbConnection, id: i32, at: NaiveDateTime) -> Result<(), ApiError> {
    diesel::update(users::table.find(id))
        .set(users::last_login.eq(at))
        .execute(conn)?;
    Ok(())
}

/// Stores a stronger hash of the same password (new parameters, or moved
/// from Django's format), only if the stored hash is still the one that
/// was checked: a password changed or reset while the check ran must not
/// be overwritten by the old password's new hash.
pub fn upgrade_password(
    conn: &mut DbConnection,
    id: i32,
    checked: &str,
    stronger: String,
) -> Result<bool, ApiError> {
    let target = users::table.find(id).filter(users::password.eq(checked));
    Ok(diesel::update(target)
        .set(users::password.eq(stronger))
        .execute(conn)?
        == 1)
}

pub fn update(conn: &mut DbConnection, id: i32, changes: UserChanges) -> Result<User, ApiError> {
    let target = users::table.find(id);
    let nothing_to_change =
        changes.username.is_none() && changes.first_name.is_none() && changes.last_name.is_none();
    // IMMEDIATE on SQLite, as users::create: the CI run saw one edit
    // right after a registration answer 500 under a deferred transaction
    // while the mail sender wrote beside it.
    super::write_transaction(conn, |conn| {
        if !nothing_to_change {
            diesel::update(target)
                .set(&changes)
                .execute(conn)
                .map_err(|e| match conflict(&e) {
                    Some(Conflict::Username) => username_taken(),
                    Some(Conflict::Email) => ApiError::EmailTaken,
                    None => e.into(),
                })?;
        }
        Ok(target.select(User::as_select()).first(conn)?)
    })
}

/// A new password chosen by its owner (a change or a reset): the session
/// generation moves on in the same statement, so a login whose password
/// check passed before this is refused afterwards, wherever its session
/// is; the caller moves the session it keeps to the new generation.
pub fn replace_password(conn: &mut DbConnection, id: i32, hash: String) -> Result<User, ApiError> {
    let target = users::table.find(id);
    let changes = (
        users::password.eq(hash),
        users::session_generation.eq(users::session_generation + 1),
    );
    Ok(crate::on_backend!(conn, |c| diesel::update(target)
        .set(changes)
        .returning(User::as_returning())
        .get_result(c))?)
}

/// Locks the user's row until the transaction ends (PostgreSQL; SQLite's
/// write transactions hold the whole database already).
pub fn lock(conn: &mut DbConnection, id: i32) -> Result<(), ApiError> {
    if let DbConnection::Postgresql(pg) = conn {
        users::table
            .find(id)
            .select(users::id)
            .for_update()
            .first::<i32>(pg)
            .optional()?;
    }
    Ok(())
}

pub fn mark_email_verified(conn: &mut DbConnection, id: i32) -> Result<User, ApiError> {
    let target = users::table.find(id);
    Ok(crate::on_backend!(conn, |c| diesel::update(target)
        .set(users::email_verified.eq(true))
        .returning(User::as_returning())
        .get_result(c))?)
}

/// Gives the user a new, verified address; `EmailTaken` if another
/// account has it.
pub fn change_email(
    conn: &mut DbConnection,
    id: i32,
    email: &str,
    canonical: &str,
) -> Result<User, ApiError> {
    let target = users::table.find(id);
    let changes = (
        users::email.eq(email),
        users::email_canonical.eq(canonical),
        users::email_verified.eq(true),
    );
    crate::on_backend!(conn, |c| diesel::update(target)
        .set(changes)
        .returning(User::as_returning())
        .get_result(c))
    .map_err(|e| match conflict(&e) {
        Some(Conflict::Email) => ApiError::EmailTaken,
        _ => e.into(),
    })
}

/// The fields staff may change (`PATCH /admin/users/{id}`); `None` leaves
/// one as it is.
#[derive(Debug, Default, Clone, AsChangeset)]
#[diesel(table_name = users)]
pub struct StaffChanges {
    pub is_active: Option<bool>,
    pub is_staff: Option<bool>,
    pub email_verified: Option<bool>,
    pub username: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
}

impl StaffChanges {
    fn is_empty(&self) -> bool {
        self.is_active.is_none()
            && self.is_staff.is_none()
            && self.email_verified.is_none()
            && self.username.is_none()
            && self.first_name.is_none()
            && self.last_name.is_none()
    }
}

/// Applies `changes`; with `end_sessions` the user's session generation
/// moves on too, in the same statement, so that no session started before
/// it is accepted again. `NotFound` if there is no such user.
pub fn staff_update(
    conn: &mut DbConnection,
    id: i32,
    changes: &StaffChanges,
    end_sessions: bool,
) -> Result<User, ApiError> {
    let target = users::table.find(id);
    let next = users::session_generation.eq(users::session_generation + 1);
    let result = crate::on_backend!(conn, |c| match (changes.is_empty(), end_sessions) {
        (true, false) => target.select(User::as_select()).first(c),
        (true, true) => diesel::update(target)
            .set(next)
            .returning(User::as_returning())
            .get_result(c),
        (false, false) => diesel::update(target)
            .set(changes)
            .returning(User::as_returning())
            .get_result(c),
        (false, true) => diesel::update(target)
            .set((changes, next))
            .returning(User::as_returning())
            .get_result(c),
    });
    result.map_err(|e| match conflict(&e) {
        Some(Conflict::Username) => username_taken(),
        Some(Conflict::Email) => ApiError::EmailTaken,
        None => e.into(),
    })
}

/// Deletes the user; the profile, mail tokens and embedded sessions go
/// with it (`ON DELETE CASCADE`). False if there was no such user.
pub fn delete(conn: &mut DbConnection, id: i32) -> Result<bool, ApiError> {
    Ok(diesel::delete(users::table.find(id)).execute(conn)? == 1)
}

pub fn username_taken() -> ApiError {
    ApiError::field("username", "A user with that username already exists.")
}

/// Names the unique constraint behind a violation. PostgreSQL names the
/// constraint; SQLite names the column in its message.
fn conflict(error: &DieselError) -> Option<Conflict> {
    let DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) = error else {
        return None;
    };
    let names = format!(
        "{} {}",
        info.constraint_name().unwrap_or_default(),
        info.message()
    );
    if names.contains("email") {
        Some(Conflict::Email)
    } else if names.contains("username") {
        Some(Conflict::Username)
    } else {
        None
    }
}
