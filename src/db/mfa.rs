//! Queries on `totp_devices` and `recovery_codes`. Every check that a code
//! is fresh is the UPDATE that spends it: two instances offered one code
//! at once cannot both accept it.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{recovery_codes, totp_devices};
use super::DbConnection;
use crate::error::ApiError;

/// A user's TOTP row.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = totp_devices)]
pub struct TotpDevice {
    pub secret_sealed: String,
    pub confirmed_at: Option<NaiveDateTime>,
    pub last_step: i64,
}

pub fn device(conn: &mut DbConnection, user_id: i32) -> Result<Option<TotpDevice>, ApiError> {
    Ok(crate::on_backend!(conn, |c| totp_devices::table
        .find(user_id)
        .select(TotpDevice::as_select())
        .first(c)
        .optional())?)
}

/// Whether the user has TOTP on (confirmed).
pub fn enabled(conn: &mut DbConnection, user_id: i32) -> Result<bool, ApiError> {
    Ok(crate::on_backend!(conn, |c| diesel::select(
        diesel::dsl::exists(
            totp_devices::table
                .find(user_id)
                .filter(totp_devices::confirmed_at.is_not_null()),
        )
    )
    .get_result(c))?)
}

/// Which of `user_ids` have TOTP on.
pub fn enabled_among(
    conn: &mut DbConnection,
    user_ids: &[i32],
) -> Result<std::collections::HashSet<i32>, ApiError> {
    if user_ids.is_empty() {
        return Ok(std::collections::HashSet::new());
    }
    let found: Vec<i32> = totp_devices::table
        .filter(totp_devices::user_id.eq_any(user_ids))
        .filter(totp_devices::confirmed_at.is_not_null())
        .select(totp_devices::user_id)
        .load(conn)?;
    Ok(found.into_iter().collect())
}

/// Replaces any pending (unconfirmed) secret with `sealed`; false when
/// TOTP is on already (nothing changes then).
pub fn begin_setup(
    conn: &mut DbConnection,
    user_id: i32,
    sealed: &str,
    now: NaiveDateTime,
) -> Result<bool, ApiError> {
    super::write_transaction(conn, |conn| {
        if enabled(conn, user_id)? {
            return Ok(false);
        }
        diesel::delete(totp_devices::table.find(user_id)).execute(conn)?;
        diesel::insert_into(totp_devices::table)
            .values((
                totp_devices::user_id.eq(user_id),
                totp_devices::secret_sealed.eq(sealed),
                totp_devices::created_at.eq(now),
            ))
            .execute(conn)?;
        Ok(true)
    })
}

/// Turns the pending secret on, `step` being the code's that confirmed
/// it; false if there was no pending secret (or it is on already).
pub fn confirm(
    conn: &mut DbConnection,
    user_id: i32,
    sealed: &str,
    step: i64,
    now: NaiveDateTime,
) -> Result<bool, ApiError> {
    // Only the secret the code was checked against: a setup that replaced
    // it meanwhile must not be turned on with a code of the old one.
    let changed = diesel::update(
        totp_devices::table
            .find(user_id)
            .filter(totp_devices::confirmed_at.is_null())
            .filter(totp_devices::secret_sealed.eq(sealed)),
    )
    .set((
        totp_devices::confirmed_at.eq(now),
        totp_devices::last_step.eq(step),
    ))
    .execute(conn)?;
    Ok(changed == 1)
}

/// Accepts the code of `step` if no code of it or a later step was
/// accepted before: true for exactly one caller.
pub fn accept_step(conn: &mut DbConnection, user_id: i32, step: i64) -> Result<bool, ApiError> {
    let changed = crate::on_backend!(conn, |c| diesel::update(
        totp_devices::table
            .find(user_id)
            .filter(totp_devices::confirmed_at.is_not_null())
            .filter(totp_devices::last_step.lt(step)),
    )
    .set(totp_devices::last_step.eq(step))
    .execute(c))?;
    Ok(changed == 1)
}

/// Replaces the user's recovery codes with `hashes`.
pub fn replace_codes(
    conn: &mut DbConnection,
    user_id: i32,
    hashes: &[String],
) -> Result<(), ApiError> {
    diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(user_id)))
        .execute(conn)?;
    let rows: Vec<_> = hashes
        .iter()
        .map(|h| {
            (
                recovery_codes::user_id.eq(user_id),
                recovery_codes::code_hash.eq(h),
            )
        })
        .collect();
    crate::on_backend!(conn, |c| diesel::insert_into(recovery_codes::table)
        .values(&rows)
        .execute(c))?;
    Ok(())
}

/// Spends the unused recovery code with `hash`: true for one caller.
pub fn use_code(
    conn: &mut DbConnection,
    user_id: i32,
    hash: &str,
    now: NaiveDateTime,
) -> Result<bool, ApiError> {
    let changed = crate::on_backend!(conn, |c| diesel::update(
        recovery_codes::table
            .filter(recovery_codes::user_id.eq(user_id))
            .filter(recovery_codes::code_hash.eq(hash))
            .filter(recovery_codes::used_at.is_null()),
    )
    .set(recovery_codes::used_at.eq(now))
    .execute(c))?;
    Ok(changed == 1)
}

pub fn codes_remaining(conn: &mut DbConnection, user_id: i32) -> Result<i64, ApiError> {
    Ok(recovery_codes::table
        .filter(recovery_codes::user_id.eq(user_id))
        .filter(recovery_codes::used_at.is_null())
        .count()
        .get_result(conn)?)
}

/// Removes TOTP and the recovery codes; false if TOTP was not on.
pub fn remove(conn: &mut DbConnection, user_id: i32) -> Result<bool, ApiError> {
    let was_on = enabled(conn, user_id)?;
    diesel::delete(totp_devices::table.find(user_id)).execute(conn)?;
    diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(user_id)))
        .execute(conn)?;
    Ok(was_on)
}
