//! Throttles: failed logins allowed per account and per address in a
//! window, and registrations per address.

use std::time::Duration;

use super::env::Env;
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
        let settings = ThrottleSettings {
            login_failures_per_account: env.parse("LOGIN_FAILURES_PER_ACCOUNT", 5)?,
            login_failures_per_ip: env.parse("LOGIN_FAILURES_PER_IP", 100)?,
            login_failure_window: env.secs("LOGIN_FAILURE_WINDOW_SECS", 900)?,
            login_in_flight_wait: env.secs("LOGIN_IN_FLIGHT_WAIT_SECS", 10)?,
            registrations_per_ip: env.parse("REGISTRATIONS_PER_IP", 50)?,
            registration_window: env.secs("REGISTRATION_WINDOW_SECS", 3600)?,
            password_resets_per_ip: env.parse("PASSWORD_RESETS_PER_IP", 20)?,
            password_reset_window: env.secs("PASSWORD_RESET_WINDOW_SECS", 3600)?,
        };
        if settings.login_failure_window.is_zero()
            || settings.login_failures_per_account == 0
            || settings.login_failures_per_ip == 0
        {
            return Err(ConfigError("LOGIN_FAILURE_WINDOW_SECS, LOGIN_FAILURES_PER_ACCOUNT and LOGIN_FAILURES_PER_IP must be positive".into()));
        }
        // An attempt in flight is forgotten after a minute if it never
        // settles (a crashed instance); waiting longer than half that
        // would wait for ghosts.
        if settings.login_in_flight_wait > Duration::from_secs(30) {
            return Err(ConfigError(
                "LOGIN_IN_FLIGHT_WAIT_SECS must be at most 30".into(),
            ));
        }
        if settings.registration_window.is_zero() || settings.registrations_per_ip == 0 {
            return Err(ConfigError(
                "REGISTRATION_WINDOW_SECS and REGISTRATIONS_PER_IP must be positive".into(),
            ));
        }
        if settings.password_reset_window.is_zero() || settings.password_resets_per_ip == 0 {
            return Err(ConfigError(
                "PASSWORD_RESET_WINDOW_SECS and PASSWORD_RESETS_PER_IP must be positive".into(),
            ));
        }
        Ok(settings)
    }
}
