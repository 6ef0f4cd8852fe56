//! Deletes in small batches, for the periodic clean-up: a purge of half a
//! million expired rows must not hold SQLite's one write lock (or a pooled
//! connection) for seconds while requests wait behind it.

use std::time::Duration;

use super::{Db, DbConnection};
use crate::error::ApiError;

/// The pause between two batches: long enough for a writer that waited
/// for the lock (SQLite's busy handler retries every few milliseconds) to
/// take it before the next batch does.
const PAUSE: Duration = Duration::from_millis(5);

impl Db {
    /// Runs `delete` (which deletes at most the given number of rows and
    /// says how many it deleted), each call its own statement on its own
    /// checkout, until a batch deletes nothing. Not until one comes back
    /// short: rows touched since they were read, or taken by another
    /// instance purging too, shorten a batch with more left behind it.
    /// Returns the total.
    pub async fn delete_in_batches<F>(
        &self,
        batch_size: usize,
        delete: F,
    ) -> Result<usize, ApiError>
    where
        F: Fn(&mut DbConnection, i64) -> Result<usize, ApiError> + Clone + Send + 'static,
    {
        let limit = i64::try_from(batch_size.max(1)).unwrap_or(i64::MAX);
        let mut total = 0;
        loop {
            let batch = delete.clone();
            let deleted = self.run(move |conn| batch(conn, limit)).await?;
            total += deleted;
            if deleted == 0 {
                return Ok(total);
            }
            actix_web::rt::time::sleep(PAUSE).await;
        }
    }
}
