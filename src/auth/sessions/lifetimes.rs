//! How long each kind of session lives: a browser's ends with the browser
//! (idle and absolute timeouts), a remembered browser's lasts
//! `REMEMBER_ME_TIMEOUT_SECS` in a persistent cookie, an app's lasts
//! `APP_SESSION_*` (phones are not logged out every morning). The kind is
//! in the session's own state, so the stores' expiry and the request-time
//! checks always agree.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{get, timestamp, ClientKind, State, CLIENT_KEY, CREATED_AT_KEY, REMEMBER_KEY};
use crate::config::SessionSettings;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lifetime {
    /// The session ends after this long without a request.
    pub idle: Duration,
    /// The session ends this long after login, however active.
    pub absolute: Duration,
}

impl Lifetime {
    /// When a session of this lifetime created at `created` ends at the
    /// latest.
    pub fn deadline(&self, created: DateTime<Utc>) -> DateTime<Utc> {
        created + chrono::Duration::from_std(self.absolute).unwrap_or(chrono::Duration::MAX)
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Lifetimes {
    pub browser: Lifetime,
    pub remembered: Lifetime,
    pub app: Lifetime,
}

impl Lifetimes {
    pub fn new(settings: &SessionSettings) -> Self {
        Lifetimes {
            browser: Lifetime {
                idle: settings.idle_timeout,
                absolute: settings.absolute_timeout,
            },
            // Idle or not: a remembered session is one the user asked to keep.
            remembered: Lifetime {
                idle: settings.remember_me_timeout,
                absolute: settings.remember_me_timeout,
            },
            app: Lifetime {
                idle: settings.app_idle_timeout,
                absolute: settings.app_absolute_timeout,
            },
        }
    }

    pub fn of_kind(&self, client: ClientKind, remember: bool) -> Lifetime {
        match client {
            ClientKind::App => self.app,
            ClientKind::Browser if remember => self.remembered,
            ClientKind::Browser => self.browser,
        }
    }

    /// The lifetime of a stored session, by its state.
    pub fn of(&self, state: &State) -> Lifetime {
        self.of_kind(
            get(state, CLIENT_KEY).unwrap_or_default(),
            get(state, REMEMBER_KEY).unwrap_or(false),
        )
    }

    /// The longest a session of any kind can live.
    pub fn longest(&self) -> Duration {
        [self.browser, self.remembered, self.app]
            .iter()
            .map(|l| l.absolute)
            .max()
            .unwrap_or_default()
    }

    /// When a stored session created at `created` ends at the latest.
    pub fn deadline(&self, state: &State, created: DateTime<Utc>) -> DateTime<Utc> {
        self.of(state).deadline(created)
    }

    /// How long a store keeps the state: its idle time, but never past the
    /// session's absolute deadline.
    pub fn ttl(&self, state: &State) -> Duration {
        let lifetime = self.of(state);
        let idle = lifetime.idle.max(Duration::from_secs(1));
        let Some(created) = timestamp(state, CREATED_AT_KEY) else {
            return idle;
        };
        let left = (lifetime.deadline(created) - Utc::now())
            .num_seconds()
            .max(1)
            .unsigned_abs();
        idle.min(Duration::from_secs(left))
    }
}
