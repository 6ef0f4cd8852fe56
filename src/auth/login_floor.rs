//! How long a refused password check takes at the least.
//!
//! A user moved from Django keeps Django's hash until their next login,
//! and checking it costs what its format costs: a million PBKDF2 rounds
//! are about 40 times our Argon2id. Without a floor, one wrong password
//! tells an attacker that the email is an account, and one moved from
//! Django whose owner has not logged in since.
//!
//! The work cannot be made cheaper (the old hash must be computed for
//! its owner to log in), and doing the same work for unknown emails would
//! make them slow and the Argon2id accounts fast instead (and hand anyone a
//! second of CPU per request). So the work stays as it is and the answer
//! waits: every refused check answers no sooner than the slowest check of a
//! Django hash still stored (with a quarter to spare) after its job
//! started on the hashing pool. The wait is a timer, not work: it costs no
//! CPU and holds no hashing thread. Counting from the job's start leaves
//! the wait in the queue, the same for every kind of check, out of it.
//!
//! The slowest check is measured at start-up, on the costliest stored hash
//! of each format, and then on every Django hash checked (so an import
//! while the service runs raises it at its first login). Without Django
//! hashes it is zero: nothing waits. It never goes down while the process
//! runs; a restart after the last of them is replaced drops it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(Default)]
pub struct LoginFloor {
    slowest_nanos: AtomicU64,
}

impl LoginFloor {
    /// A check of a Django hash took `took` (its computation alone).
    pub fn observe(&self, took: Duration) {
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        self.slowest_nanos.fetch_max(nanos, Ordering::Relaxed);
    }

    /// How long after its job's start a refused check answers, at least.
    pub fn floor(&self) -> Duration {
        let slowest = Duration::from_nanos(self.slowest_nanos.load(Ordering::Relaxed));
        slowest + slowest / 4
    }

    /// Waits until `floor` after `started` (at once when that has passed).
    pub async fn hold(&self, started: Instant) {
        let until = started + self.floor();
        if until > Instant::now() {
            tokio::time::sleep_until(until.into()).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_floor_is_the_slowest_check_and_a_quarter() {
        let floor = LoginFloor::default();
        assert_eq!(floor.floor(), Duration::ZERO);
        floor.observe(Duration::from_millis(800));
        floor.observe(Duration::from_millis(400));
        assert_eq!(floor.floor(), Duration::from_millis(1000));
    }
}
