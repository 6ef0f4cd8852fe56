//! Throttles: failed logins allowed per account and per address in a
//! window, and registrations per address.

use std::time::Duration;

use super::env::{Env, DAY};
use super::ConfigError;

#[derive(Clone, Debug)]
pub struct ThrottleSettings {
    /// Failed logins (and wrong current passwords) allowed per window.
    pub login_failures_per_account: u32,
    pub login_failures_per_ip: u32,
    pub login_failure_window: Duration,
    /// How long an attempt that would pass a limit only because others
    /// are in flight waits for them to settle before it is refused.
    pub login_in_flight_wait: Duration,
    /// Registration attempts (those that get as far as the email check)
    /// allowed from one address per window.
    pub registrations_per_ip: u32,
    pub registration_window: Duration,
    /// Password-reset requests allowed from one address per window.
    pub password_resets_per_ip: u32,
    pub password_reset_window: Duration,
}

impl ThrottleSettings {
    pub(super) fn read(env: &Env) -> Result<Self, ConfigError> {
        const MANY: u32 = 1_000_000_000;
        let settings = ThrottleSettings {
            login_failures_per_account: env.int("LOGIN_FAILURES_PER_ACCOUNT", 5, 1..=1_000_000)?,
            login_failures_per_ip: env.int("LOGIN_FAILURES_PER_IP", 100, 1..=MANY)?,
            login_failure_window: env.secs("LOGIN_FAILURE_WINDOW_SECS", 900, 1..=30 * DAY)?,
            // An attempt in flight is forgotten after a minute if it never
            // settles (a crashed instance); waiting longer than half that
            // would wait for ghosts.
            login_in_flight_wait: env.secs("LOGIN_IN_FLIGHT_WAIT_SECS", 10, 0..=30)?,
            registrations_per_ip: env.int("REGISTRATIONS_PER_IP", 50, 1..=MANY)?,
            registration_window: env.secs("REGISTRATION_WINDOW_SECS", 3600, 1..=30 * DAY)?,
            password_resets_per_ip: env.int("PASSWORD_RESETS_PER_IP", 20, 1..=MANY)?,
            password_reset_window: env.secs("PASSWORD_RESET_WINDOW_SECS", 3600, 1..=30 * DAY)?,
        };
        Ok(settings)
    }
}
