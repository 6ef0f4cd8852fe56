//! The Django hashes still stored (users moved from Django who have not
//! logged in since): the costliest of each format, which sets how long a
//! refused login takes (`auth::login_floor`).

use std::collections::HashMap;

use diesel::prelude::*;

use super::schema::users;
use super::DbConnection;
use crate::auth::django_hashes;
use crate::error::ApiError;

/// Rows read a statement: the scan never holds the database for long.
const BATCH: i64 = 10_000;

/// The costliest stored string of each Django format (at most six). Our
/// own hashes start with `$`, unusable ones with `!`: the scan reads the
/// others only, in id order, a batch at a time.
pub fn costliest(conn: &mut DbConnection) -> Result<Vec<String>, ApiError> {
    let mut best: HashMap<String, (u64, String)> = HashMap::new();
    let mut after = 0;
    loop {
        let batch: Vec<(i32, String)> = crate::on_backend!(conn, |c| users::table
            .filter(users::id.gt(after))
            .filter(users::password.not_like("$%"))
            .filter(users::password.not_like("!%"))
            .order(users::id)
            .select((users::id, users::password))
            .limit(BATCH)
            .load(c))?;
        let Some((last, _)) = batch.last() else {
            break;
        };
        after = *last;
        for (_, encoded) in batch {
            let Some((algorithm, work)) =
                django_hashes::cost(&encoded).map(|(a, w)| (a.to_owned(), w))
            else {
                continue;
            };
            if best.get(&algorithm).is_none_or(|(most, _)| work > *most) {
                best.insert(algorithm, (work, encoded));
            }
        }
    }
    Ok(best.into_values().map(|(_, encoded)| encoded).collect())
}
