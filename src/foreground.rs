//! How many requests the process is serving right now, not counting those
//! that check or set a password. The hashing threads read it to decide
//! whether to step aside (`auth::hash_pool::step_aside`).
//!
//! One count per process, not per app: it says who wants the CPU, and the
//! CPU is the process's. (Tests run several apps in one process; that only
//! makes their hashing step aside a little more often.)

use std::sync::atomic::{AtomicIsize, Ordering};

/// Signed: password work outside a counted request (a unit test, an app
/// built without the counting middleware) takes its caller out of the count
/// without having put it in, and must not wrap it around.
static IN_FLIGHT: AtomicIsize = AtomicIsize::new(0);

/// Whether any request other than a hashing one is being served. Reads one
/// atomic, so a signal handler may call it.
pub fn busy() -> bool {
    IN_FLIGHT.load(Ordering::Relaxed) > 0
}

/// Adds `delta` to the count until dropped.
#[must_use]
pub struct Counted(isize);

impl Counted {
    fn add(delta: isize) -> Self {
        IN_FLIGHT.fetch_add(delta, Ordering::Relaxed);
        Counted(delta)
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        IN_FLIGHT.fetch_sub(self.0, Ordering::Relaxed);
    }
}

/// Counts a request for as long as it is alive.
pub struct Request;

impl Request {
    pub fn begin() -> Counted {
        Counted::add(1)
    }
}

/// Takes the calling request out of the count for the whole of a handler
/// that checks or sets a password (login, register, password change): what
/// it waits for is mostly the hash, and the hashing threads must not step
/// aside for the very requests they are working for. The whole handler,
/// not only the hash: counting a login's few database and store calls
/// after its hash kept the step-aside timer running through a pure login
/// flood (16% of the time during registrations), which cost throughput and
/// helped nobody.
pub struct PasswordWork;

impl PasswordWork {
    pub fn begin() -> Counted {
        Counted::add(-1)
    }
}

/// Unit tests that change the count take this first, so that one test's
/// requests do not show up in another's exact reading (`cargo test` runs
/// them on parallel threads of one process).
#[cfg(test)]
static COUNT_IN_TESTS: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Holds the count for one unit test until dropped (see `COUNT_IN_TESTS`).
#[cfg(test)]
pub(crate) fn alone_in_tests() -> std::sync::MutexGuard<'static, ()> {
    COUNT_IN_TESTS.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_doing_password_work_is_not_counted() {
        let _alone = alone_in_tests();
        let before = IN_FLIGHT.load(Ordering::Relaxed);
        let request = Request::begin();
        assert_eq!(IN_FLIGHT.load(Ordering::Relaxed), before + 1);
        let waiting = PasswordWork::begin();
        assert_eq!(IN_FLIGHT.load(Ordering::Relaxed), before);
        drop(waiting);
        drop(request);
        assert_eq!(IN_FLIGHT.load(Ordering::Relaxed), before);
    }
}
